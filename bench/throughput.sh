#!/bin/sh
# Throughput and CPU of one large message over STARTTLS to a local server
# that keeps up (bench/fastsink.py, not the test sink, whose Python SMTP
# parsing takes seconds per 100 MiB). Usage: bench/throughput.sh [MiB]
# (default 100: a message of that size, base64 lines of 76 octets of
# the same pseudo-random data each time, with Date and Message-ID so
# that nothing added differs between runs). Run
# from a built tree; needs certtool (tests/pki.bash).
#   PIPE=1       the message through a pipe (spooled) instead of from a file
#   TLS=0        plain SMTP instead of STARTTLS
#   SINK_ARGS    fastsink.py options: --chunking (BDAT), --nohash
# Prints postie's wall time, user and system CPU, peak RSS, MB/s (message
# octets over postie's wall time), the server's time for the data, and
# the data's CRC-32 and length: equal CRCs from two builds mean the same
# octets on the wire.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
mib=${1:-100}

tls_args='' tls_rc=''
if [ "${TLS:-1}" = 1 ]; then
	bash -c '. "$1/tests/pki.bash" && pki_make "$2"' sh "$top" "$dir/pki" >/dev/null
	tls_args="--cert $dir/pki/server.pem --key $dir/pki/server-key.pem"
	tls_rc="tls on\ntls_trust_file $dir/pki/ca.pem\n"
fi
# shellcheck disable=SC2086 # word splitting of the option lists is wanted
/usr/bin/python3 "$top/bench/fastsink.py" --dir "$dir/sink" --port-file "$dir/port" \
	$tls_args ${SINK_ARGS:-} 2>"$dir/sink.err" &
bench_pid=$!
bench_wait_port
port=$(cat "$dir/port")

{
	printf 'Date: Thu, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <throughput@example.org>\n'
	printf 'Subject: big\n\n'
	/usr/bin/python3 -c 'import random, sys; random.seed(15)
sys.stdout.buffer.write(random.randbytes(int(sys.argv[1])))' $((mib * 786432)) | base64 -w 76
} | head -c $((mib * 1024 * 1024)) >"$dir/msg"
printf "account default\nhost 127.0.0.1\nport %s\nfrom bench@example.org\n$tls_rc" "$port" >"$dir/rc"
chmod 600 "$dir/rc"

run() {
	/usr/bin/time -f '%e %U %S %M' -o "$dir/time" env POSTIE_SYSTEM_CONFIG=/dev/null \
		"$POSTIE" -C "$dir/rc" rcpt@example.org 2>"$dir/err" ||
		{ echo "postie failed:" >&2; cat "$dir/err" >&2; exit 1; }
}
if [ "${PIPE:-0}" = 1 ]; then
	# shellcheck disable=SC2002 # a pipe is what is measured
	cat "$dir/msg" | run
else
	run <"$dir/msg"
fi
size=$(wc -c <"$dir/msg")
read -r wall user sys rss <"$dir/time"
read -r crc n how swall scpu <"$dir/sink/msg-1.sum"
from="a file"
[ "${PIPE:-0}" = 1 ] && from="a pipe"
echo "message: $size octets from $from, TLS ${TLS:-1}, server args: ${SINK_ARGS:-(none)}"
awk -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v z="$size" 'BEGIN {
	printf "postie: wall %.2f s, user %.2f s, system %.2f s, CPU %.2f s, peak RSS %d KiB, %.0f MB/s\n",
	       w, u, s, u + s, r, z / w / 1e6 }'
awk -v h="$how" -v n="$n" -v w="$swall" -v c="$scpu" -v crc="$crc" 'BEGIN {
	printf "server: %s of %d octets in %.3f s (%.0f MB/s), its CPU %.3f s; CRC-32 %s\n",
	       h, n, w, n / w / 1e6, c, crc }'
