#!/usr/bin/env bats
# A message file on stdin (postie <file) is read where it is, not copied
# into a spool file: what the server receives is what a pipe gives, and
# stdin's offset ends up at the end of the file as if it had been read.
load common

setup() { common_setup; }
teardown() { common_teardown; }

# A message with every kind of line end, dots and 8-bit octets; Date and
# Message-ID present, so the two sends add nothing that differs.
make_message() {
	{
		printf 'Date: Thu, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <inplace@example.org>\n'
		printf 'Subject: in place\n\n.first\n..second\r\ncr\rh\xc3\xa9llo\n.\n'
		head -c 300000 /dev/urandom | base64 -w 76
		printf 'last line without an end'
	} >"$BATS_TEST_TMPDIR/msg"
}

# Send msg through a pipe, then from the file with a TMPDIR where no
# spool file can be made: the server gets the same data both times.
pipe_and_file() {
	make_message
	cat "$BATS_TEST_TMPDIR/msg" | "$POSTIE" r@example.org
	TMPDIR=/nonexistent-postie-tmp "$POSTIE" r@example.org <"$BATS_TEST_TMPDIR/msg"
	[ "$(sink_count)" -eq 2 ]
	cmp "$(sink_msg 1)" "$(sink_msg 2)"
	cmp "$(sink_env 1)" "$(sink_env 2)"
}

@test "a message file on stdin over DATA: no spool file, same data as from a pipe" {
	sink_start
	write_config
	pipe_and_file
	grep -qx 'MAIL FROM:<sender@example.org> SIZE=[0-9]* BODY=8BITMIME' "$(sink_env 2)"
}

@test "a message file on stdin over BDAT: no spool file, same data as from a pipe" {
	sink_start --chunking
	write_config
	pipe_and_file
}

@test "stdin's offset: the file is read from it and left at its end" {
	sink_start
	write_config
	make_message
	{ printf 'X-Before: not sent\n'; cat "$BATS_TEST_TMPDIR/msg"; } >"$BATS_TEST_TMPDIR/later"
	{
		dd bs=19 count=1 of=/dev/null status=none
		TMPDIR=/nonexistent-postie-tmp "$POSTIE" r@example.org
		cat >"$BATS_TEST_TMPDIR/rest"
	} <"$BATS_TEST_TMPDIR/later"
	[ ! -s "$BATS_TEST_TMPDIR/rest" ]
	! grep -q X-Before "$(sink_msg 1)"
	"$POSTIE" r@example.org <"$BATS_TEST_TMPDIR/msg"
	cmp "$(sink_msg 1)" "$(sink_msg 2)"
}
