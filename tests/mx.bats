#!/usr/bin/env bats
# Direct delivery to the recipients' MX hosts (delivery mx), end to end and
# hermetic: each test has its own network namespace with test addresses,
# tests/fakedns.py serving a zone as the namespace's resolver, and SMTP
# sinks and connection traps on port 25 (tests/mx.bash). Covers MX order
# and fallback, implicit and null MX, DNS failures, one transaction per
# domain, IDN, equal-preference randomisation, opportunistic TLS and DANE
# (RFC 7672), --pretend's route lines, and no AUTH to MX hosts. Every case
# checks the exit status and what each sink or trap received. Needs root
# and iproute2.
# shellcheck disable=SC2154 # stderr: from run --separate-stderr
load common
load netns
load mx
load pki
bats_require_minimum_version 1.5.0

# setup_file: the test PKI (its CA signs the DANE-TA certificate) and
# certificates of our own in $CERTS:
#   self.pem self-key.pem   self-signed, for mx1.example.test
#   ta.pem ta-key.pem       by the test CA, for mx1.example.test
#   ta-chain.pem            ta.pem then the CA (the chain a DANE-TA sink
#                           sends: dane.c finds the TA in the chain)
#   ta-local.pem            by the test CA, for localhost (pki's server.pem)
#                           then the CA: the right TA, the wrong name
setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
	CERTS="$BATS_FILE_TMPDIR/certs"
	export CERTS
	mkdir -p "$CERTS"
	local from n
	from="$(date -u -d '1 day ago' '+%Y-%m-%d %H:%M:%S UTC')"
	for n in self ta; do
		printf '%s\n' "serial = $((RANDOM + 100))" 'cn = "mx1.example.test"' \
			'dns_name = "mx1.example.test"' "activation_date = \"$from\"" \
			'expiration_days = 3650' tls_www_server signing_key >"$CERTS/$n.tmpl"
		certs_tool --generate-privkey --key-type ecdsa --curve secp256r1 --no-text \
			--outfile "$CERTS/$n-key.pem" || return 1
	done
	certs_tool --generate-self-signed --load-privkey "$CERTS/self-key.pem" \
		--template "$CERTS/self.tmpl" --outfile "$CERTS/self.pem" || return 1
	certs_tool --generate-certificate --load-privkey "$CERTS/ta-key.pem" \
		--load-ca-certificate "$PKI/ca.pem" --load-ca-privkey "$PKI/ca-key.pem" \
		--template "$CERTS/ta.tmpl" --outfile "$CERTS/ta.pem" || return 1
	cat "$CERTS/ta.pem" "$PKI/ca.pem" >"$CERTS/ta-chain.pem"
	cat "$PKI/server.pem" "$PKI/ca.pem" >"$CERTS/ta-local.pem"
}

# certs_tool ARGS...: certtool, quiet unless it fails.
certs_tool() {
	certtool "$@" </dev/null >"$CERTS/certtool.log" 2>&1 && return 0
	echo "certtool $* failed:" >&2
	cat "$CERTS/certtool.log" >&2
	return 1
}

setup() {
	common_setup
	netns_add postie-mx || return 1
	mx_net_up 10.53.0.11 10.53.0.12 10.53.0.13 10.53.0.14 fd00:53::11
	MSG=$'Subject: mx test\n\nthe body\n'
}

teardown() {
	mx_teardown
	common_teardown
}

# mx_config [extra config lines...]: ~/.postierc with one account that
# delivers to the MX hosts (port left at 25).
mx_config() {
	local l
	{
		echo "account default"
		echo "delivery mx"
		echo "domain client.example.test"
		echo "from sender@client.example.test"
		echo "timeout 5"
		for l in "$@"; do echo "$l"; done
	} >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
}

# send [postie args...]: postie in the namespace, the small message on its
# stdin; stdout in $output, stderr in $stderr.
send() {
	run --separate-stderr ip netns exec "$NS" "$POSTIE" "$@" <<<"$MSG"
	# shown when the test fails
	echo "status $status; stdout: $output; stderr: $stderr"
}

