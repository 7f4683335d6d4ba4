#!/usr/bin/env bats
# Self-test of the test PKI (pki.bash) and of smtpsink.py's TLS, with
# Python's ssl module and gnutls-cli as clients (not postie).
load common
load pki
bats_require_minimum_version 1.5.0

setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
}

setup() {
	common_setup
	# py scripts "import smtpclient" (tests/smtpclient.py).
	export PYTHONPATH="$BATS_TEST_DIRNAME" PYTHONDONTWRITEBYTECODE=1
}
teardown() { common_teardown; }

py() { /usr/bin/python3 -c "$1"; }

# sink_tls [options...]: the sink with the server certificate.
sink_tls() {
	sink_start --cert "$PKI/server.pem" --key "$PKI/server-key.pem" "$@"
}

@test "pki_make makes a PKI that certtool checks as intended, quickly and afresh" {
	local f serials t0 t1
	for f in ca ca-key server server-key wrong wrong-key expired expired-key \
		unknown-ca unknown-ca-key rogue rogue-key client client-key \
		revoked revoked-key crl crl-empty; do
		grep -q -- '-----BEGIN ' "$PKI/$f.pem"
	done
	v() { certtool --verify --load-ca-certificate "$PKI/ca.pem" "$@" </dev/null >/dev/null; }
	v --infile "$PKI/server.pem" --verify-hostname localhost
	v --infile "$PKI/server.pem" --verify-hostname 127.0.0.1
	v --infile "$PKI/revoked.pem" --load-crl "$PKI/crl-empty.pem"
	run ! v --infile "$PKI/revoked.pem" --load-crl "$PKI/crl.pem"
	run ! v --infile "$PKI/expired.pem"
	run ! v --infile "$PKI/rogue.pem"
	run ! v --infile "$PKI/wrong.pem" --verify-hostname localhost
	certtool -i --infile "$PKI/expired.pem" </dev/null |
		grep -q 'Not After: Mon Jan 01 00:00:00 UTC 2024'
	serials=$(for f in ca unknown-ca server wrong expired rogue client revoked; do
		certtool -i --infile "$PKI/$f.pem" </dev/null | grep 'Serial Number'
	done | sort)
	[ "$(uniq <<<"$serials" | wc -l)" -eq 8 ]
	[ "$(<"$PKI/server.sha256")" = "$(certtool --fingerprint --hash sha256 \
		--infile "$PKI/server.pem" </dev/null | sed 's/../&:/g; s/:$//' |
		tr a-f A-F)" ]
	grep -Eqx '([0-9A-F]{2}:){31}[0-9A-F]{2}' "$PKI/server.sha256"
	grep -Eqx '([0-9A-F]{2}:){19}[0-9A-F]{2}' "$PKI/server.sha1"
	grep -Eqx '([0-9A-F]{2}:){15}[0-9A-F]{2}' "$PKI/server.md5"
	# Again into the same directory: a new CA that signs the new server.
	cp "$PKI/ca.pem" "$BATS_TEST_TMPDIR/old-ca.pem"
	t0=$(date +%s%N)
	pki_make "$PKI"
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -lt 3000 ]
	run ! cmp -s "$PKI/ca.pem" "$BATS_TEST_TMPDIR/old-ca.pem"
	v --infile "$PKI/server.pem"
}

@test "STARTTLS upgrades, EHLO again without it, a second STARTTLS is 503, the message is marked tls" {
	sink_tls --starttls
	py '
import smtplib, smtpclient as tc
s = smtplib.SMTP("localhost", tc.PORT)
s.ehlo()
assert s.has_extn("starttls"), s.esmtp_features
# no --client-ca: the offered client certificate is not even asked for
assert s.starttls(context=tc.context("client"))[0] == 220
s.ehlo()
assert not s.has_extn("starttls"), s.esmtp_features
assert s.has_extn("pipelining") and s.has_extn("enhancedstatuscodes")
assert s.docmd("STARTTLS")[0] == 503
tc.send(s)
s.quit()'
	grep -Eqx 'tls TLSv1\.3 TLS_[A-Z0-9_]+' "$SINK_DIR/msg-1.tls"
	grep -Eqx '\* tls TLSv1\.3 TLS_[A-Z0-9_]+' "$SINK_DIR/session.log"
	run ! grep -q 'client-cert' "$SINK_DIR/session.log"
	# what travelled inside TLS is still logged in the clear
	grep -qx 'C: STARTTLS' "$SINK_DIR/session.log"
	grep -qx 'S: 503 5.5.1 TLS already active' "$SINK_DIR/session.log"
	grep -q '^C: mail FROM:<a@example.org>' "$SINK_DIR/session.log"
	grep -q '^mail FROM:<a@example.org>' "$SINK_DIR/reads.log"
	grep -q '^mail FROM:<a@example.org>' "$(sink_env 1)"
}

