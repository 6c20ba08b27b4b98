#!/usr/bin/env bash
# imap-fetch-side-by-side.sh: `mailbench imap-fetch` against Dovecot's
# Maildir and posthorn's maildir store on the same messages, in
# interleaved rounds, with the server CPU time per message of every line
# (issue #16, "Performance, side by side in one run": ours ≤ Dovecot's on
# every line with Dovecot's indexes warm; cold start, the first SELECT
# after a restart, ≤ Dovecot's).
#
# Two servers, each started pinned to core 0 (taskset -c 0) and loaded
# with the same `mailbench imap-load -n $N -seed 1`:
#
#   D  Dovecot ($BENCH_DIR/dovecot.sh: Maildir, mail_fsync = optimized,
#      one imap process per connection), IMAP 127.0.0.1:32143
#   F  imapserver over the maildir store (maildir's
#      TestServeLMTPForMailbench with IMAP only), IMAP 127.0.0.1:32145
#
# Then one unmeasured imap-fetch each (Dovecot's dovecot.index.cache
# learns the fields, our page cache and heap warm up), then $ROUNDS rounds
# of D F, each `mailbench imap-fetch -repeat $REPEAT -pid PID` pinned to
# core 1 ($OUT/{D,F}.out). Then $COLD rounds of: restart D, first
# imap-fetch (-repeat 1) on D; restart F (a new process on the same
# tree), first imap-fetch on F: the `select` line of these is the cold
# start ($OUT/{D,F}-cold.out; the page cache stays warm, as in the
# issue's scale section). Last, per line and server: the median and the
# range over the runs of server CPU µs per message and of seconds, and
# the ratio F/D of the medians ($OUT/summary.txt); `uptime` before and
# after every round in $OUT/load.txt.
#
#	internal/bench/imap-fetch-side-by-side.sh          # N=10000 ROUNDS=5 REPEAT=1 COLD=5
#	N=1000 ROUNDS=2 COLD=2 internal/bench/imap-fetch-side-by-side.sh
#
# Environment: N, ROUNDS, REPEAT, COLD, TIMEOUT (each mailbench run, 30m),
# D_IMAP D_POP3 D_LMTP F_IMAP (ports, 32143 32110 32024 32145), OUT (default /tmp/fetchsbs,
# wiped), MAILBENCH (default /tmp/mailbench, built from
# $BENCH_DIR=/work/shared/bench when missing), POSTHORN_BENCH_CPUPROFILE_F
# (pprof CPU profile of our server's warm run). Needs root or an
# installed Dovecot, taskset, python3, 2 cores.
set -euo pipefail

N=${N:-10000}
ROUNDS=${ROUNDS:-5}
REPEAT=${REPEAT:-1}
COLD=${COLD:-5}
OUT=${OUT:-/tmp/fetchsbs}
MAILBENCH=${MAILBENCH:-/tmp/mailbench}
BENCH_DIR=${BENCH_DIR:-/work/shared/bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D_IMAP=${D_IMAP:-32143}
F_IMAP=${F_IMAP:-32145}
D_POP3=${D_POP3:-32110}
D_LMTP=${D_LMTP:-32024}

rm -rf "$OUT"
mkdir -p "$OUT/maildir"
[ -x "$MAILBENCH" ] || (cd "$BENCH_DIR" && go build -o "$MAILBENCH" .)
M="taskset -c 1 $MAILBENCH"
T="-timeout ${TIMEOUT:-30m}"

fpid=""
cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null || true
	"$BENCH_DIR/dovecot.sh" stop "$OUT/dovecot" >/dev/null 2>&1 || true
}
trap cleanup EXIT

waitport() {
	for _ in $(seq 1 200); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "imap-fetch-side-by-side: nothing listens on 127.0.0.1:$1" >&2
	return 1
}

start_d() {
	IMAP_PORT=$D_IMAP POP3_PORT=$D_POP3 LMTP_PORT=$D_LMTP taskset -c 0 "$BENCH_DIR/dovecot.sh" start "$OUT/dovecot" >>"$OUT/dovecot-start.log" 2>&1
	DPID=$(cat "$OUT/dovecot/run/master.pid")
	waitport $D_IMAP
}

