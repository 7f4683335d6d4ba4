#!/usr/bin/env bats
# TLS end to end against smtpsink.py with STARTTLS or implicit TLS and a
# test PKI made by certtool: verification, pins, client certificates,
# the three tls modes, STARTTLS injection, priorities, CRLs, --serverinfo.
# Every failure case checks the exit status, the words of the diagnostic,
# and that the server recorded no message.
load common
load pki
load netns
bats_require_minimum_version 1.5.0

setup_file() { pki_make "$BATS_FILE_TMPDIR/pki"; }
setup() { common_setup; }
teardown() {
	common_teardown
	netns_del
}

msg() { printf 'Subject: tls test\n\nsecret body\n'; }

# tls_sink CERTNAME [smtpsink options]: a STARTTLS sink with PKI/CERTNAME.pem
tls_sink() {
	local c="$1"
	shift
	sink_start --cert "$PKI/$c.pem" --key "$PKI/$c-key.pem" "$@"
}

send() { run "$POSTIE" "$@" r@example.org < <(msg); }

# The session went through TLS and the message travelled encrypted.
delivered_over_tls() {
	[ "$(sink_count)" -eq 1 ]
	grep -q '^tls TLSv1' "$SINK_DIR/msg-1.tls"
	grep -q $'^secret body\r$' "$(sink_msg 1)"
}

nothing_sent() {
	[ "$(sink_count)" -eq 0 ]
	! grep -q '^C: MAIL' "$SINK_DIR/session.log" || false
}

@test "STARTTLS with the test CA as trust file: verified, EHLO again, delivered" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	delivered_over_tls
	# EHLO before STARTTLS, the handshake, EHLO again, and only then MAIL
	run grep -E '^(C: EHLO|C: STARTTLS|\* tls |C: MAIL)' "$SINK_DIR/session.log"
	[ "${lines[0]}" = "C: EHLO client.example" ]
	[ "${lines[1]}" = "C: STARTTLS" ]
	[[ ${lines[2]} == "* tls TLSv1."* ]]
	[ "${lines[3]}" = "C: EHLO client.example" ]
	[[ ${lines[4]} == "C: MAIL FROM:<sender@example.org>"* ]]
}

@test "implicit TLS (tls_starttls off): verified and delivered" {
	tls_sink server --tls
	write_config "tls on" "tls_starttls off" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 0 ]
	delivered_over_tls
	! grep -q '^C: STARTTLS' "$SINK_DIR/session.log" || false
}

@test "implicit TLS also without 'tls on' when tls_starttls is off" {
	tls_sink server --tls
	write_config "tls_starttls off" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 0 ]
	delivered_over_tls
}

@test "-v shows the TLS session: protocol, cipher suite, certificate, verification" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send -v
	[ "$status" -eq 0 ]
	[[ $output == *"postie: TLS Protocol: TLS1."* ]]
	[[ $output == *"postie: TLS Cipher suite: TLS_"* ]]
	[[ $output == *"postie: TLS Certificate subject: CN=localhost"* ]]
	[[ $output == *"postie: TLS SHA-256 fingerprint: $(<"$PKI/server.sha256")"* ]]
	[[ $output == *"postie: TLS Verification: passed"* ]]
}

@test "wrong host name: 69, the names in the certificate are shown, nothing sent" {
	tls_sink wrong --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 69 ]
	[ "$output" = "postie: cannot verify the TLS certificate of 127.0.0.1: the certificate is for wrong.example, not for 127.0.0.1 (tls_host_override sets the name to check)" ]
	nothing_sent
}

@test "tls_host_override makes the wrong-host certificate pass" {
	tls_sink wrong --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "tls_host_override wrong.example"
	send
	[ "$status" -eq 0 ]
	delivered_over_tls
}

@test "expired certificate: 69 with the date it expired, nothing sent" {
	tls_sink expired --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 69 ]
	[[ $output == *"the certificate has expired on 2024-01-01 00:00:00 UTC"* ]]
	nothing_sent
}

@test "certificate from an unknown CA: 69 naming the issuer, nothing sent" {
	tls_sink rogue --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 69 ]
	[[ $output == *"the certificate is not signed by a trusted authority (issuer CN=unknown test CA,O=someone else; trusted: $PKI/ca.pem)"* ]]
	nothing_sent
}

@test "the system trust store is the default and does not trust the test CA" {
	tls_sink server --starttls
	write_config "tls on"
	send
	[ "$status" -eq 69 ]
	[[ $output == *"not signed by a trusted authority"*"trusted: the system trust store"* ]]
	nothing_sent
}

