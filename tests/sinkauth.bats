#!/usr/bin/env bats
# Self-test of smtpsink.py's SMTP AUTH (RFC 4954) server side, with Python
# clients only (smtplib, and hand-computed SASL exchanges): not postie.
# It runs no postie: common.bash only for sink.bash and its wait_until.
load common
load pki
bats_require_minimum_version 1.5.0

setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
}

setup() {
	export TMPDIR="$BATS_TEST_TMPDIR"
	# py scripts "import smtpclient" (tests/smtpclient.py).
	export PYTHONPATH="$BATS_TEST_DIRNAME" PYTHONDONTWRITEBYTECODE=1
}
teardown() { sink_stop; }

py() { /usr/bin/python3 -c "$1"; }

# sink_tls [options...]: the sink with the server certificate.
sink_tls() {
	sink_start --cert "$PKI/server.pem" --key "$PKI/server-key.pem" "$@"
}

# auth_log: the AUTH lines of session.log ("* sasl", "* auth", "* digest-uri")
auth_log() {
	grep -E '^\* (sasl [CS]:|auth|digest-uri)' "$SINK_DIR/session.log"
}

@test "EHLO offers AUTH exactly as --auth says; PLAIN, LOGIN, CRAM-MD5 through smtplib; msg-N.auth" {
	sink_start --auth "PLAIN LOGIN CRAM-MD5"
	py '
import smtpclient as ac, smtplib
c = ac.Client()
assert c.ehlo() == ["PIPELINING", "8BITMIME", "SIZE", "ENHANCEDSTATUSCODES",
                    "AUTH PLAIN LOGIN CRAM-MD5"], c.ehlo()
c.send()                                 # no AUTH: msg-1.auth is none
for mech, ir in (("PLAIN", True), ("LOGIN", False), ("LOGIN", True),
                 ("CRAM-MD5", True)):
    s = smtplib.SMTP("127.0.0.1", ac.PORT)
    s.ehlo()
    s.user, s.password = "tester", "secret"
    obj = getattr(s, "auth_" + mech.lower().replace("-", "_"))
    assert s.auth(mech, obj, initial_response_ok=ir) == (
        235, b"2.7.0 Authentication successful")
    s.sendmail("a@example.org", ["b@example.org"], "Subject: t\r\n\r\nb\r\n")
    s.quit()'
	[ "$(cat "$SINK_DIR"/msg-{1,2,3,4,5}.auth)" = "none
PLAIN tester
LOGIN tester
LOGIN tester
CRAM-MD5 tester" ]
	grep -Fx 'C: AUTH PLAIN AHRlc3RlcgBzZWNyZXQ=' "$SINK_DIR/session.log"
	grep -Fx 'C: AUTH LOGIN dGVzdGVy' "$SINK_DIR/session.log"
	grep -Fx 'S: 334 VXNlcm5hbWU6' "$SINK_DIR/session.log"
	grep -Fx 'S: 334 UGFzc3dvcmQ6' "$SINK_DIR/session.log"
	grep -Fx 'C: AUTH CRAM-MD5' "$SINK_DIR/session.log"
	grep -Fx 'S: 235 2.7.0 Authentication successful' "$SINK_DIR/session.log"
	auth_log >"$BATS_TEST_TMPDIR/got"
	# CRAM-MD5: the challenge and the digest vary
	sed -i -E 's/^(\* sasl S: <)[0-9]+\.[0-9]+(@smtpsink\.test>)$/\1R.T\2/;
		s/^(\* sasl C: tester )[0-9a-f]{32}$/\1DIGEST/' "$BATS_TEST_TMPDIR/got"
	diff -u - "$BATS_TEST_TMPDIR/got" <<'LOG'
* sasl C: \x00tester\x00secret
* auth ok PLAIN tester
* sasl S: Username:
* sasl C: tester
* sasl S: Password:
* sasl C: secret
* auth ok LOGIN tester
* sasl C: tester
* sasl S: Password:
* sasl C: secret
* auth ok LOGIN tester
* sasl S: <R.T@smtpsink.test>
* sasl C: tester DIGEST
* auth ok CRAM-MD5 tester
LOG
}

@test "PLAIN, LOGIN, CRAM-MD5 with wrong credentials: 535 5.7.8, the reason logged; a session may try again" {
	sink_start --auth "CRAM-MD5 LOGIN PLAIN" --auth-user usr --auth-password 'pa\ss'
	py '
import smtpclient as ac, smtplib
s = smtplib.SMTP("127.0.0.1", ac.PORT)
s.ehlo()
for mech, user, password in (("PLAIN", "usr", "wrong"), ("LOGIN", "usr", "x"),
                             ("CRAM-MD5", "usr", "x"), ("PLAIN", "tester", "pa\\ss")):
    s.user, s.password = user, password
    obj = getattr(s, "auth_" + mech.lower().replace("-", "_"))
    try:
        s.auth(mech, obj)
    except smtplib.SMTPAuthenticationError as e:
        assert (e.smtp_code, e.smtp_error) == (
            535, b"5.7.8 Authentication credentials invalid"), e
    else:
        raise SystemExit(f"{mech} {user} {password}: accepted")
c = ac.Client()
c.ehlo()
bad = b"other\0usr\0pa\\ss\xff"
assert c.cmd("AUTH PLAIN " + ac.b64(bad)) == ["535 5.7.8 Authentication credentials invalid"]
assert c.cmd("AUTH PLAIN " + ac.b64(b"other\0usr\0pa\\ss"))[0].startswith("535 ")
assert c.cmd("AUTH PLAIN " + ac.b64(b"usr\0usr\0pa\\ss"))[0].startswith("235 ")'
	auth_log >"$BATS_TEST_TMPDIR/got"
	grep -Fx '* auth-failed PLAIN wrong password' "$BATS_TEST_TMPDIR/got"
	grep -Fx '* auth-failed LOGIN wrong password' "$BATS_TEST_TMPDIR/got"
	grep -Fx '* auth-failed CRAM-MD5 wrong digest' "$BATS_TEST_TMPDIR/got"
	grep -Fx '* auth-failed PLAIN unknown user tester' "$BATS_TEST_TMPDIR/got"
	# a backslash is doubled, a byte that is not UTF-8 shown as \xHH
	grep -Fx '* sasl C: other\x00usr\x00pa\\ss\xff' "$BATS_TEST_TMPDIR/got"
	grep -Fx '* auth-failed PLAIN authzid other is not usr' "$BATS_TEST_TMPDIR/got"
	[ "$(tail -1 "$BATS_TEST_TMPDIR/got")" = '* auth ok PLAIN usr' ]
}

@test "SCRAM-SHA-1 and SCRAM-SHA-256: proofs both ways, with and without initial response, saslname escapes" {
	sink_start --auth "SCRAM-SHA-256 SCRAM-SHA-1" --auth-user 'a,b=c' --auth-password 'pä ss'
	py '
import smtpclient as ac
for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
    for ir in (True, False):
        c = ac.Client()
        c.ehlo()
        assert ac.scram(c, mech, user="a=2Cb=3Dc", password="pä ss", ir=ir) == (
            ["235 2.7.0 Authentication successful"], True), (mech, ir)
        if ir:
            c.send()
c = ac.Client()
c.ehlo()
r = ac.scram(c, "SCRAM-SHA-256", user="a=2Cb=3Dc", password="wrong")
assert r == (["535 5.7.8 Authentication credentials invalid"], None), r
assert ac.scram(c, "SCRAM-SHA-1", user="tester")[0][0].startswith("535 ")
assert ac.scram(c, "SCRAM-SHA-1", user="a=2Cb=3Dc", password="pä ss",
                gs2="n,a=x,")[0][0].startswith("535 ")'
	[ "$(cat "$SINK_DIR"/msg-{1,2}.auth)" = "SCRAM-SHA-1 a,b=c
SCRAM-SHA-256 a,b=c" ]
	auth_log >"$BATS_TEST_TMPDIR/got"
	# the shape of one exchange: client-first, server-first, client-final,
	# server-final in a 334, the empty reply, success
	sed -n 1,6p "$BATS_TEST_TMPDIR/got" | sed -E 's/r=[A-Za-z0-9_-]+/r=N/;
		s/s=[A-Za-z0-9+\/=]+/s=S/; s/p=[A-Za-z0-9+\/=]+$/p=P/;
		s/v=[A-Za-z0-9+\/=]+$/v=V/' | diff -u - <(cat <<'LOG'
* sasl C: n,,n=a=2Cb=3Dc,r=N
* sasl S: r=N,s=S,i=4096
* sasl C: c=biws,r=N,p=P
* sasl S: v=V
* sasl C: 
* auth ok SCRAM-SHA-1 a,b=c
LOG
)
	grep -Fx 'S: 334 ' "$SINK_DIR/session.log"     # no initial response
	grep -Fx '* auth-failed SCRAM-SHA-256 wrong proof' "$BATS_TEST_TMPDIR/got"
	grep -Fx '* auth-failed SCRAM-SHA-1 unknown user tester' "$BATS_TEST_TMPDIR/got"
	grep -Fx '* auth-failed SCRAM-SHA-1 authzid x is not a,b=c' "$BATS_TEST_TMPDIR/got"
	[ "$(grep -c '^\* auth ok' "$BATS_TEST_TMPDIR/got")" -eq 4 ]
}

@test "SCRAM-PLUS over TLS 1.2 with tls-unique; the gs2 flags are checked" {
	sink_tls --starttls --tls-max TLSv1_2 \
		--auth "SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-1"
	py '
import smtpclient as ac
def session():
    c = ac.Client()
    c.ehlo()
    c.starttls()
    c.ehlo()
    return c, c.sock.get_channel_binding("tls-unique")
ok = (["235 2.7.0 Authentication successful"], True)
bad = (["535 5.7.8 Authentication credentials invalid"], None)
for mech in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"):
    c, cb = session()
    assert c.sock.version() == "TLSv1.2" and len(cb) >= 12
    assert ac.scram(c, mech, cb=cb) == ok, mech
    c.send()
c, cb = session()
assert ac.scram(c, "SCRAM-SHA-256-PLUS", cb=b"x" * len(cb)) == bad
assert ac.scram(c, "SCRAM-SHA-256-PLUS", gs2="n,,") == bad
assert ac.scram(c, "SCRAM-SHA-256-PLUS", gs2="p=tls-server-end-point,,") == bad
assert ac.scram(c, "SCRAM-SHA-256", gs2="p=tls-unique,,", cb=cb) == bad
assert ac.scram(c, "SCRAM-SHA-256", gs2="y,,") == bad     # -PLUS was offered
assert ac.scram(c, "SCRAM-SHA-256", gs2="n,,") == ok'
	grep -Fx 'SCRAM-SHA-256-PLUS tester' "$SINK_DIR/msg-1.auth"
	grep -Fx 'SCRAM-SHA-1-PLUS tester' "$SINK_DIR/msg-2.auth"
	grep -q '^tls TLSv1.2 ' "$SINK_DIR/msg-2.tls"
	grep -Eqx '\* sasl C: p=tls-unique,,n=tester,r=[A-Za-z0-9_-]+' "$SINK_DIR/session.log"
	# c= carries the gs2 header and the tls-unique bytes
	grep -Eqx '\* sasl C: c=cD10bHMtdW5pcXVlLC[A-Za-z0-9+/=]{16,},r=.*' "$SINK_DIR/session.log"
	auth_log | grep '^\* auth-failed' | diff -u - <(cat <<'LOG'
* auth-failed SCRAM-SHA-256-PLUS channel binding mismatch
* auth-failed SCRAM-SHA-256-PLUS SCRAM-SHA-256-PLUS without channel binding (n)
* auth-failed SCRAM-SHA-256-PLUS unsupported channel binding tls-server-end-point
* auth-failed SCRAM-SHA-256 channel binding p=tls-unique with SCRAM-SHA-256
* auth-failed SCRAM-SHA-256 flag y but SCRAM-SHA-256-PLUS was offered (downgrade)
LOG
)
}

@test "SCRAM: y is fine without -PLUS offered; over TLS 1.3 a -PLUS attempt fails, tls-exporter cannot be checked" {
	sink_tls --tls --auth "SCRAM-SHA-256 SCRAM-SHA-256-PLUS SCRAM-SHA-1"
	py '
import smtpclient as ac
c = ac.Client(tls=True)
c.ehlo()
assert c.sock.version() == "TLSv1.3"
bad = (["535 5.7.8 Authentication credentials invalid"], None)
assert ac.scram(c, "SCRAM-SHA-256-PLUS", gs2="p=tls-exporter,,") == bad
assert ac.scram(c, "SCRAM-SHA-256-PLUS", gs2="p=tls-unique,,") == bad
assert ac.scram(c, "SCRAM-SHA-1", gs2="y,,")[0][0].startswith("235 ")'
	auth_log | grep '^\* auth' | diff -u - <(cat <<'LOG'
* auth-failed SCRAM-SHA-256-PLUS cannot check tls-exporter
* auth-failed SCRAM-SHA-256-PLUS tls-unique is not defined for TLSv1.3
* auth ok SCRAM-SHA-1 tester
LOG
)
}

@test "DIGEST-MD5: response checked, rspauth sent, digest-uri logged; --auth-realm; no initial response" {
	sink_start --auth "DIGEST-MD5 CRAM-MD5" --auth-realm example.net
	py '
import smtpclient as ac
c = ac.Client()
c.ehlo()
assert ac.digest_md5(c, realm="example.net", uri="smtp/127.0.0.1") == (
    ["235 2.7.0 Authentication successful"], True)
c.send()
bad = (["535 5.7.8 Authentication credentials invalid"], None)
for kw in ({"realm": "example.net", "password": "x"}, {"realm": "smtpsink.test"},
           {"realm": "example.net", "uri": "imap/127.0.0.1"},
           {"realm": "example.net", "authzid": "root"}):
    c = ac.Client()
    c.ehlo()
    assert ac.digest_md5(c, **kw) == bad, kw
c = ac.Client()
c.ehlo()
assert ac.digest_md5(c, realm="example.net", authzid="tester")[0][0].startswith("235")
c = ac.Client()
c.ehlo()
assert c.cmd("AUTH DIGEST-MD5 =") == ["501 5.5.2 DIGEST-MD5 takes no initial response"]
assert c.cmd("AUTH CRAM-MD5 dGVzdGVy") == ["501 5.5.2 CRAM-MD5 takes no initial response"]'
	grep -Fx 'DIGEST-MD5 tester' "$SINK_DIR/msg-1.auth"
	grep -Eqx '\* sasl S: realm="example\.net",nonce="[A-Za-z0-9_-]{24}",qop="auth",charset=utf-8,algorithm=md5-sess' \
		"$SINK_DIR/session.log"
	grep -Eqx '\* sasl S: rspauth=[0-9a-f]{32}' "$SINK_DIR/session.log"
	auth_log | grep -E '^\* (auth|digest-uri)' | diff -u - <(cat <<'LOG'
* digest-uri smtp/127.0.0.1
* auth ok DIGEST-MD5 tester
* digest-uri smtp/localhost
* auth-failed DIGEST-MD5 wrong response
* digest-uri smtp/localhost
* auth-failed DIGEST-MD5 realm smtpsink.test is not example.net
* digest-uri imap/127.0.0.1
* auth-failed DIGEST-MD5 digest-uri imap/127.0.0.1 is not smtp/HOST
* digest-uri smtp/localhost
* auth-failed DIGEST-MD5 authzid root is not tester
* digest-uri smtp/localhost
* auth ok DIGEST-MD5 tester
* auth-failed DIGEST-MD5 initial response to a server-first mechanism
* auth-failed CRAM-MD5 initial response to a server-first mechanism
LOG
)
}

@test "--auth-bad-server-proof: a client that checks the server's proof cancels" {
	sink_start --auth "SCRAM-SHA-256 DIGEST-MD5" --auth-bad-server-proof
	py '
import smtpclient as ac
cancelled = (["501 5.7.0 Authentication cancelled"], False)
c = ac.Client()
c.ehlo()
assert ac.scram(c, "SCRAM-SHA-256") == cancelled
assert ac.digest_md5(c) == cancelled
assert c.cmd("MAIL FROM:<a@example.org>")[0].startswith("250")'
	auth_log | grep '^\* auth' | diff -u - <(cat <<'LOG'
* auth-failed SCRAM-SHA-256 cancelled
* auth-failed DIGEST-MD5 cancelled
LOG
)
}

@test "XOAUTH2: token accepted; a bad one gets the JSON challenge, the empty reply, then 535" {
	sink_start --auth "XOAUTH2" --auth-user me@example.org --auth-token T0k3n
	py '
import smtpclient as ac
good = b"user=me@example.org\x01auth=Bearer T0k3n\x01\x01"
c = ac.Client()
c.ehlo()
assert c.cmd("AUTH XOAUTH2 " + ac.b64(good))[0].startswith("235 ")
c.send()
c = ac.Client()
c.ehlo()
assert c.cmd("AUTH XOAUTH2") == ["334 "]
assert c.send64(good)[0].startswith("235 ")
c = ac.Client()
c.ehlo()
r = c.cmd("AUTH XOAUTH2 " + ac.b64(good.replace(b"T0k3n", b"old")))
assert ac.unb64(r) == b"{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}", r
assert c.cmd("") == ["535 5.7.8 Authentication credentials invalid"]'
	grep -Fx 'XOAUTH2 me@example.org' "$SINK_DIR/msg-1.auth"
	grep -Fx 'S: 334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==' \
		"$SINK_DIR/session.log"
	auth_log | diff -u - <(cat <<'LOG'
* sasl C: user=me@example.org\x01auth=Bearer T0k3n\x01\x01
* auth ok XOAUTH2 me@example.org
* sasl S: 
* sasl C: user=me@example.org\x01auth=Bearer T0k3n\x01\x01
* auth ok XOAUTH2 me@example.org
* sasl C: user=me@example.org\x01auth=Bearer old\x01\x01
* sasl S: {"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}
* sasl C: 
* auth-failed XOAUTH2 wrong token
LOG
)
}

@test "OAUTHBEARER: token accepted; a bad one gets the JSON challenge, the client's \\x01, then 535" {
	sink_start --auth "OAUTHBEARER PLAIN" --auth-token T0k3n
	py '
import smtpclient as ac
c = ac.Client()
c.ehlo()
msg = b"n,a=tester,\x01host=localhost\x01port=25\x01auth=Bearer T0k3n\x01\x01"
assert c.cmd("AUTH OAUTHBEARER " + ac.b64(msg))[0].startswith("235 ")
c.send()
c = ac.Client()
c.ehlo()
r = c.cmd("AUTH OAUTHBEARER " + ac.b64(b"n,,\x01auth=Bearer bad\x01\x01"))
assert ac.unb64(r) == b"{\"status\":\"invalid_token\",\"schemes\":\"bearer\",\"scope\":\"https://mail.google.com/\"}", r
assert c.cmd("AQ==") == ["535 5.7.8 Authentication credentials invalid"]
r = c.cmd("AUTH OAUTHBEARER " + ac.b64(b"n,a=root,\x01auth=Bearer T0k3n\x01\x01"))
assert r[0].startswith("334 ") and c.cmd("AQ==")[0].startswith("535 ")'
	grep -Fx 'OAUTHBEARER tester' "$SINK_DIR/msg-1.auth"
	auth_log | diff -u - <(cat <<'LOG'
* sasl C: n,a=tester,\x01host=localhost\x01port=25\x01auth=Bearer T0k3n\x01\x01
* auth ok OAUTHBEARER tester
* sasl C: n,,\x01auth=Bearer bad\x01\x01
* sasl S: {"status":"invalid_token","schemes":"bearer","scope":"https://mail.google.com/"}
* sasl C: \x01
* auth-failed OAUTHBEARER wrong token
* sasl C: n,a=root,\x01auth=Bearer T0k3n\x01\x01
* sasl S: {"status":"invalid_token","schemes":"bearer","scope":"https://mail.google.com/"}
* sasl C: \x01
* auth-failed OAUTHBEARER unknown user root
LOG
)
}

@test "EXTERNAL: the client certificate's CN, an authzid that must match it; no certificate, no success" {
	sink_tls --tls --client-ca "$PKI/ca.pem" --auth EXTERNAL
	py '
import smtpclient as ac
for first in ("AUTH EXTERNAL =", "AUTH EXTERNAL dGVzdGVy", "AUTH EXTERNAL"):
    c = ac.Client(tls=True, cert="client")
    c.ehlo()
    r = c.cmd(first)
    if r == ["334 "]:
        r = c.cmd("")
    assert r == ["235 2.7.0 Authentication successful"], (first, r)
    c.send()
c = ac.Client(tls=True, cert="client")
c.ehlo()
assert c.cmd("AUTH EXTERNAL " + ac.b64(b"root"))[0].startswith("535 ")'
	grep -Fx 'EXTERNAL tester' "$SINK_DIR/msg-3.auth"
	auth_log | diff -u - <(cat <<'LOG'
* sasl C: 
* auth ok EXTERNAL tester
* sasl C: tester
* auth ok EXTERNAL tester
* sasl S: 
* sasl C: 
* auth ok EXTERNAL tester
* sasl C: root
* auth-failed EXTERNAL authzid root is not tester
LOG
)
	sink_stop
	sink_tls --starttls --auth EXTERNAL
	py '
import smtpclient as ac
c = ac.Client()
c.ehlo()
assert c.cmd("AUTH EXTERNAL =")[0].startswith("535 ")
c.starttls(cert="client")        # no --client-ca: no certificate asked for
c.ehlo()
assert c.cmd("AUTH EXTERNAL =") == ["535 5.7.8 Authentication credentials invalid"]'
	[ "$(grep -c '^\* auth-failed EXTERNAL no client certificate$' "$SINK_DIR/session.log")" -eq 2 ]
}

@test "--auth-tls-only: no AUTH in EHLO before TLS, AUTH then is 538; STARTTLS forgets an AUTH" {
	sink_tls --starttls --auth "PLAIN LOGIN" --auth-tls-only
	py '
import smtpclient as ac
plain = "AUTH PLAIN " + ac.b64(b"\0tester\0secret")
c = ac.Client()
assert c.auth_line() == []
assert c.cmd(plain) == ["538 5.7.11 Encryption required for requested authentication mechanism"]
c.starttls()
ehlo = c.ehlo()
assert ehlo[-1] == "AUTH PLAIN LOGIN" and "STARTTLS" not in ehlo, ehlo
assert c.cmd(plain)[0].startswith("235 ")
c.send()'
	grep -Fx 'PLAIN tester' "$SINK_DIR/msg-1.auth"
	grep -q '^tls TLSv1.3 ' "$SINK_DIR/msg-1.tls"
	grep -Fx '* auth-failed PLAIN no TLS' "$SINK_DIR/session.log"
	sink_stop
	sink_tls --starttls --auth PLAIN --auth-required
	py '
import smtpclient as ac
plain = "AUTH PLAIN " + ac.b64(b"\0tester\0secret")
c = ac.Client()
assert c.auth_line() == ["AUTH PLAIN"]       # without --auth-tls-only
assert c.cmd(plain)[0].startswith("235 ")
assert c.cmd("MAIL FROM:<a@example.org>")[0].startswith("250 ")
c.cmd("RSET")
c.starttls()
c.ehlo()
assert c.cmd("MAIL FROM:<a@example.org>") == ["530 5.7.0 Authentication required"]
assert c.cmd(plain)[0].startswith("235 ")
c.send()'
	[ "$(grep -c '^\* auth ok PLAIN tester$' "$SINK_DIR/session.log")" -eq 2 ]
}

@test "--auth-required: MAIL before AUTH is 530; MAIL AUTH= needs AUTH offered" {
	sink_start --auth "PLAIN" --auth-required
	py '
import smtpclient as ac
c = ac.Client()
c.ehlo()
assert c.cmd("MAIL FROM:<a@example.org>") == ["530 5.7.0 Authentication required"]
assert c.cmd("AUTH PLAIN " + ac.b64(b"\0tester\0secret"))[0].startswith("235 ")
assert c.cmd("MAIL FROM:<a@example.org> AUTH=<>")[0].startswith("250 ")
c.cmd("RSET")
c.send()'
	[ "$(<"$SINK_DIR/msg-1.auth")" = "PLAIN tester" ]
	sink_stop
	sink_start
	py '
import smtpclient as ac
c = ac.Client()
assert c.auth_line() == []
assert c.cmd("MAIL FROM:<a@example.org> AUTH=<>")[0].startswith("555 ")
assert c.cmd("AUTH PLAIN =") == ["503 5.5.1 Authentication not enabled"]
c.send()'
	[ "$(<"$SINK_DIR/msg-1.auth")" = none ]
}

@test "AUTH protocol errors: 501 503 504 and cancel; the session goes on" {
	sink_start --auth "PLAIN LOGIN GSSAPI"
	py '
import smtpclient as ac
c = ac.Client()
assert c.cmd("AUTH PLAIN =") == ["503 5.5.1 send HELO/EHLO first"]
c.ehlo()
expect = [
    ("AUTH", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"),
    ("AUTH PLAIN a b", "501 5.5.4 Syntax: AUTH mechanism [initial-response]"),
    ("AUTH CRAM-MD5", "504 5.5.4 Unrecognized authentication type"),
    ("AUTH GSSAPI", "504 5.5.4 Unrecognized authentication type"),
    ("AUTH PLAIN AHRlc3Rlcg", "501 5.5.2 Cannot decode base64"),
    ("AUTH PLAIN =", "535 5.7.8 Authentication credentials invalid"),
    ("AUTH PLAIN", "334 "),
    ("*", "501 5.7.0 Authentication cancelled"),
    ("AUTH LOGIN", "334 VXNlcm5hbWU6"),
    ("dGVzdGVy", "334 UGFzc3dvcmQ6"),
    ("*", "501 5.7.0 Authentication cancelled"),
    ("AUTH PLAIN", "334 "),
    ("not base64!", "501 5.5.2 Cannot decode base64"),
    ("MAIL FROM:<a@example.org>", "250 2.1.0 sender ok"),
    ("AUTH PLAIN =", "503 5.5.1 AUTH not permitted during a mail transaction"),
    ("RSET", "250 2.0.0 ok"),
    ("auth plain AHRlc3RlcgBzZWNyZXQ=", "235 2.7.0 Authentication successful"),
    ("AUTH PLAIN AHRlc3RlcgBzZWNyZXQ=", "503 5.5.1 Already authenticated"),
]
for line, reply in expect:
    got = c.cmd(line)
    assert got == [reply], (line, got)
c.send()'
	grep -Fx 'PLAIN tester' "$SINK_DIR/msg-1.auth"
	auth_log | grep '^\* auth' | diff -u - <(cat <<'LOG'
* auth-failed PLAIN no EHLO
* auth-failed - syntax
* auth-failed PLAIN syntax
* auth-failed CRAM-MD5 not advertised
* auth-failed GSSAPI not implemented
* auth-failed PLAIN bad base64
* auth-failed PLAIN malformed message
* auth-failed PLAIN cancelled
* auth-failed LOGIN cancelled
* auth-failed PLAIN bad base64
* auth-failed PLAIN in a mail transaction
* auth ok PLAIN tester
* auth-failed PLAIN already authenticated
LOG
)
}

@test "script step AUTH replaces the reply to the AUTH command; no exchange happens" {
	cat >"$BATS_TEST_TMPDIR/script" <<'RULES'
AUTH CRAM-MD5 reply 504 5.5.4 no
AUTH PLAIN reply 454 4.7.0 temporary failure
AUTH LOGIN reply 235 2.7.0 fine
AUTH * reply 535 5.7.8 locked
RULES
	sink_start --auth "PLAIN CRAM-MD5 SCRAM-SHA-1 LOGIN" --script "$BATS_TEST_TMPDIR/script"
	py '
import smtpclient as ac
c = ac.Client()
c.ehlo()
assert c.cmd("AUTH CRAM-MD5") == ["504 5.5.4 no"]
assert c.cmd("AUTH PLAIN " + ac.b64(b"\0tester\0secret")) == ["454 4.7.0 temporary failure"]
assert c.cmd("AUTH SCRAM-SHA-1 =") == ["535 5.7.8 locked"]
assert c.cmd("AUTH XOAUTH2") == ["535 5.7.8 locked"]    # before any check
assert c.cmd("AUTH LOGIN") == ["235 2.7.0 fine"]
c.send()'
	grep -Fx 'LOGIN -' "$SINK_DIR/msg-1.auth"
	auth_log | diff -u - <(cat <<'LOG'
* auth-failed CRAM-MD5 scripted 504
* auth-failed PLAIN scripted 454
* auth-failed SCRAM-SHA-1 scripted 535
* auth-failed XOAUTH2 scripted 535
* auth ok LOGIN -
LOG
)
}
