#!/usr/bin/env bats
# The protocol on the wire: pipelining, CHUNKING, LMTP, fallbacks, extensions.
load common

setup() { common_setup; }
teardown() { common_teardown; }

send() { "$POSTIE" "$@" <<<$'Subject: t\n\nbody'; }

@test "with PIPELINING, MAIL, every RCPT and DATA arrive in one read" {
	sink_start
	write_config
	send a@example.org b@example.org
	grep -Eq '^MAIL FROM:<sender@example.org>[^|]* \| RCPT TO:<a@example.org> \| RCPT TO:<b@example.org> \| DATA$' "$SINK_DIR/reads.log"
}

@test "QUIT is pipelined after the end of data" {
	sink_start
	write_config
	send a@example.org
	grep -Eq '<[0-9]+ bytes>.* \| QUIT$|^QUIT$' "$SINK_DIR/reads.log"
	grep -Eq '\| QUIT$' "$SINK_DIR/reads.log"
}

@test "without PIPELINING, one command per read" {
	sink_start --no-pipelining
	write_config
	send a@example.org b@example.org
	grep -Eq '^MAIL FROM:<sender@example.org>[^|]*$' "$SINK_DIR/reads.log"
	grep -qx 'RCPT TO:<a@example.org>' "$SINK_DIR/reads.log"
	! grep -q '|' <(grep -v 'bytes>' "$SINK_DIR/reads.log") || false
	[ "$(sink_count)" -eq 1 ]
}

@test "with CHUNKING, BDAT LAST carries the message in the same flight as MAIL and RCPT" {
	sink_start --chunking
	write_config
	printf 'Subject: t\n\n.lead\nend\n' | "$POSTIE" a@example.org
	grep -Eq '^MAIL FROM:<sender@example.org>[^|]* \| RCPT TO:<a@example.org> \| BDAT [0-9]+ LAST \| <[0-9]+ bytes>' "$SINK_DIR/reads.log"
	# BDAT data is not dot-stuffed
	grep -q $'^\\.lead\r$' "$(sink_msg 1)"
	! grep -q '^\.\.lead' "$(sink_msg 1)" || false
}

@test "SIZE= and BODY=8BITMIME are declared when offered" {
	sink_start
	write_config
	printf 'Subject: t\n\nh\xc3\xa9\n' | "$POSTIE" a@example.org
	size=$(wc -c <"$(sink_msg 1)")
	grep -Eq "^MAIL FROM:<sender@example.org> .*SIZE=$size( |\$)" "$(sink_env 1)"
	grep -q 'BODY=8BITMIME' "$(sink_env 1)"
}

@test "7-bit messages do not claim BODY=8BITMIME" {
	sink_start
	write_config
	send a@example.org
	! grep -q 'BODY=' "$(sink_env 1)" || false
}

@test "EHLO refused with 502: falls back to HELO and still delivers" {
	sink_start --no-esmtp
	write_config
	send a@example.org
	grep -q '^C: HELO client.example' "$SINK_DIR/session.log"
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'MAIL FROM:<sender@example.org>' "$(sink_env 1)"
}

@test "EHLO uses the configured domain" {
	sink_start
	write_config
	send a@example.org
	grep -q '^C: EHLO client.example$' "$SINK_DIR/session.log"
}

@test "DSN parameters are sent when the server offers DSN" {
	sink_start --dsn
	write_config "dsn_notify failure,delay" "dsn_return headers"
	"$POSTIE" -V 'env id+1' a@example.org <<<$'Subject: t\n\nx'
	grep -q '^MAIL FROM:<sender@example.org>.*RET=HDRS' "$(sink_env 1)"
	grep -q '^RCPT TO:<a@example.org> NOTIFY=FAILURE,DELAY' "$(sink_env 1)"
	grep -q 'ENVID=env+20id+2B1' "$(sink_env 1)"
}

