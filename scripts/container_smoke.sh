#!/usr/bin/env bash
# Build the image, run it read-only and non-root on 127.0.0.1, wait for /readyz, post
# the seed article and check the four mission topics, load the editor's page and store
# one correction. Exits non-zero on any failure.
#   scripts/container_smoke.sh            (make container-test)
# Uses docker when an engine answers, else podman (run ../shared/container/prepare.sh
# once, as root, on machines without a Docker engine).
set -euo pipefail
cd "$(dirname "$0")/.."

if docker info >/dev/null 2>&1; then
  engine=docker
  build=(docker build)
elif command -v podman >/dev/null 2>&1; then
  engine=podman
  # --format docker keeps HEALTHCHECK; the torch CPU wheel is on pip's path in the
  # local python:3.11-slim stand-in, so no torch index is needed here.
  build=(podman build --pull=never --network=host --format docker --build-arg TORCH_INDEX_URL=)
else
  echo "container_smoke: neither a Docker engine nor podman is available" >&2
  exit 1
fi

image=${IMAGE:-newstag:smoke}
name=newstag-smoke-$$
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

start=$(date +%s)
"${build[@]}" -t "$image" .
echo "container_smoke: built $image with $engine in $(( $(date +%s) - start )) s"
"$engine" image inspect "$image" --format 'container_smoke: image size {{.Size}} bytes'

cleanup() { "$engine" rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$engine" run -d --name "$name" --read-only --tmpfs /tmp:rw,size=256m \
  -p "127.0.0.1:$port:8000" "$image" >/dev/null

echo "container_smoke: waiting for /readyz on 127.0.0.1:$port"
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  if [[ $("$engine" inspect -f '{{.State.Running}}' "$name") != true ]]; then
    "$engine" logs "$name" >&2; echo "container_smoke: the container stopped" >&2; exit 1
  fi
  sleep 1
done
if [[ -z ${ready:-} ]]; then "$engine" logs "$name" >&2; echo "container_smoke: never ready" >&2; exit 1; fi

body=$(python3 -c 'import json,sys; print(json.dumps({"text": open(sys.argv[1]).read()}))' seeds/000_61fd793a4efa8984.txt)
answer=$(curl -fsS "http://127.0.0.1:$port/v1/classify" -H 'Content-Type: application/json' -d "$body")
python3 - "$answer" <<'PY'
import json, sys
labels = {t["label"] for t in json.loads(sys.argv[1])["topics"]}
missing = {"bilateral relations", "economy", "COP29", "demining"} - labels
if missing:
    sys.exit(f"container_smoke: missing topics {sorted(missing)}; got {sorted(labels)}")
print("container_smoke: seed article tagged", sorted(labels))
PY

# The editor's page ships, and a correction is stored in the /data volume (the root
# filesystem is read-only) and comes back in the export.
# Read whole before grep: `curl | grep -q` failed the script now and then (grep stops at the first
# match, curl's next write gets SIGPIPE: exit 23 under pipefail).
page=$(curl -fsS "http://127.0.0.1:$port/")
grep -q "newstag editor" <<<"$page"
curl -fsS "http://127.0.0.1:$port/static/editor/editor.js" >/dev/null
correction='{"text": "Ministers met to discuss trade.", "labels": ["economy"], "taxonomy": "news"}'
status=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/feedback" \
  -H 'Content-Type: application/json' -d "$correction")
if [[ $status != 201 ]]; then "$engine" logs "$name" >&2; echo "container_smoke: feedback answered $status" >&2; exit 1; fi
export=$(curl -fsS "http://127.0.0.1:$port/v1/feedback/export?format=jsonl")
grep -q '"labels": \["economy"\]' <<<"$export"
echo "container_smoke: the editor page is served and feedback is stored in /data"

uid=$("$engine" exec "$name" id -u)
if [[ $uid == 0 ]]; then echo "container_smoke: the process runs as root" >&2; exit 1; fi
echo "container_smoke: runs as uid $uid"
if "$engine" exec "$name" sh -c 'touch /app/written 2>/dev/null'; then
  echo "container_smoke: the root filesystem is writable" >&2; exit 1
fi
echo "container_smoke: OK"
