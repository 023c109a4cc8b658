#!/usr/bin/env bash
# Load test of GET one metric against the ceiling of a bare net/http handler
# serving the very same bytes (docs/PERFORMANCE.md), on the database URL given:
#
#   bash internal/perf/wrk-get.sh sqlite:/tmp/load.db
#   bash internal/perf/wrk-get.sh 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable&search_path=load'
#
# It builds metricsd and the bare handler, creates one metric, checks that
# both serve the same bytes, then alternates 10 s wrk runs (metricsd, bare)
# twice, so that load from other jobs hits both alike. Set BASE to another
# metricsd binary to measure it in the same rounds (on the same database).
# The bare handler sends the header lines of metricsd's response too
# (values as captured, X-Request-Id and ETag included; Date is net/http's
# own), so that both pay net/http the same for headers; "bare-body" is the
# bare handler with Content-Type only, as before 2026-12-01 17:40.
# Rate limits are switched off (in BASE too): they are measured on their
# own. PORT (default 18081) is the first of four consecutive ports used;
# ROUNDS (default 2) the number of rounds.
set -euo pipefail
DB="$1"
P=${PORT:-18081}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
go build -o "$tmp/metricsd" ./cmd/metricsd
go build -o "$tmp/bare" ./internal/perf/bare
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
nolimits=(--rate-limit 0 --rate-limit-route-read 0 --rate-limit-route-write 0)
METRICSD_ADMIN_TOKEN=loadtoken "$tmp/metricsd" --addr 127.0.0.1:$P --database "$DB" --log-level error "${nolimits[@]}" &
pids+=($!)
# /readyz, not /healthz: the server answers health while it migrates.
ready() { for _ in $(seq 1 150); do curl -sf "localhost:$1/readyz" >/dev/null && return; sleep 0.2; done; echo "port $1 never ready" >&2; exit 1; }
ready $P
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: loadtoken' -H 'Content-Type: application/json' \
  localhost:$P/api/v2/metrics/default -d '{"key":"m2","kind":"custom","eventKey":"e"}')
case $st in 201 | 409) ;; *) echo "creating the metric: $st" >&2; exit 1 ;; esac
st=$(curl -s -D "$tmp/headers.txt" -o "$tmp/metric.json" -w '%{http_code}' -H 'Authorization: loadtoken' localhost:$P/api/v2/metrics/default/m2)
[ "$st" = 200 ] || { echo "GET of the metric: $st" >&2; exit 1; }
"$tmp/bare" -addr 127.0.0.1:$((P+2)) -body "$tmp/metric.json" -headers "$tmp/headers.txt" &
pids+=($!)
"$tmp/bare" -addr 127.0.0.1:$((P+3)) -body "$tmp/metric.json" &
pids+=($!)
if [ -n "${BASE:-}" ]; then
  METRICSD_ADMIN_TOKEN=loadtoken "$BASE" --addr 127.0.0.1:$((P+1)) --database "$DB" --log-level error "${nolimits[@]}" &
  pids+=($!)
  ready $((P+1))
fi
sleep 0.5
# Non-2xx answers would measure an error path: they are printed too.
run() { wrk -t1 -c16 -d10s --latency "$@" | grep -E '^ +99%|Requests/sec|Non-2xx' | tr -s ' ' | tr '\n' ' '; echo; }
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "metricsd $round: $(run -H 'Authorization: loadtoken' http://127.0.0.1:$P/api/v2/metrics/default/m2)"
  echo "bare     $round: $(run http://127.0.0.1:$((P+2))/)"
  echo "bare-body $round: $(run http://127.0.0.1:$((P+3))/)"
  if [ -n "${BASE:-}" ]; then
    echo "base     $round: $(run -H 'Authorization: loadtoken' http://127.0.0.1:$((P+1))/api/v2/metrics/default/m2)"
  fi
done