# rcpts NAME N: the RCPT TO lines of sink NAME's message N, sorted, the
# command word in upper case.
rcpts() {
	grep -i '^RCPT TO:' "$MX_DIR/$1/msg-$2.env" | tr -d '\r' | sed 's/^[^<]*/RCPT TO:/' | sort
}

# mail_from NAME N: the MAIL FROM line of sink NAME's message N, the
# command word in upper case.
mail_from() { grep -i '^MAIL FROM:' "$MX_DIR/$1/msg-$2.env" | tr -d '\r' | sed 's/^[^<]*/MAIL FROM:/'; }

# no_mail NAME: sink NAME recorded no message and was sent no MAIL command.
no_mail() {
	[ "$(mx_sink_count "$1")" -eq 0 ]
	! grep -q '^C: MAIL' "$MX_DIR/$1/session.log" || false
}

# over_tls NAME N: sink NAME's message N travelled over TLS, after STARTTLS.
over_tls() {
	grep -q '^tls TLSv1' "$MX_DIR/$1/msg-$2.tls"
	grep -q '^C: STARTTLS' "$MX_DIR/$1/session.log"
}

# spki_sha256 PEM: SHA2-256 of the certificate's SubjectPublicKeyInfo
# (DER), the data of a TLSA 3 1 1 record.
spki_sha256() (
	set -o pipefail
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
		sha256sum | cut -c1-64
)

# cert_sha256 PEM: SHA2-256 of the certificate (DER): TLSA x 0 1 data.
cert_sha256() (
	set -o pipefail
	openssl x509 -in "$1" -outform DER | sha256sum | cut -c1-64
)

# two_mx [extra zone lines...]: example.test with mx1 (preference 10,
# 10.53.0.11) and mx2 (20, 10.53.0.12).
two_mx() {
	mx_zone \
		'example.test. MX 10 mx1.example.test.' \
		'example.test. MX 20 mx2.example.test.' \
		'mx1.example.test. A 10.53.0.11' \
		'mx2.example.test. A 10.53.0.12' \
		"$@"
}

# two_domains [extra zone lines...]: one.test (MX mx.one.test, 10.53.0.11)
# and two.test (MX mx.two.test, 10.53.0.12).
two_domains() {
	mx_zone \
		'one.test. MX 10 mx.one.test.' \
		'mx.one.test. A 10.53.0.11' \
		'two.test. MX 10 mx.two.test.' \
		'mx.two.test. A 10.53.0.12' \
		"$@"
}

# dane_zone TLSA-DATA [extra zone lines...]: dane.test with the one MX
# host mx1.example.test (10.53.0.11) and its TLSA record at port 25.
dane_zone() {
	local tlsa="$1"
	shift
	mx_zone \
		'dane.test. MX 10 mx1.example.test.' \
		'mx1.example.test. A 10.53.0.11' \
		"_25._tcp.mx1.example.test. TLSA $tlsa" \
		"$@"
}

# The lines of a validated zone: the TLSA RRset and the host's addresses.
SECURE=('secure _25._tcp.mx1.example.test. TLSA' 'secure mx1.example.test. A'
	'secure mx1.example.test. AAAA')

# A STARTTLS sink with certificate files from $CERTS.
tls_sink() {
	local name="$1" addr="$2" cert="$3" key="$4"
	shift 4
	mx_sink_start "$name" "$addr" --starttls --cert "$cert" --key "$key" "$@"
}

# A 64-digit hash that matches nothing.
WRONG=0000000000000000000000000000000000000000000000000000000000000001

