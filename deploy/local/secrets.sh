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
  } >"$FILE.tmp"
  mv "$FILE.tmp" "$FILE"
fi
echo "$FILE"
