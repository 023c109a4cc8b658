#!/usr/bin/env bash
# CPU time one process spends per request under wrk -t1 -c16 (user plus
# system, from /proc/PID/stat), next to wrk's requests/s: steadier than
# requests/s on a machine other jobs load, since waiting for the CPU costs
# no CPU time (docs/PERFORMANCE.md).
#
#   bash internal/perf/cpu-per-req.sh PID URL [wrk arguments...]
#   D=10 bash internal/perf/cpu-per-req.sh "$(pgrep -n metricsd)" http://127.0.0.1:18081/api/v2/metrics/default/m2 -H 'Authorization: loadtoken'
set -euo pipefail
pid=$1 url=$2
shift 2
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
out=$(wrk -t1 -c16 -d"${D:-8}"s "$@" "$url")
t1=$(ticks)
n=$(awk '/requests in/ {print $1}' <<<"$out")
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
echo "requests/s $rps  CPU µs/request $(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