@test "delivered to the lowest-preference MX only; envelope, EHLO name and -v route lines" {
	two_mx
	mx_dns_start "$MX_ZONE"
	mx_sink_start mx1 10.53.0.11
	mx_sink_start mx2 10.53.0.12
	mx_config
	send -v user@example.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	[ "$(mx_sink_connections mx1)" -eq 1 ]
	[ "$(mx_sink_count mx2)" -eq 0 ]
	[ "$(mx_sink_connections mx2)" -eq 0 ]
	[ "$(rcpts mx1 1)" = "RCPT TO:<user@example.test>" ]
	[[ $(mail_from mx1 1) == "MAIL FROM:<sender@client.example.test>"* ]]
	grep -q $'^the body\r$' "$MX_DIR/mx1/msg-1.eml"
	grep -qx 'C: EHLO client.example.test' "$MX_DIR/mx1/session.log"
	# the MX lookup went to the test zone's server
	[ "$(mx_dns_queries MX example.test.)" -ge 1 ]
	# -v: the route, as --pretend prints it, prefixed
	[[ $stderr == *"postie: route example.test: mx1.example.test[10.53.0.11] preference 10, TLS opportunistic"* ]]
}

@test "first MX refuses the connection, second closes at once: the third gets it, exit 0; log names it" {
	mx_zone \
		'example.test. MX 10 mx1.example.test.' \
		'example.test. MX 20 mx2.example.test.' \
		'example.test. MX 30 mx3.example.test.' \
		'mx1.example.test. A 10.53.0.11' \
		'mx2.example.test. A 10.53.0.12' \
		'mx3.example.test. A 10.53.0.13'
	mx_dns_start "$MX_ZONE"
	# nothing listens on 10.53.0.11: refused
	mx_trap_start trap 10.53.0.12
	mx_sink_start mx3 10.53.0.13
	mx_config "logfile $BATS_TEST_TMPDIR/postie.log"
	send user@example.test
	[ "$status" -eq 0 ]
	[ "$(mx_trap_count trap)" -eq 1 ]
	[ "$(mx_sink_count mx3)" -eq 1 ]
	[ "$(mx_sink_connections mx3)" -eq 1 ]
	[ "$(rcpts mx3 1)" = "RCPT TO:<user@example.test>" ]
	# the log line names the host that took it
	grep -q 'host=mx3\.example\.test\[10\.53\.0\.13\]' "$BATS_TEST_TMPDIR/postie.log"
}

@test "first MX greets 421: the second gets it, exit 0" {
	two_mx
	mx_dns_start "$MX_ZONE"
	echo 'GREETING * reply 421 4.3.2 too busy, try later' >"$BATS_TEST_TMPDIR/busy"
	mx_sink_start mx1 10.53.0.11 --script "$BATS_TEST_TMPDIR/busy"
	mx_sink_start mx2 10.53.0.12
	mx_config
	send user@example.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_connections mx1)" -eq 1 ]
	no_mail mx1
	[ "$(mx_sink_count mx2)" -eq 1 ]
	[ "$(rcpts mx2 1)" = "RCPT TO:<user@example.test>" ]
}

@test "implicit MX: no MX records, the domain's A record is the host" {
	mx_zone 'implicit.test. A 10.53.0.13' 'mx1.example.test. A 10.53.0.11'
	mx_dns_start "$MX_ZONE"
	mx_sink_start imp 10.53.0.13
	mx_trap_start trap 10.53.0.11
	mx_config
	send user@implicit.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count imp)" -eq 1 ]
	[ "$(rcpts imp 1)" = "RCPT TO:<user@implicit.test>" ]
	[ "$(mx_trap_count trap)" -eq 0 ]
	# the MX was asked first, then the address
	[ "$(mx_dns_queries MX implicit.test.)" -ge 1 ]
	[ "$(mx_dns_queries A implicit.test.)" -ge 1 ]
}

@test "null MX: 68 naming 5.1.10, nothing sent anywhere (not to the domain's A record)" {
	mx_zone \
		'nomail.test. MX 0 .' \
		'nomail.test. A 10.53.0.11' \
		'mx1.example.test. A 10.53.0.12'
	mx_dns_start "$MX_ZONE"
	mx_trap_start a 10.53.0.11
	mx_trap_start other 10.53.0.12
	mx_config
	send user@nomail.test
	[ "$status" -eq 68 ]
	[[ $stderr == *"5.1.10"* ]]
	[[ $stderr == *"null MX"* ]]
	[ "$(mx_trap_count a)" -eq 0 ]
	[ "$(mx_trap_count other)" -eq 0 ]
}

