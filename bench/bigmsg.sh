#!/bin/sh
# Peak memory and wall time for delivering a large message to the local test
# server. Usage: bench/bigmsg.sh [MiB] (default 50). Run from a built tree.
# TLS=1 sends over STARTTLS (test PKI from tests/pki.bash, needs certtool);
# SINK_ARGS adds smtpsink.py options (e.g. --chunking).
# Exit status 1 when the peak RSS is over RSS_LIMIT_KIB (default 16384,
# the target: under 16 MiB whatever the message size); tests/big.bats
# only checks that the message arrives intact.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
mib=${1:-50}

tls_args= tls_rc=
if [ "${TLS:-0}" = 1 ]; then
	bash -c '. "$1/tests/pki.bash" && pki_make "$2"' sh "$top" "$dir/pki" >/dev/null
	tls_args="--cert $dir/pki/server.pem --key $dir/pki/server-key.pem --starttls"
	tls_rc="tls on\ntls_trust_file $dir/pki/ca.pem\n"
fi
# shellcheck disable=SC2086 # word splitting of the option lists is wanted
bench_sink $tls_args ${SINK_ARGS:-}

{ printf 'Subject: big\n\n'; head -c $((mib * 1024 * 1024)) /dev/urandom | base64 -w 76; } >"$dir/msg"
printf "account default\nhost 127.0.0.1\nport %s\nfrom bench@example.org\n$tls_rc" "$port" >"$dir/rc"
chmod 600 "$dir/rc"

bench_time 0 "$POSTIE" -C "$dir/rc" rcpt@example.org <"$dir/msg"
echo "message: $(wc -c <"$dir/msg") bytes (${mib} MiB of base64 body)"
echo "peak RSS: ${kb} KiB   wall time: ${secs} s   TLS: ${TLS:-0}   server args: ${SINK_ARGS:-(none)}"
if grep -q "^tls " "$dir/sink/msg-1.tls"; then echo "server: $(cat "$dir/sink/msg-1.tls")"; fi
limit=${RSS_LIMIT_KIB:-16384}
if [ "$kb" -ge "$limit" ]; then
	echo "peak RSS ${kb} KiB is over the target of ${limit} KiB" >&2
	exit 1
fi
echo "target: peak RSS under ${limit} KiB: met"
