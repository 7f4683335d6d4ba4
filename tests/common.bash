# Shared setup for postie's bats tests: an isolated HOME, no system config,
# the test server, a config pointing at it, and wait_until, the one polling
# loop (sink.bash and postfix.bash use it too).
load sink

: "${POSTIE:?POSTIE must name the postie binary (make check sets it)}"

# Where contrib/testdeps.sh downloads and unpacks the packages that the
# tests run without installing them (Postfix, Dovecot, bsd-mailx): their
# files are in $POSTIE_TEST_CACHE/root.
POSTIE_TEST_CACHE="${POSTIE_TEST_CACHE:-/var/cache/postie-tests}"

# wait_until SECONDS COMMAND [ARG...]: run COMMAND every 0.05 s until it
# succeeds, for at most SECONDS (whole or decimal) of wall-clock time.
# COMMAND runs in this shell (a function may set variables) and its output
# passes through. Returns 0 once it succeeds; otherwise 1, after naming on
# stderr what it waited for; 2 for a usage error. Self-contained, so that
# export -f wait_until makes it usable in a child bash.
wait_until() {
	local limit="${1:-}" frac end
	shift
	if [[ ! $limit =~ ^[0-9]+(\.[0-9]{1,6})?$ ]] || (($# == 0)); then
		echo "usage: wait_until SECONDS COMMAND [ARG...]" >&2
		return 2
	fi
	frac="${BASH_REMATCH[1]#.}000000"
	# In microseconds: EPOCHREALTIME without its decimal separator.
	end=$((${EPOCHREALTIME//[!0-9]/} + 10#${limit%%.*} * 1000000 + 10#${frac:0:6}))
	while :; do
		"$@" && return 0
		((${EPOCHREALTIME//[!0-9]/} < end)) || break
		sleep 0.05
	done
	echo "wait_until: gave up after $limit s waiting for: $*" >&2
	return 1
}

common_setup() {
	export HOME="$BATS_TEST_TMPDIR/home"
	mkdir -p "$HOME"
	unset XDG_CONFIG_HOME
	export POSTIE_SYSTEM_CONFIG="$BATS_TEST_TMPDIR/no-system-config"
	export USER=tester LOGNAME=tester
	export TMPDIR="$BATS_TEST_TMPDIR"
}

# write_config [extra config lines...]: ~/.postierc for the running sink.
write_config() {
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $SINK_PORT"
		echo "domain client.example"
		echo "from sender@example.org"
		for l in "$@"; do echo "$l"; done
	} >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
}

# A CRLF view of a file is hard to read in failures; this strips CRs.
unix_text() { tr -d '\r' <"$1"; }

common_teardown() {
	sink_stop
}
