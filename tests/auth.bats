#!/usr/bin/env bats
# SMTP AUTH end to end against smtpsink.py's server side of each
# mechanism: the exact exchange (decoded "* sasl" lines), the choice and
# fallback rules, the security rules, the secret sources, the exit
# statuses, and that the secret shows up in none of postie's outputs.
load common
load pki
bats_require_minimum_version 1.5.0

PW=secret                 # smtpsink.py's default --auth-password
TOKEN=test-token          # and --auth-token

setup_file() { pki_make "$BATS_FILE_TMPDIR/pki"; }
setup() { common_setup; }
teardown() { common_teardown; }

msg() { printf 'Subject: auth test\n\nthe body\n'; }
send() { run --separate-stderr "$POSTIE" "$@" r@example.org < <(msg); }

# auth_sink "MECHS" [smtpsink options]: STARTTLS (test CA) offering MECHS
auth_sink() {
	local m="$1"
	shift
	sink_start --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --starttls \
		--auth "$m" "$@"
}

# Verified TLS and user tester, plus extra config lines.
auth_config() { write_config "tls on" "tls_trust_file $PKI/ca.pem" "user tester" "$@"; }

slog() { cat "$SINK_DIR/session.log"; }

# The message arrived, sent by a session that authenticated with MECH.
delivered_with() {
	[ "$(sink_count)" -eq 1 ]
	grep -qx "$1 tester" "$SINK_DIR/msg-1.auth"
}

nothing_sent() {
	[ "$(sink_count)" -eq 0 ]
	! grep -q '^C: MAIL' "$SINK_DIR/session.log" || false
}

# The password (or token) is in none of postie's outputs.
no_secret_in() {
	local f
	for f in "$@"; do   # (the keyword names oauth_client_secret* are no secret)
		! sed 's/oauth_client_secret//g' "$f" | grep -qF -- "$PW" || { echo "secret found in $f"; false; }
	done
}

@test "PLAIN over verified STARTTLS: one AUTH line with the initial response" {
	auth_sink "PLAIN"
	auth_config "auth plain" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with PLAIN
	grep -qx '\* sasl C: \\x00tester\\x00secret' "$SINK_DIR/session.log"
	[ "$(grep -c '^C: AUTH PLAIN [A-Za-z0-9+/=]*$' "$SINK_DIR/session.log")" -eq 1 ]
	! grep -q '^S: 334' "$SINK_DIR/session.log" || false
}

@test "LOGIN: user name and password answer the server's two prompts" {
	auth_sink "LOGIN"
	auth_config "auth login" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with LOGIN
	run grep -E '^(C: AUTH|S: 334|\* sasl C:)' "$SINK_DIR/session.log"
	[ "${lines[0]}" = "C: AUTH LOGIN" ]
	[ "${lines[1]}" = "S: 334 VXNlcm5hbWU6" ]
	[ "${lines[2]}" = "* sasl C: tester" ]
	[ "${lines[3]}" = "S: 334 UGFzc3dvcmQ6" ]
	[ "${lines[4]}" = "* sasl C: secret" ]
}

@test "CRAM-MD5 is chosen automatically over plain text; the digest checks out" {
	sink_start --auth "PLAIN LOGIN CRAM-MD5"
	write_config "tls off" "auth on" "user tester" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with CRAM-MD5
	grep -qE '^\* sasl C: tester [0-9a-f]{32}$' "$SINK_DIR/session.log"
	! grep -q '^C: AUTH PLAIN\|^C: AUTH LOGIN' "$SINK_DIR/session.log" || false
}

@test "DIGEST-MD5 named: the server's rspauth is checked and answered" {
	auth_sink "DIGEST-MD5"
	auth_config "auth digest-md5" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with DIGEST-MD5
	grep -q '^\* digest-uri smtp/127.0.0.1$' "$SINK_DIR/session.log"
}

@test "SCRAM-SHA-256 is preferred to PLAIN with auth on; the server's proof is checked" {
	auth_sink "PLAIN LOGIN SCRAM-SHA-1 SCRAM-SHA-256"
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with SCRAM-SHA-256
	grep -qE '^\* sasl C: n,,n=tester,r=' "$SINK_DIR/session.log"
	grep -qE '^\* sasl S: v=' "$SINK_DIR/session.log"
}

@test "SCRAM-SHA-1 named" {
	auth_sink "SCRAM-SHA-1"
	auth_config "auth scram-sha-1" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with SCRAM-SHA-1
}

@test "SCRAM-SHA-256-PLUS is chosen first over TLS and binds to the channel (tls-unique, TLS 1.2)" {
	auth_sink "PLAIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS" --tls-max TLSv1_2
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with SCRAM-SHA-256-PLUS
	grep -qE '^\* sasl C: p=tls-unique,,n=tester,r=' "$SINK_DIR/session.log"
}

