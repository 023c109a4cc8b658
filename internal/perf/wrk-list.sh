#!/usr/bin/env bash
# Load test of filtered list pages over many metrics against a bare
# net/http handler serving the very same bytes (docs/PERFORMANCE.md):
#
#   bash internal/perf/wrk-list.sh sqlite:/tmp/list.db
#   psql -h 127.0.0.1 -U postgres -d test -c 'CREATE SCHEMA list'
#   bash internal/perf/wrk-list.sh 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=list'
#
# It seeds the database's default project with N metrics (default 100000;
# skipped when the project already holds them), then alternates 10 s wrk
# runs (metricsd, the BASE binary when set, bare) ROUNDS times (default 2)
# for each of two pages, newest first, limit 20:
#
#   spread   `tags contains ["t3"] and isNumeric equals true` (every 20th
#            metric, spread evenly through the sort order);
#   bunched  `query equals "metric-00004"` (the 10 metrics 40 to 49 of the
#            seed, bunched at the far end of the sort order).
#
# BASE is another metricsd binary (say, built at an older commit) served
# on the same database with the same flags, for same-run ratios. With
# WRITES=1 every metricsd run has a second wrk beside it creating metrics
# (tagged "w", matching neither page) through the same server, one
# connection, as fast as it answers: every write invalidates the project's
# cached pages, so the reads measure the page read itself.
# PORT (default 18181) and the next four ports are used. Rate limits are
# off.
set -euo pipefail
DB="$1"
N=${N:-100000}
P=${PORT:-18181}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
go build -o "$tmp/metricsd" ./cmd/metricsd
go build -o "$tmp/bare" ./internal/perf/bare
go build -o "$tmp/seed" ./internal/perf/seed
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
serve() { # binary port
  METRICSD_ADMIN_TOKEN=loadtoken "$1" --addr 127.0.0.1:$2 --database "$DB" --log-level error \
    --rate-limit 0 --rate-limit-route-read 0 --rate-limit-route-write 0 &
  pids+=($!)
  for _ in $(seq 1 300); do curl -sf "localhost:$2/readyz" >/dev/null && return; sleep 0.2; done
  echo "server on port $2 not ready" >&2
  exit 1
}
serve "$tmp/metricsd" $P
total() { curl -s -H 'Authorization: loadtoken' "localhost:$P/api/v2/metrics/default?limit=1" | sed -n 's/.*"totalCount":\([0-9]*\).*/\1/p'; }
if [ "$(total)" -lt "$N" ]; then
  METRICSD_ADMIN_TOKEN=loadtoken "$tmp/seed" -database "$DB" -n "$N"
fi
echo "metrics: $(total)"
if [ -n "${BASE:-}" ]; then
  serve "$BASE" $((P+3))
fi
names=(spread bunched)
queries=(
  "filter=tags+contains+%5B%22t3%22%5D+and+isNumeric+equals+true&sort=-createdAt&limit=20"
  "filter=query+equals+%22metric-00004%22&sort=-createdAt&limit=20"
)
for i in 0 1; do
  st=$(curl -s -o "$tmp/page$i.json" -w '%{http_code}' -H 'Authorization: loadtoken' "localhost:$P/api/v2/metrics/default?${queries[$i]}")
  [ "$st" = 200 ] || { echo "list page ${names[$i]}: $st" >&2; exit 1; }
  echo "page ${names[$i]}: $(wc -c < "$tmp/page$i.json") bytes, totalCount $(sed -n 's/.*"totalCount":\([0-9]*\).*/\1/p' "$tmp/page$i.json")"
  "$tmp/bare" -addr 127.0.0.1:$((P+1+i)) -body "$tmp/page$i.json" &
  pids+=($!)
done
sleep 0.5
cat > "$tmp/post.lua" <<'LUA'
local n, prefix = 0, tostring(os.time())
request = function()
  n = n + 1
  return wrk.format("POST", "/api/v2/metrics/default",
    {["Authorization"] = "loadtoken", ["Content-Type"] = "application/json"},
    string.format('{"key":"w-%s-%d","name":"W","kind":"custom","eventKey":"w","tags":["w"]}', prefix, n))
end
LUA
# reads PORT QUERY: a read run of metricsd on PORT, with writes beside it
# when WRITES=1.
reads() {
  if [ "${WRITES:-}" = 1 ]; then
    wrk -t1 -c1 -d10s -s "$tmp/post.lua" "http://localhost:$1" > "$tmp/writes.txt" &
    local w=$! r
    r=$(run -H 'Authorization: loadtoken' "http://localhost:$1/api/v2/metrics/default?$2")
    wait $w
    echo "$r writes/s: $(grep Requests/sec "$tmp/writes.txt" | tr -s ' ' | cut -d' ' -f2) $(grep Non-2xx "$tmp/writes.txt" | tr -s ' ')"
  else
    run -H 'Authorization: loadtoken' "http://localhost:$1/api/v2/metrics/default?$2"
  fi
}
run() { wrk -t1 -c8 -d10s --latency "$@" | grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx' | tr -s ' ' | tr '\n' ' '; echo; }
for round in $(seq 1 "${ROUNDS:-2}"); do
  for i in 0 1; do
    echo "${names[$i]} metricsd $round: $(reads $P "${queries[$i]}")"
    if [ -n "${BASE:-}" ]; then
      echo "${names[$i]} base     $round: $(reads $((P+3)) "${queries[$i]}")"
    fi
    echo "${names[$i]} bare     $round: $(run "http://127.0.0.1:$((P+1+i))/")"
  done
done