@test "NXDOMAIN recipient domain: 68, nothing sent" {
	two_mx
	mx_dns_start "$MX_ZONE"
	mx_trap_start mx1 10.53.0.11
	mx_config
	send user@nosuch.test
	[ "$status" -eq 68 ]
	[[ $stderr == *"NXDOMAIN"* ]]
	[[ $stderr == *"nosuch.test"* ]]
	[ "$(mx_trap_count mx1)" -eq 0 ]
	grep -q '^3 15 nosuch\.test\. ' "$MX_DNS_LOG"
}

@test "SERVFAIL on the MX lookup: 75 (deferred), nothing sent" {
	two_mx 'servfail example.test. MX'
	mx_dns_start "$MX_ZONE"
	mx_trap_start mx1 10.53.0.11
	mx_trap_start mx2 10.53.0.12
	mx_config
	send user@example.test
	[ "$status" -eq 75 ]
	[[ $stderr == *"example.test"* ]]
	[ "$(mx_trap_count mx1)" -eq 0 ]
	[ "$(mx_trap_count mx2)" -eq 0 ]
	grep -q '^2 15 example\.test\. ' "$MX_DNS_LOG"
}

@test "two recipient domains: two transactions, each MX gets only its own recipients" {
	two_domains
	mx_dns_start "$MX_ZONE"
	mx_sink_start one 10.53.0.11
	mx_sink_start two 10.53.0.12
	mx_config
	send a@one.test x@two.test b@One.Test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count one)" -eq 1 ]
	[ "$(mx_sink_connections one)" -eq 1 ]
	[ "$(mx_sink_count two)" -eq 1 ]
	[ "$(mx_sink_connections two)" -eq 1 ]
	# the domain's case does not split a group
	[ "$(rcpts one 1 | tr '[:upper:]' '[:lower:]')" = $'rcpt to:<a@one.test>\nrcpt to:<b@one.test>' ]
	[ "$(rcpts two 1)" = "RCPT TO:<x@two.test>" ]
	cmp "$MX_DIR/one/msg-1.eml" "$MX_DIR/two/msg-1.eml"
}

@test "two recipient domains, one SERVFAIL: 75, the other domain still delivered" {
	two_domains 'servfail two.test. MX'
	mx_dns_start "$MX_ZONE"
	mx_sink_start one 10.53.0.11
	mx_trap_start two 10.53.0.12
	mx_config
	send x@two.test a@one.test
	[ "$status" -eq 75 ]
	[ "$(mx_sink_count one)" -eq 1 ]
	[ "$(rcpts one 1)" = "RCPT TO:<a@one.test>" ]
	[ "$(mx_trap_count two)" -eq 0 ]
	[[ $stderr == *"two.test"* ]]
}

@test "queue tempfail: the deferred domain is queued, -q delivers it there once DNS answers" {
	two_domains 'servfail two.test. MX'
	mx_dns_start "$MX_ZONE"
	mx_sink_start one 10.53.0.11
	mx_sink_start two 10.53.0.12
	mx_config "queue tempfail" "queue_dir $BATS_TEST_TMPDIR/q"
	send x@two.test a@one.test
	[ "$status" -eq 0 ]
	[[ $stderr == *"queued as"*"two.test"* ]]
	[ "$(mx_sink_count one)" -eq 1 ]
	[ "$(mx_sink_count two)" -eq 0 ]
	[ "$(ls "$BATS_TEST_TMPDIR/q" | grep -c '\.env$')" -eq 1 ]
	# the name servers answer again
	mx_dns_stop
	grep -v servfail "$MX_ZONE" >"$MX_ZONE.ok"
	mx_dns_start "$MX_ZONE.ok"
	run --separate-stderr ip netns exec "$NS" "$POSTIE" -q
	echo "status $status; stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count one)" -eq 1 ]
	[ "$(mx_sink_count two)" -eq 1 ]
	[ "$(rcpts two 1)" = "RCPT TO:<x@two.test>" ]
	[ "$(ls "$BATS_TEST_TMPDIR/q" | grep -c '\.env$')" -eq 0 ]
}