# bad_libs: a directory holding, under the sonames of GnuTLS, libidn2 and
# GNU SASL (from --version), files that are no libraries.
bad_libs() {
	local so
	mkdir -p "$BATS_TEST_TMPDIR/badlib"
	for so in $("$POSTIE" --version | sed -n 's/^\(TLS\|IDN\|SASL\) library: .*(\(lib[^)]*\))$/\2/p'); do
		echo "not a library" >"$BATS_TEST_TMPDIR/badlib/$so"
	done
	[ "$(ls "$BATS_TEST_TMPDIR/badlib" | wc -l)" -eq 3 ]
}

@test "a plain-text send loads neither GnuTLS, libidn2 nor GNU SASL; TLS without GnuTLS is 71, naming it" {
	bad_libs
	sink_start
	write_config
	LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/badlib" run "$POSTIE" r@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	sink_stop
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/badlib" run "$POSTIE" r@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 71 ]
	[[ $output == "postie: cannot load libgnutls.so."*", the TLS library: "* ]]
	[ "$(sink_count)" -eq 0 ]
	# an international domain needs libidn2
	LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/badlib" run "$POSTIE" r@bücher.example < <(msg)
	[ "$status" -eq 71 ]
	[[ $output == *"cannot load libidn2.so."*", the library for international domain names: "* ]]
}

# system_send BUNDLE: a send with the default trust store, with BUNDLE
# bind-mounted over the system's CA bundle in a mount namespace.
system_send() {
	run unshare -m bash -c 'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt &&
		printf "Subject: t\n\nsecret body\n" | "$2" r@example.org' sh "$1" "$POSTIE"
}

@test "the system trust store verifies a server whose CA a site added to it, with or without the root in the chain" {
	[ -f /etc/ssl/certs/ca-certificates.crt ] || skip "no system CA bundle"
	cat /etc/ssl/certs/ca-certificates.crt "$PKI/ca.pem" >"$BATS_TEST_TMPDIR/bundle.crt"
	tls_sink server --starttls
	write_config "tls on"
	system_send "$BATS_TEST_TMPDIR/bundle.crt"
	echo "$output"
	[ "$status" -eq 0 ]
	delivered_over_tls
	sink_stop
	cat "$PKI/server.pem" "$PKI/ca.pem" >"$BATS_TEST_TMPDIR/chain.pem"
	sink_start --cert "$BATS_TEST_TMPDIR/chain.pem" --key "$PKI/server-key.pem" --starttls
	write_config "tls on"
	system_send "$BATS_TEST_TMPDIR/bundle.crt"
	echo "$output"
	[ "$status" -eq 0 ]
	delivered_over_tls
	# the system's own bundle does not hold the test CA
	system_send /etc/ssl/certs/ca-certificates.crt
	[ "$status" -eq 69 ]
	[[ $output == *"not signed by a trusted authority"*"trusted: the system trust store"* ]]
}

@test "fingerprint pins: SHA-256, SHA-1 and MD5 of the right certificate pass" {
	tls_sink rogue --starttls
	local f
	for f in sha256 sha1 md5; do
		certtool --fingerprint --hash "$f" --infile "$PKI/rogue.pem" </dev/null |
			tr a-f A-F | sed 's/../&:/g; s/:$//' >"$BATS_TEST_TMPDIR/pin"
		write_config "tls on" "tls_fingerprint $(<"$BATS_TEST_TMPDIR/pin")"
		send
		echo "$f: $output"
		[ "$status" -eq 0 ]
	done
	[ "$(sink_count)" -eq 3 ]
}

@test "a wrong fingerprint: 69 showing the certificate's fingerprint, nothing sent" {
	tls_sink rogue --starttls
	write_config "tls on" "tls_fingerprint $(<"$PKI/server.sha256")"
	send
	[ "$status" -eq 69 ]
	[[ $output == *"the certificate's SHA-256 fingerprint "*" does not match tls_fingerprint"* ]]
	nothing_sent
}

@test "a pin still checks the dates: a pinned expired certificate fails" {
	tls_sink expired --starttls
	certtool --fingerprint --hash sha256 --infile "$PKI/expired.pem" </dev/null |
		tr a-f A-F | sed 's/../&:/g; s/:$//' >"$BATS_TEST_TMPDIR/pin"
	write_config "tls on" "tls_fingerprint $(<"$BATS_TEST_TMPDIR/pin")"
	send
	[ "$status" -eq 69 ]
	[[ $output == *"matches tls_fingerprint but has expired on 2024-01-01"* ]]
	nothing_sent
}

