#!/usr/bin/env bash
# Sustained SDK event ingestion over loopback with wrk as the sender
# (docs/PERFORMANCE.md, "SDK event ingestion"), on the database URL given:
#
#   bash internal/perf/wrk-ingest.sh sqlite:/tmp/ingest.db
#   bash internal/perf/wrk-ingest.sh 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=ingest'
#
# A PostgreSQL schema must exist (CREATE SCHEMA ingest). It builds metricsd, reads the production environment's SDK key, and
# alternates ROUNDS (default 2) runs of the decoding baseline
# (BenchmarkIngestDecodeOnly: the same bodies decoded as the handler does)
# with DURATION (default 10 s) wrk runs of POST /bulk
# (internal/perf/wrk-ingest.lua: the same bodies, a payload ID per post)
# from CONNS (default 128) connections, after one run not counted, and
# prints events/s of both and their ratio. Every 202 is a committed group
# commit; non-2xx answers are printed. At the end it checks that the
# events stored (the explorer's volumes) match the posts acknowledged.
# PORT (default 18090) is used.
set -euo pipefail
DB="$1"
P=${PORT:-18090}
CONNS=${CONNS:-128}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
go build -o "$tmp/metricsd" ./cmd/metricsd
go test -c -o "$tmp/ingest.test" ./internal/ingest
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
METRICSD_ADMIN_TOKEN=loadtoken "$tmp/metricsd" --addr 127.0.0.1:$P --database "$DB" --log-level error \
  --rate-limit 0 --rate-limit-route-read 0 --rate-limit-route-write 0 &
pid=$!
for _ in $(seq 1 150); do curl -sf "localhost:$P/readyz" >/dev/null && break; sleep 0.2; done
key=$(curl -sf -H 'Authorization: loadtoken' "localhost:$P/api/v2/projects/default/environments/production" | sed -n 's/.*"apiKey":"\([^"]*\)".*/\1/p')
[ -n "$key" ] || { echo "no SDK key for default/production" >&2; exit 1; }
# One run first, not counted: the first seconds of a new database
# (its first rollup rows, event sources, file growth) are slower than the
# sustained rate this measures.
posts=0
run_id=0
ingest() {
  run_id=$((run_id + 1))
  out=$(RUN_ID="$$-$run_id" SDK_KEY="$key" wrk -t1 -c"$CONNS" -d"$1" --latency -s internal/perf/wrk-ingest.lua "http://127.0.0.1:$P")
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  posts=$((posts + n - ${bad:-0}))
}
ingest 10s
echo "warm-up: $(echo "$out" | awk '/Requests\/sec/ {printf "%.0f events/s", $2 * 100}') (not counted)"
for round in $(seq 1 "${ROUNDS:-2}"); do
  dec=$("$tmp/ingest.test" -test.run '^$' -test.bench 'IngestDecodeOnly$' -test.benchtime 3s | awk '/^Benchmark/ {for (i = 1; i <= NF; i++) if ($(i) == "events/s") print $(i-1)}')
  ingest "${DURATION:-10s}"
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  awk -v r="$round" -v d="$dec" -v q="$rps" -v p="$p99" -v b="${bad:-0}" 'BEGIN {
    printf "round %s: decode %.0f events/s, ingest %.0f events/s (%.0f posts/s, p99 %s, non-2xx %s), ratio %.2f\n", r, d, q * 100, q, p, b, q * 100 / d }'
done
# Every acknowledged event is stored: the explorer's volumes (each read
# folds the log first) add up to at least 100 per 2xx wrk counted, and at
# most one post per connection and run more (a post in flight when wrk
# stops may still be committed).
sleep 1
stored=0
for offset in $(seq 0 100 900); do
  page=$(curl -sf -H 'Authorization: loadtoken' "localhost:$P/api/v2/projects/default/environments/production/event-keys?limit=100&offset=$offset")
  stored=$((stored + $(echo "$page" | grep -o '"volume":[0-9]*' | awk -F: '{s += $2} END {print s + 0}')))
done
runs=$((${ROUNDS:-2} + 1))
echo "stored $stored events; acknowledged $((posts * 100)) (at most $((CONNS * runs * 100)) more in flight)"
[ "$stored" -ge $((posts * 100)) ] && [ "$stored" -le $(((posts + CONNS * runs) * 100)) ] || { echo "stored events do not match the acknowledged posts" >&2; exit 1; }