@test "a server whose SCRAM proof is wrong is not trusted: 76, nothing sent" {
	auth_sink "SCRAM-SHA-256" --auth-bad-server-proof
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 76 ]
	[[ $stderr == *"the server's final SCRAM-SHA-256 message is wrong (it did not prove that it knows the password)"* ]]
	grep -qx '\* auth-failed SCRAM-SHA-256 cancelled' "$SINK_DIR/session.log"
	nothing_sent
}

@test "XOAUTH2 with a token from passwordeval: the exact message" {
	auth_sink "XOAUTH2"
	auth_config "auth xoauth2" "passwordeval echo $TOKEN"
	send
	[ "$status" -eq 0 ]
	delivered_with XOAUTH2
	grep -qx '\* sasl C: user=tester\\x01auth=Bearer test-token\\x01\\x01' "$SINK_DIR/session.log"
}

@test "XOAUTH2 with a bad token: the server's JSON is shown, empty reply, 535 gives 77" {
	auth_sink "XOAUTH2"
	auth_config "auth xoauth2" "passwordeval echo expired-token"
	send
	[ "$status" -eq 77 ]
	[[ $stderr == *"535 5.7.8 Authentication credentials invalid"*'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'* ]]
	grep -qx '\* sasl C: ' "$SINK_DIR/session.log"
	nothing_sent
}

@test "OAUTHBEARER: the RFC 7628 message, and on a bad token the dummy reply" {
	auth_sink "OAUTHBEARER"
	auth_config "auth oauthbearer" "passwordeval echo $TOKEN"
	send
	[ "$status" -eq 0 ]
	delivered_with OAUTHBEARER
	grep -qx "\\* sasl C: n,a=tester,\\\\x01host=127.0.0.1\\\\x01port=$SINK_PORT\\\\x01auth=Bearer test-token\\\\x01\\\\x01" "$SINK_DIR/session.log"
	auth_config "auth oauthbearer" "passwordeval echo nope"
	send
	[ "$status" -eq 77 ]
	[[ $stderr == *'"status":"invalid_token"'* ]]
	grep -qx '\* sasl C: \\x01' "$SINK_DIR/session.log"
}

@test "EXTERNAL with the TLS client certificate" {
	auth_sink "EXTERNAL PLAIN" --client-ca "$PKI/ca.pem"
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "auth external" \
		"tls_cert_file $PKI/client.pem" "tls_key_file $PKI/client-key.pem"
	send
	[ "$status" -eq 0 ]
	grep -qx 'EXTERNAL tester' "$SINK_DIR/msg-1.auth"
}

@test "auth on moves to the next mechanism after 504, 534 or 538" {
	printf 'AUTH SCRAM-SHA-256 reply 504 5.5.4 not here\nAUTH SCRAM-SHA-1 reply 534 5.7.9 too weak\n' \
		>"$BATS_TEST_TMPDIR/script"
	auth_sink "SCRAM-SHA-1 SCRAM-SHA-256 PLAIN" --script "$BATS_TEST_TMPDIR/script"
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with PLAIN
	run grep '^C: AUTH' "$SINK_DIR/session.log"
	[[ ${lines[0]} == "C: AUTH SCRAM-SHA-256 "* ]]
	[[ ${lines[1]} == "C: AUTH SCRAM-SHA-1 "* ]]
	[[ ${lines[2]} == "C: AUTH PLAIN "* ]]
}

@test "535 stops at once with 77: no other mechanism is tried" {
	printf 'AUTH SCRAM-SHA-256 reply 535 5.7.8 bad credentials\n' >"$BATS_TEST_TMPDIR/script"
	auth_sink "SCRAM-SHA-256 PLAIN" --script "$BATS_TEST_TMPDIR/script"
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 77 ]
	[ "$stderr" = "postie: authentication as tester with SCRAM-SHA-256 refused by 127.0.0.1: 535 5.7.8 bad credentials" ]
	[ "$(grep -c '^C: AUTH' "$SINK_DIR/session.log")" -eq 1 ]
	nothing_sent
}

@test "a wrong password: 77 with the server's words" {
	auth_sink "PLAIN"
	auth_config "auth plain" "password wrong-one"
	send
	[ "$status" -eq 77 ]
	[[ $stderr == *"535 5.7.8 Authentication credentials invalid"* ]]
	nothing_sent
}

@test "454 temporary failure: 75" {
	printf 'AUTH * reply 454 4.7.0 Temporary authentication failure\n' >"$BATS_TEST_TMPDIR/script"
	auth_sink "PLAIN" --script "$BATS_TEST_TMPDIR/script"
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 75 ]
	[[ $stderr == *"454 4.7.0 Temporary authentication failure"* ]]
	nothing_sent
}

