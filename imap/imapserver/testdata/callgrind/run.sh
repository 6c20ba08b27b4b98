#!/bin/bash
# Server instructions per mailbench imap-fetch line, exactly, under
# callgrind: the server (TestServeMailbenchCorpus in a test binary built
# from the commit to measure) runs alone in its process, and imapcg.py
# zeroes and dumps its counters around each command.
#
#   /tmp/mailbench mime-corpus -out /tmp/corpus -n 2000 -seed 1
#   go test -c -o /tmp/imap.test ./imap/imapserver
#   imap/imapserver/testdata/callgrind/run.sh /tmp/imap.test /tmp/corpus OUTDIR [REPEAT] [PORT]
#
# OUTDIR/summary: per op, the runs, the median of the inclusive Ir of
# the command (imapserver.(*session).command: parsing, the work, the
# responses and their writes, GC assists), and the minimum and median of
# the whole process's Ir per run (which adds reading the command, the
# runtime's background work: GC workers, sysmon, scavenger); OUTDIR/runs
# has each run (OUTDIR/cg.out.N, N its line). The command's figure is the
# steady one to compare between commits; allocations are compared with
# -benchmem (BenchmarkMailbenchFetch). GOMAXPROCS=1, as with the server pinned to one
# core in perfcheck.sh. CALLGRIND_OPTS adds options (--cache-sim=yes).
set -eu
bin=$1 corpus=$2 out=$3 repeat=${4:-3} port=${5:-31490}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$out"; mkdir -p "$out"
POSTHORN_BENCH_CORPUS=$corpus POSTHORN_BENCH_IMAP_ADDR=127.0.0.1:$port POSTHORN_BENCH_FOR=60m \
GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 \
  valgrind --tool=callgrind ${CALLGRIND_OPTS:-} --callgrind-out-file="$out/cg.out" \
  "$bin" -test.run '^TestServeMailbenchCorpus$' -test.timeout 0 > "$out/server.log" 2>&1 &
vg=$!
trap 'kill $vg 2>/dev/null' EXIT
for _ in $(seq 1 600); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" 2>/dev/null && break
  sleep 1
done
python3 "$here/imapcg.py" 127.0.0.1:$port $vg "$repeat" "$out/ops"
kill $vg; wait $vg 2>/dev/null || true
trap - EXIT
# Dumps are numbered in order: cg.out.1 ... (the last one, at exit, is cg.out).
python3 - "$out" "$here" <<'PY'
import statistics, sys
out = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from incl import incl
order = ["select", "fetch_flags", "fetch_envelope", "fetch_bodystructure", "fetch_header_fields",
         "fetch_body", "search_subject", "search_body", "store_add_seen", "store_del_seen"]
runs = {}
with open(out + "/runs", "w") as rf:
    for i, op in enumerate(open(out + "/ops").read().split(), 1):
        f = "%s/cg.out.%d" % (out, i)
        tot = next(int(l.split()[1]) for l in open(f) if l.startswith("summary:"))
        cmd = incl(f, "imapserver.(*session).command")
        rf.write("%s %d %d\n" % (op, tot, cmd))
        runs.setdefault(op, []).append((tot, cmd))
with open(out + "/summary", "w") as sf:
    sf.write("# op runs cmd_median total_min total_median\n")
    for op in order:
        if op in runs:
            t = [r[0] for r in runs[op]]
            c = [r[1] for r in runs[op]]
            sf.write("%s %d %d %d %d\n" % (op, len(t), statistics.median(c), min(t), statistics.median(t)))
PY
cat "$out/summary"
