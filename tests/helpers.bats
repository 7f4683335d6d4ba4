#!/usr/bin/env bats
# The test suite's own helpers: wait_until (tests/common.bash), the one
# polling loop every other file waits with.
load common
load sysroot

setup() { common_setup; }
teardown() { sysroot_stop; }

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

# sysroot (tests/sysroot.bash) ----------------------------------------------

@test "sysroot: writes, users and processes inside stay inside; stop ends them" {
	local etc_before group_before
	etc_before=$(ls -la /etc | md5sum)
	group_before=$(md5sum </etc/group)
	sysroot_start
	sysroot_run sh -c 'echo inside >/etc/postie-sysroot-test && groupadd postie-sysroot-test'
	run sysroot_run cat /etc/postie-sysroot-test
	[ "$output" = inside ]
	sysroot_run getent group postie-sysroot-test
	# stdin reaches the command; an environment assignment is passed on
	run sysroot_run X=1 sh -c 'cat; echo "X=$X HOME=$HOME"' <<<"piped"
	[ "${lines[0]}" = piped ]
	[ "${lines[1]}" = "X=1 HOME=/root" ]
	sysroot_run sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $! >/tmp/sleeper'
	[ ! -e /etc/postie-sysroot-test ]
	! getent group postie-sysroot-test
	local holder=$SYSROOT_HOLDER
	sysroot_stop
	sysroot_stop
	! kill -0 "$holder" 2>/dev/null
	# the sleeper died with the namespace: no sleep 300 of ours is left
	! pgrep -f '^sleep 300$'
	[ "$(ls -la /etc | md5sum)" = "$etc_before" ]
	[ "$(md5sum </etc/group)" = "$group_before" ]
}
