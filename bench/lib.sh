# shellcheck shell=sh
# bench/lib.sh - what the benchmark scripts share. Sourced (". lib.sh")
# after "set -eu", never run:
#   bench_init            top (the tree), POSTIE (default: the built one),
#                         dir (a scratch directory, removed at exit with
#                         the test server if one was started)
#   bench_sink [ARGS...]  start tests/smtpsink.py with ARGS; sets port
#   bench_time WANT CMD...  run CMD under /usr/bin/time (stdin as given,
#                         stderr to $dir/err, POSTIE_SYSTEM_CONFIG off),
#                         fail unless it exits WANT; sets kb (peak RSS,
#                         KiB) and secs (wall time)

bench_init() {
	top=$(cd "$(dirname "$0")/.." && pwd)
	POSTIE=${POSTIE:-$top/src/postie}
	dir=$(mktemp -d)
	bench_pid=
	trap bench_cleanup EXIT INT TERM
}

bench_cleanup() {
	if [ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null; then
		wait "$bench_pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}

bench_sink() {
	/usr/bin/python3 "$top/tests/smtpsink.py" --dir "$dir/sink" --port-file "$dir/port" "$@" \
		2>"$dir/sink.err" &
	bench_pid=$!
	bench_wait_port
	port=$(cat "$dir/port")
}

# bench_wait_port: wait (10 s at most) for the sink's port file.
bench_wait_port() {
	i=0
	while [ ! -s "$dir/port" ]; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || { echo "the test server did not start:" >&2; cat "$dir/sink.err" >&2; exit 1; }
		sleep 0.05
	done
}

bench_time() {
	want=$1
	shift
	rc=0
	/usr/bin/time -f "%M %e" -o "$dir/time" env POSTIE_SYSTEM_CONFIG=/dev/null "$@" 2>"$dir/err" || rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "unexpected exit status $rc (want $want):" >&2
		tail -n 3 "$dir/err" >&2
		exit 1
	fi
	read -r kb secs <<EOT
$(tail -n 1 "$dir/time")
EOT
}
