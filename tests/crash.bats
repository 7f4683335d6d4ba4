#!/usr/bin/env bats
# Crash safety of the queue: postie is killed with SIGKILL at every file
# and network step of enqueueing (-odq) and of a flush (-q), then an
# ordinary queue run follows. strace's fault injection delivers the
# signal as the process enters the chosen system call, so everything
# before that call happened and nothing after it. A message is never
# lost once the envelope's rename made it safe; a flush may deliver it
# twice only when killed between the end of the data and the removal of
# the envelope (the window SMTP itself leaves, RFC 1047).
bats_require_minimum_version 1.5.0
load common

# The calls a kill can come before: every file and network step.
CALLS=openat,write,fsync,rename,unlink,close,flock,mkdir,connect,sendto,recvfrom,poll

setup() {
	common_setup
	command -v strace >/dev/null || { echo "these tests need strace (contrib/testdeps.sh installs it)" >&2; return 1; }
	Q="$BATS_TEST_TMPDIR/q"
	sink_start
	write_config "queue tempfail" "queue_dir $Q"
}

teardown() {
	common_teardown
}

message() {
	printf '%s\n' "From: <sender@example.org>" "To: <r@example.org>" "Subject: $1" \
		"Date: Thu, 01 Jan 2026 00:00:00 +0000" "Message-ID: <$2@example.org>" "" "body of $1"
}

# copies SUBJECT: how many messages with that Subject the sink recorded.
copies() {
	local f n=0
	for f in "$SINK_DIR"/msg-*.eml; do
		[[ -e $f ]] || continue
		if grep -qx "Subject: $1"$'\r' "$f"; then n=$((n + 1)); fi
	done
	echo "$n"
}

# kill_points INPUT ARGS...: a dry run of postie ARGS under strace; prints
# "CALL ORDINAL LINE" for each call of CALLS it makes from the moment it
# opens its configuration file (before that it only loads libraries).
kill_points() {
	local input="$1"
	shift
	strace -qq -o "$BATS_TEST_TMPDIR/trace" -e trace="$CALLS" "$POSTIE" "$@" <"$input" >/dev/null 2>&1 || true
	awk '{ name = $0; sub(/\(.*/, "", name); n[name]++ }
	     index($0, ".postierc") { on = 1 }
	     on { print name, n[name], NR }' "$BATS_TEST_TMPDIR/trace"
}

# killed_run CALL K INPUT ARGS...: postie ARGS, killed as it enters its
# K-th CALL, its calls of CALLS traced to ktrace (the last line is the
# call it was killed in, "= ?"); true when the kill happened (the run did
# not finish first: the network calls vary in number from run to run).
killed_run() {
	local call="$1" k="$2" input="$3" rc=0
	shift 3
	# in a subshell whose stderr is closed: no "Killed" notice from bash
	(
		strace -qq -o "$BATS_TEST_TMPDIR/ktrace" -e trace="$CALLS" -e inject="$call":signal=KILL:when="$k" \
			"$POSTIE" "$@" <"$input" >/dev/null 2>&1
		exit $?
	) 2>/dev/null || rc=$?
	[ "$rc" -eq 137 ]
}

# age_leftovers: make every file in the queue look two hours old, so that
# the next run removes what a crash left (it spares fresh ones: a commit
# may be under way).
age_leftovers() { find "$Q" -maxdepth 1 -type f -exec touch -d '-2 hours' {} +; }

queue_files() { find "$Q" -maxdepth 1 -type f -name '[0-9A-F]*' | wc -l; }
tmp_files() { find "$Q" -maxdepth 1 -type f -name 'tmp.*' | wc -l; }

@test "kill -9 at every step of enqueueing: once the envelope is in place the message is delivered exactly once, before that nothing is and nothing stays" {
	local call k line n=0 committed=0 points
	message "dry" dry >"$BATS_TEST_TMPDIR/in"
	points="$(kill_points "$BATS_TEST_TMPDIR/in" -odq r@example.org)"
	"$POSTIE" -q
	[ "$(copies dry)" -eq 1 ]
	# the dry run's commit: two fsyncs, two renames, the directory's fsync
	[ "$(grep -c '^fsync' "$BATS_TEST_TMPDIR/trace")" -eq 3 ]
	[ "$(grep -c '^rename' "$BATS_TEST_TMPDIR/trace")" -eq 2 ]
	while read -r call k line; do
		n=$((n + 1))
		message "enqueue $n" "e$n" >"$BATS_TEST_TMPDIR/in"
		if ! killed_run "$call" "$k" "$BATS_TEST_TMPDIR/in" -odq r@example.org; then
			echo "# $call #$k: finished before the kill point" >&3
		fi
		local envs
		envs="$(find "$Q" -maxdepth 1 -name '[0-9A-F]*.env' | wc -l)"
		"$POSTIE" -q
		age_leftovers
		"$POSTIE" -q
		echo "point $n: $call #$k (trace line $line): envelope in place $envs, copies $(copies "enqueue $n"), files left $(queue_files)+$(tmp_files)"
		[ "$(copies "enqueue $n")" -eq "$envs" ]
		[ "$(queue_files)" -eq 0 ] && [ "$(tmp_files)" -eq 0 ]
		committed=$((committed + envs))
	done <<<"$points"
	echo "# enqueue: $n kill points, $committed after the commit (delivered once each), $((n - committed)) before it (nothing delivered, nothing left)" >&3
	[ "$n" -ge 15 ]
	[ "$committed" -ge 1 ] && [ "$committed" -lt "$n" ]
}

@test "kill -9 at every step of a flush: the message is never lost; a duplicate only between the end of the data and the envelope's removal" {
	local call k line n=0 dup=0 c points
	message "dry" dry | "$POSTIE" -odq r@example.org
	: >"$BATS_TEST_TMPDIR/empty"
	points="$(kill_points "$BATS_TEST_TMPDIR/empty" -q)"
	[ "$(copies dry)" -eq 1 ]
	[ "$(queue_files)" -eq 0 ]
	while read -r call k line; do
		n=$((n + 1))
		message "flush $n" "f$n" | "$POSTIE" -odq r@example.org
		killed_run "$call" "$k" "$BATS_TEST_TMPDIR/empty" -q ||
			echo "# $call #$k: finished before the kill point" >&3
		"$POSTIE" -q
		age_leftovers
		"$POSTIE" -q
		c="$(copies "flush $n")"
		echo "point $n: $call #$k: copies $c; killed in: $(grep -v '^+++' "$BATS_TEST_TMPDIR/ktrace" | tail -1 | cut -c1-60)"
		[ "$c" -ge 1 ] && [ "$c" -le 2 ]
		[ "$(queue_files)" -eq 0 ]
		if [ "$c" -eq 2 ]; then
			dup=$((dup + 1))
			# the data (it starts with the From: header) had been sent ...
			grep -Eq '^sendto\([0-9]+, "From: <sender.* = [0-9]+$' "$BATS_TEST_TMPDIR/ktrace"
			# ... and the envelope was not removed yet
			! grep -Eq '^unlink\(".*\.env"\) = 0$' "$BATS_TEST_TMPDIR/ktrace"
		fi
	done <<<"$points"
	echo "# flush: $n kill points, $dup delivered twice (all in the window between the data's end and the envelope's unlink), none lost" >&3
	[ "$n" -ge 15 ]
}
