#!/usr/bin/env bash
# pop3-side-by-side.sh: POP3 RETR throughput and server CPU per message,
# posthorn's pop3server against Dovecot on the same messages (issue #20
# item 3, imapmem; issue #16, Maildir), with mailbench pop3 in interleaved
# rounds.
#
# Three servers, each started pinned to core 0 (taskset -c 0), loaded with
# the same `mailbench imap-load -n $N -seed 1` through its own IMAP port:
#
#   D  Dovecot ($BENCH_DIR/dovecot.sh: Maildir, default
#      mail_fsync = optimized), POP3 127.0.0.1:33110, IMAP 33143
#   A  pop3server over imapmem (TestServePOP3ForMailbench),
#      POP3 127.0.0.1:33111, IMAP 33144
#   F  pop3server over the maildir store (maildir's TestServeLMTPForMailbench
#      with POP3 and IMAP only), POP3 127.0.0.1:33112, IMAP 33145
#
# then one unmeasured pop3 session each (page cache, heap), then $ROUNDS
# rounds of D A F, each `mailbench pop3 -repeat $REPEAT -pid PID` pinned to
# core 1. Results: $OUT/{D,A,F}.out (RESULT lines) and
# `mailbench compare` of D against A and D against F (ratio = ours/Dovecot
# for MB/s, lower is better for CPU µs/op).
#
#	internal/bench/pop3-side-by-side.sh            # N=10000 ROUNDS=5 REPEAT=3
#	N=2000 ROUNDS=3 SERVERS="D F" internal/bench/pop3-side-by-side.sh
#
# Environment: N, ROUNDS, REPEAT, SERVERS (any of D A F, default all),
# REUSE=DIR (the OUT of an earlier run: copy its loaded Maildirs for D and
# F instead of loading them again; Dovecot's 10,000 fsynced APPENDs take
# minutes, an hour on a loaded machine),
# OUT (default /tmp/pop3sbs, wiped), MAILBENCH (default /tmp/mailbench,
# built from $BENCH_DIR=/work/shared/bench when missing),
# POSTHORN_BENCH_CPUPROFILE_A / _F (pprof CPU profile of that server's
# whole run). Needs root or an installed Dovecot, taskset, 2 cores.
set -euo pipefail

N=${N:-10000}
ROUNDS=${ROUNDS:-5}
REPEAT=${REPEAT:-3}
SERVERS=${SERVERS:-D A F}
OUT=${OUT:-/tmp/pop3sbs}
MAILBENCH=${MAILBENCH:-/tmp/mailbench}
BENCH_DIR=${BENCH_DIR:-/work/shared/bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if [ -n "${REUSE:-}" ] && [ "$(cd "$REUSE" && pwd)" = "$(mkdir -p "$OUT" && cd "$OUT" && pwd)" ]; then
	echo "pop3-side-by-side: REUSE must not be OUT" >&2
	exit 2
fi
rm -rf "$OUT"
mkdir -p "$OUT"
[ -x "$MAILBENCH" ] || (cd "$BENCH_DIR" && go build -o "$MAILBENCH" .)
M="taskset -c 1 $MAILBENCH"

has() { [[ " $SERVERS " == *" $1 "* ]]; }

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	has D && "$BENCH_DIR/dovecot.sh" stop "$OUT/dovecot" >/dev/null 2>&1 || true
}
trap cleanup EXIT

waitport() {
	for _ in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "pop3-side-by-side: nothing listens on 127.0.0.1:$1" >&2
	return 1
}

declare -A PID POP IMAP
if [ -n "${REUSE:-}" ]; then
	has D && mkdir -p "$OUT/dovecot/mail" && cp -a "$REUSE/dovecot/mail/bench" "$OUT/dovecot/mail/"
	has F && cp -a "$REUSE/maildir" "$OUT/maildir"
