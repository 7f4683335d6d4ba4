#!/usr/bin/env bats
# OCSP stapling: postie verifies through gnutls_certificate_verify_peers3,
# which also checks a stapled OCSP response. The server is gnutls-serv
# (gnutls-bin) with --ocsp-response, speaking implicit TLS; the responses
# are made by `openssl ocsp` from an OpenSSL CA index and signed by the
# test CA itself. gnutls-serv is not an SMTP server: a certificate that
# passes ends in a timeout waiting for the greeting, one that fails never
# gets that far.
#
# gnutls-serv cannot be told which address to listen on (it takes 0.0.0.0
# and ::), so each test runs it and postie in a network namespace of their
# own, where only the loopback exists and port 465 is always free. Needs
# root and iproute2, like dns.bats.
# shellcheck disable=SC2154 # stderr, stderr_lines: from run --separate-stderr
load common
load pki
load netns
bats_require_minimum_version 1.5.0

PORT=465

# ocsp_response CERT V|R OUT [SIGNER SIGNER-KEY]: a DER OCSP response from
# the test CA (or SIGNER) saying CERT is valid (V) or revoked (R), next
# update in a day.
ocsp_response() {
	local cert="$1" st="$2" out="$3" signer="${4:-$PKI/ca.pem}" key="${5:-$PKI/ca-key.pem}"
	local dir="${out%.der}" serial subject end revoked=
	mkdir -p "$dir"
	# the index wants the serial in hex as `openssl x509 -serial` prints it
	serial="$(openssl x509 -in "$cert" -noout -serial)" || return 1
	serial="${serial#serial=}"
	subject="$(openssl x509 -in "$cert" -noout -subject -nameopt compat)" || return 1
	subject="${subject#subject=}"
	end="$(openssl x509 -in "$cert" -noout -enddate)" || return 1
	end="$(date -u -d "${end#notAfter=}" +%y%m%d%H%M%SZ)" || return 1
	if [[ $st == R ]]; then
		revoked="$(date -u -d "-1 hour" +%y%m%d%H%M%SZ)" || return 1
	fi
	printf '%s\t%s\t%s\t%s\tunknown\t%s\n' "$st" "$end" "$revoked" "$serial" "$subject" \
		>"$dir/index.txt"
	if ! openssl ocsp -index "$dir/index.txt" -CA "$PKI/ca.pem" \
		-rsigner "$signer" -rkey "$key" -issuer "$PKI/ca.pem" -cert "$cert" \
		-no_nonce -ndays 1 -respout "$out" </dev/null >"$dir/log" 2>&1 || [[ ! -s $out ]]; then
		echo "openssl ocsp for $cert ($st) failed:" >&2
		cat "$dir/log" >&2
		return 1
	fi
}

setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
	local o="$BATS_FILE_TMPDIR/ocsp"
	mkdir -p "$o"
	ocsp_response "$PKI/server.pem" V "$o/good.der"
	ocsp_response "$PKI/server.pem" R "$o/revoked.der"
	# "good", but about another certificate of the same CA (serial 08)
	ocsp_response "$PKI/revoked.pem" V "$o/other.der"
	# "good" about server.pem, but signed by a CA postie does not trust
	ocsp_response "$PKI/server.pem" V "$o/forged.der" "$PKI/unknown-ca.pem" "$PKI/unknown-ca-key.pem"
	OCSP="$o"
	export OCSP
}

setup() {
	common_setup
	SERV_PID=
	netns_add postie-ocsp || return 1
	SINK_PORT=$PORT write_config "tls on" "tls_starttls off" "tls_trust_file $PKI/ca.pem" "timeout 2"
}

teardown() {
	stop_pid "$SERV_PID"
	SERV_PID=
	common_teardown
	netns_del
}

in_ns() { ip netns exec "$NS" "$@"; }

