#!/usr/bin/env bash
# Serving on the GPU machine (issue 15 item 6): `GLOSSA_DEVICE=cuda npm start` (node dist/src/server/main.js; the GPU
# machine has node but no npm when node is carried) and `npm run bench:serve` (dist/bench/serve.js) against it, then
# the same server with the CPU engine on the same machine, side by side.
#   native/tools/gpu/serve-device.sh
# Needs: NODE (a node binary; default: unpacks .dev/serve/node.xz), dist/ built, node_modules with the production
# dependencies (default: unpacks .dev/serve/node_modules.tar.xz), native/build with the CUDA backend, the model at
# GLOSSA_MODEL (default models/glossa-mini-50). Writes server logs, /ready and /metrics snapshots and the benchmark
# tables to $OUT (or ./gpu-out). SERVE_LEVELS / SERVE_REQUESTS / SERVE_TIME_LIMIT / SERVE_DEVICES tune the run.
set -uo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
out="${OUT:-$root/gpu-out}"
mkdir -p "$out"
node="${NODE:-}"
if [ -z "$node" ]; then
  xz -dc .dev/serve/node.xz > /tmp/node && chmod +x /tmp/node && node=/tmp/node
fi
[ -d node_modules ] || tar xJf .dev/serve/node_modules.tar.xz
model="${GLOSSA_MODEL:-$root/models/glossa-mini-50}"
[ -f "$model/config.json" ] || { echo "no model at $model"; exit 1; }
echo "node $("$node" --version), model $model, $(nproc) cores"
# GET url -> stdout (exit 1 unless 2xx), with node itself: the GPU machine need not have curl.
get() { "$node" -e 'fetch(process.argv[1]).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); }, () => process.exit(1))' "$1"; }
status=0
port=8787
for dev in ${SERVE_DEVICES:-cuda cpu}; do
  log="$out/server-$dev.log"
  GLOSSA_DEVICE=$dev GLOSSA_MODEL="$model" PORT=$port GLOSSA_HOST=127.0.0.1 GLOSSA_DB="/tmp/glossa-serve-$dev.sqlite" \
    "$node" dist/src/server/main.js > "$log" 2>&1 &
  pid=$!
  ready=""
  for _ in $(seq 1 240); do
    if get "http://127.0.0.1:$port/ready" > "$out/ready-$dev.json" 2>/dev/null; then ready=1; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
  done
  if [ -z "$ready" ]; then
    echo "server ($dev) did not become ready"; tail -30 "$log"; status=1; kill $pid 2>/dev/null; wait $pid; continue
  fi
  echo "== $dev: /ready"; cat "$out/ready-$dev.json"; echo
  "$node" dist/bench/serve.js --url "http://127.0.0.1:$port" --levels "${SERVE_LEVELS:-1,8,32,128}" \
    --requests "${SERVE_REQUESTS:-512}" --time-limit "${SERVE_TIME_LIMIT:-20}" 2>&1 | tee "$out/serve-$dev.txt" || status=1
  get "http://127.0.0.1:$port/metrics" | grep -E '^glossa_(device|kv|batch_size_(sum|count)|generated)' > "$out/metrics-$dev.txt"
  kill -TERM $pid
  wait $pid
  echo "server ($dev) exited with $?"
done
exit $status
