"""deploy/docker/Dockerfile, checked statically (no Docker engine runs here; `make images` builds).

Every process image is a target of one multi-stage file. The checks: the base is pinned, each
COPY source exists and is not filtered out of the build context, each final image runs as a
non-root user and starts an entry point that exists, the face stack only goes into identity,
and the images the manifests deploy are exactly the targets the file builds.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zsb.common.settings import DEFAULT_PORTS, REPO_ROOT

DOCKER = REPO_ROOT / "deploy/docker"
sys.path.insert(0, str(REPO_ROOT / "deploy/k8s"))
import codemap  # noqa: E402

TARGETS = {"gateway", *codemap.SERVICES, "payment-sandbox"}


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, rest)

    def all(self, instruction: str) -> list[str]:
        return [rest for ins, rest in self.instructions if ins == instruction]


def parse_dockerfile(path: Path) -> tuple[dict[str, str], dict[str, Stage]]:
    """(global ARG defaults, stages by name), with continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            m = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest.strip(), re.IGNORECASE)
            assert m, f"every stage is named: FROM {rest}"
            current = Stage(m.group(2), m.group(1))
            stages[current.name] = current
        elif current is None:
            assert instruction == "ARG", f"{instruction} before the first FROM"
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        else:
            current.instructions.append((instruction, rest.strip()))
    return args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], dict[str, Stage]]:
    return parse_dockerfile(DOCKER / "Dockerfile")


def chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, nearest first."""
    out = [stages[name]]
    while out[-1].base in stages:
        out.append(stages[out[-1].base])
    return out


def ignored(rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p + "/*") or rel.startswith(p + "/") for p in patterns)


def dockerignore() -> list[str]:
    lines = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def test_every_process_has_a_target_and_the_manifests_deploy_exactly_those(dockerfile) -> None:
    _, stages = dockerfile
    assert stages.keys() >= TARGETS
    kustomize = subprocess.run(
        ["bash", str(REPO_ROOT / "deploy/k8s/tools.sh"), "kustomize"], capture_output=True, text=True, check=True
    ).stdout.strip()
    images = set()
    for overlay in ("dev", "prod"):
        out = subprocess.run(
            [kustomize, "build", str(REPO_ROOT / "deploy/k8s/overlays" / overlay)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        images |= {m.rsplit("/", 1)[-1].split(":")[0] for m in re.findall(r"image: (\S*zsb/[\w-]+)\S*", out)}
    assert images == TARGETS, f"deployed images {sorted(images)} vs Dockerfile targets {sorted(TARGETS)}"
    makefile = (REPO_ROOT / "deploy/k8s/Makefile.inc").read_text()
    (listed,) = re.findall(r"^K8S_IMAGES := (.+)$", makefile, re.M)
    assert set(listed.split()) == TARGETS, "make images must build every target"


def test_base_image_is_pinned(dockerfile) -> None:
    args, stages = dockerfile
    for stage in stages.values():
        base = stage.base
        if base in stages:
            continue
        ref = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert "@sha256:" in ref or re.search(r":\d+\.\d+\.\d+[\w.-]*$", ref), f"stage {stage.name}: {ref} not pinned"


def test_every_copy_source_exists_and_is_in_the_build_context(dockerfile) -> None:
    _, stages = dockerfile
    patterns = dockerignore()
    for stage in stages.values():
        for rest in stage.all("COPY"):
            parts = shlex.split(rest)
            if any(p.startswith("--from=") for p in parts):
                assert parts[0].split("=", 1)[1] in stages, f"COPY {rest}: unknown stage"
                continue
            for src in [p for p in parts if not p.startswith("--")][:-1]:
                path = REPO_ROOT / src
                assert path.exists(), f"stage {stage.name}: COPY source {src} does not exist"
                assert not ignored(src.rstrip("/"), patterns), f"COPY {src} is filtered out by the dockerignore"


def test_final_images_run_as_non_root_and_start_an_entry_point_that_exists(dockerfile) -> None:
    _, stages = dockerfile
    for target in TARGETS:
        stage = stages[target]
        users = [u for s in chain(stages, target) for u in s.all("USER")]
        assert users, f"{target}: no USER"
        uid = users[0].split(":")[0]  # the nearest USER wins
        assert uid not in ("0", "root") and uid.isdigit(), f"{target}: USER {users[0]}"
        (cmd,) = stage.all("CMD")
        argv = json.loads(cmd)
        if argv[0] == "python":
            module = argv[argv.index("-m") + 1]
            spec = importlib.util.find_spec(module)
            assert spec is not None, f"{target}: {module} does not exist"
        else:
            assert argv[0] == "gunicorn" and argv[-1] == "gateway.wsgi:app"
            assert re.search(r"^app\s*=", (REPO_ROOT / "gateway/wsgi.py").read_text(), re.M)
        # what the image copies must hold the entry module
        copied = [shlex.split(r)[-2] for s in chain(stages, target) for r in s.all("COPY") if "--from" not in r]
        module_path = (argv[argv.index("-m") + 1] if argv[0] == "python" else "gateway.wsgi").replace(".", "/")
        assert any(module_path.startswith(c.rstrip("/")) for c in copied), f"{target} does not copy {module_path}"
        if target in DEFAULT_PORTS:
            assert stage.all("EXPOSE") == [str(DEFAULT_PORTS[target])]


def test_protos_are_generated_in_the_build(dockerfile) -> None:
    _, stages = dockerfile
    protos = stages["protos"]
    assert any("grpc_tools.protoc" in r for r in protos.all("RUN"))
    assert any("grpcio-tools==" in r for r in protos.all("RUN")), "protoc must come from the pinned grpcio-tools"
    for target in TARGETS:
        copies = [r for s in chain(stages, target) for r in s.all("COPY")]
        assert any(r.startswith("--from=protos") for r in copies), f"{target} lacks the generated code"
    assert "libs/zsb/*/v1/*_pb2*.py" in dockerignore(), "locally generated code must not reach the image"


def face_regexes() -> list[re.Pattern[str]]:
    """The filter the venv-core stage applies (sed 's/^(.+)$/^\\1==/' | grep -v -i -E -f)."""
    names = [n.strip() for n in (DOCKER / "face-packages.txt").read_text().splitlines() if n.strip()]
    return [re.compile(f"^{re.escape(n)}==", re.IGNORECASE) for n in names]


def test_only_identity_gets_the_face_stack(dockerfile) -> None:
    _, stages = dockerfile
    requirements = [
        line.strip()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    regexes = face_regexes()
    for rx in regexes:  # a stale name would silently let the package into every image
        assert any(rx.match(r) for r in requirements), f"{rx.pattern} is not in requirements.txt"
    core = [r for r in requirements if not any(rx.match(r) for rx in regexes)]
    assert len(core) == len(requirements) - len(regexes)
    procs = codemap.processes()
    for name in ("gateway", "auth", "registration", "payment", "preferences", "results", "payment-sandbox"):
        face = codemap.third_party_imports(procs[name]) & codemap.FACE_MODULES
        assert not face, f"{name} imports {face}, which its image does not install"
        venvs = [r for s in chain(stages, name) for r in s.all("COPY") if "/opt/venv" in r]
        assert venvs == ["--from=venv-core /opt/venv /opt/venv"], f"{name}: {venvs}"
    assert codemap.third_party_imports(procs["identity"]) & codemap.FACE_MODULES, "identity uses no face stack?"
    assert [r for r in stages["identity"].all("COPY") if "/opt/venv" in r] == ["--from=venv-full /opt/venv /opt/venv"]
    assert "-r requirements.txt" in " ".join(stages["venv-full"].all("RUN"))
    assert "/tmp/face.regex" in " ".join(stages["venv-core"].all("RUN"))


def test_identity_image_carries_its_weights_and_loads_them_offline(dockerfile) -> None:
    _, stages = dockerfile
    runs = stages["identity"].all("RUN")
    assert any("install_weights(" in r for r in runs)
    assert any(r.startswith("--network=none") and "FaceEngine()" in r for r in runs)
    from services.identity.face.weights import LANDMARK_WEIGHTS, RECOGNITION_WEIGHTS, packaged_weight

    for name in (RECOGNITION_WEIGHTS, LANDMARK_WEIGHTS):  # shipped by the face-recognition-models package
        assert packaged_weight(name).stat().st_size > 1_000_000
