"""The Kubernetes manifests, rendered and checked offline against the schemas and the code.

Each overlay is built with kustomize (pinned, installed by deploy/k8s/tools.sh) and every
built-in resource is validated strictly against the Kubernetes JSON schemas that
kubernetes-validate bundles. Custom resources of the operators (Strimzi, mariadb-operator,
MinIO, cert-manager), for which no schema ships, are checked field by field here. Then the
manifests are compared with the code: variables each process reads, ports, topics, buckets,
databases, the gRPC calls the network policies must allow, and the Secrets operations.md lists.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, latest_version

from zsb.common.settings import REPO_ROOT

K8S = REPO_ROOT / "deploy/k8s"
sys.path.insert(0, str(K8S))
import codemap  # noqa: E402
import generate  # noqa: E402

OVERLAYS = ("dev", "prod")
# The oldest Kubernetes the manifests target (native sidecars, preStop sleep) and the newest known.
K8S_VERSIONS = ("1.30.0", latest_version())
CUSTOM_KINDS = {
    ("kafka.strimzi.io/v1beta2", "Kafka"),
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"),
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"),
    ("k8s.mariadb.com/v1alpha1", "MariaDB"),
    ("k8s.mariadb.com/v1alpha1", "Database"),
    ("k8s.mariadb.com/v1alpha1", "User"),
    ("k8s.mariadb.com/v1alpha1", "Grant"),
    ("k8s.mariadb.com/v1alpha1", "Backup"),
    ("minio.min.io/v2", "Tenant"),
    ("cert-manager.io/v1", "ClusterIssuer"),
}
NS = "zsb"
PROCESS_OF_CONTAINER = {"sandbox": "payment-sandbox", "migrate": None}


# -- rendering ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kustomize() -> str:
    out = subprocess.run(
        ["bash", str(K8S / "tools.sh"), "kustomize"], capture_output=True, text=True, check=False, timeout=600
    )
    assert out.returncode == 0, f"deploy/k8s/tools.sh kustomize failed:\n{out.stderr}"
    return out.stdout.strip()


@pytest.fixture(scope="session")
def rendered(kustomize: str) -> dict[str, list[dict[str, Any]]]:
    result = {}
    for overlay in OVERLAYS:
        out = subprocess.run(
            [kustomize, "build", str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=False
        )
        assert out.returncode == 0, f"kustomize build overlays/{overlay} failed:\n{out.stderr}"
        result[overlay] = [d for d in yaml.safe_load_all(out.stdout) if d]
    return result


def find(docs: list[dict], kind: str, name: str | None = None, namespace: str | None = None) -> list[dict]:
    return [
        d
        for d in docs
        if d["kind"] == kind
        and (name is None or d["metadata"]["name"] == name)
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


def one(docs: list[dict], kind: str, name: str, namespace: str | None = NS) -> dict:
    found = find(docs, kind, name, namespace)
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def pod_spec(doc: dict) -> dict:
    return (
        doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        if doc["kind"] == "CronJob"
        else doc["spec"]["template"]["spec"]
    )


def workloads(docs: list[dict], namespace: str = NS) -> Iterator[dict]:
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob") and (
            d["metadata"].get("namespace") == namespace
        ):
            yield d


def process_of(workload: dict, container: dict) -> str:
    if container["name"] in PROCESS_OF_CONTAINER:
        mapped = PROCESS_OF_CONTAINER[container["name"]]
        return mapped or workload["metadata"]["name"]  # <svc>-migrate
    return workload["metadata"]["name"]


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_validates_strictly_against_kubernetes_schemas(rendered: dict, overlay: str, version: str) -> None:
    errors, unchecked = [], []
    for doc in rendered[overlay]:
        key = (doc["apiVersion"], doc["kind"])
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
        except SchemaNotFoundError:
            if key not in CUSTOM_KINDS:
                unchecked.append(f"{key}: no schema and no structural check")
    assert not errors, "\n".join(errors)
    assert not unchecked, "\n".join(unchecked)


def test_the_validator_rejects_a_misspelled_field(rendered: dict) -> None:
    """Negative control: strict validation does catch a typo in a rendered Deployment."""
    doc = yaml.safe_load(yaml.safe_dump(one(rendered["prod"], "Deployment", "auth")))
    doc["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"grpc": {"port": 50051}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[0], strict=True)


def test_base_is_generated_from_the_current_code() -> None:
    stale = [
        name
        for name, text in generate.render().items()
        if not (K8S / "base" / name).is_file() or (K8S / "base" / name).read_text() != text
    ]
    assert not stale, f"deploy/k8s/base is stale ({stale}): run `make k8s-base` (deploy/k8s/generate.py)"


# -- custom resources (no schema ships with kubernetes-validate) ----------------------------------


def _require(doc: dict, *paths: str) -> list[str]:
    problems = []
    for path in paths:
        node: Any = doc
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node:
                problems.append(f"{doc['kind']}/{doc['metadata']['name']}: missing {path}")
                break
            node = node[part]
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_are_well_formed_and_their_references_resolve(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    problems: list[str] = []
    kafkas = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in find(docs, "Kafka")}
    assert kafkas, "no Kafka cluster"
    for k in kafkas.values():
        problems += _require(k, "spec.kafka.version", "spec.kafka.listeners", "spec.entityOperator.topicOperator")
        ann = k["metadata"].get("annotations", {})
        assert ann.get("strimzi.io/node-pools") == "enabled" and ann.get("strimzi.io/kraft") == "enabled"
        for listener in k["spec"]["kafka"]["listeners"]:
            assert {"name", "port", "type", "tls"} <= set(listener), listener
    pools = find(docs, "KafkaNodePool")
    for pool in pools:
        problems += _require(pool, "spec.replicas", "spec.roles", "spec.storage.type")
        assert set(pool["spec"]["roles"]) <= {"controller", "broker"}
        cluster = pool["metadata"]["labels"]["strimzi.io/cluster"]
        assert (pool["metadata"]["namespace"], cluster) in kafkas, f"pool {pool['metadata']['name']} of no cluster"
    for topic in find(docs, "KafkaTopic"):
        problems += _require(topic, "spec.topicName", "spec.partitions", "spec.replicas", "spec.config")
        key = (topic["metadata"]["namespace"], topic["metadata"]["labels"].get("strimzi.io/cluster"))
        assert key in kafkas, f"KafkaTopic {topic['metadata']['name']} names no Kafka in its namespace"

    mariadbs = {(d["metadata"]["namespace"], d["metadata"]["name"]): d for d in find(docs, "MariaDB")}
    assert len(mariadbs) == 1
    for m in mariadbs.values():
        problems += _require(m, "spec.rootPasswordSecretKeyRef.name", "spec.storage.size", "spec.image")
    users = {d["spec"]["name"]: d for d in find(docs, "User")}
    databases = {d["spec"]["name"]: d for d in find(docs, "Database")}
    for d in [*users.values(), *databases.values(), *find(docs, "Grant"), *find(docs, "Backup")]:
        ref = d["spec"]["mariaDbRef"]
        key = (ref.get("namespace", d["metadata"]["namespace"]), ref["name"])
        assert key in mariadbs, f"{d['kind']}/{d['metadata']['name']} refers to no MariaDB ({key})"
    for grant in find(docs, "Grant"):
        problems += _require(grant, "spec.privileges", "spec.database", "spec.table", "spec.username")
        assert grant["spec"]["username"] in users and grant["spec"]["database"] in databases
    for user in users.values():
        problems += _require(user, "spec.passwordSecretKeyRef.name", "spec.passwordSecretKeyRef.key")

    (tenant,) = find(docs, "Tenant")
    problems += _require(tenant, "spec.pools", "spec.configuration.name", "spec.users", "spec.buckets")
    for pool in tenant["spec"]["pools"]:
        problems += _require(pool, "servers", "volumesPerServer", "volumeClaimTemplate.spec.resources.requests.storage")
        assert pool["servers"] >= 1 and pool["volumesPerServer"] >= 1
    for bucket in tenant["spec"]["buckets"]:
        assert re.fullmatch(r"zsb-[a-z]+-[a-z0-9-]+", bucket["name"]), bucket

    issuers = {d["metadata"]["name"] for d in find(docs, "ClusterIssuer")}
    for ing in find(docs, "Ingress"):
        issuer = ing["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
        if overlay == "dev":  # prod's issuer belongs to the cluster (operations.md)
            assert issuer in issuers
    assert not problems, "\n".join(problems)


# -- topics ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_topic_in_the_registry_has_its_kafka_topic(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    topics = {d["spec"]["topicName"]: d for d in find(docs, "KafkaTopic")}
    expected = {t for base in codemap.topics() for t in (base, f"{base}.dlq")}
    assert len(codemap.topics()) >= len(codemap.SERVICES), "docs/events.md lists fewer topics than services"
    assert expected <= set(topics), f"missing KafkaTopics: {sorted(expected - set(topics))}"
    brokers = sum(p["spec"]["replicas"] for p in find(docs, "KafkaNodePool") if "broker" in p["spec"]["roles"])
    for name, topic in topics.items():
        replicas, isr = topic["spec"]["replicas"], int(topic["spec"]["config"]["min.insync.replicas"])
        assert replicas <= brokers, f"{name}: {replicas} replicas on {brokers} brokers"
        assert isr <= replicas
        if overlay == "prod":
            assert (replicas, isr) == (3, 2), f"{name}: replication {replicas}, min.insync.replicas {isr}"
    if overlay == "prod":
        (kafka,) = find(docs, "Kafka")
        config = kafka["spec"]["kafka"]["config"]
        assert config["auto.create.topics.enable"] is False
        assert config["min.insync.replicas"] == 2 and config["default.replication.factor"] == 3


# -- environment ----------------------------------------------------------------------------------


def client_env_names() -> set[str]:
    """What the sandbox's client.env sets (the dev payment container sources it)."""
    from services.payment.sandbox.keys import client_settings

    ids = {
        k: "x"
        for k in (
            "wechat_mchid",
            "wechat_appid",
            "wechat_merchant_serial",
            "wechat_apiv3_key",
            "alipay_app_id",
            "alipay_seller_id",
            "unionpay_mer_id",
            "unionpay_pfx_password",
        )
    }
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ids.json").write_text(json.dumps(ids))
        return set(client_settings(Path(tmp), "http://localhost:18080"))


