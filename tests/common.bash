# Shared setup for postie's bats tests: an isolated HOME, no system config,
# the test server, and a config pointing at it.
load sink

: "${POSTIE:?POSTIE must name the postie binary (make check sets it)}"

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
