#!/usr/bin/env bats
# Process hardening and robustness that a user or an attacker would probe:
# core dumps, name lookups before connecting, stdin handling on errors.
load common

setup() { common_setup; export -f big_header_message 2>/dev/null || true; }
teardown() {
	stop_pid "${FEED_PID:-}"
	stop_pid "${POSTIE_PID:-}"
	common_teardown
}

# postie_waiting ARGS...: postie as user nobody, blocked reading a stdin
# that never ends; sets POSTIE_PID (and FEED_PID, the writer).
postie_waiting() {
	local fifo="$BATS_TEST_TMPDIR/stdin"
	mkfifo "$fifo"
	chmod 666 "$fifo"
	sleep 30 >"$fifo" 3>&- &
	FEED_PID=$!
	TMPDIR=/tmp setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$POSTIE" "$@" <"$fifo" >/dev/null 2>&1 3>&- &
	POSTIE_PID=$!
	# until it has read its configuration and waits in read(2) on stdin
	wait_until 5 blocked_on_pipe "$POSTIE_PID" && return 0
	echo "postie did not block on stdin; wchan: $(cat "/proc/$POSTIE_PID/wchan" 2>/dev/null)" >&2
	return 1
}

# blocked_on_pipe PID: PID sleeps in the kernel waiting on a pipe.
blocked_on_pipe() { [[ $(cat "/proc/$1/wchan" 2>/dev/null) == *pipe* ]]; }

@test "core dumps are off before anything is read, not only once AUTH starts" {
	postie_waiting --host=127.0.0.1 --auth=on --user=u r@example.org
	# RLIMIT_CORE is 0 ...
	grep -E '^Max core file size +0 +0 ' "/proc/$POSTIE_PID/limits"
	# ... and the process is not dumpable: the kernel then gives its
	# /proc files to root instead of the process's own user (nobody).
	[ "$(stat -c %u "/proc/$POSTIE_PID/status")" -eq 0 ]
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$POSTIE_PID/status")" -eq 65534 ]
}

# big_header_message: a header section over 1 MiB, then a 10 MB body.
big_header_message() {
	/usr/bin/python3 -c '
import sys
w = sys.stdout.write
for i in range(3000):
    w("X-H%d: %s\n" % (i, "b" * 400))
w("\n")
for i in range(200000):
    w("body line %d %s\n" % (i, "c" * 40))
'
}

@test "a refused message is still read to its end: the writer gets no SIGPIPE" {
	sink_start
	write_config
	run bash -c 'set -o pipefail; "$1" | "$2" r@example.org; echo "writer=${PIPESTATUS[0]} postie=${PIPESTATUS[1]}"' \
		sh big_header_message "$POSTIE"
	[[ "$output" == *"postie: header section exceeds 1 MiB"* ]]
	[[ "${lines[-1]}" == "writer=0 postie=65" ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "refused before reading (no configuration): the writer gets no SIGPIPE either" {
	run bash -c '"$1" | "$2" r@example.org; echo "writer=${PIPESTATUS[0]} postie=${PIPESTATUS[1]}"' \
		sh big_header_message "$POSTIE"
	[[ "${lines[-1]}" == "writer=0 postie=78" ]]
}

@test "draining is bounded: a writer that never closes does not hold postie" {
	sink_start
	write_config
	run timeout 60 bash -c '{ big_header_message; sleep 50; } | "$1" r@example.org' sh "$POSTIE"
	[ "$status" -eq 65 ]
	[[ "$output" == *"header section exceeds 1 MiB"* ]]
}

# no_connection: the sink saw no connection at all.
no_connection() { ! grep -q '^\* connect' "$SINK_DIR/session.log" 2>/dev/null || false; }

@test "RFC 5321 length limits are checked before connecting, naming the limit" {
	sink_start
	write_config
	local long65 long120k
	long65=$(printf 'x%.0s' {1..65})
	long120k=$(head -c 120000 /dev/zero | tr '\0' 'y')
	run "$POSTIE" "$long120k@example.org" <<<$'Subject: t\n\nx'
	[ "$status" -eq 67 ]
	[ "$output" = "postie: recipient <$(printf 'y%.0s' {1..40})...@example.org>: local part is 120000 octets, over the limit of 64 (RFC 5321 4.5.3.1.1)" ]
	run "$POSTIE" ok@example.org "$long65@example.org" <<<$'Subject: t\n\nx'
	[ "$status" -eq 67 ]
	[[ "$output" == *"local part is 65 octets, over the limit of 64"* ]]
	run "$POSTIE" -f "$long65@example.org" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 64 ]
	[[ "$output" == "postie: envelope sender <"*"local part is 65 octets, over the limit of 64"* ]]
	# a domain label over 63 octets, and a path over 256 octets
	run "$POSTIE" "r@$long65.example.org" <<<$'Subject: t\n\nx'
	[ "$status" -eq 67 ]
	[[ "$output" == *"is 65 octets, over the limit of 63 (RFC 1035 2.3.4)"* ]]
	# 64 + 1 + 191 octets, 258 with the brackets
	local d60 path
	d60=$(printf 'd%.0s' {1..60})
	path="$(printf 'l%.0s' {1..64})@$d60.$d60.$d60.xxxx.org"
	run "$POSTIE" "$path" <<<$'Subject: t\n\nx'
	[ "$status" -eq 67 ]
	[[ "$output" == *"over the limit of 256"* ]]
	no_connection
	[ "$(sink_count)" -eq 0 ]
}

@test "a 10 MB EHLO domain and an over-long -V are refused before connecting" {
	sink_start
	write_config
	head -c 10000000 /dev/zero | tr '\0' 'a' >"$BATS_TEST_TMPDIR/dom"
	printf 'domain %s.org\n' "$(cat "$BATS_TEST_TMPDIR/dom")" >>"$HOME/.postierc"
	run "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 78 ]
	[[ "$output" == "postie: EHLO domain "*"over the limit of "* ]]
	[ "${#output}" -lt 300 ]
	write_config
	run "$POSTIE" -V "$(printf 'e%.0s' {1..101})" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 64 ]
	[ "$output" = "postie: -V: the envelope ID is 101 octets, over the limit of 100 (RFC 3461 4.4)" ]
	no_connection
}
