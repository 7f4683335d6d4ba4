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
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(cat "/proc/$POSTIE_PID/wchan" 2>/dev/null) == *pipe* ]] && return 0
		sleep 0.05
	done
	echo "postie did not block on stdin; wchan: $(cat "/proc/$POSTIE_PID/wchan" 2>/dev/null)" >&2
	return 1
}

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