@test "DSN requested but not offered: 69, nothing sent" {
	sink_start
	write_config
	run "$POSTIE" -N success a@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 69 ]
	[[ "$output" == *"DSN"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "LMTP: LHLO, and one reply per recipient after the data" {
	echo 'DATA-END bob@ reply 550 5.2.1 mailbox disabled' >"$BATS_TEST_TMPDIR/script"
	sink_start --lmtp --script "$BATS_TEST_TMPDIR/script"
	write_config "protocol lmtp"
	run "$POSTIE" ann@example.org bob@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 67 ]
	[ "$output" = "postie: delivery to <bob@example.org> refused by 127.0.0.1: 550 5.2.1 mailbox disabled" ]
	grep -q '^C: LHLO client.example' "$SINK_DIR/session.log"
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'RCPT TO:<ann@example.org>' "$(sink_env 1)"
	! grep -q bob "$(sink_env 1)" || false
}

@test "a local (AF_UNIX) socket" {
	sink_start --unix "$BATS_TEST_TMPDIR/smtp.sock"
	printf 'account default\nsocket %s\nfrom sender@example.org\n' "$BATS_TEST_TMPDIR/smtp.sock" >"$HOME/.postierc"
	send a@example.org
	[ "$(sink_count)" -eq 1 ]
}

@test "an 8-bit recipient uses SMTPUTF8 when offered" {
	sink_start --smtputf8
	write_config
	send 'jürgen@example.org'
	grep -q '^MAIL FROM:<sender@example.org>.*SMTPUTF8' "$(sink_env 1)"
	grep -q '^RCPT TO:<jürgen@example.org>' "$(sink_env 1)"
}

@test "an 8-bit recipient without SMTPUTF8 support: refused, nothing sent" {
	sink_start
	write_config
	run "$POSTIE" 'jürgen@example.org' <<<$'Subject: t\n\nx'
	[ "$status" -eq 69 ]
	[[ "$output" == *"SMTPUTF8"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "--serverinfo prints the greeting and capabilities" {
	sink_start --chunking --size 1000000
	write_config
	run "$POSTIE" --serverinfo
	[ "$status" -eq 0 ]
	[[ "$output" == *"127.0.0.1"* ]]
	[[ "$output" == *"PIPELINING"* ]]
	[[ "$output" == *"CHUNKING"* ]]
	[[ "$output" == *"1000000"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "-v prints the transcript on stderr" {
	sink_start
	write_config
	run "$POSTIE" -v a@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 0 ]
	[[ "$output" == *"--> EHLO client.example"* ]]
	[[ "$output" == *"<-- 250"* ]]
	[[ "$output" == *"--> RCPT TO:<a@example.org>"* ]]
}

# script RULE...: a --script file with one rule a line; prints its path.
script() {
	printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/script"
	echo "$BATS_TEST_TMPDIR/script"
}

@test "only 220 opens a session: a 250 greeting is a protocol error (76), nothing sent" {
	sink_start --script "$(script 'GREETING * reply 250 early')"
	write_config
	run send a@example.org
	[ "$status" -eq 76 ]
	[ "$output" = "postie: unexpected greeting from 127.0.0.1 (only 220 opens a session, RFC 5321 4.3.2; nothing was sent): 250 early" ]
	[ "$(sink_count)" -eq 0 ]
	! grep -q '^C: \(EHLO\|MAIL\)' "$SINK_DIR/session.log" || false
}

@test "a 3xx greeting is a protocol error (76) too" {
	sink_start --script "$(script 'GREETING * reply 354 go on')"
	write_config
	run send a@example.org
	[ "$status" -eq 76 ]
	[[ $output == *"unexpected greeting from 127.0.0.1"*": 354 go on" ]]
	! grep -q '^C: EHLO' "$SINK_DIR/session.log" || false
}

@test "a 554 greeting refuses for good (69), a 421 greeting for now (75)" {
	sink_start --script "$(script 'GREETING * reply 554 5.7.1 no service here')"
	write_config
	run send a@example.org
	[ "$status" -eq 69 ]
	[ "$output" = "postie: 127.0.0.1 refused the connection: 554 5.7.1 no service here" ]
	sink_stop
	sink_start --script "$(script 'GREETING * reply 421 4.3.2 busy')"
	write_config
	run send a@example.org
	[ "$status" -eq 75 ]
	[ "$output" = "postie: 127.0.0.1 refused the connection: 421 4.3.2 busy" ]
	[ "$(sink_count)" -eq 0 ]
	! grep -q '^C: EHLO' "$SINK_DIR/session.log" || false
}

@test "the timeout bounds a whole reply: a greeting dripped line by line gives up after it" {
	local lines=220-a i
	for ((i = 0; i < 30; i++)); do lines+='\n220-more'; done
	sink_start --script "$(script "GREETING * drip 0.5 $lines\\n220 done")"
	write_config "timeout 2"
	local start=$SECONDS
	run timeout 30 "$POSTIE" a@example.org <<<$'Subject: t\n\nbody'
	[ "$status" -eq 75 ]
	# per line, the 16 s of this greeting would all be allowed
	[ $((SECONDS - start)) -lt 8 ]
	[[ $output == "postie: timeout after 2 s waiting for 127.0.0.1's greeting ("*" lines of it had arrived, but not its last; the timeout bounds the whole reply)" ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "the timeout bounds a whole reply after EHLO too" {
	sink_start --script "$(script 'EHLO * drip 0.7 250-a\n250-b\n250-c\n250-d\n250-e\n250 f')"
	write_config "timeout 2"
	run timeout 30 "$POSTIE" a@example.org <<<$'Subject: t\n\nbody'
	[ "$status" -eq 75 ]
	[[ $output == "postie: timeout after 2 s waiting for 127.0.0.1's reply to EHLO ("* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "no greeting at all: 75, with a hint about implicit TLS" {
	sink_start --script "$(script 'GREETING * stall')"
	write_config "timeout 1"
	run timeout 30 "$POSTIE" a@example.org <<<$'Subject: t\n\nbody'
	[ "$status" -eq 75 ]
	[ "$output" = "postie: timeout after 1 s waiting for 127.0.0.1's greeting (nothing at all arrived; if this port uses implicit TLS, set 'tls_starttls off')" ]
}

@test "a TLS record instead of a greeting: 78, telling to set tls_starttls off" {
	sink_start --script "$(script 'GREETING * raw \x15\x03\x03\x00\x02\x02\x46')"
	write_config "tls on"
	run timeout 30 "$POSTIE" a@example.org <<<$'Subject: t\n\nbody'
	[ "$status" -eq 78 ]
	[ "$output" = "postie: 127.0.0.1 port $SINK_PORT sent a TLS record instead of an SMTP greeting: it expects TLS from the first byte (implicit TLS), but account 'default' uses STARTTLS: set 'tls_starttls off'" ]
}