@test "IDN domain: looked up and sent as its A-label (server without SMTPUTF8)" {
	mx_zone \
		'xn--bcher-kva.test. MX 10 mx1.example.test.' \
		'mx1.example.test. A 10.53.0.11'
	mx_dns_start "$MX_ZONE"
	mx_sink_start mx1 10.53.0.11
	mx_config
	send 'user@bücher.test'
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	[ "$(rcpts mx1 1)" = "RCPT TO:<user@xn--bcher-kva.test>" ]
	! grep -qi 'SMTPUTF8' "$MX_DIR/mx1/msg-1.env" || false
	[ "$(mx_dns_queries MX xn--bcher-kva.test.)" -ge 1 ]
}

@test "equal preferences in random order: over 40 runs both hosts get mail" {
	mx_zone \
		'example.test. MX 10 mx1.example.test.' \
		'example.test. MX 10 mx2.example.test.' \
		'mx1.example.test. A 10.53.0.11' \
		'mx2.example.test. A 10.53.0.12'
	mx_dns_start "$MX_ZONE"
	mx_sink_start mx1 10.53.0.11
	mx_sink_start mx2 10.53.0.12
	mx_config
	local i failed=0
	for i in $(seq 40); do
		ip netns exec "$NS" "$POSTIE" "user$i@example.test" <<<"$MSG" || failed=$((failed + 1))
	done
	[ "$failed" -eq 0 ]
	local n1 n2
	n1="$(mx_sink_count mx1)"
	n2="$(mx_sink_count mx2)"
	echo "mx1 $n1, mx2 $n2"
	[ $((n1 + n2)) -eq 40 ]
	# the chance that one of them gets all 40 is 2 in 2^40
	[ "$n1" -ge 1 ]
	[ "$n2" -ge 1 ]
}

@test "DANE-EE: the TLSA record matches the key, DNSSEC-validated: delivered over TLS, verified by DANE" {
	dane_zone "3 1 1 $(spki_sha256 "$CERTS/self.pem")" "${SECURE[@]}"
	mx_dns_start "$MX_ZONE" --ad
	tls_sink mx1 10.53.0.11 "$CERTS/self.pem" "$CERTS/self-key.pem"
	mx_config
	send -v user@dane.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	over_tls mx1 1
	[ "$(mx_dns_queries TLSA _25._tcp.mx1.example.test.)" -ge 1 ]
	[[ $stderr == *"route dane.test: mx1.example.test[10.53.0.11] preference 10, TLS DANE (1 usable TLSA record"* ]]
	# a line that says the certificate was verified by DANE (not the route)
	grep -v 'route ' <<<"$stderr" | grep 'DANE' | grep -i 'verified' | grep -vqi 'not verified'
}

@test "DANE-EE mismatch: 75 (deferred), no MAIL sent, never plain text" {
	dane_zone "3 1 1 $WRONG" "${SECURE[@]}"
	mx_dns_start "$MX_ZONE" --ad
	tls_sink mx1 10.53.0.11 "$CERTS/self.pem" "$CERTS/self-key.pem"
	mx_config
	send user@dane.test
	[ "$status" -eq 75 ]
	no_mail mx1
	# STARTTLS was asked for on every connection: no plain-text retry
	[ "$(mx_sink_connections mx1)" -ge 1 ]
	[ "$(grep -c '^C: STARTTLS' "$MX_DIR/mx1/session.log")" -eq "$(mx_sink_connections mx1)" ]
	[[ $stderr == *TLSA* || $stderr == *DANE* ]]
}

@test "TLSA records without the AD bit are ignored: opportunistic TLS, delivered despite the wrong hash" {
	dane_zone "3 1 1 $WRONG"
	# no --ad, no secure lines: the resolver did not validate
	mx_dns_start "$MX_ZONE"
	tls_sink mx1 10.53.0.11 "$CERTS/self.pem" "$CERTS/self-key.pem"
	mx_config
	send -v user@dane.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	over_tls mx1 1
	[[ $stderr == *"route dane.test: mx1.example.test[10.53.0.11] preference 10, TLS opportunistic"* ]]
}

