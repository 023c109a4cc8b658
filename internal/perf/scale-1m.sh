#!/usr/bin/env bash
# One million metrics in one project on SQLite (docs/PERFORMANCE.md, "One
# million metrics"):
#
#   bash internal/perf/scale-1m.sh /tmp/scale-1m.db
#
# 1. Builds the database when it does not hold N metrics yet (default
#    1,000,000): internal/perf/seed, the list benchmarks' pattern
#    (benchdata.Metric) through store.ImportMetrics, which writes the rows a
#    create through the API writes (metric, version, tags, event key,
#    project generation) in batches of 5,000 per transaction.
# 2. Cold start: RUNS (default 5) starts of the binary to the first 200 of
#    GET one metric (internal/perf/coldstart), median, with VmRSS/VmHWM.
# 3. Starts one server, reads VmRSS/VmHWM from /proc/<pid>/status idle, then
#    runs wrk (-t1 -c8, DURATION, default 10s) on each list page below,
#    with the admin token and with a token limited by an inline policy
#    (its pages carry another `_access`), reading the memory after each.
#
# BIN names a metricsd binary to measure instead of building this tree's.
# PORT (default 19400) and the next port (the Prometheus endpoint) are used. Rate limits are off. Set GOMEMLIMIT or other
# environment for the server as usual; it is passed through.
set -euo pipefail
DB="${1:-/tmp/scale-1m.db}"
N=${N:-1000000}
P=${PORT:-19400}
RUNS=${RUNS:-5}
DUR=${DURATION:-10s}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
if [ -n "${BIN:-}" ]; then cp "$BIN" "$tmp/metricsd"; else go build -o "$tmp/metricsd" ./cmd/metricsd; fi
go build -o "$tmp/seed" ./internal/perf/seed
go build -o "$tmp/coldstart" ./internal/perf/coldstart
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
H='Authorization: loadtoken'
start() {
  METRICSD_ADMIN_TOKEN=loadtoken "$tmp/metricsd" --addr 127.0.0.1:$P --database "sqlite:$DB" --log-level error \
    --rate-limit 0 --rate-limit-route-read 0 --rate-limit-route-write 0 --metrics-addr 127.0.0.1:$((P+1)) &
  pid=$!
  for _ in $(seq 1 600); do curl -sf "localhost:$P/readyz" >/dev/null && return; sleep 0.1; done
  echo "server did not get ready" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
# VmRSS and VmHWM of the server, and from its Prometheus endpoint the Go
# heap in use and all memory the Go runtime holds (the rest of the RSS is
# the binary's pages and SQLite's own allocations).
mem() {
  awk '/^VmRSS|^VmHWM/ {printf "%s %s MB  ", $1, int($2/1024)}' "/proc/$pid/status"
  curl -s "localhost:$((P+1))/metrics" | awk '/^go_memstats_heap_inuse_bytes / {printf "Go heap in use %d MB  ", $2/1048576}
    /^go_memstats_sys_bytes / {printf "Go sys %d MB", $2/1048576}'
  echo
}
total() { curl -s -H "$H" "localhost:$P/api/v2/metrics/default?limit=1" | sed -n 's/.*"totalCount":\([0-9]*\).*/\1/p'; }

start
have=$(total)
stop
if [ "${have:-0}" -lt "$N" ]; then
  echo "seeding $((N - ${have:-0})) metrics into $DB"
  t0=$(date +%s)
  METRICSD_ADMIN_TOKEN=loadtoken "$tmp/seed" -database "sqlite:$DB" -n "$((N - ${have:-0}))"
  echo "seeded in $(( $(date +%s) - t0 )) s"
fi
ls -l "$DB"* | awk '{print $5, $9}'

echo "== cold start (process start to the first 200 of GET one metric)"
"$tmp/coldstart" -bin "$tmp/metricsd" -database "sqlite:$DB" -addr 127.0.0.1:$P \
  -path /api/v2/metrics/default/metric-500000 -token loadtoken -runs "$RUNS"

echo "== memory and list load"
start
echo "metrics: $(total)"
curl -sf -o /dev/null -H "$H" "localhost:$P/api/v2/metrics/default/metric-500000"
echo "idle after one GET: $(mem)"
# A token whose inline policy renames only metrics tagged t3: its _access
# differs from the admin's, metric by metric.
scoped=$(curl -sf -H "$H" -H 'Content-Type: application/json' "localhost:$P/api/v2/tokens" -d '{"name":"scale-scoped","inlineRole":[
  {"effect":"allow","actions":["viewProject"],"resources":["proj/default"]},
  {"effect":"allow","actions":["updateName"],"resources":["proj/default:metric/*;t3"]}]}' | sed -n 's/.*"token":"\(api-[0-9a-f]*\)".*/\1/p')
[ -n "$scoped" ] || { echo "could not create the scoped token" >&2; exit 1; }
enc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
pages=(
  "tag-numeric|filter=$(enc 'tags contains ["t3"] and isNumeric equals true')&sort=-createdAt&limit=20"
  "tag|filter=$(enc 'tags contains ["t3"]')&sort=-createdAt&limit=20"
  "rare-tag|filter=$(enc 'tags contains ["rare"]')&sort=-createdAt&limit=20"
  "combined|filter=$(enc 'query equals "latency" and tags contains ["t2"] and eventKind equals "pageview"')&sort=-createdAt&limit=20"
  "numeric|filter=$(enc 'isNumeric equals true')&sort=-createdAt&limit=20"
  "all-by-name|filter=$(enc 'tags contains ["all"]')&sort=name&limit=20"
  "unfiltered|limit=20"
)
run() { wrk -t1 -c8 -d"$DUR" --latency "$@" | grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx' | tr -s ' ' | tr '\n' ' '; echo; }
for tok in loadtoken "$scoped"; do
  who=admin; [ "$tok" = loadtoken ] || who=scoped
  for pg in "${pages[@]}"; do
    name=${pg%%|*} q=${pg#*|}
    url="localhost:$P/api/v2/metrics/default?$q"
    first=$(curl -s -o "$tmp/page.json" -w '%{http_code} %{time_total}' -H "Authorization: $tok" "$url")
    [ "${first%% *}" = 200 ] || { echo "$who $name: ${first%% *} after ${first#* } s: $(head -c 200 "$tmp/page.json")"; continue; }
    echo "$who $name: first ${first#* } s, $(wc -c < "$tmp/page.json") bytes, totalCount $(sed -n 's/.*"totalCount":\([0-9]*\).*/\1/p' "$tmp/page.json")"
    echo "  wrk: $(run -H "Authorization: $tok" "http://$url")"
    echo "  $(mem)"
  done
done
sleep 5
echo "idle after the load: $(mem)"
