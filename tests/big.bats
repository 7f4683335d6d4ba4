#!/usr/bin/env bats
# Memory stays bounded whatever the message size (issue: 50 MiB, < 16 MiB RSS).
load common

setup() { common_setup; }
teardown() { common_teardown; }

big_send() {
	head -c $((38 * 1024 * 1024)) /dev/urandom | base64 -w 76 >"$BATS_TEST_TMPDIR/body"
	{ printf 'Subject: big\n\n'; cat "$BATS_TEST_TMPDIR/body"; } >"$BATS_TEST_TMPDIR/msg"
	[ "$(wc -c <"$BATS_TEST_TMPDIR/msg")" -gt $((50 * 1024 * 1024)) ]
	/usr/bin/time -f %M -o "$BATS_TEST_TMPDIR/rss" "$POSTIE" r@example.org <"$BATS_TEST_TMPDIR/msg"
	echo "peak RSS $(cat "$BATS_TEST_TMPDIR/rss") KiB" >&3
	[ "$(cat "$BATS_TEST_TMPDIR/rss")" -lt $((16 * 1024)) ]
	# delivered intact
	sed -n '/^\r$/,$p' "$(sink_msg 1)" | tail -n +2 | tr -d '\r' | cmp - "$BATS_TEST_TMPDIR/body"
}

@test "a 50 MiB message over DATA is delivered intact with peak RSS under 16 MiB" {
	sink_start
	write_config
	big_send
}

@test "a 50 MiB message over BDAT is delivered intact with peak RSS under 16 MiB" {
	sink_start --chunking
	write_config
	big_send
}
