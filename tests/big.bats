#!/usr/bin/env bats
# A 50 MiB message arrives intact over DATA and over BDAT. Its memory use
# (the issue's bound: under 16 MiB RSS) is measured by bench/bigmsg.sh, not
# here: tests also run under sanitizers, which change the RSS.
load common

setup() { common_setup; }
teardown() { common_teardown; }

big_send() {
	head -c $((38 * 1024 * 1024)) /dev/urandom | base64 -w 76 >"$BATS_TEST_TMPDIR/body"
	{ printf 'Subject: big\n\n'; cat "$BATS_TEST_TMPDIR/body"; } >"$BATS_TEST_TMPDIR/msg"
	[ "$(wc -c <"$BATS_TEST_TMPDIR/msg")" -gt $((50 * 1024 * 1024)) ]
	"$POSTIE" r@example.org <"$BATS_TEST_TMPDIR/msg"
	# delivered intact
	sed -n '/^\r$/,$p' "$(sink_msg 1)" | tail -n +2 | tr -d '\r' | cmp - "$BATS_TEST_TMPDIR/body"
}

@test "a 50 MiB message over DATA is delivered intact" {
	sink_start
	write_config
	big_send
}

@test "a 50 MiB message over BDAT is delivered intact" {
	sink_start --chunking
	write_config
	big_send
}