@test "every mechanism declined: 69 with the offered and the tried lists" {
	printf 'AUTH * reply 504 5.5.4 no\n' >"$BATS_TEST_TMPDIR/script"
	auth_sink "CRAM-MD5 PLAIN" --script "$BATS_TEST_TMPDIR/script"
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 69 ]
	[ "$stderr" = "postie: cannot authenticate to 127.0.0.1: it offers CRAM-MD5 PLAIN, and declined every mechanism tried: PLAIN (504), CRAM-MD5 (504)" ]
}

@test "PLAIN named over plain text is refused before anything is sent: 69" {
	sink_start --auth "PLAIN"
	write_config "tls off" "auth plain" "user tester" "password $PW"
	send
	[ "$status" -eq 69 ]
	[ "$stderr" = "postie: cannot authenticate to 127.0.0.1: PLAIN is refused: it would send the password itself over a connection that is not verified TLS; use TLS with a verified certificate (tls on), or set auth_without_tls on to allow it anyway" ]
	! grep -q '^C: AUTH' "$SINK_DIR/session.log" || false
	nothing_sent
}

@test "auth_without_tls on lets PLAIN go over plain text" {
	sink_start --auth "PLAIN"
	write_config "tls off" "auth plain" "user tester" "password $PW" "auth_without_tls on"
	send
	[ "$status" -eq 0 ]
	delivered_with PLAIN
}

@test "opportunistic TLS with an unverified certificate counts as unprotected for PLAIN" {
	sink_start --cert "$PKI/rogue.pem" --key "$PKI/rogue-key.pem" --starttls --auth "PLAIN LOGIN"
	write_config "auth on" "user tester" "password $PW"
	send
	[ "$status" -eq 69 ]
	[[ $stderr == *"no usable mechanism: the server offers PLAIN LOGIN; PLAIN and LOGIN are not chosen: they would send the password itself"* ]]
	grep -q '^\* tls ' "$SINK_DIR/session.log"
	! grep -q '^C: AUTH' "$SINK_DIR/session.log" || false
}

@test "tls_certcheck off counts as the user's choice: PLAIN is used" {
	sink_start --cert "$PKI/rogue.pem" --key "$PKI/rogue-key.pem" --starttls --auth "PLAIN"
	write_config "tls on" "tls_certcheck off" "auth on" "user tester" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with PLAIN
}

@test "auth on against a server without AUTH: 69" {
	tls_args=(--cert "$PKI/server.pem" --key "$PKI/server-key.pem" --starttls)
	sink_start "${tls_args[@]}"
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 69 ]
	[ "$stderr" = "postie: 127.0.0.1 does not offer authentication (no AUTH in its EHLO reply), and account default asks for it (auth on)" ]
	nothing_sent
}

@test "a server that offers AUTH only after STARTTLS: postie authenticates after it" {
	auth_sink "PLAIN" --auth-tls-only --auth-required
	auth_config "auth on" "password $PW"
	send
	[ "$status" -eq 0 ]
	delivered_with PLAIN
}

@test "no user for a password mechanism: 78" {
	auth_sink "PLAIN"
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "auth plain" "password $PW"
	send
	[ "$status" -eq 78 ]
	[ "$stderr" = "postie: account default: PLAIN needs a user name (set user)" ]
	nothing_sent
}

@test "passwordeval failing: 78 with its stderr, nothing sent" {
	auth_sink "PLAIN"
	auth_config "auth plain" "passwordeval echo 'vault is locked' >&2; exit 3"
	send
	[ "$status" -eq 78 ]
	[ "$stderr" = "postie: account default: passwordeval failed with exit status 3: vault is locked" ]
	nothing_sent
}

@test "passwordeval printing nothing: 78" {
	auth_sink "PLAIN"
	auth_config "auth plain" "passwordeval true"
	send
	[ "$status" -eq 78 ]
	[[ $stderr == *"passwordeval printed no password"* ]]
	nothing_sent
}

@test "passwordeval that reads stdin gets nothing: the message arrives whole" {
	auth_sink "PLAIN"
	auth_config "auth plain" "passwordeval cat >/dev/null; echo $PW"
	{ printf 'Subject: big\n\n'; seq 1 20000; } >"$BATS_TEST_TMPDIR/in"
	run "$POSTIE" r@example.org <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	tail -n 2 "$(sink_msg 1)" | tr -d '\r' | tr '\n' ' ' | grep -qx '19999 20000 '
	[ "$(grep -c . "$(sink_msg 1)")" -ge 20000 ]
}