@test "a secure TLSA RRset of a host whose address is not secure is ignored: opportunistic" {
	dane_zone "3 1 1 $WRONG" 'insecure mx1.example.test. A' 'insecure mx1.example.test. AAAA'
	mx_dns_start "$MX_ZONE" --ad
	tls_sink mx1 10.53.0.11 "$CERTS/self.pem" "$CERTS/self-key.pem"
	mx_config
	send user@dane.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	over_tls mx1 1
}

@test "TLSA lookup SERVFAIL: the only MX host is not used, 75" {
	dane_zone "3 1 1 $(spki_sha256 "$CERTS/self.pem")" "${SECURE[@]}" \
		'servfail _25._tcp.mx1.example.test. TLSA'
	mx_dns_start "$MX_ZONE" --ad
	tls_sink mx1 10.53.0.11 "$CERTS/self.pem" "$CERTS/self-key.pem"
	mx_config
	send user@dane.test
	[ "$status" -eq 75 ]
	[ "$(mx_sink_count mx1)" -eq 0 ]
	[ "$(mx_sink_connections mx1)" -eq 0 ]
	grep -q '^2 52 _25\._tcp\.mx1\.example\.test\. ' "$MX_DNS_LOG"
}

@test "DANE-TA with the test CA: chain to the TA, name of the MX host: delivered, verified by DANE" {
	dane_zone "2 0 1 $(cert_sha256 "$PKI/ca.pem")" "${SECURE[@]}"
	mx_dns_start "$MX_ZONE" --ad
	tls_sink mx1 10.53.0.11 "$CERTS/ta-chain.pem" "$CERTS/ta-key.pem"
	mx_config
	send -v user@dane.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	over_tls mx1 1
	grep -v 'route ' <<<"$stderr" | grep 'DANE' | grep -i 'verified' | grep -vqi 'not verified'
}

@test "DANE-TA: the right TA but a certificate for another name: 75, no MAIL sent" {
	dane_zone "2 0 1 $(cert_sha256 "$PKI/ca.pem")" "${SECURE[@]}"
	mx_dns_start "$MX_ZONE" --ad
	tls_sink mx1 10.53.0.11 "$CERTS/ta-local.pem" "$PKI/server-key.pem"
	mx_config
	send user@dane.test
	[ "$status" -eq 75 ]
	no_mail mx1
	grep -q '^C: STARTTLS' "$MX_DIR/mx1/session.log"
}

@test "opportunistic TLS: STARTTLS used when offered, a self-signed certificate accepted" {
	mx_zone 'example.test. MX 10 mx1.example.test.' 'mx1.example.test. A 10.53.0.11'
	mx_dns_start "$MX_ZONE"
	tls_sink mx1 10.53.0.11 "$CERTS/self.pem" "$CERTS/self-key.pem"
	mx_config
	send user@example.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	over_tls mx1 1
	grep -q '^\* tls TLSv1' "$MX_DIR/mx1/session.log"
	[ "$(rcpts mx1 1)" = "RCPT TO:<user@example.test>" ]
}

@test "delivery mx with domain localhost: 78 naming 'domain', nothing sent" {
	two_mx
	mx_dns_start "$MX_ZONE"
	mx_trap_start mx1 10.53.0.11
	mx_config
	sed -i 's/^domain .*/domain localhost/' "$HOME/.postierc"
	send user@example.test
	[ "$status" -eq 78 ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ $stderr == *"'domain'"* ]]
	[ "$(mx_trap_count mx1)" -eq 0 ]
	[ "$(mx_dns_queries MX example.test.)" -eq 0 ]
}

@test "delivery mx with tls_starttls off: 78, nothing sent" {
	two_mx
	mx_dns_start "$MX_ZONE"
	mx_trap_start mx1 10.53.0.11
	mx_config "tls_starttls off"
	send user@example.test
	[ "$status" -eq 78 ]
	[[ $stderr == *tls_starttls* || $stderr == *STARTTLS* ]]
	[ "$(mx_trap_count mx1)" -eq 0 ]
}