def container_env(docs: list[dict], container: dict, namespace: str = NS) -> dict[str, dict]:
    """Name -> source ({'value': ...}, {'secret': (name, key)}, {'configMap': ...}) as the kubelet sees it."""
    env: dict[str, dict] = {}
    for src in container.get("envFrom", []):
        ref = src["configMapRef"]["name"]
        (cm,) = find(docs, "ConfigMap", ref, namespace) or [None]
        assert cm is not None, f"container {container['name']} loads missing ConfigMap {ref}"
        for key, value in cm.get("data", {}).items():
            env[key] = {"value": value, "from": ref}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = {"value": item["value"]}
        elif "secretKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = {"secret": (ref["name"], ref["key"]), "optional": ref.get("optional", False)}
        elif "configMapKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["configMapKeyRef"]
            (cm,) = find(docs, "ConfigMap", ref["name"], namespace) or [None]
            assert cm is not None and ref["key"] in cm["data"], f"missing ConfigMap key {ref}"
            env[item["name"]] = {"value": cm["data"][ref["key"]]}
        else:
            env[item["name"]] = {"field": item["valueFrom"]}
    command = " ".join(container.get("command", []))
    if ". /var/sandbox/client.env" in command:
        for name in client_env_names():
            env[name] = {"value": "<client.env>"}
    return env


