#!/usr/bin/env bash
# Load test of a filtered list page over many metrics against a bare
# net/http handler serving the very same bytes (docs/PERFORMANCE.md):
#
#   bash internal/perf/wrk-list.sh sqlite:/tmp/list.db
#
# It seeds the database's default project with N metrics (default 100000;
# skipped when the project already holds them), then alternates 10 s wrk
# runs (metricsd, bare) ROUNDS times (default 2), one page of
# `tags contains ["t3"] and isNumeric equals true`, newest first, limit 20.
# PORT (default 18181) and the next port are used. Rate limits are off.
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
METRICSD_ADMIN_TOKEN=loadtoken "$tmp/metricsd" --addr 127.0.0.1:$P --database "$DB" --log-level error \
  --rate-limit 0 --rate-limit-route-read 0 --rate-limit-route-write 0 &
pids+=($!)
for _ in $(seq 1 150); do curl -sf "localhost:$P/readyz" >/dev/null && break; sleep 0.2; done
total() { curl -s -H 'Authorization: loadtoken' "localhost:$P/api/v2/metrics/default?limit=1" | sed -n 's/.*"totalCount":\([0-9]*\).*/\1/p'; }
if [ "$(total)" -lt "$N" ]; then
  METRICSD_ADMIN_TOKEN=loadtoken "$tmp/seed" -database "$DB" -n "$N"
fi
echo "metrics: $(total)"
page="localhost:$P/api/v2/metrics/default?filter=tags+contains+%5B%22t3%22%5D+and+isNumeric+equals+true&sort=-createdAt&limit=20"
st=$(curl -s -o "$tmp/page.json" -w '%{http_code}' -H 'Authorization: loadtoken' "$page")
[ "$st" = 200 ] || { echo "list page: $st" >&2; exit 1; }
echo "page: $(wc -c < "$tmp/page.json") bytes"
"$tmp/bare" -addr 127.0.0.1:$((P+1)) -body "$tmp/page.json" &
pids+=($!)
sleep 0.5
run() { wrk -t1 -c8 -d10s --latency "$@" | grep -E 'Requests/sec|50%|99%|Non-2xx' | tr -s ' ' | tr '\n' ' '; echo; }
for round in $(seq 1 "${ROUNDS:-2}"); do
  echo "metricsd $round: $(run -H 'Authorization: loadtoken' "http://$page")"
  echo "bare     $round: $(run http://127.0.0.1:$((P+1))/)"
done
