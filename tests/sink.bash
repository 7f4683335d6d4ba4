# sink.bash - bats helpers for the recording test server tests/smtpsink.py.
#
#   sink_start [smtpsink.py options...]  start it; sets SINK_DIR SINK_PORT
#                                        SINK_PID (SINK_PORT is "unix"
#                                        with --unix PATH)
#   sink_stop                            stop it (teardown; safe to repeat)
#   sink_msg N / sink_env N              path of msg-N.eml / msg-N.env
#   sink_count                           number of recorded messages
#   sink_header N NAME                   values of header NAME (any case) in
#                                        message N, one a line, unfolded,
#                                        runs of blanks squeezed
#   sink_header_count N NAME             how many NAME fields message N has
#   SINK_EXEC="ip netns exec NS" sink_start ...   run it under a prefix
#   stop_pid PID / wait_file FILE PID    shared process helpers
#
# They poll with wait_until (tests/common.bash): load common, which loads
# this file, rather than this file alone.
# The files the server writes are described in smtpsink.py's docstring.

SINK_SERVER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/smtpsink.py"
SINK_DIR="${SINK_DIR:-}"
SINK_PORT="${SINK_PORT:-}"
SINK_PID="${SINK_PID:-}"

# pid_exited PID: true when PID is no longer running.
pid_exited() { ! kill -0 "$1" 2>/dev/null; }

# stop_pid PID: SIGTERM, then SIGKILL after 3 s, then reap. Safe on "".
stop_pid() {
	local pid="$1"
	[[ -n $pid ]] || return 0
	if kill -TERM "$pid" 2>/dev/null; then
		wait_until 3 pid_exited "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# file_or_exit FILE PID: true when FILE is non-empty or PID has exited.
file_or_exit() { [[ -s $1 ]] || pid_exited "$2"; }

# wait_file FILE PID: until FILE is non-empty, PID dies, or 10 s pass;
# true when FILE is non-empty.
wait_file() {
	wait_until 10 file_or_exit "$1" "$2" || true
	[[ -s $1 ]]
}

sink_start() {
	local dir
	if [[ -n ${BATS_TEST_TMPDIR:-} ]]; then
		dir="$BATS_TEST_TMPDIR/sink"
		rm -rf "$dir"
		mkdir -p "$dir" || return 1
	else
		dir="$(mktemp -d "${TMPDIR:-/tmp}/sink.XXXXXX")" || return 1
	fi
	# 3>&-: bats waits for anything still holding its fd 3.
	# SINK_EXEC is word-split on purpose (e.g. "ip netns exec NAME").
	# shellcheck disable=SC2086
	${SINK_EXEC:-} /usr/bin/python3 "$SINK_SERVER" --dir "$dir" --port-file "$dir/port" \
		"$@" >"$dir/server.err" 2>&1 3>&- &
	SINK_PID=$!
	SINK_DIR="$dir"
	SINK_PORT=
	export SINK_DIR SINK_PORT SINK_PID
	if ! wait_file "$dir/port" "$SINK_PID"; then
		echo "sink_start: smtpsink.py $* did not come up; its stderr:" >&2
		cat "$dir/server.err" >&2
		sink_stop
		return 1
	fi
	SINK_PORT="$(<"$dir/port")"
}

sink_stop() {
	local pid="${SINK_PID:-}"
	SINK_PID=
	stop_pid "$pid"
}

sink_msg() {
	echo "$SINK_DIR/msg-$1.eml"
}

sink_env() {
	echo "$SINK_DIR/msg-$1.env"
}

sink_count() {
	local f n=0
	for f in "$SINK_DIR"/msg-*.eml; do
		if [[ -e $f ]]; then
			n=$((n + 1))
		fi
	done
	echo "$n"
}

sink_header() {
	tr -d '\r' <"$(sink_msg "$1")" | awk -v want="$2" '
		function out() { if (keep) { gsub(/[ \t]+/, " ", val); sub(/^ /, "", val); sub(/ $/, "", val); print val } keep = 0 }
		/^$/ { exit }
		/^[ \t]/ { if (keep) val = val " " $0; next }
		{ out(); i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == tolower(want)) { keep = 1; val = substr($0, i + 1) } }
		END { out() }'
}

sink_header_count() {
	tr -d '\r' <"$(sink_msg "$1")" | sed '/^$/q' | grep -ci "^$2:" || true
}