@test "--pretend lists the route: every address in order with preference and TLS policy; nothing sent" {
	two_mx 'mx1.example.test. AAAA fd00:53::11' \
		'implicit.test. A 10.53.0.13'
	mx_dns_start "$MX_ZONE"
	mx_trap_start mx1 10.53.0.11
	mx_trap_start mx2 10.53.0.12
	mx_config
	run --separate-stderr ip netns exec "$NS" "$POSTIE" --pretend user@example.test </dev/null
	echo "status $status; stdout: $output; stderr: $stderr"
	[ "$status" -eq 0 ]
	run grep '^route ' <<<"$output"
	[ "${#lines[@]}" -eq 3 ]
	# IPv6 and IPv4 alternate within the host, IPv6 first
	[ "${lines[0]}" = "route example.test: mx1.example.test[fd00:53::11] preference 10, TLS opportunistic" ]
	[ "${lines[1]}" = "route example.test: mx1.example.test[10.53.0.11] preference 10, TLS opportunistic" ]
	[ "${lines[2]}" = "route example.test: mx2.example.test[10.53.0.12] preference 20, TLS opportunistic" ]
	[ "$(mx_trap_count mx1)" -eq 0 ]
	[ "$(mx_trap_count mx2)" -eq 0 ]

	# implicit MX, a failed lookup, and the tls off / tls on policies
	mx_config "tls off"
	run --separate-stderr ip netns exec "$NS" "$POSTIE" --pretend user@implicit.test </dev/null
	[ "$(grep '^route ' <<<"$output")" = "route implicit.test: implicit.test[10.53.0.13] preference 0 (no MX records, implicit MX), TLS off (tls off)" ]
	mx_config "tls on"
	run --separate-stderr ip netns exec "$NS" "$POSTIE" --pretend user@implicit.test </dev/null
	[ "$(grep '^route ' <<<"$output")" = "route implicit.test: implicit.test[10.53.0.13] preference 0 (no MX records, implicit MX), TLS required (tls on)" ]
	mx_config
	run --separate-stderr ip netns exec "$NS" "$POSTIE" --pretend user@nosuch.test </dev/null
	run grep '^route ' <<<"$output"
	[ "${#lines[@]}" -eq 1 ]
	[[ ${lines[0]} == "route nosuch.test: "*NXDOMAIN* ]]
	[ "$(mx_trap_count mx1)" -eq 0 ]
}

@test "no AUTH to an MX host, even with auth, user and password set" {
	mx_zone 'example.test. MX 10 mx1.example.test.' 'mx1.example.test. A 10.53.0.11'
	mx_dns_start "$MX_ZONE"
	mx_sink_start mx1 10.53.0.11 --auth "PLAIN LOGIN" --auth-user tester \
		--auth-password s3cr3t-never-sent
	mx_config "auth on" "user tester" "password s3cr3t-never-sent"
	send -v user@example.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	# the sink offered AUTH and got none
	grep -q '^S: 250[- ]AUTH PLAIN LOGIN' "$MX_DIR/mx1/session.log"
	! grep -q '^C: AUTH' "$MX_DIR/mx1/session.log" || false
	[ "$(tr -d '\r\n' <"$MX_DIR/mx1/msg-1.auth")" = "none" ]
	[[ $output$stderr != *s3cr3t-never-sent* ]]
}

@test "--delivery=mx on the command line, an account without host" {
	two_mx
	mx_dns_start "$MX_ZONE"
	mx_sink_start mx1 10.53.0.11
	mx_config
	sed -i '/^delivery /d' "$HOME/.postierc"
	! grep -q '^host' "$HOME/.postierc" || false
	send --delivery=mx user@example.test
	[ "$status" -eq 0 ]
	[ "$(mx_sink_count mx1)" -eq 1 ]
	[ "$(rcpts mx1 1)" = "RCPT TO:<user@example.test>" ]
}
