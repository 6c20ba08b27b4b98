#!/bin/bash
# before-after.sh: interleaved before/after rounds of mailbench imap-fetch and smtp,
# servers pinned to core 0, load to core 1. BEFORE=commit AFTER=commit
# ROUNDS=n (issues #12, #13: every line within 3 % of before). Needs
# /tmp/mailbench (cd /work/shared/bench && go build -o /tmp/mailbench .),
# taskset, python3, free ports 31401-31404; raw results in
# /tmp/perfcheck/results.txt.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BEFORE=${BEFORE:-fa6eaab}
AFTER=${AFTER:-main}
ROUNDS=${ROUNDS:-5}
W=/tmp/perfcheck; mkdir -p $W; : > $W/results.txt
for v in before after; do
  rev=$BEFORE; [ $v = after ] && rev=$AFTER
  if [ ! -d $W/$v ]; then git -C "$ROOT" worktree add -q --detach $W/$v $rev; else git -C $W/$v checkout -q --detach $rev; fi
  (cd $W/$v && go test -c -o $W/$v-imap.test ./imap/imapserver >/dev/null && cd internal/bench && go test -c -o $W/$v-smtp.test . >/dev/null) || { echo build $v failed; exit 1; }
done
port=31400
for v in before after; do
  port=$((port+1))
  POSTHORN_BENCH_IMAP_ADDR=127.0.0.1:$port POSTHORN_BENCH_FOR=60m taskset -c 0 $W/$v-imap.test -test.run '^TestServeIMAPForMailbench$' -test.timeout 0 > $W/$v-imap.log 2>&1 &
  echo $! > $W/$v-imap.pid; echo "127.0.0.1:$port" > $W/$v-imap.addr
  port=$((port+1))
  (cd $W/$v/internal/bench && POSTHORN_BENCH_SMTP_ADDR=127.0.0.1:$port POSTHORN_BENCH_FOR=60m taskset -c 0 $W/$v-smtp.test -test.run '^TestServeSMTPForMailbench$' -test.timeout 0 > $W/$v-smtp.log 2>&1 &
   echo $! > $W/$v-smtp.pid)
  echo "127.0.0.1:$port" > $W/$v-smtp.addr
done
sleep 3
for v in before after; do
  taskset -c 1 /tmp/mailbench imap-load -addr $(cat $W/$v-imap.addr) -user bench -pass bench -n 2000 -seed 1 > $W/$v-load.txt 2>&1
  taskset -c 1 /tmp/mailbench imap-fetch -addr $(cat $W/$v-imap.addr) -user bench -pass bench -repeat 2 -seed 1 > /dev/null 2>&1
done
for r in $(seq 1 $ROUNDS); do
  for v in before after; do
    taskset -c 1 /tmp/mailbench imap-fetch -addr $(cat $W/$v-imap.addr) -user bench -pass bench -repeat 3 -seed 1 -pid $(cat $W/$v-imap.pid) 2>&1 | grep '^RESULT' | sed "s/^/$v $r /" >> $W/results.txt
    taskset -c 1 /tmp/mailbench smtp -addr $(cat $W/$v-smtp.addr) -conns 8 -msgs 4000 -size 4096 -pipeline -pid $(cat $W/$v-smtp.pid) 2>&1 | grep '^RESULT' | sed "s/^/$v $r /" >> $W/results.txt
  done
done
for v in before after; do kill $(cat $W/$v-imap.pid) $(cat $W/$v-smtp.pid) 2>/dev/null; done
pkill -f "$W/(before|after)-(imap|smtp).test" 2>/dev/null
echo done
# Summarise: python3 is enough; per line, the median server CPU µs per
# message (per transaction for smtp) of each side and their ratio.
python3 - "$W/results.txt" <<'PY'
import json, sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    v, r, _, js = line.split(' ', 3)
    j = json.loads(js)
    if j.get('server_cpu_us_per_op') is not None:
        d[(j.get('op') or j['bench'], v)].append(j['server_cpu_us_per_op'])
for op in dict.fromkeys(k[0] for k in d):
    b, a = d[(op, 'before')], d[(op, 'after')]
    if b and a:
        mb, ma = statistics.median(b), statistics.median(a)
        print(f"{op:22} before {mb:9.3f}  after {ma:9.3f}  after/before {ma/mb:.3f}")
PY
