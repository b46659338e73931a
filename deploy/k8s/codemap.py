"""What the code of each process needs from its deployment, read from the source itself.

The manifests generator (`generate.py`) and the deployment tests (`tests/test_deploy_*.py`) both
use this map, so that a new setting, topic, bucket or gRPC call in the code shows up as a failing
check instead of a pod that starts without it. Everything here is static: modules are parsed
(`ast`), never imported (the generator imports the settings classes, for their defaults).

A process is a set of root modules (its package tree) plus every project module they import,
transitively (`zsb.*` under libs/, `services.*`, `gateway.*`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBS = REPO / "libs"

SERVICES: tuple[str, ...] = ("auth", "registration", "identity", "payment", "preferences", "results")
# Packages that only the identity image installs (TensorFlow, deepface, dlib, OpenCV, MTCNN).
FACE_MODULES = frozenset(
    {"tensorflow", "tf_keras", "keras", "deepface", "mtcnn", "dlib", "cv2", "face_recognition_models"}
)

# Environment variables read by third-party libraries rather than by our code, each with where.
LIBRARY_ENV: dict[str, str] = {
    "CONSUL_HTTP_TOKEN": "py-consul: consul.base.Consul reads the ACL token from it",
    "SSL_CERT_FILE": "minio: CA bundle of the TLS connection to MinIO",
    "HOME": "Python, TensorFlow and matplotlib write caches under it: /tmp on a read-only root",
    "TMPDIR": "tempfile: scratch files, on the /tmp emptyDir",
    "MPLCONFIGDIR": "matplotlib (imported by deepface): config cache, on /tmp",
    "TF_CPP_MIN_LOG_LEVEL": "TensorFlow: C++ log level (the engine also sets a default)",
}


@dataclass(frozen=True)
class Process:
    """One deployable process: its entry point and the files that make up its package tree."""

    name: str
    entry: tuple[str, ...]  # argv after the interpreter, e.g. ("-m", "services.auth.main")
    roots: tuple[str, ...]  # repo-relative files or directories
    exclude: tuple[str, ...] = ("tests",)  # directory names left out of the tree
    extra: tuple[str, ...] = field(default=())  # further roots (e.g. migrations/env.py)


def processes() -> dict[str, Process]:
    """Every process the platform runs in Kubernetes, by name."""
    procs = {
        "gateway": Process("gateway", ("-m", "gunicorn", "gateway.wsgi:app"), ("gateway",)),
        # From its entry module only: the sandbox package also holds test helpers it never imports.
        "payment-sandbox": Process(
            "payment-sandbox", ("-m", "services.payment.sandbox"), ("services/payment/sandbox/__main__.py",)
        ),
    }
    for svc in SERVICES:
        procs[svc] = Process(
            svc, ("-m", f"services.{svc}.main"), (f"services/{svc}",), exclude=("tests", "sandbox", "migrations")
        )
        procs[f"{svc}-migrate"] = Process(
            f"{svc}-migrate",
            ("-m", "zsb.common.migrate", svc),
            ("libs/zsb/common/migrate.py", f"services/{svc}/migrations"),
        )
    return procs


# -- module graph -----------------------------------------------------------------------------


def module_file(name: str) -> Path | None:
    """The source file of a project module, or None for third-party and generated modules."""
    parts = name.split(".")
    if parts[0] == "zsb":
        base = LIBS.joinpath(*parts)
    elif parts[0] in ("services", "gateway"):
        base = REPO.joinpath(*parts)
    else:
        return None
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file() and not candidate.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            return candidate
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(LIBS if path.is_relative_to(LIBS) else REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    names: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _tree(root: Path, exclude: tuple[str, ...]) -> list[Path]:
    if root.is_file():
        return [root]
    return [p for p in sorted(root.rglob("*.py")) if not set(p.relative_to(root).parts[:-1]) & set(exclude)]


@cache
def files_of(process: Process) -> frozenset[Path]:
    """The process's own tree plus every project module reachable by imports (and their packages)."""
    pending = [f for root in (*process.roots, *process.extra) for f in _tree(REPO / root, process.exclude)]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_modules(path):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                target = module_file(".".join(parts[:i]))
                if target is not None and target not in seen and "tests" not in target.parts:
                    pending.append(target)
    return frozenset(seen)


def third_party_imports(process: Process) -> set[str]:
    """Top-level names of the non-project modules the process imports."""
    tops = {name.split(".")[0] for path in files_of(process) for name in imported_modules(path)}
    return {t for t in tops if t and t not in ("zsb", "services", "gateway", "__future__")}


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsClass:
    """A pydantic BaseSettings class: its env prefix and fields (name -> default, as source text)."""

    name: str
    path: Path
    prefix: str
    fields: dict[str, str]
    # method name -> fields it reads through self (e.g. resolved_database_url -> database_url)
    methods: dict[str, set[str]]

    def env(self, field_name: str) -> str:
        return (self.prefix + field_name).upper()


