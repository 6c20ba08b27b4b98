#!/bin/sh
# Server instructions per SMTP transaction with and without SPF+DKIM+DMARC
# checks (issue 17), exact whatever the load: the server (this module's
# TestServeSMTPForMailbench with POSTHORN_BENCH_SMTP_AUTH=nochecks or
# =checks) runs under callgrind; mailbench warms it with 100 messages,
# the counters are zeroed, N 4 KB messages go over 4 pipelined
# connections, and the counters are dumped: their total over N is one
# transaction's server instructions (GC and idle work included).
#   cd internal/bench && go test -c -o /tmp/bench.test . && sh authcpu.sh /tmp/bench.test [N]
# mailbench: cd /work/shared/bench && go build -o /tmp/mailbench .
set -eu
bin=$1 n=${2:-1000}
mb=${MAILBENCH:-/tmp/mailbench}
port=${PORT:-31925}
dir=$(mktemp -d)
for mode in nochecks checks; do
	POSTHORN_BENCH_SMTP_AUTH=$mode POSTHORN_BENCH_SMTP_ADDR=127.0.0.1:$port POSTHORN_BENCH_FOR=10m GODEBUG=asyncpreemptoff=1 \
		valgrind --tool=callgrind --callgrind-out-file="$dir/$mode.%p" "$bin" -test.run '^TestServeSMTPForMailbench$' -test.timeout 0 >"$dir/$mode.log" 2>&1 &
	pid=$!
	i=0
	until "$mb" smtp -addr 127.0.0.1:$port -conns 1 -msgs 1 -size 4096 >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 120 ] || { kill $pid; cat "$dir/$mode.log"; exit 1; }
		sleep 0.5
	done
	"$mb" smtp -addr 127.0.0.1:$port -conns 4 -msgs 100 -size 4096 -pipeline >/dev/null
	callgrind_control -z $pid >/dev/null 2>&1
	"$mb" smtp -addr 127.0.0.1:$port -conns 4 -msgs "$n" -size 4096 -pipeline >/dev/null
	callgrind_control -d $pid >/dev/null 2>&1
	kill -KILL $pid
	wait $pid 2>/dev/null || true
	total=$(cat "$dir/$mode".*.[0-9]* 2>/dev/null | sed -n 's/^totals: *//p' | tail -1)
	echo "$mode: $((total / n)) server instructions per transaction ($total over $n)"
	port=$((port + 1))
done
[ -n "${KEEP:-}" ] && echo "callgrind files in $dir" || rm -rf "$dir"
