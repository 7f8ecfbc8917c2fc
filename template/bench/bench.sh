#!/usr/bin/env bash
# Load-test one endpoint of a running service with wrk: a warm-up, then several rounds at a fixed
# concurrency; prints each round and the medians (req/s of 2xx answers, p50 and p99 latency).
# With -b, also a baseline endpoint (a bare app, or the service called directly), rounds
# interleaved (A B, A B, ...) so that drift on the machine hits both alike, and the ratios
# URL / baseline of the medians; with -t, whether a ratio meets its target.
#
#   bench/bench.sh [-c CONNECTIONS] [-d SECONDS] [-w WARMUP_SECONDS] [-r ROUNDS]
#                  [-b BASELINE_URL [-B BASELINE_BODY.json]] [-t METRIC<=BOUND | METRIC>=BOUND]
#                  URL [BODY.json]
#
# With a BODY file the requests are POSTs of that JSON. METRIC is rps, p50 or p99, e.g.
# -t 'rps>=0.85' or -t 'p50<=1.5'. See bench/README.md. Exits 1 when a target is missed.
set -euo pipefail

connections=50 duration=10 warmup=5 rounds=5 baseline="" baseline_body_file="" target=""
while getopts "c:d:w:r:b:B:t:h" option; do
  case $option in
    c) connections=$OPTARG ;;
    d) duration=$OPTARG ;;
    w) warmup=$OPTARG ;;
    r) rounds=$OPTARG ;;
    b) baseline=$OPTARG ;;
    B) baseline_body_file=$OPTARG ;;
    t) target=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 1 ] || [ $# -gt 2 ]; then sed -n '2,13p' "$0"; exit 2; fi
if [ -n "$target" ] && ! [[ $target =~ ^(rps|p50|p99)(\<=|\>=)[0-9.]+$ ]]; then
  echo "bad target \"$target\": METRIC<=BOUND or METRIC>=BOUND, METRIC rps, p50 or p99" >&2
  exit 2
fi
if [ -n "$target" ] && [ -z "$baseline" ]; then echo "-t needs a baseline (-b URL)" >&2; exit 2; fi
url=$1
body=""
if [ $# -eq 2 ]; then body=$(cat "$2"); fi
baseline_body=""
if [ -n "$baseline_body_file" ]; then baseline_body=$(cat "$baseline_body_file"); fi

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

run_wrk() { # url body seconds -> the JSON summary line of report.lua
  WRK_BODY=$2 "${pin[@]}" wrk -t1 -c"$connections" -d"$3"s --timeout 10s -s "$script" "$1" \
    | sed -n 's/^WRK_JSON //p'
}
field() { # json name -> number
  sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"
}
median() { # numbers on stdin -> their median
  sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Per endpoint (index 0: URL, 1: the baseline): the rounds' figures, one per line.
declare -a rps_list=("" "") p50_list=("" "") p99_list=("" "") failed=(0 0)
urls=("$url" "$baseline") bodies=("$body" "$baseline_body") names=("target" "baseline")
endpoints=(0)
if [ -n "$baseline" ]; then endpoints=(0 1); fi

measure() { # endpoint round -> one round's line, figures appended to the lists
  local i=$1 summary requests status_errors seconds rps p50 p99
  summary=$(run_wrk "${urls[$i]}" "${bodies[$i]}" "$duration")
  requests=$(field "$summary" requests)
  status_errors=$(field "$summary" errors_status)
  seconds=$(awk -v us="$(field "$summary" duration_us)" 'BEGIN { print us / 1e6 }')
  rps=$(awk -v n="$requests" -v e="$status_errors" -v s="$seconds" 'BEGIN { printf "%.0f", (n - e) / s }')
  p50=$(awk -v us="$(field "$summary" p50_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  p99=$(awk -v us="$(field "$summary" p99_us)" 'BEGIN { printf "%.2f", us / 1000 }')
  failed[i]=$((failed[i] + status_errors))
  printf '%-8s round %s: %8s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s\n' \
    "${names[$i]}" "$2" "$rps" "$p50" "$p99" "$status_errors"
  rps_list[i]+="$rps"$'\n' p50_list[i]+="$p50"$'\n' p99_list[i]+="$p99"$'\n'
}

for i in "${endpoints[@]}"; do
  echo "${names[$i]}: ${urls[$i]}${bodies[$i]:+ (POST)}"
done
echo "wrk -t1 -c$connections: warm-up ${warmup}s each, $rounds rounds of ${duration}s${baseline:+, interleaved}"
for i in "${endpoints[@]}"; do run_wrk "${urls[$i]}" "${bodies[$i]}" "$warmup" >/dev/null; done
for round in $(seq "$rounds"); do
  for i in "${endpoints[@]}"; do measure "$i" "$round"; done
done

declare -a med_rps med_p50 med_p99
for i in "${endpoints[@]}"; do
  med_rps[i]=$(median <<<"${rps_list[$i]%$'\n'}")
  med_p50[i]=$(median <<<"${p50_list[$i]%$'\n'}")
  med_p99[i]=$(median <<<"${p99_list[$i]%$'\n'}")
  printf '%-8s median: %8s req/s  p50 %7s ms  p99 %7s ms  non-2xx total %s\n' \
    "${names[$i]}" "${med_rps[$i]}" "${med_p50[$i]}" "${med_p99[$i]}" "${failed[$i]}"
  if [ "${failed[$i]}" -gt 0 ]; then
    echo "warning: ${failed[$i]} answers of ${urls[$i]} were not 2xx (rate limit? load shedding?): req/s counts only 2xx" >&2
  fi
done

status=0
if [ -n "$baseline" ]; then
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
  declare -A ratios=(
    [rps]=$(ratio "${med_rps[0]}" "${med_rps[1]}")
    [p50]=$(ratio "${med_p50[0]}" "${med_p50[1]}")
    [p99]=$(ratio "${med_p99[0]}" "${med_p99[1]}")
  )
  printf 'ratio target / baseline: req/s %s  p50 %s  p99 %s\n' "${ratios[rps]}" "${ratios[p50]}" "${ratios[p99]}"
  if [ -n "$target" ]; then
    metric=${target%%[<>]*} bound=${target#*=} op=${target#"$metric"}
    op=${op%"$bound"}
    verdict=$(awk -v v="${ratios[$metric]}" -v b="$bound" -v op="$op" \
      'BEGIN { ok = (op == ">=") ? (v >= b) : (v <= b); print ok ? "met" : "MISSED" }')
    echo "target $metric $op $bound: ${ratios[$metric]} $verdict"
    if [ "$verdict" != met ]; then status=1; fi
  fi
fi
exit $status
