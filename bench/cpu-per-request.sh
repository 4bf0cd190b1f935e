#!/bin/bash
# CPU time per request of several servers under the same wrk load, taken in turns, so a
# change can be compared with its baseline on a noisy machine: CPU per request moves far
# less between runs than requests per second.
#
#   bench/cpu-per-request.sh ROUNDS SECONDS WRK_SCRIPT "label|ENV=1 ENV2=x|server.ts [args]" ...
#   bench/cpu-per-request.sh 3 5 publish-one.lua "bare||bench/servers/baseline-publish.ts" \
#     "broker||src/bun.ts --port" "no dedupe|BROKER_DEDUPE_WINDOW_MS=0|src/bun.ts --port"
#
# Each server command gets its port appended (PORT_BASE, 8900 unless set, then one up per
# server) and runs on core 0 under Bun, or under Deno with RUNTIME=deno; wrk runs on core 1.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=$1 seconds=$2 script=$3
shift 3
if [ "${RUNTIME:-bun}" = deno ]; then runtime="node_modules/.bin/deno run -A"; else runtime=node_modules/.bin/bun; fi
port=${PORT_BASE:-8900} labels=() ports=() pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
for spec in "$@"; do
  IFS='|' read -r label vars command <<< "$spec"
  # shellcheck disable=SC2086 # the command and its variables are word lists
  env $vars taskset -c 0 $runtime $command $port > /dev/null 2>&1 &
  pids+=($!) labels+=("$label") ports+=($port)
  port=$((port + 1))
done
sleep 2
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
for round in $(seq "$rounds"); do
  line="round $round:"
  for i in "${!ports[@]}"; do
    before=$(cpu_ticks "${pids[$i]}")
    requests=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" -s "bench/wrk/$script" "http://127.0.0.1:${ports[$i]}/events" | awk '/requests in/ { print $1 }')
    after=$(cpu_ticks "${pids[$i]}")
    line+="  ${labels[$i]} $(echo "scale=1; ($after - $before) * 1000000 / $(getconf CLK_TCK) / $requests" | bc) µs"
  done
  echo "$line"
done