# serve RESP [gnutls-serv options]: gnutls-serv with server.pem, stapling
# RESP, on 127.0.0.1:$PORT in the namespace; returns once it is proven to
# staple exactly RESP (gnutls-cli --save-ocsp).
serve() {
	local resp="$1" dir="$BATS_TEST_TMPDIR/serv"
	shift
	mkdir -p "$dir"
	# Not through in_ns: a backgrounded function is a subshell, and its PID
	# is not gnutls-serv's. ip netns exec execs the command, so this one is.
	# 3>&-: bats waits for anything still holding its fd 3.
	ip netns exec "$NS" gnutls-serv -p "$PORT" --x509certfile "$PKI/server.pem" \
		--x509keyfile "$PKI/server-key.pem" --ocsp-response "$resp" "$@" \
		</dev/null >"$dir/out" 2>&1 3>&- &
	SERV_PID=$!
	if ! wait_until 5 listening_or_exited "$SERV_PID" ||
		! in_ns timeout 5 gnutls-cli --insecure --save-ocsp "$dir/stapled.der" \
		-p "$PORT" 127.0.0.1 </dev/null >"$dir/cli" 2>&1 ||
		! cmp -s "$resp" "$dir/stapled.der"; then
		echo "gnutls-serv does not staple $resp; its output:" >&2
		cat "$dir/out" >&2
		echo "gnutls-cli:" >&2
		cat "$dir/cli" >&2 2>/dev/null
		return 1
	fi
}

# listening_or_exited PID: something accepts on 127.0.0.1:$PORT in the
# namespace, or PID has exited.
listening_or_exited() {
	in_ns bash -c "exec 5<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || pid_exited "$1"
}

send() { run --separate-stderr in_ns "$POSTIE" "$@" r@example.org < <(printf 'Subject: ocsp\n\nbody\n'); }

# postie never got as far as SMTP: not a line read or written.
no_smtp() {
	! grep -qE '^(<--|-->) ' <<<"$stderr" || false
}

@test "OCSP revoked: a stapled 'revoked' response fails verification with 69" {
	serve "$OCSP/revoked.der" --ignore-ocsp-response-errors
	send
	[ "$status" -eq 69 ]
	[ -z "$output" ]
	[ "$stderr" = "postie: cannot verify the TLS certificate of 127.0.0.1: the certificate has been revoked (OCSP)" ]
	send -v
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ $stderr == *"postie: TLS Certificate subject: CN=localhost"* ]]
	[[ $stderr == *"postie: TLS Verification: the certificate has been revoked (OCSP)"* ]]
	[ "${stderr_lines[${#stderr_lines[@]} - 1]}" = "postie: cannot verify the TLS certificate of 127.0.0.1: the certificate has been revoked (OCSP)" ]
	no_smtp
}

@test "OCSP good: the same certificate with a stapled 'good' response passes verification" {
	# no --ignore-ocsp-response-errors: gnutls-serv itself finds it valid
	serve "$OCSP/good.der"
	send -v
	echo "$stderr"
	[ "$status" -eq 75 ]
	[ -z "$output" ]
	[[ $stderr == *"postie: TLS Verification: passed"* ]]
	[[ $stderr != *"revoked"* ]]
	[ "${stderr_lines[${#stderr_lines[@]} - 1]}" = "postie: timeout after 2 s waiting for 127.0.0.1's greeting" ]
	no_smtp
}

@test "OCSP response about another certificate: invalid, 69" {
	serve "$OCSP/other.der" --ignore-ocsp-response-errors
	send -v
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ ${stderr_lines[${#stderr_lines[@]} - 1]} == "postie: cannot verify the TLS certificate of 127.0.0.1: "*"the OCSP response the server stapled is not valid for this certificate" ]]
	[[ $stderr != *"revoked"* ]]
	no_smtp
}

@test "OCSP response signed by an untrusted CA: invalid, 69" {
	serve "$OCSP/forged.der" --ignore-ocsp-response-errors
	send -v
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ ${stderr_lines[${#stderr_lines[@]} - 1]} == "postie: cannot verify the TLS certificate of 127.0.0.1: "*"the OCSP response the server stapled is not valid for this certificate" ]]
	no_smtp
}