# start_f [profile]: our server on the tree in $OUT/maildir.
start_f() {
	if [ -n "$fpid" ]; then
		kill "$fpid" 2>/dev/null || true
		wait "$fpid" 2>/dev/null || true
	fi
	POSTHORN_BENCH_IMAP_ADDR=127.0.0.1:$F_IMAP POSTHORN_BENCH_MAILDIR="$OUT/maildir" POSTHORN_BENCH_FOR=180m \
		POSTHORN_BENCH_CPUPROFILE=${1:-} \
		taskset -c 0 "$OUT/md.test" -test.run '^TestServeLMTPForMailbench$' -test.timeout 0 >>"$OUT/F.log" 2>&1 &
	fpid=$!
	waitport $F_IMAP
}

(cd "$ROOT" && go test -c -o "$OUT/md.test" ./imap/imapserver/maildir)
start_d
start_f
$M imap-load $T -addr 127.0.0.1:$D_IMAP -n "$N" -seed 1 -pid "$DPID" >"$OUT/D-load.out"
tail -1 "$OUT/D-load.out" | cut -c1-200
$M imap-load $T -addr 127.0.0.1:$F_IMAP -n "$N" -seed 1 -pid "$fpid" >"$OUT/F-load.out"
tail -1 "$OUT/F-load.out" | cut -c1-200
# The warm run may be profiled: restart F with the profile on.
[ -n "${POSTHORN_BENCH_CPUPROFILE_F:-}" ] && start_f "$POSTHORN_BENCH_CPUPROFILE_F"

$M imap-fetch $T -addr 127.0.0.1:$D_IMAP -repeat 1 >/dev/null # warm-up, not recorded
$M imap-fetch $T -addr 127.0.0.1:$F_IMAP -repeat 1 >/dev/null
uptime | tee "$OUT/load.txt"
for r in $(seq 1 "$ROUNDS"); do
	$M imap-fetch $T -addr 127.0.0.1:$D_IMAP -repeat "$REPEAT" -pid "$DPID" >>"$OUT/D.out"
	$M imap-fetch $T -addr 127.0.0.1:$F_IMAP -repeat "$REPEAT" -pid "$fpid" >>"$OUT/F.out"
	echo "round $r done"
	uptime | tee -a "$OUT/load.txt"
done
for r in $(seq 1 "$COLD"); do
	start_d
	$M imap-fetch $T -addr 127.0.0.1:$D_IMAP -repeat 1 -pid "$DPID" >>"$OUT/D-cold.out"
	start_f
	$M imap-fetch $T -addr 127.0.0.1:$F_IMAP -repeat 1 -pid "$fpid" >>"$OUT/F-cold.out"
	echo "cold round $r done"
	uptime | tee -a "$OUT/load.txt"
done

python3 - "$OUT" "$N" <<'EOF' | tee "$OUT/summary.txt"
import json, statistics, sys
out, n = sys.argv[1], sys.argv[2]

def load(name):
    rows = {}
    try:
        f = open(f"{out}/{name}")
    except FileNotFoundError:
        return rows
    for line in f:
        if not line.startswith("RESULT "):
            continue
        r = json.loads(line[7:])
        if r.get("failures"):
            continue
        op = r.get("op") or r.get("benchmark")
        rows.setdefault(op, []).append(r)
    return rows

def stat(rs, key):
    v = [r[key] for r in rs if key in r]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)

def fmt(s, scale=1, unit=""):
    if s is None:
        return "-"
    return f"{s[0]*scale:.3g}{unit} ({s[1]*scale:.3g}-{s[2]*scale:.3g})"

print(f"imap-fetch, {n} messages; median (min-max) over runs; F/D = ratio of medians (lower is better)")
for title, dname, fname, only in (("warm", "D.out", "F.out", None), ("cold start (first command after a restart)", "D-cold.out", "F-cold.out", {"select"})):
    d, f = load(dname), load(fname)
    print(f"\n== {title}")
    print(f"{'line':22} {'Dovecot CPU µs/msg':>26} {'posthorn CPU µs/msg':>26} {'F/D':>6}   {'Dovecot s':>22} {'posthorn s':>22} {'F/D':>6}")
    for op in d:
        if only and op not in only:
            continue
        dc, fc = stat(d[op], "server_cpu_us_per_op"), stat(f.get(op, []), "server_cpu_us_per_op")
        ds, fs = stat(d[op], "median_s"), stat(f.get(op, []), "median_s")
        rc = f"{fc[0]/dc[0]:.2f}" if dc and fc and dc[0] else "-"
        rs = f"{fs[0]/ds[0]:.2f}" if ds and fs and ds[0] else "-"
        print(f"{op:22} {fmt(dc):>26} {fmt(fc):>26} {rc:>6}   {fmt(ds):>22} {fmt(fs):>22} {rs:>6}")
EOF
