#!/bin/sh
# Instructions per op of one benchmark under callgrind, exact whatever the
# load: the difference between runs of N and 2N iterations, over N, so the
# set-up cancels out.
#   go test -c -o /tmp/srv.test ./smtp/smtpserver
#   sh smtp/smtpserver/testdata/instr.sh /tmp/srv.test 'BenchmarkInboundAuthSession/spf\+dmarc$' 2000
set -eu
bin=$1 bench=$2 n=${3:-2000}
run() {
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$bin" -test.run '^$' -test.bench "$bench" -test.benchtime "${1}x" 2>&1 |
		sed -n 's/.*I *refs: *//p' | tr -d ,
}
a=$(run "$n")
b=$(run $((2 * n)))
echo "$bench: $(( (b - a) / n )) instructions/op"
