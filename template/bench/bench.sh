#!/usr/bin/env bash
# Load-test one endpoint of a running service with wrk: a warm-up, then several rounds at a fixed
# concurrency; prints each round and the medians (req/s of 2xx answers, p50 and p99 latency).
#
#   bench/bench.sh [-c CONNECTIONS] [-d SECONDS] [-w WARMUP_SECONDS] [-r ROUNDS] URL [BODY.json]
#
# With a BODY file the requests are POSTs of that JSON. See bench/README.md.
set -euo pipefail

connections=50 duration=10 warmup=5 rounds=5
while getopts "c:d:w:r:h" option; do
  case $option in
    c) connections=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    r) rounds=$OPTARG ;;
    *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ] || [ $# -gt 2 ]; then sed -n '2,8p' "$0"; exit 2; fi
url=$1
body=""
if [ $# -eq 2 ]; then body=$(cat "$2"); fi

command -v wrk >/dev/null || {
  echo "wrk is not installed: apt-get install wrk (Debian/Ubuntu) or brew install wrk" >&2
  exit 1
}
script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/report.lua"
# Pin wrk to one CPU (BENCH_CPU, default the last one) and keep the service off it if you can
# (e.g. `taskset -c 0 npm start`): otherwise the load generator competes with the server.
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  pin=(taskset -c "${BENCH_CPU:-$(($(nproc) - 1))}")
fi

run_wrk() { # seconds -> the JSON summary line of report.lua
  WRK_BODY=$body "${pin[@]}" wrk -t1 -c"$connections" -d"$1"s --timeout 10s -s "$script" "$url" \
    | sed -n 's/^WRK_JSON //p'
}
field() { # json name -> number
  sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"
}
median() { # numbers on stdin -> their median
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "wrk -t1 -c$connections: warm-up ${warmup}s, $rounds rounds of ${duration}s against $url${body:+ (POST)}"
run_wrk "$warmup" >/dev/null
rps_list="" p50_list="" p99_list="" failed=0
for round in $(seq "$rounds"); do
  summary=$(run_wrk "$duration")
  requests=$(field "$summary" requests)
  status_errors=$(field "$summary" errors_status)
  seconds=$(awk -v us="$(field "$summary" duration_us)" 'BEGIN { print us / 1e6 }')
  rps=$(awk -v n="$requests" -v e="$status_errors" -v s="$seconds" 'BEGIN { printf "%.0f", (n - e) / s }')
  p50=$(awk -v us="$(field "$summary" p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  p99=$(awk -v us="$(field "$summary" p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  failed=$((failed + status_errors))
  printf 'round %s: %8s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s\n' "$round" "$rps" "$p50" "$p99" "$status_errors"
  rps_list+="$rps"$'\n' p50_list+="$p50"$'\n' p99_list+="$p99"$'\n'
done
printf 'median: %8s req/s  p50 %7s ms  p99 %7s ms  non-2xx total %s\n' \
  "$(median <<<"${rps_list%$'\n'}")" "$(median <<<"${p50_list%$'\n'}")" \
  "$(median <<<"${p99_list%$'\n'}")" "$failed"
if [ "$failed" -gt 0 ]; then
  echo "warning: $failed answers were not 2xx (rate limit? load shedding?): req/s counts only 2xx" >&2
fi