@test "without --starttls STARTTLS is not offered and refused; mail is marked plain" {
	sink_tls
	py '
import smtplib, smtpclient as tc
s = smtplib.SMTP("localhost", tc.PORT)
s.ehlo()
assert not s.has_extn("starttls"), s.esmtp_features
assert s.docmd("STARTTLS")[0] == 454
tc.send(s)
s.quit()'
	[ "$(<"$SINK_DIR/msg-1.tls")" = plain ]
	run ! grep -q '^\* tls' "$SINK_DIR/session.log"
}

@test "a scripted STARTTLS reply that is not 220 does not upgrade" {
	echo 'STARTTLS * reply 454 4.7.0 not now' >"$BATS_TEST_TMPDIR/script"
	sink_tls --starttls --script "$BATS_TEST_TMPDIR/script"
	py '
import smtpclient as tc
c = tc.Client(greet=False)
c.reply()
assert "250 STARTTLS" in c.cmd("EHLO me")
assert c.cmd("STARTTLS") == ["454 4.7.0 not now"]
assert c.cmd("NOOP")[0].startswith("250")  # still plaintext
assert c.cmd("QUIT")[0].startswith("221")'
	grep -qx 'S: 454 4.7.0 not now' "$SINK_DIR/session.log"
	run ! grep -q '^\* tls' "$SINK_DIR/session.log"
}

@test "STARTTLS injection: the raw reply arrives in one piece, then TLS starts; pipelined plaintext is discarded" {
	printf '%s\n' 'STARTTLS * raw 220 go ahead\r\n250 injected\r\n' \
		>"$BATS_TEST_TMPDIR/script"
	sink_tls --starttls --script "$BATS_TEST_TMPDIR/script"
	py '
import smtpclient as tc
c = tc.Client(greet=False)
c.reply()
c.cmd("EHLO me")
c.sock.sendall(b"STARTTLS\r\nRSET\r\n")
got = c.sock.recv(4096)
assert got == b"220 go ahead\r\n250 injected\r\n", got
c.wrap()
c.buf = b""
# the session starts over: EHLO first
assert c.cmd("MAIL FROM:<a@example.org>")[0].startswith("503"), "no reset"
ehlo = c.cmd("EHLO me")
assert "250-PIPELINING" in ehlo and not any("STARTTLS" in l for l in ehlo), ehlo
assert c.cmd("QUIT")[0].startswith("221")'
	grep -qx 'S: \[raw\] 220 go ahead\\r\\n250 injected\\r\\n' "$SINK_DIR/session.log"
	grep -qx '\* tls-discard 6' "$SINK_DIR/session.log"
	grep -q '^\* tls TLSv1\.3 ' "$SINK_DIR/session.log"
	run ! grep -q '^C: RSET' "$SINK_DIR/session.log"
}

@test "implicit TLS: the greeting comes after the handshake; gnutls-cli checks the certificate" {
	sink_tls --tls
	py '
import smtplib, smtpclient as tc
s = smtplib.SMTP_SSL("localhost", tc.PORT, context=tc.context())
s.ehlo()
assert not s.has_extn("starttls")
tc.send(s)
s.quit()'
	grep -q '^tls TLSv1\.3 ' "$SINK_DIR/msg-1.tls"
	diff <(head -3 "$SINK_DIR/session.log" | cut -c1-9) - <<<$'* connect\n* tls TLS\nS: 220 sm'
	gnutls-cli --x509cafile "$PKI/ca.pem" -p "$SINK_PORT" 127.0.0.1 </dev/null
	run ! gnutls-cli --x509cafile "$PKI/unknown-ca.pem" -p "$SINK_PORT" 127.0.0.1 </dev/null
	grep -Eq '^\* tls-failed [A-Z0-9_]+' "$SINK_DIR/session.log"
	[ "$(grep -c '^\* connect' "$SINK_DIR/session.log")" -eq 3 ]
	[ "$(grep -c '^\* close' "$SINK_DIR/session.log")" -eq 3 ]
}

@test "--client-ca refuses a client without a certificate and logs the one it gets" {
	sink_tls --tls --client-ca "$PKI/ca.pem"
	py '
import smtpclient as tc
try:
    tc.Client(tls=True, greet=False).reply()
except (OSError, EOFError) as e:
    print("refused:", e)
else:
    raise SystemExit("no certificate, yet a greeting")
c = tc.Client(tls=True, cert="client", greet=False)
assert c.reply()[0].startswith("220 ")
assert c.cmd("QUIT")[0].startswith("221")'
	grep -Eqx '\* tls-failed [A-Z_]*CERTIFICATE[A-Z_]*' "$SINK_DIR/session.log"
	grep -qx '\* client-cert CN=tester' "$SINK_DIR/session.log"
	[ "$(grep -c '^\* client-cert' "$SINK_DIR/session.log")" -eq 1 ]
}

@test "--tls-max and --ciphers pin the protocol version and cipher" {
	sink_tls --starttls --tls-max TLSv1_2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256
	py '
import smtplib, smtpclient as tc
s = smtplib.SMTP("localhost", tc.PORT)
s.starttls(context=tc.context())
tc.send(s)
s.quit()'
	grep -qx '\* tls TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256' "$SINK_DIR/session.log"
	grep -qx 'tls TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256' "$SINK_DIR/msg-1.tls"
}
