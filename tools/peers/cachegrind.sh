#!/bin/bash
# cachegrind.sh [PEER...]: BenchmarkPeers' table in user-space instructions
# per event, counted by valgrind's cachegrind with the garbage collector on
# and GOMAXPROCS=1: for each peer, two runs of N1 and N2 events, and
# (Ir(N2) - Ir(N1)) / (N2 - N1), so that start-up and set-up cancel out.
# written/op and lost/op are those of the longer run. Without PEER
# arguments, every peer. N1 and N2 (environment) default to 20000 and
# 120000 for the loggers and secaudit and a fifth of that for stock
# OpenTelemetry, which costs twenty times as much per event.
#
# --fair-sched=yes: valgrind runs one thread at a time, and by default the
# running thread takes its lock back at once, so the Go runtime's sysmon
# (which preempts a goroutine that runs too long) hardly runs, and a
# worker goroutine waiting for the one P starves: secaudit's delivery
# dropped, and counted, 45 % of 40000 events that way, none natively.
set -euo pipefail
cd "$(dirname "$0")"
command -v valgrind >/dev/null || { echo "cachegrind.sh: valgrind is not installed (apt-get install -y valgrind)" >&2; exit 2; }
bin=$(mktemp -d)/peers.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" .
peers=("$@")
if [ ${#peers[@]} -eq 0 ]; then
	peers=(slog zap zerolog otel-batch otel-batch-flush otel-batch-queue otel-simple otelslog-batch otelslog-batch-flush secaudit)
fi
run() { # peer n -> "Ir written/op lost/op"
	local out
	out=$(GOMAXPROCS=1 valgrind --tool=cachegrind --cache-sim=no --fair-sched=yes --cachegrind-out-file=/dev/null \
		"$bin" -test.run '^$' -test.bench "BenchmarkPeers/^$1\$" -test.benchtime "$2x" -test.count 1 2>&1)
	echo "$(echo "$out" | grep -E 'I +refs' | sed 's/.*refs: *//; s/,//g')" \
		"$(echo "$out" | grep -oE '[0-9.]+ written/op' | cut -d' ' -f1)" \
		"$(echo "$out" | grep -oE '[0-9.]+ lost/op' | cut -d' ' -f1)"
}
printf '%-22s %12s %11s %8s\n' peer instr/op written/op lost/op
for p in "${peers[@]}"; do
	n1=${N1:-20000} n2=${N2:-120000}
	case $p in otel*) n1=$((n1 / 5)) n2=$((n2 / 5)) ;; esac
	read -r ir1 _ _ <<<"$(run "$p" "$n1")"
	read -r ir2 w2 l2 <<<"$(run "$p" "$n2")"
	printf '%-22s %12d %11s %8s\n' "$p" $(((ir2 - ir1) / (n2 - n1))) "$w2" "$l2"
done
