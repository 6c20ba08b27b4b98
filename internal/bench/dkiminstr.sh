#!/bin/sh
# Instructions per ed25519 4 KB DKIM verify, posthorn and go-msgauth, and
# the floor no DKIM library avoids (crypto/ed25519's verify, the mean over
# 64 signatures by the same key; SHA-256 of the 4 KB body), exact whatever
# the load: each row runs under callgrind for N and 2N iterations and the
# difference over N is one operation, set-up cancelled. The key and the
# signature's t= are fixed and no RSA key is made
# (POSTHORN_BENCH_DKIM_ED25519_ONLY), so runs differ only by the
# iterations. The collector runs as usual (GC included).
#   cd internal/bench && go test -c -o /tmp/bench.test . && sh dkiminstr.sh /tmp/bench.test [N]
set -eu
bin=$1 n=${2:-1000}
count() { # bench iterations
	POSTHORN_BENCH_DKIM_ED25519_ONLY=1 GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		"$bin" -test.run '^$' -test.bench "$1" -test.benchtime "${2}x" 2>&1 |
		sed -n 's/.*refs: *//p' | tr -d ,
}
per() { a=$(count "$1" "$n"); b=$(count "$1" $((2 * n))); echo $(((b - a) / n)); }
p=$(per 'BenchmarkDKIM$/op=verify/key=ed25519/size=4KB/lib=posthorn')
m=$(per 'BenchmarkDKIM$/op=verify/key=ed25519/size=4KB/lib=go-msgauth')
f=$(per 'BenchmarkDKIMEd25519Floor/part=verify')
h=$(per 'BenchmarkDKIMEd25519Floor/part=bodyhash')
echo "posthorn verify    $p instructions/op"
echo "go-msgauth verify  $m instructions/op"
echo "ed25519.Verify     $f instructions/op (mean of 64 signatures)"
echo "SHA-256 of 4 KB    $h instructions/op"
echo "go-msgauth/posthorn $(echo "scale=3; $m / $p" | bc); best possible go-msgauth/(verify+body hash) $(echo "scale=3; $m / ($f + $h)" | bc)"
