#!/usr/bin/env bats
# The test suite's own helpers: wait_until (tests/common.bash), the one
# polling loop every other file waits with.
load common

setup() { common_setup; }

# elapsed_ms START: milliseconds since START (an EPOCHREALTIME value).
elapsed_ms() {
	echo $(((${EPOCHREALTIME//[!0-9]/} - ${1//[!0-9]/}) / 1000))
}

@test "wait_until: a command that succeeds at once returns 0, its output passes through" {
	run wait_until 5 echo ready
	[ "$status" -eq 0 ]
	[ "$output" = ready ]
}

@test "wait_until: polls until the command succeeds" {
	local f="$BATS_TEST_TMPDIR/flag" t0=$EPOCHREALTIME
	{ sleep 0.4; : >"$f"; } 3>&- &
	wait_until 5 test -e "$f"
	local ms
	ms=$(elapsed_ms "$t0")
	echo "took $ms ms"
	((ms >= 350 && ms < 4000))
}

@test "wait_until: gives up after SECONDS with 1, naming what it waited for" {
	local t0=$EPOCHREALTIME ms
	run wait_until 0.5 test -e "$BATS_TEST_TMPDIR/never"
	ms=$(elapsed_ms "$t0")
	echo "took $ms ms: $output"
	[ "$status" -eq 1 ]
	[ "$output" = "wait_until: gave up after 0.5 s waiting for: test -e $BATS_TEST_TMPDIR/never" ]
	((ms >= 500 && ms < 3000))
}

@test "wait_until: the command runs in the calling shell" {
	tries=0
	third_try() { tries=$((tries + 1)); ((tries == 3)); }
	wait_until 5 third_try
	[ "$tries" -eq 3 ]
}

@test "wait_until: usage errors return 2" {
	run wait_until 5
	[ "$status" -eq 2 ]
	[ "$output" = "usage: wait_until SECONDS COMMAND [ARG...]" ]
	run wait_until soon true
	[ "$status" -eq 2 ]
	run wait_until -1 true
	[ "$status" -eq 2 ]
}

@test "wait_until: exported, it works in a child bash" {
	export -f wait_until
	run bash -c 'wait_until 0.2 false; echo "status $?"'
	[ "$output" = $'wait_until: gave up after 0.2 s waiting for: false\nstatus 1' ]
}