@test "tls_certcheck off accepts an untrusted, wrongly named certificate" {
	tls_sink rogue --starttls
	write_config "tls on" "tls_certcheck off" "tls_host_override nowhere.example"
	send
	[ "$status" -eq 0 ]
	delivered_over_tls
}

@test "client certificate: presented to a server that requires one" {
	tls_sink server --starttls --client-ca "$PKI/ca.pem"
	write_config "tls on" "tls_trust_file $PKI/ca.pem" \
		"tls_cert_file $PKI/client.pem" "tls_key_file $PKI/client-key.pem"
	send
	[ "$status" -eq 0 ]
	grep -qx '\* client-cert CN=tester' "$SINK_DIR/session.log"
	delivered_over_tls
}

@test "no client certificate for a server that requires one: fails, nothing sent" {
	tls_sink server --starttls --client-ca "$PKI/ca.pem"
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 76 ]
	[[ $output == *"127.0.0.1"*"the server asked for a client certificate, none is configured (tls_cert_file and tls_key_file)"* ]]
	nothing_sent
}

@test "an unreadable client key is a configuration error: 78" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem" \
		"tls_cert_file $PKI/client.pem" "tls_key_file $PKI/no-such-key.pem"
	send
	[ "$status" -eq 78 ]
	[[ $output == *"cannot use tls_cert_file $PKI/client.pem with tls_key_file $PKI/no-such-key.pem"* ]]
	nothing_sent
}

@test "tls on against a server without STARTTLS: 69, nothing sent" {
	sink_start
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 69 ]
	[ "$output" = "postie: 127.0.0.1 does not offer STARTTLS, and account 'default' requires TLS (tls on); nothing was sent" ]
	nothing_sent
}

@test "tls on and STARTTLS refused with 454: 75, nothing sent" {
	printf 'STARTTLS * reply 454 4.7.0 TLS not available now\n' >"$BATS_TEST_TMPDIR/script"
	tls_sink server --starttls --script "$BATS_TEST_TMPDIR/script"
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 75 ]
	[ "$output" = "postie: STARTTLS refused by 127.0.0.1: 454 4.7.0 TLS not available now" ]
	nothing_sent
}

@test "opportunistic (no tls line): STARTTLS used when offered, unverified is no obstacle" {
	tls_sink rogue --starttls
	write_config
	send -v
	[ "$status" -eq 0 ]
	delivered_over_tls
	[[ $output == *"TLS certificate of 127.0.0.1 not verified: the certificate is not signed by a trusted authority"* ]]
}

@test "opportunistic: delivered in plain text when STARTTLS is not offered" {
	sink_start
	write_config
	send -v
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	grep -qx plain "$SINK_DIR/msg-1.tls"
	[[ $output == *"does not offer STARTTLS; continuing without TLS (tls is not set)"* ]]
}

@test "opportunistic: STARTTLS refused, the session goes on in plain text, and says so" {
	printf 'STARTTLS * reply 454 4.7.0 not now\n' >"$BATS_TEST_TMPDIR/script"
	tls_sink server --starttls --script "$BATS_TEST_TMPDIR/script"
	write_config
	send
	[ "$status" -eq 0 ]
	[ "$output" = "postie: STARTTLS refused by 127.0.0.1: 454 4.7.0 not now; sending without TLS because tls is not set in account 'default' (set 'tls on' to require it)" ]
	grep -qx plain "$SINK_DIR/msg-1.tls"
	grep -q $'^secret body\r$' "$(sink_msg 1)"
}

@test "opportunistic: a failed handshake falls back to plain text, and says so without -v" {
	tls_sink server --starttls --tls-max TLSv1_2
	write_config "tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.3" "logfile $HOME/postie.log"
	send
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	# and the log line says tls=failed
	grep -q ' host=127\.0\.0\.1 tls=failed auth=off .*exitcode=EX_OK$' "$HOME/postie.log"
	[[ $output == "postie: TLS handshake with 127.0.0.1 failed: "*"; sending without TLS because tls is not set in account 'default' (set 'tls on' to require it)" ]]
	[ "$(sink_count)" -eq 1 ]
	grep -qx plain "$SINK_DIR/msg-1.tls"
	grep -q $'^secret body\r$' "$(sink_msg 1)"
}

@test "opportunistic: a failed handshake falls back to a new plain-text session" {
	tls_sink server --starttls --tls-max TLSv1_2
	write_config "tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.3"
	send -v
	[ "$status" -eq 0 ]
	[[ $output == *"TLS handshake with 127.0.0.1 failed"*"trying again without TLS (tls is not set)"* ]]
	[ "$(grep -c '^\* connect' "$SINK_DIR/session.log")" -eq 2 ]
	grep -qx plain "$SINK_DIR/msg-1.tls"
	# the second session does not try STARTTLS again
	[ "$(grep -c '^C: STARTTLS' "$SINK_DIR/session.log")" -eq 1 ]
}

