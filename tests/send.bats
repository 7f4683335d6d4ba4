#!/usr/bin/env bats
# Delivery end to end: what the server receives, byte for byte.
load common

setup() { common_setup; sink_start; write_config; }
teardown() { common_teardown; }

@test "a message reaches the server with the envelope from config and argv" {
	run "$POSTIE" rcpt@example.org < <(printf 'Subject: hi\n\nhello\n')
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'MAIL FROM:<sender@example.org>.*' "$(sink_env 1)"
	grep -qx 'RCPT TO:<rcpt@example.org>' "$(sink_env 1)"
	grep -q $'^Subject: hi\r$' "$(sink_msg 1)"
	tail -c 7 "$(sink_msg 1)" | od -c | grep -q 'h   e   l   l   o  \\r  \\n'
}

@test "the issue's first example: -t with a recipient argument" {
	printf 'Subject: disk full\n\n/var is at 99%%\n' | "$POSTIE" -t admin@example.org
	grep -qx 'RCPT TO:<admin@example.org>' "$(sink_env 1)"
	grep -q $'^/var is at 99%\r$' "$(sink_msg 1)"
}

@test "the issue's second example: -a account -f sender from a file" {
	cat >>"$HOME/.postierc" <<EOC
account work
host 127.0.0.1
port $SINK_PORT
from work@example.org
EOC
	printf 'From: Me <me@example.org>\nSubject: x\n\nbody\n' >"$BATS_TEST_TMPDIR/message.eml"
	"$POSTIE" -a work -f me@example.org bob@example.org <"$BATS_TEST_TMPDIR/message.eml"
	grep -qx 'MAIL FROM:<me@example.org>.*' "$(sink_env 1)"
	grep -qx 'RCPT TO:<bob@example.org>' "$(sink_env 1)"
}

@test "body arrives byte-exact: lone dot, leading dots, 8-bit, 998-octet line" {
	long=$(head -c 998 /dev/zero | tr '\0' 'x')
	printf 'Subject: t\n\nfirst\n.\n..two\n.three\nUTF-8: h\xc3\xa9llo \xe2\x82\xac\n%s\nlast\n' "$long" >"$BATS_TEST_TMPDIR/in"
	"$POSTIE" r@example.org <"$BATS_TEST_TMPDIR/in"
	# What the server stored, line ends back to LF, must equal the body sent.
	sed -n '/^\r$/,$p' "$(sink_msg 1)" | tail -n +2 | tr -d '\r' >"$BATS_TEST_TMPDIR/got"
	sed -n '/^$/,$p' "$BATS_TEST_TMPDIR/in" | tail -n +2 >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
	grep -qx 'MAIL FROM:<sender@example.org>.*BODY=8BITMIME.*' "$(sink_env 1)"
}

@test "a lone dot line does not end input even without -i" {
	printf 'Subject: t\n\nbefore\n.\nafter the dot\n' | "$POSTIE" r@example.org
	grep -q $'^after the dot\r$' "$(sink_msg 1)"
}

@test "LF, CRLF and bare CR input all become CRLF; final CRLF added" {
	printf 'Subject: t\r\n\r\nlf\ncrlf\r\ncr\rend' | "$POSTIE" r@example.org
	sed -n '/^\r$/,$p' "$(sink_msg 1)" | tail -n +2 >"$BATS_TEST_TMPDIR/got"
	printf 'lf\r\ncrlf\r\ncr\r\nend\r\n' >"$BATS_TEST_TMPDIR/want"
	cmp "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
}

@test "no bare CR or LF ever reaches the server" {
	printf 'Subject: a\rb\n\nx\ry\n\r\n\rz' | "$POSTIE" r@example.org
	# every LF must be preceded by CR and every CR followed by LF
	run python3 -c 'import sys,re; d=open(sys.argv[1],"rb").read(); sys.exit(1 if re.search(rb"\r(?!\n)|(?<!\r)\n", d) else 0)' "$(sink_msg 1)"
	[ "$status" -eq 0 ]
}

@test "an mbox From_ line at the top is dropped" {
	printf 'From someone@example.org Sat Jan  1 00:00:00 2026\nSubject: t\n\nbody\n' | "$POSTIE" r@example.org
	! grep -q '^From someone' "$(sink_msg 1)" || false
	grep -q $'^Subject: t\r$' "$(sink_msg 1)"
}

@test "empty input is refused with 65 and nothing is sent" {
	run "$POSTIE" r@example.org </dev/null
	[ "$status" -eq 65 ]
	[[ "$output" == "postie: "*"empty"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "a body line over 998 octets in a single-part message arrives intact as quoted-printable" {
	long=$(head -c 3000 /dev/zero | tr '\0' 'y')
	printf 'Subject: t\n\nshort\n%s=end\n' "$long" | "$POSTIE" r@example.org
	m=$(sink_msg 1)
	grep -qi $'^Content-Transfer-Encoding: quoted-printable\r$' "$m"
	grep -qi $'^MIME-Version: 1.0\r$' "$m"
	# no line on the wire over 998 octets
	[ "$(awk '{ if (length($0) > max) max = length($0) } END { print max }' "$m")" -le 999 ]
	# decoding the body gives back the original text
	run python3 -c 'import sys,email,quopri; m=email.message_from_binary_file(open(sys.argv[1],"rb")); sys.stdout.write(m.get_payload(decode=True).decode().replace("\r\n", "\n").rstrip("\n"))' "$m"
	[ "$output" = "$(printf 'short\n%s=end' "$long")" ]
}

@test "a long line in a multipart message is refused with 65 naming the line" {
	long=$(head -c 1200 /dev/zero | tr '\0' 'z')
	run "$POSTIE" r@example.org < <(printf 'Subject: t\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n%s\n--b--\n' "$long")
	[ "$status" -eq 65 ]
	[[ "$output" == *"line 7"* ]]
	[ "$(sink_count)" -eq 0 ]
}