def _settings_class(path: Path, node: ast.ClassDef) -> SettingsClass:
    prefix, fields, methods = "", {}, {}
    for item in node.body:
        if isinstance(item, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "model_config" for t in item.targets
        ):
            for kw in getattr(item.value, "keywords", []):
                if kw.arg == "env_prefix" and isinstance(kw.value, ast.Constant):
                    prefix = str(kw.value.value)
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            fields[item.target.id] = ast.unparse(item.value) if item.value is not None else ""
        elif isinstance(item, ast.FunctionDef):
            methods[item.name] = {
                n.attr
                for n in ast.walk(item)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
            }
    for name, used in methods.items():
        methods[name] = used & set(fields)
    return SettingsClass(node.name, path, prefix, fields, methods)


def settings_classes(files: frozenset[Path] | set[Path]) -> list[SettingsClass]:
    found = []
    for path in sorted(files):
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id == "BaseSettings")
                or (isinstance(b, ast.Attribute) and b.attr == "BaseSettings")
                for b in node.bases
            ):
                found.append(_settings_class(path, node))
    return found


def shared_settings() -> SettingsClass:
    path = LIBS / "zsb/common/settings.py"
    (cls,) = [c for c in settings_classes({path}) if c.name == "Settings"]
    return cls


def _attributes(path: Path) -> set[str]:
    return {n.attr for n in ast.walk(parse(path)) if isinstance(n, ast.Attribute)}


def _literal_env_reads(path: Path) -> set[str]:
    """os.environ.get("X"), os.getenv("X"), os.environ["X"] (reads only, not assignments)."""
    names = set()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                names.add(str(node.args[0].value))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) in ("os.environ", "environ")
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(str(node.slice.value))
    return names


def env_reads(process: Process) -> set[str]:
    """Every environment variable the process's code reads.

    Shared `Settings` fields count when some module of the process touches the attribute (or a
    Settings method that reads it). Another settings class counts whole when it is defined in the
    process's own tree or instantiated by one of its modules.
    """
    files = files_of(process)
    shared = shared_settings()
    names: set[str] = set()
    for path in files:
        if path == shared.path:
            continue
        attrs = _attributes(path)
        for f in shared.fields:
            if f in attrs:
                names.add(shared.env(f))
        for method, used in shared.methods.items():
            if method in attrs:
                names.update(shared.env(f) for f in used)
        names |= _literal_env_reads(path)
    roots = [REPO / r for r in (*process.roots, *process.extra)]
    called = {
        ast.unparse(n.func).rpartition(".")[2]
        for path in files
        for n in ast.walk(parse(path))
        if isinstance(n, ast.Call)
    }
    for cls in settings_classes(files):
        own = any(cls.path == r or cls.path.is_relative_to(r) for r in roots)
        if cls.path != shared.path and (own or cls.name in called):
            names.update(cls.env(f) for f in cls.fields)
    return names


def all_env_names() -> set[str]:
    """Every variable any process reads, plus what libraries read (for catching typos)."""
    names = set(LIBRARY_ENV)
    for proc in processes().values():
        names |= env_reads(proc)
    return names


# -- calls, topics, buckets, ports ----------------------------------------------------------


def grpc_calls(process: Process) -> set[str]:
    """Services whose gRPC stubs the process uses (`<x>_pb2_grpc.<Name>Stub` of `zsb.<svc>.v1`)."""
    called: set[str] = set()
    for path in files_of(process):
        aliases: dict[str, str] = {}
        tree = parse(path)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                m = re.fullmatch(r"zsb\.(\w+)\.v1", node.module)
                if m and m.group(1) in SERVICES:
                    for alias in node.names:
                        if alias.name.endswith("_pb2_grpc"):
                            aliases[alias.asname or alias.name] = m.group(1)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.endswith("Stub")
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                called.add(aliases[node.value.id])
    return called


def topics() -> list[str]:
    """Event topics named in docs/events.md (the registry), in order of first mention."""
    text = (REPO / "docs/events.md").read_text(encoding="utf-8")
    seen: dict[str, None] = {}
    for m in re.finditer(r"zsb\.[a-z_]+\.v1\.events(?!\.)", text):
        seen.setdefault(m.group(0))
    return list(seen)


def buckets(service: str) -> set[str]:
    """Buckets a service opens: `ctx.object_store("<purpose>")` -> zsb-<service>-<purpose>."""
    found = set()
    for path in files_of(processes()[service]):
        for node in ast.walk(parse(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "object_store"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(f"zsb-{service}-{node.args[0].value}")
    return found


def default_ports() -> dict[str, int]:
    """DEFAULT_PORTS of libs/zsb/common/settings.py, read from the source."""
    for node in ast.walk(parse(LIBS / "zsb/common/settings.py")):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "DEFAULT_PORTS":
            return ast.literal_eval(node.value)  # type: ignore[arg-type]
    raise LookupError("DEFAULT_PORTS not found in settings.py")
