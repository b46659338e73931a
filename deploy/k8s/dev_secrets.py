"""Print the Secrets a development cluster needs, with fresh random values, as YAML.

    PYTHONPATH=libs:. .venv/bin/python deploy/k8s/dev_secrets.py | kubectl apply -f -

Keys are made by the code that reads them (`zsb.common.pii`, `zsb.common.principal`), so their
format is right by construction. Passwords and access keys are hex: they are put into URLs
(DATABASE_URL, OBJECT_STORE_URL) by Kubernetes' $(VAR) expansion and must need no escaping.
Production Secrets are made by the operators of the cluster: docs/operations.md lists them.
Running this again rotates every value (re-run the migrate Jobs and restart the pods after it).
"""

from __future__ import annotations

import base64
import secrets
import sys
from typing import Any

import yaml

from zsb.common.pii import generate_key
from zsb.common.principal import generate_keypair
from zsb.common.settings import SERVICE_NAMES

NS, MINIO_NS = "zsb", "zsb-minio"


def secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "zsb"}},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def dev_secrets() -> list[dict[str, Any]]:
    private, public = generate_keypair()
    docs = [
        secret("zsb-gateway", NS, {"secret-key": secrets.token_hex(32)}),
        secret("zsb-pii-keys", NS, {"encryption-key": generate_key(), "hmac-key": generate_key()}),
        secret("zsb-access-token", NS, {"public-key": public}),
        secret("zsb-access-token-signing", NS, {"signing-key": private}),
        secret("zsb-documents", NS, {"ticket-key": secrets.token_hex(32)}),
        # SMS_PROVIDER=sink in dev: the Alibaba Cloud credentials stay empty.
        secret("zsb-auth-sms", NS, {"access-key-id": "", "access-key-secret": ""}),
    ]
    root_user, root_password = f"root{secrets.token_hex(6)}", secrets.token_hex(24)
    docs.append(
        secret(
            "zsb-minio-configuration",
            MINIO_NS,
            {"config.env": f'export MINIO_ROOT_USER="{root_user}"\nexport MINIO_ROOT_PASSWORD="{root_password}"\n'},
        )
    )
    for svc in SERVICE_NAMES:
        docs.append(secret(f"zsb-{svc}-db", NS, {"password": secrets.token_hex(24)}))
        keys = {"CONSOLE_ACCESS_KEY": f"zsb{svc}{secrets.token_hex(4)}", "CONSOLE_SECRET_KEY": secrets.token_hex(24)}
        # The same user twice: the MinIO tenant creates it, the service logs in with it.
        docs.append(secret(f"zsb-{svc}-object-store", NS, keys))
        docs.append(secret(f"zsb-{svc}-object-store", MINIO_NS, keys))
    return docs


def main() -> int:
    yaml.safe_dump_all(dev_secrets(), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