def all_containers(workload: dict) -> list[dict]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_gets_every_variable_its_code_reads(rendered: dict, overlay: str) -> None:
    procs = codemap.processes()
    missing, checked = [], set()
    for workload in workloads(rendered[overlay]):
        for container in all_containers(workload):
            proc = process_of(workload, container)
            if proc not in procs:
                continue
            checked.add(proc)
            have = container_env(rendered[overlay], container)
            for name in sorted(codemap.env_reads(procs[proc]) - set(have)):
                missing.append(f"{proc} ({workload['kind']}/{workload['metadata']['name']}): {name}")
    assert not missing, "variables the code reads but the manifests do not set:\n" + "\n".join(missing)
    expected = {"gateway", *codemap.SERVICES, *(f"{s}-migrate" for s in codemap.SERVICES)}
    if overlay == "dev":
        expected.add("payment-sandbox")
    assert expected <= checked, f"processes without a workload: {sorted(expected - checked)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_variable_is_set_that_nothing_reads(rendered: dict, overlay: str) -> None:
    """Catches typos: pydantic ignores unknown variables, so a misspelt one would do nothing."""
    known = codemap.all_env_names()
    problems = []
    for workload in workloads(rendered[overlay]):
        for container in all_containers(workload):
            defined: list[str] = []
            refs = {m for item in container.get("env", []) for m in re.findall(r"\$\((\w+)\)", item.get("value", ""))}
            for item in container.get("env", []):
                for ref in re.findall(r"\$\((\w+)\)", item.get("value", "")):
                    if ref not in defined:
                        problems.append(f"{container['name']}: $({ref}) used before it is defined")
                defined.append(item["name"])
            env = container_env(rendered[overlay], container)
            for name in env:
                if name not in known and name not in refs and not name.startswith("POD_"):
                    problems.append(f"{workload['metadata']['name']}/{container['name']}: {name} is read by nothing")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_come_from_secret_refs_and_no_secret_is_in_the_repo(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    assert not find(docs, "Secret"), "a Secret with values is in the manifests"
    problems = []
    for workload in workloads(docs):
        for container in all_containers(workload):
            env = container_env(docs, container)
            for name, source in env.items():
                if name in generate.SECRET_ENV and source.get("value") not in (None, "<client.env>"):
                    problems.append(f"{container['name']}: {name} has a literal value")
                if name in ("DATABASE_URL", "OBJECT_STORE_URL") and "value" in source:
                    assert "$(" in source["value"], f"{name} carries a literal credential"
    for cm in find(docs, "ConfigMap"):
        for key, value in cm.get("data", {}).items():
            if generate.SECRETISH.search(key) and key not in generate.NOT_SECRET and value:
                problems.append(f"ConfigMap {cm['metadata']['name']}: {key} holds a value")
    assert not problems, "\n".join(problems)


def referenced_secrets(docs: list[dict]) -> set[tuple[str, str, str]]:
    """(namespace, secret, key or '*') of every Secret the manifests expect to exist."""
    refs: set[tuple[str, str, str]] = set()
    for d in docs:
        ns = d["metadata"].get("namespace", "")
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            spec = pod_spec(d)
            for c in all_containers(d):
                for item in c.get("env", []):
                    ref = item.get("valueFrom", {}).get("secretKeyRef")
                    if ref and not ref.get("optional"):
                        refs.add((ns, ref["name"], ref["key"]))
            for v in spec.get("volumes", []):
                if "secret" in v:
                    refs.add((ns, v["secret"]["secretName"], "*"))
        elif d["kind"] == "User":
            ref = d["spec"]["passwordSecretKeyRef"]
            refs.add((ns, ref["name"], ref["key"]))
        elif d["kind"] == "Tenant":
            refs.add((ns, d["spec"]["configuration"]["name"], "config.env"))
            for user in d["spec"]["users"]:
                refs |= {(ns, user["name"], "CONSOLE_ACCESS_KEY"), (ns, user["name"], "CONSOLE_SECRET_KEY")}
        elif d["kind"] == "Backup":
            for ref in d["spec"]["storage"]["s3"].values():
                if isinstance(ref, dict) and "key" in ref:
                    refs.add((ns, ref["name"], ref["key"]))
        elif d["kind"] == "Ingress":
            for tls in d["spec"].get("tls", []):
                refs.add((ns, tls["secretName"], "*"))  # made by cert-manager
    return refs


def test_every_secret_the_prod_overlay_needs_is_documented(rendered: dict) -> None:
    doc = (REPO_ROOT / "docs/operations.md").read_text(encoding="utf-8")
    missing = sorted(
        f"{ns}/{name}[{key}]"
        for ns, name, key in referenced_secrets(rendered["prod"])
        if f"`{name}`" not in doc or (key != "*" and f"`{key}`" not in doc)
    )
    assert not missing, f"Secrets not described in docs/operations.md: {missing}"


def test_dev_secrets_script_makes_every_secret_the_dev_overlay_needs(rendered: dict) -> None:
    sys.path.insert(0, str(K8S))
    import dev_secrets

    made = dev_secrets.dev_secrets()
    have = {(s["metadata"]["namespace"], s["metadata"]["name"], k) for s in made for k in s["data"]}
    names = {(ns, n) for ns, n, _ in have}
    # the operator generates the root password; cert-manager makes the TLS Secret
    exempt = {"zsb-mariadb-root", "zsb-gateway-tls"}
    missing = sorted(
        f"{ns}/{name}[{key}]"
        for ns, name, key in referenced_secrets(rendered["dev"])
        if name not in exempt and ((ns, name, key) not in have if key != "*" else (ns, name) not in names)
    )
    assert not missing, f"dev_secrets.py does not make: {missing}"

    import base64

    from zsb.common.pii import PiiProtector
    from zsb.common.principal import Principal, Role, TokenSigner, TokenVerifier

    def value(name: str, key: str) -> str:
        (s,) = [s for s in made if s["metadata"]["name"] == name and s["metadata"]["namespace"] == NS]
        return base64.b64decode(s["data"][key]).decode()

    pii = PiiProtector(value("zsb-pii-keys", "encryption-key"), value("zsb-pii-keys", "hmac-key"))
    assert pii.decrypt(pii.encrypt("140105199001011238", "id"), "id") == "140105199001011238"
    token = TokenSigner(value("zsb-access-token-signing", "signing-key")).sign(
        Principal("21145101130001", Role.CANDIDATE)
    )
    assert TokenVerifier(value("zsb-access-token", "public-key")).verify(token).subject == "21145101130001"
    for svc in codemap.SERVICES:  # put into URLs by $(VAR) expansion: nothing may need escaping
        assert re.fullmatch(r"[0-9a-f]{32,}", value(f"zsb-{svc}-db", "password"))
        assert re.fullmatch(r"[A-Za-z0-9]+", value(f"zsb-{svc}-object-store", "CONSOLE_SECRET_KEY"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_payment_key_files_are_in_mounted_volumes(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    payment = one(docs, "Deployment", "payment")
    container = next(c for c in pod_spec(payment)["containers"] if c["name"] == "payment")
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    env = container_env(docs, container)
    for name, source in env.items():
        if name.startswith("PAYMENT_") and name.endswith(("_FILE", "_DIR")) and source.get("value") != "<client.env>":
            assert any(source["value"].startswith(m.rstrip("/") + "/") or source["value"] == m for m in mounts), (
                f"{name}={source['value']} is in no mounted volume"
            )


def test_identity_points_deepface_at_the_weights_baked_into_its_image(rendered: dict) -> None:
    dockerfile = (REPO_ROOT / "deploy/docker/Dockerfile").read_text()
    identity_stage = dockerfile.split("AS identity", 1)[1].split("\nFROM ", 1)[0]
    for overlay in OVERLAYS:
        (cm,) = find(rendered[overlay], "ConfigMap", "zsb-identity", NS)
        home = cm["data"]["IDENTITY_FACE_DEEPFACE_HOME"]
        assert f"install_weights(Path('{home}'))" in identity_stage


# -- ports, services, probes ------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ports_match_the_code(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    ports = codemap.default_ports()
    assert set(ports) == set(codemap.SERVICES)
    addresses = dict(
        item.split("=", 1) for item in one(docs, "ConfigMap", "zsb-common")["data"]["SERVICE_ADDRESSES"].split(",")
    )
    for svc, port in ports.items():
        dep = one(docs, "Deployment", svc)
        container = (
            pod_spec(dep)["containers"][-1]
            if svc != "payment"
            else next(c for c in pod_spec(dep)["containers"] if c["name"] == "payment")
        )
        env = container_env(docs, container)
        assert env["GRPC_PORT"]["value"] == str(port)
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named["grpc"] == port
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == port, f"{svc} {probe}"
        service = one(docs, "Service", svc)
        grpc = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert grpc["port"] == port and grpc["targetPort"] == "grpc" and grpc["appProtocol"] == "grpc"
        assert service["spec"]["selector"].items() <= pod_spec_labels(dep).items()
        assert addresses[svc] == f"{svc}:{port}", f"SERVICE_ADDRESSES sends {svc} calls to {addresses[svc]}"
        metrics = env.get("METRICS_PORT", {}).get("value")
        assert metrics is not None and named["metrics"] == int(metrics)
    gateway = one(docs, "Deployment", "gateway")
    gw = pod_spec(gateway)["containers"][0]
    assert f"0.0.0.0:{generate.GATEWAY_PORT}" in gw["args"]
    assert gw["ports"][0]["containerPort"] == generate.GATEWAY_PORT
    assert {p["path"] for p in (gw["livenessProbe"]["httpGet"], gw["readinessProbe"]["httpGet"])} == {
        "/healthz",
        "/readyz",
    }
    health = (REPO_ROOT / "gateway/views/health.py").read_text()
    assert '"/healthz"' in health and '"/readyz"' in health


def pod_spec_labels(workload: dict) -> dict[str, str]:
    return workload["spec"]["template"]["metadata"]["labels"]


# -- network policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    namespace: str
    labels: tuple[tuple[str, str], ...]

    @property
    def label_dict(self) -> dict[str, str]:
        return dict(self.labels)


def matches(selector: dict | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        present, value = expr["key"] in labels, labels.get(expr["key"])
        op = expr["operator"]
        if (
            (op == "In" and value not in expr["values"])
            or (op == "NotIn" and value in expr["values"])
            or (op == "Exists" and not present)
            or (op == "DoesNotExist" and present)
        ):
            return False
    return True


def peer_allows(peer: dict, policy_ns: str, target: Peer | str) -> bool:
    if "ipBlock" in peer:
        if not isinstance(target, str):
            return False
        ip = ipaddress.ip_address(target)
        block = peer["ipBlock"]
        return ip in ipaddress.ip_network(block["cidr"]) and not any(
            ip in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    if isinstance(target, str):
        return False
    if "namespaceSelector" in peer:
        ns_ok = matches(peer["namespaceSelector"], {"kubernetes.io/metadata.name": target.namespace})
    else:
        ns_ok = target.namespace == policy_ns
    return ns_ok and matches(peer.get("podSelector"), target.label_dict)


def rule_allows(rule: dict, key: str, policy_ns: str, target: Peer | str, port: int, protocol: str) -> bool:
    peers = rule.get(key)
    if peers and not any(peer_allows(p, policy_ns, target) for p in peers):
        return False
    rule_ports = rule.get("ports")
    return not rule_ports or any(
        p.get("port") in (None, port) and p.get("protocol", "TCP") == protocol for p in rule_ports
    )


def connection_allowed(policies: list[dict], src: Peer, dst: Peer | str, port: int, protocol: str = "TCP") -> bool:
    """Kubernetes NetworkPolicy semantics for one connection (policies are additive allow-lists)."""

    def selecting(pod: Peer, kind: str) -> list[dict]:
        return [
            p
            for p in policies
            if p["metadata"]["namespace"] == pod.namespace
            and kind in p["spec"]["policyTypes"]
            and matches(p["spec"]["podSelector"], pod.label_dict)
        ]

    egress = selecting(src, "Egress")
    if egress and not any(
        rule_allows(r, "to", p["metadata"]["namespace"], dst, port, protocol)
        for p in egress
        for r in p["spec"].get("egress", [])
    ):
        return False
    if isinstance(dst, Peer):
        ingress = selecting(dst, "Ingress")
        if ingress and not any(
            rule_allows(r, "from", p["metadata"]["namespace"], src, port, protocol)
            for p in ingress
            for r in p["spec"].get("ingress", [])
        ):
            return False
    return True


def pod_of(docs: list[dict], kind: str, name: str) -> Peer:
    w = one(docs, kind, name)
    return Peer(w["metadata"]["namespace"], tuple(sorted(pod_spec_labels(w).items())))


KAFKA_POD = Peer("zsb-kafka", (("strimzi.io/cluster", "zsb"), ("strimzi.io/kind", "Kafka")))
MARIADB_POD = Peer(
    "zsb-mariadb", (("app.kubernetes.io/instance", "zsb-mariadb"), ("app.kubernetes.io/name", "mariadb"))
)
MINIO_POD = Peer("zsb-minio", (("v1.min.io/tenant", "zsb-minio"),))
CONSUL_POD = Peer("consul", (("app", "consul"), ("component", "server")))
DNS_POD = Peer("kube-system", (("k8s-app", "kube-dns"),))
INGRESS_POD = Peer("ingress-nginx", (("app.kubernetes.io/name", "ingress-nginx"),))
PROVIDER_IP = "203.0.113.10"  # a public address (TEST-NET-3) standing for a provider's API
PRIVATE_IP = "10.1.2.3"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_every_call_the_code_makes(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    policies = find(docs, "NetworkPolicy")
    ports = codemap.default_ports()
    procs = codemap.processes()
    gateway = pod_of(docs, "Deployment", "gateway")
    assert connection_allowed(policies, INGRESS_POD, gateway, generate.GATEWAY_PORT)
    assert connection_allowed(policies, gateway, CONSUL_POD, 8500)
    assert connection_allowed(policies, gateway, DNS_POD, 53, "UDP")
    callers = {"gateway": gateway} | {s: pod_of(docs, "Deployment", s) for s in codemap.SERVICES}
    called = {(c, s) for c in callers for s in codemap.grpc_calls(procs[c])}
    assert {("gateway", s) for s in codemap.SERVICES} <= called, "the gateway no longer calls every service?"
    for caller, svc in sorted(called):
        assert find(docs, "Service", svc, NS), f"{caller} calls {svc}, which has no Service"
        assert connection_allowed(policies, callers[caller], callers[svc], ports[svc]), f"{caller} -> {svc} denied"
    for svc in codemap.SERVICES:
        pod = callers[svc]
        for target, port in ((KAFKA_POD, 9092), (MARIADB_POD, 3306), (MINIO_POD, 9000), (CONSUL_POD, 8500)):
            assert connection_allowed(policies, pod, target, port), f"{svc} -> {target.namespace}:{port} denied"
        assert connection_allowed(policies, pod, DNS_POD, 53, "UDP")
        assert connection_allowed(policies, CONSUL_POD, pod, ports[svc]), f"Consul cannot health-check {svc}"
        migrate = pod_of(docs, "Job", f"{svc}-migrate")
        assert connection_allowed(policies, migrate, MARIADB_POD, 3306)
    for svc in ("payment", "auth"):  # payment providers; the SMS provider
        assert connection_allowed(policies, callers[svc], PROVIDER_IP, 443), f"{svc} cannot reach its provider"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_everything_else(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    policies = find(docs, "NetworkPolicy")
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress") and not p["spec"].get("egress")
    ]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, "no default-deny policy"
    ports = codemap.default_ports()
    procs = codemap.processes()
    gateway = pod_of(docs, "Deployment", "gateway")
    pods = {s: pod_of(docs, "Deployment", s) for s in codemap.SERVICES}
    for target, port in ((MARIADB_POD, 3306), (KAFKA_POD, 9092), (MINIO_POD, 9000)):
        assert not connection_allowed(policies, gateway, target, port), f"gateway reaches {target.namespace}"
    assert not connection_allowed(policies, gateway, PROVIDER_IP, 443)
    for svc, pod in pods.items():
        assert not connection_allowed(policies, INGRESS_POD, pod, ports[svc]), f"{svc} is reachable from outside"
        for other, other_pod in pods.items():
            if other != svc and other not in codemap.grpc_calls(procs[svc]):
                assert not connection_allowed(policies, pod, other_pod, ports[other]), f"{svc} -> {other} allowed"
        if svc not in ("payment", "auth"):
            assert not connection_allowed(policies, pod, PROVIDER_IP, 443), f"{svc} reaches the internet"
        assert not connection_allowed(policies, pod, PRIVATE_IP, 443)
    migrate = pod_of(docs, "Job", "auth-migrate")
    assert not connection_allowed(policies, migrate, KAFKA_POD, 9092)


# -- hardening, scaling, jobs ----------------------------------------------------------------------


def image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in ("", "latest")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_is_hardened(rendered: dict, overlay: str) -> None:
    problems = []
    docs = rendered[overlay]
    for w in [*workloads(docs), *find(docs, "StatefulSet", namespace="consul")]:
        name = f"{w['kind']}/{w['metadata']['name']}"
        spec = pod_spec(w)
        pod_sc = spec.get("securityContext", {})
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: service account token mounted")
        if pod_sc.get("runAsNonRoot") is not True or pod_sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: pod not non-root with seccomp RuntimeDefault")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for c in all_containers(w):
            sc = c.get("securityContext", {})
            cname = f"{name}/{c['name']}"
            if sc.get("allowPrivilegeEscalation") is not False or sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cname}: privilege escalation or writable root")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{cname}: capabilities not dropped")
            res = c.get("resources", {})
            for section in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(res.get(section, {})):
                    problems.append(f"{cname}: no {section}")
            if not image_pinned(c["image"]):
                problems.append(f"{cname}: image {c['image']} not pinned")
            if w["metadata"]["namespace"] == NS:
                tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
                if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
                    problems.append(f"{cname}: /tmp is not an emptyDir")
    assert not problems, "\n".join(problems)
    (ns,) = find(docs, "Namespace", NS, None)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_autoscales_and_has_a_disruption_budget(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    deployments = find(docs, "Deployment", namespace=NS)
    assert {d["metadata"]["name"] for d in deployments} == {"gateway", *codemap.SERVICES}
    for dep in deployments:
        name = dep["metadata"]["name"]
        assert "replicas" not in dep["spec"], f"{name}: replicas fixed, the HPA must own them"
        hpas = [
            h
            for h in find(docs, "HorizontalPodAutoscaler", namespace=NS)
            if h["spec"]["scaleTargetRef"]["name"] == name
        ]
        assert len(hpas) == 1, f"{name}: {len(hpas)} HPAs"
        spec = hpas[0]["spec"]
        if overlay == "prod":
            assert spec["minReplicas"] >= 2 and spec["maxReplicas"] > spec["minReplicas"], name
        pdbs = [
            p
            for p in find(docs, "PodDisruptionBudget", namespace=NS)
            if matches(p["spec"]["selector"], pod_spec_labels(dep))
        ]
        assert len(pdbs) == 1, f"{name}: {len(pdbs)} PodDisruptionBudgets"
        for other in find(docs, "Job", namespace=NS):  # a Service or PDB must not pick up Job pods
            assert not matches(dep["spec"]["selector"], pod_spec_labels(other)), (
                f"{name} selects {other['metadata']['name']}"
            )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_migration_job_and_deployments_do_not_migrate(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    for svc in codemap.SERVICES:
        job = one(docs, "Job", f"{svc}-migrate")
        (container,) = pod_spec(job)["containers"]
        assert container["command"] == ["python", "-m", "zsb.common.migrate", svc]
        dep_container = next(c for c in pod_spec(one(docs, "Deployment", svc))["containers"] if c["name"] == svc)
        assert container["image"] == dep_container["image"], "the Job must migrate with the same release"
        job_env, dep_env = container_env(docs, container), container_env(docs, dep_container)
        assert job_env["DATABASE_URL"] == dep_env["DATABASE_URL"]
        assert dep_env["MIGRATE_ON_START"]["value"] == "false"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_its_database_user_and_buckets(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    users = {u["spec"]["name"]: u for u in find(docs, "User")}
    grants = {(g["spec"]["username"], g["spec"]["database"]) for g in find(docs, "Grant")}
    (tenant,) = find(docs, "Tenant")
    buckets = {b["name"] for b in tenant["spec"]["buckets"]}
    tenant_users = {u["name"] for u in tenant["spec"]["users"]}
    for svc in codemap.SERVICES:
        dep = one(docs, "Deployment", svc)
        container = next(c for c in pod_spec(dep)["containers"] if c["name"] == svc)
        env = container_env(docs, container)
        url = env["DATABASE_URL"]["value"]
        m = re.fullmatch(r"mysql\+pymysql://(\w+):\$\((\w+)\)@\$\(\w+\):3306/(\w+)\?charset=utf8mb4", url)
        assert m, url
        user, password_var, database = m.groups()
        assert user in users and (user, database) in grants, f"{svc}: no user/grant for {user} on {database}"
        ref = users[user]["spec"]["passwordSecretKeyRef"]
        assert env[password_var]["secret"] == (ref["name"], ref["key"]), f"{svc}: DB password and User differ"
        assert codemap.buckets(svc) <= buckets, f"{svc}: buckets {codemap.buckets(svc) - buckets} not in the tenant"
        access = env["ZSB_OBJECT_STORE_ACCESS_KEY"]["secret"][0]
        assert access in tenant_users, f"{svc}: MinIO user {access} is not a tenant user"
    assert len(users) == len(codemap.SERVICES) == len({u["spec"]["name"] for u in users.values()})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_serves_the_gateway_over_tls_on_the_public_host(rendered: dict, overlay: str) -> None:
    docs = rendered[overlay]
    ing = one(docs, "Ingress", "gateway")
    hosts = {r["host"] for r in ing["spec"]["rules"]}
    assert hosts == set(ing["spec"]["tls"][0]["hosts"]) and ing["spec"]["tls"][0]["secretName"]
    assert "cert-manager.io/cluster-issuer" in ing["metadata"]["annotations"]
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "gateway", "port": {"name": "http"}}
    public = one(docs, "ConfigMap", "zsb-payment")["data"]["PAYMENT_PUBLIC_BASE_URL"]
    assert public == f"https://{next(iter(hosts))}", "providers would call back a host the Ingress does not serve"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_entry_point_exists(rendered: dict, overlay: str) -> None:
    for w in workloads(rendered[overlay]):
        for c in all_containers(w):
            argv = " ".join(c.get("command", []) + c.get("args", []))
            modules = re.findall(r"python -m ([\w.]+)", argv)
            apps = re.findall(r"\b([\w.]+):(\w+)$", argv)
            assert modules or apps, f"{c['name']}: no entry point in {argv!r}"
            for module in modules:
                spec = importlib.util.find_spec(module)
                assert spec is not None, f"{c['name']}: module {module} does not exist"
                if spec.submodule_search_locations:  # a package run with -m needs __main__
                    assert importlib.util.find_spec(f"{module}.__main__"), module
            for module, attr in apps:
                path = codemap.module_file(module)
                assert path is not None and re.search(rf"^{attr}\s*=", path.read_text(), re.M), f"{module}:{attr}"
