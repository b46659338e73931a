#!/usr/bin/env bash
# Local secrets for `make run`: generated once into var/secrets.env (owner-only, git-ignored).
# Production takes the same variables from its secret store (deploy/k8s).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
FILE="$ROOT/var/secrets.env"
mkdir -p "$ROOT/var"
if [[ ! -s "$FILE" ]]; then
  umask 077
  key() { head -c 32 /dev/urandom | base64; }
  {
    echo "export PII_ENCRYPTION_KEY=$(key)"
    echo "export PII_HMAC_KEY=$(key)"
    echo "export SECRET_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    # Ed25519 key pair of the access tokens (base64 of the PEM, so it fits on one line).
    PYTHONPATH="$ROOT/libs" "$ROOT/.venv/bin/python" -c '
import base64
from zsb.common.principal import generate_keypair
private, public = generate_keypair()
print("export ACCESS_TOKEN_SIGNING_KEY=" + base64.b64encode(private.encode()).decode())
print("export ACCESS_TOKEN_PUBLIC_KEY=" + base64.b64encode(public.encode()).decode())'
  } >"$FILE.tmp"
  mv "$FILE.tmp" "$FILE"
fi
echo "$FILE"
