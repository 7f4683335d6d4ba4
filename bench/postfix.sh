#!/bin/bash
# bench/postfix.sh - the test suite's private Postfix + Dovecot SASL
# (tests/postfix.bash, postfix_start_sasl), for benchmarks that need it
# listening on an address other than 127.0.0.1, e.g. inside a network
# namespace (run it under "ip netns exec NS").
#
#   bench/postfix.sh start PKI_DIR DIR ADDRESS CLIENT_NET
#       start the instance in DIR (PKI_DIR: tests/pki.bash's files) with,
#       besides its own listeners on 127.0.0.1, three on ADDRESS:
#         ADDRESS:25   plain (STARTTLS offered, not required), relaying
#                      for CLIENT_NET (added to mynetworks)
#         ADDRESS:587  submission: STARTTLS required, then AUTH
#         ADDRESS:465  submissions: implicit TLS, then AUTH
#       the last two with the options of the suite's AUTH listeners (only
#       an authenticated client may relay; user tester, password
#       s3cret-Pa55).  Waits (15 s at most) until they listen.  The PIDs
#       go to DIR.env (beside DIR: postfix_start empties DIR) for "stop".
#   bench/postfix.sh stop DIR
#       stop Postfix, Dovecot and the relay sink started by "start" (safe
#       to repeat; also after a "start" that failed half way).  Run it in
#       the namespace of "start": every postfix command checks that the
#       addresses of inet_interfaces are local.
# Not -u: the suite's helpers are written for bats, which has only -e.
set -e
tests=$(cd "$(dirname "$0")/../tests" && pwd)

# The suite's helpers, loaded as bats would: common.bash has wait_until
# and loads sink.bash; it insists on POSTIE, which nothing here runs.
# shellcheck disable=SC1090 # tests/NAME.bash
load() { . "$tests/$1.bash"; }
POSTIE=${POSTIE:-unused}
load common
load postfix

# listener PORT NAME OPTION...: master.cf lines for an smtpd on
# $addr:PORT, as the suite's own (tests/postfix.bash) but on that address.
listener() {
	_postfix_listener "$@" | sed "1s/^127\.0\.0\.1:/$addr:/"
}

# listening_on ADDRESS PORT...: every PORT has a listener on ADDRESS
# (IPv4), from /proc/net/tcp of this network namespace.
listening_on() {
	local a=$1 hex p table='' line state
	shift
	IFS=. read -r o1 o2 o3 o4 <<<"$a"
	hex=$(printf '%02X%02X%02X%02X' "$o4" "$o3" "$o2" "$o1")
	while read -r _ line _ state _; do
		[[ $state == 0A ]] && table+=" $line"
	done </proc/net/tcp
	for p in "$@"; do
		[[ $table == *" $hex:$(printf '%04X' "$p")"* ]] || return 1
	done
}

start() {
	local pki=$1 dir=$2 net=$4
	addr=$3
	# shellcheck disable=SC2034 # read by postfix_start
	POSTFIX_MAIN_CF_EXTRA="inet_interfaces = 127.0.0.1, $addr
mynetworks = 127.0.0.0/8, $net"
	# shellcheck disable=SC2034 # read by postfix_start
	POSTFIX_MASTER_CF_EXTRA="$(
		listener 25 bench-plain
		listener 587 bench-submission smtpd_tls_security_level=encrypt sasl
		listener 465 bench-submissions smtpd_tls_wrappermode=yes \
			smtpd_tls_security_level=encrypt sasl
	)"
	# Written before the start, so that "stop" finds what a failed
	# start left; rewritten with the PIDs after it.
	mkdir -p "$dir"
	echo "POSTFIX_DIR=$dir" >"$dir.env"
	postfix_start_sasl "$pki" "$dir"
	if ! wait_until 15 listening_on "$addr" 25 587 465; then
		postfix_log >&2
		return 1
	fi
	declare -p POSTFIX_DIR POSTFIX_MASTER_PID POSTFIX_DOVECOT_PID SINK_PID \
		SINK_DIR >"$dir.env"
}

stop() {
	local dir=$1
	[[ -s $dir.env ]] || return 0
	# shellcheck disable=SC1090 # written by start
	. "$dir.env"
	postfix_stop
	rm -f "$dir.env"
}

case ${1:-} in
start) [[ $# -eq 5 ]] && start "$2" "$3" "$4" "$5" ;;
stop) [[ $# -eq 2 ]] && stop "$2" ;;
*) false ;;
esac || {
	[[ ${1:-} == start || ${1:-} == stop ]] ||
		echo "usage: bench/postfix.sh start PKI_DIR DIR ADDRESS CLIENT_NET | stop DIR" >&2
	exit 1
}