@test "tls off: STARTTLS is never sent, even when offered" {
	tls_sink server --starttls
	write_config "tls off"
	send
	[ "$status" -eq 0 ]
	! grep -q '^C: STARTTLS' "$SINK_DIR/session.log" || false
	grep -qx plain "$SINK_DIR/msg-1.tls"
}

@test "STARTTLS injection: a reply line behind the 220 aborts with 76, nothing sent" {
	printf 'STARTTLS * raw 220 2.0.0 go ahead\\r\\n250 2.1.0 injected\\r\\n\n' >"$BATS_TEST_TMPDIR/script"
	tls_sink server --starttls --script "$BATS_TEST_TMPDIR/script"
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 76 ]
	[[ $output == *"127.0.0.1 sent 20 bytes after its 220 reply to STARTTLS, before the TLS handshake"*"command injection"* ]]
	nothing_sent
	! grep -q '^\* tls ' "$SINK_DIR/session.log" || false
}

@test "STARTTLS injection aborts in opportunistic mode too" {
	printf 'STARTTLS * raw 220 go ahead\\r\\n250 injected\\r\\n\n' >"$BATS_TEST_TMPDIR/script"
	tls_sink server --starttls --script "$BATS_TEST_TMPDIR/script"
	write_config
	send
	[ "$status" -eq 76 ]
	nothing_sent
	[ "$(grep -c '^\* connect' "$SINK_DIR/session.log")" -eq 1 ]
}

@test "priorities with no protocol in common with the server: 76" {
	tls_sink server --starttls --tls-max TLSv1_2
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.3"
	send
	[ "$status" -eq 76 ]
	[[ $output == "postie: TLS handshake with 127.0.0.1 failed: "* ]]
	nothing_sent
}

@test "priorities: TLS 1.2 with one chosen cipher is what is negotiated" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem" \
		"tls_priorities NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+CHACHA20-POLY1305"
	send
	[ "$status" -eq 0 ]
	grep -q '^tls TLSv1.2 .*CHACHA20' "$SINK_DIR/msg-1.tls"
}

@test "an invalid priority string is a configuration error: 78" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "tls_priorities NORMAL:+NO-SUCH-THING"
	send
	[ "$status" -eq 78 ]
	[[ $output == *"tls_priorities 'NORMAL:+NO-SUCH-THING' is not a valid GnuTLS priority string"* ]]
	nothing_sent
}

@test "CRL: a revoked certificate fails with 69; an empty CRL lets a good one pass" {
	tls_sink revoked --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "tls_crl_file $PKI/crl.pem"
	send
	[ "$status" -eq 69 ]
	[[ $output == *"the certificate has been revoked (tls_crl_file lists it)"* ]]
	nothing_sent
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "tls_crl_file $PKI/crl-empty.pem"
	send
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "a missing trust file is a configuration error: 78" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/nothing-here.pem"
	send
	[ "$status" -eq 78 ]
	[[ $output == *"tls_trust_file $PKI/nothing-here.pem: "* ]]
	nothing_sent
}

@test "the handshake is under the timeout: a server that never answers gives 75" {
	printf 'GREETING * stall\n' >"$BATS_TEST_TMPDIR/script"
	sink_start --script "$BATS_TEST_TMPDIR/script"
	write_config "tls on" "tls_starttls off" "tls_trust_file $PKI/ca.pem" "timeout 1"
	send
	[ "$status" -eq 75 ]
	[ "$output" = "postie: timeout after 1 s in the TLS handshake with 127.0.0.1" ]
}