@test "only the first line of passwordeval's output is the password (pass show)" {
	auth_sink "PLAIN"
	auth_config "auth plain" "passwordeval printf '$PW\\nlogin: tester\\nurl: x\\n'"
	send
	[ "$status" -eq 0 ]
	delivered_with PLAIN
}

@test "~/.netrc supplies the password for the host and user" {
	auth_sink "PLAIN"
	auth_config "auth plain"
	printf 'machine other.example login tester password nope\nmachine 127.0.0.1 login tester password %s\n' "$PW" >"$HOME/.netrc"
	chmod 600 "$HOME/.netrc"
	send -v
	[ "$status" -eq 0 ]
	delivered_with PLAIN
	[[ $stderr == *"password for tester from ~/.netrc"* ]]
}

@test "no password anywhere and no terminal: 78 naming the sources" {
	auth_sink "PLAIN"
	auth_config "auth plain"
	run --separate-stderr setsid "$POSTIE" r@example.org < <(msg)
	[ "$status" -eq 78 ]
	[ "$stderr" = "postie: account default: no password for user tester at 127.0.0.1: set password or passwordeval, add a machine entry to ~/.netrc, or run postie from a terminal" ]
	nothing_sent
}

@test "the secret is in no output: -v transcript, log file, --pretend, errors" {
	auth_sink "LOGIN"
	auth_config "auth login" "password $PW" "logfile $HOME/postie.log"
	run --separate-stderr "$POSTIE" -v r@example.org < <(msg)
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/out"
	printf '%s\n' "$stderr" >"$BATS_TEST_TMPDIR/err"
	[[ $stderr == *"--> AUTH LOGIN"* ]]
	[ "$(grep -c '^postie: --> \[redacted\]$\|^--> \[redacted\]$' "$BATS_TEST_TMPDIR/err")" -eq 2 ]
	run "$POSTIE" --pretend
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/pretend"
	grep -q '^password = \*' "$BATS_TEST_TMPDIR/pretend"
	# a failure message, too
	auth_config "auth login" "password $PW" "logfile $HOME/postie.log" "user nobody"
	run --separate-stderr "$POSTIE" -v r@example.org < <(msg)
	[ "$status" -eq 77 ]
	printf '%s\n' "$stderr" >>"$BATS_TEST_TMPDIR/err"
	no_secret_in "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" "$BATS_TEST_TMPDIR/pretend" "$HOME/postie.log"
	grep -q 'auth=on user=tester .*exitcode=EX_OK' "$HOME/postie.log"
}

@test "the secret of a PLAIN initial response is redacted in the transcript" {
	auth_sink "PLAIN"
	auth_config "auth plain" "password $PW"
	run --separate-stderr "$POSTIE" -v r@example.org < <(msg)
	[ "$status" -eq 0 ]
	[[ $stderr == *"--> AUTH PLAIN [redacted]"* ]]
	# neither the password nor its base64 (the PLAIN message) is shown
	b64=$(printf '\0tester\0%s' "$PW" | base64)
	[[ $stderr != *"$PW"* ]]
	[[ $stderr != *"$b64"* ]]
}

@test "a config file with a password that others can read is refused: 78" {
	auth_sink "PLAIN"
	auth_config "auth plain" "password $PW"
	chmod 644 "$HOME/.postierc"
	send
	[ "$status" -eq 78 ]
	[[ $stderr == *".postierc"* ]]
	[[ $stderr != *"$PW"* ]]
	nothing_sent
}

@test "a long token does not fit the AUTH line: it follows the server's empty 334" {
	long=$(head -c 600 /dev/zero | tr '\0' 'k')
	auth_sink "XOAUTH2" --auth-token "$long"
	auth_config "auth xoauth2" "passwordeval echo $long"
	send
	[ "$status" -eq 0 ]
	delivered_with XOAUTH2
	grep -qx 'C: AUTH XOAUTH2' "$SINK_DIR/session.log"
	grep -qx 'S: 334 ' "$SINK_DIR/session.log"
	# no client line longer than the 512 octets of RFC 4954 carries AUTH
	! grep -qE '^C: AUTH .{510,}' "$SINK_DIR/session.log" || false
}

@test "a refused password is logged with the account's auth, user and the server's 535" {
	auth_sink "PLAIN"
	auth_config "auth plain" "password wrong-$PW" "logfile $HOME/postie.log"
	send
	[ "$status" -eq 77 ]
	nothing_sent
	[ "$(wc -l <"$HOME/postie.log")" -eq 1 ]
	grep -Eq " host=127\.0\.0\.1 tls=on auth=on user=tester from=sender@example\.org recipients=r@example\.org smtpstatus=535 smtpmsg='535 [^']*' errormsg='[^']*refused[^']*' exitcode=EX_NOPERM$" "$HOME/postie.log"
	no_secret_in "$HOME/postie.log"
}