fi
if has D; then
	IMAP_PORT=33143 POP3_PORT=33110 LMTP_PORT=33024 taskset -c 0 "$BENCH_DIR/dovecot.sh" start "$OUT/dovecot" >"$OUT/dovecot-start.log" 2>&1
	PID[D]=$(cat "$OUT/dovecot/run/master.pid")
	POP[D]=33110 IMAP[D]=33143
fi
if has A; then
	(cd "$ROOT" && go test -c -o "$OUT/pop3.test" ./pop3/pop3server)
	POSTHORN_BENCH_POP3_ADDR=127.0.0.1:33111 POSTHORN_BENCH_IMAP_ADDR=127.0.0.1:33144 \
		POSTHORN_BENCH_CPUPROFILE=${POSTHORN_BENCH_CPUPROFILE_A:-} \
		taskset -c 0 "$OUT/pop3.test" -test.run '^TestServePOP3ForMailbench$' -test.timeout 0 >"$OUT/A.log" 2>&1 &
	PID[A]=$!
	pids+=("$!")
	POP[A]=33111 IMAP[A]=33144
fi
if has F; then
	(cd "$ROOT" && go test -c -o "$OUT/md.test" ./imap/imapserver/maildir)
	mkdir -p "$OUT/maildir"
	POSTHORN_BENCH_POP3_ADDR=127.0.0.1:33112 POSTHORN_BENCH_IMAP_ADDR=127.0.0.1:33145 \
		POSTHORN_BENCH_MAILDIR="$OUT/maildir" POSTHORN_BENCH_FOR=180m \
		POSTHORN_BENCH_CPUPROFILE=${POSTHORN_BENCH_CPUPROFILE_F:-} \
		taskset -c 0 "$OUT/md.test" -test.run '^TestServeLMTPForMailbench$' -test.timeout 0 >"$OUT/F.log" 2>&1 &
	PID[F]=$!
	pids+=("$!")
	POP[F]=33112 IMAP[F]=33145
fi
for s in $SERVERS; do waitport "${POP[$s]}"; waitport "${IMAP[$s]}"; done

for s in $SERVERS; do
	[ -n "${REUSE:-}" ] && [ "$s" != A ] && continue
	$M imap-load -addr "127.0.0.1:${IMAP[$s]}" -n "$N" -seed 1 -timeout 60m -pid "${PID[$s]}" >"$OUT/$s-load.out"
	tail -1 "$OUT/$s-load.out" | cut -c1-200
done
for s in $SERVERS; do
	$M pop3 -addr "127.0.0.1:${POP[$s]}" -repeat 1 >/dev/null # warm-up, not recorded
done
uptime | tee "$OUT/load.txt"
for r in $(seq 1 "$ROUNDS"); do
	for s in $SERVERS; do
		$M pop3 -addr "127.0.0.1:${POP[$s]}" -repeat "$REPEAT" -pid "${PID[$s]}" >>"$OUT/$s.out"
		grep -v '^RESULT' "$OUT/$s.out" | tail -1
	done
	uptime | tee -a "$OUT/load.txt"
done
for s in $SERVERS; do
	[ "$s" = D ] && continue
	has D || break
	echo "== Dovecot (A side) vs $s (B side)"
	$MAILBENCH compare "$OUT/D.out" "$OUT/$s.out" | tee "$OUT/compare-D-$s.txt"
done
# Medians and ranges over the rounds (mailbench compare gives medians only).
if command -v python3 >/dev/null; then
	python3 - "$OUT" $SERVERS <<'PY'
import json, statistics, sys
out = sys.argv[1]
for s in sys.argv[2:]:
    rs = [json.loads(l[7:]) for l in open(f"{out}/{s}.out") if l.startswith("RESULT ")]
    if not rs:
        continue
    cpu = [r["server_cpu_us_per_op"] for r in rs]
    mps = [r["msgs_per_s"] for r in rs]
    print(f"{s}: server CPU {statistics.median(cpu):.1f} µs/msg ({min(cpu):.1f}–{max(cpu):.1f}), "
          f"{statistics.median(mps):.0f} msgs/s ({min(mps):.0f}–{max(mps):.0f}), {len(rs)} rounds")
PY
fi