@test "--serverinfo over STARTTLS shows how TLS was reached, the certificate, and the capabilities before and after TLS" {
	tls_sink server --starttls --chunking
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	run "$POSTIE" --serverinfo
	[ "$status" -eq 0 ]
	[[ $output == *"TLS session:"* ]]
	[[ $output == *"Protocol:              TLS1."* ]]
	[[ $output == *"Cipher suite:          TLS_"* ]]
	[[ $output == *"Certificate subject:   CN=localhost"* ]]
	[[ $output == *"Certificate names:     localhost, 127.0.0.1, ::1"* ]]
	[[ $output == *"Certificate issuer:    CN=postie test CA"* ]]
	[[ $output =~ Valid:\ +[0-9]{4}-[0-9]{2}-[0-9]{2}\ [0-9:]{8}\ UTC\ to\ [0-9]{4}- ]]
	[[ $output == *"SHA-256 fingerprint:   $(<"$PKI/server.sha256")"* ]]
	[[ $output == *"Verification:          passed"* ]]
	[[ $output == *"CHUNKING"* ]]
	[ "${lines[0]}" = "TLS: STARTTLS (offered and used)" ]
	# before STARTTLS it was offered; after it, no STARTTLS any more
	[[ $output == *"Capabilities before STARTTLS:"*"    STARTTLS:"*"Capabilities after STARTTLS:"* ]]
	[[ ${output#*Capabilities after STARTTLS:} != *"STARTTLS"* ]]
	[[ $output != *"may offer more"* ]]
}

@test "--serverinfo says when TLS came from the first byte" {
	tls_sink server --tls
	write_config "tls on" "tls_starttls off" "tls_trust_file $PKI/ca.pem"
	run "$POSTIE" --serverinfo
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "TLS: implicit (from the first byte)" ]
	[[ $output == *"TLS session:"* ]]
	[[ $output == *"Capabilities:"* ]]
	[[ $output != *"before STARTTLS"* ]]
}

@test "--serverinfo says when TLS was not used because STARTTLS was not offered" {
	sink_start
	write_config
	run "$POSTIE" --serverinfo
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "TLS: not used (STARTTLS not offered)" ]
	[[ $output != *"TLS session:"* ]]
}

@test "implicit TLS against a plain SMTP port: 78, telling to set tls_starttls on" {
	sink_start
	write_config "tls on" "tls_starttls off" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 78 ]
	[ "$output" = "postie: 127.0.0.1 port $SINK_PORT answered in plain text (an SMTP greeting: \"220 smtpsink.test ESMTP smtpsink\"), not TLS: account 'default' uses implicit TLS (tls_starttls off): set 'tls_starttls on' for port $SINK_PORT" ]
	nothing_sent
}

@test "STARTTLS against an implicit-TLS server on port 465: 78, telling to set tls_starttls off" {
	netns_add postie-tls
	SINK_EXEC="ip netns exec $NS" tls_sink server --tls --port 465
	# tls_starttls on said explicitly (without it, port 465 means implicit
	# TLS); a timeout far beyond the wrapper's shows postie did not wait it out
	write_config "tls on" "tls_starttls on" "tls_trust_file $PKI/ca.pem" "timeout 120"
	run ip netns exec "$NS" timeout 30 "$POSTIE" r@example.org < <(msg)
	[ "$status" -eq 78 ]
	[ "$output" = "postie: 127.0.0.1 port 465 sent no greeting: it expects TLS from the first byte (implicit TLS), but account 'default' uses STARTTLS: set 'tls_starttls off'" ]
	nothing_sent
}

@test "port 465 with tls on and no tls_starttls line: implicit TLS, delivered" {
	netns_add postie-tls
	SINK_EXEC="ip netns exec $NS" tls_sink server --tls --port 465
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	run ip netns exec "$NS" timeout 30 "$POSTIE" r@example.org < <(msg)
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(sink_count)" -eq 1 ]
	grep -qv plain "$SINK_DIR/msg-1.tls"
}

@test "--serverinfo with a certificate that fails: facts shown, then the reason, 69" {
	tls_sink expired --tls
	write_config "tls on" "tls_starttls off" "tls_trust_file $PKI/ca.pem"
	run "$POSTIE" --serverinfo
	[ "$status" -eq 69 ]
	[[ $output == *"Valid:                 2023-01-01 00:00:00 UTC to 2024-01-01 00:00:00 UTC"* ]]
	[[ $output == *"Verification:          the certificate has expired on 2024-01-01 00:00:00 UTC"* ]]
	[ "${lines[${#lines[@]} - 1]}" = "postie: cannot verify the TLS certificate of 127.0.0.1: the certificate has expired on 2024-01-01 00:00:00 UTC" ]
}

@test "the log file says tls=on for a TLS session" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "logfile $HOME/postie.log"
	send
	[ "$status" -eq 0 ]
	grep -q ' host=127.0.0.1 tls=on auth=off .*exitcode=EX_OK$' "$HOME/postie.log"
}

@test "pipelining still holds over TLS: MAIL, RCPT and DATA in one read" {
	tls_sink server --starttls
	write_config "tls on" "tls_trust_file $PKI/ca.pem"
	send
	[ "$status" -eq 0 ]
	grep -q '^MAIL FROM:<sender@example.org>.* | RCPT TO:<r@example.org> | DATA$' "$SINK_DIR/reads.log"
}
