#!/usr/bin/env bats
# Name resolution and address fallback, end to end and hermetic: each test
# runs postie in its own network namespace, where `ip netns exec` puts the
# test's resolv.conf (pointing at tests/fakedns.py) and hosts file in place
# of the machine's. Needs root and iproute2.
load common
load netns

FAKEDNS="$BATS_TEST_DIRNAME/fakedns.py"

setup() {
	common_setup
	DNS_PID=
	netns_add postie-t || return 1
	NS_ETC="/etc/netns/$NS"
	mkdir -p "$NS_ETC"
	printf '%s\n' 'nameserver 127.0.0.1' 'options attempts:1 timeout:2' \
		>"$NS_ETC/resolv.conf"
	# an empty hosts file: no name of the machine's /etc/hosts leaks in
	: >"$NS_ETC/hosts"
}

teardown() {
	stop_pid "$DNS_PID"
	DNS_PID=
	common_teardown
	netns_del
}

# dns_start (nxdomain|servfail): fakedns.py on 127.0.0.1:53 in the namespace.
dns_start() {
	local dir="$BATS_TEST_TMPDIR/dns"
	mkdir -p "$dir"
	# ip netns exec execs the command: DNS_PID is python's own PID
	ip netns exec "$NS" /usr/bin/python3 "$FAKEDNS" --rcode "$1" \
		--ready "$dir/ready" --log "$dir/queries.log" --max-seconds 60 \
		>"$dir/err" 2>&1 3>&- &
	DNS_PID=$!
	DNS_LOG="$dir/queries.log"
	if ! wait_file "$dir/ready" "$DNS_PID"; then
		echo "fakedns.py did not come up; its stderr:" >&2
		cat "$dir/err" >&2
		return 1
	fi
}

# ns_sink_start: the sink on 127.0.0.1 only (no ::1), in the namespace.
ns_sink_start() {
	SINK_EXEC="ip netns exec $NS" sink_start --host 127.0.0.1
}

# peer_start: a one-shot listener on 127.0.0.1 in the namespace that
# writes the peer address of the first connection to $PEER_FILE, answers
# it with a 554 greeting and exits (after 10 s without one, too).
# Sets PEER_PORT and PEER_PID (stopped as SINK_PID).
peer_start() {
	local dir="$BATS_TEST_TMPDIR/peer"
	mkdir -p "$dir"
	PEER_FILE="$dir/peer"
	ip netns exec "$NS" /usr/bin/python3 -c '
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
s.settimeout(10)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
c, peer = s.accept()
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(peer[0] + "\n")
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
c.sendall(b"554 5.7.1 go away\r\n")
c.settimeout(10)
while c.recv(4096):
    pass
' "$dir/port" "$PEER_FILE" >"$dir/err" 2>&1 3>&- &
	PEER_PID=$!
	SINK_PID=$PEER_PID
	if ! wait_file "$dir/port" "$PEER_PID"; then
		echo "the listener did not come up; its stderr:" >&2
		cat "$dir/err" >&2
		return 1
	fi
	PEER_PORT="$(<"$dir/port")"
}

# hosts LINE...: the namespace's /etc/hosts.
hosts() { printf '%s\n' "$@" >"$NS_ETC/hosts"; }

# ns_config HOST PORT [extra config lines...]: ~/.postierc.
ns_config() {
	local host="$1" port="$2" l
	shift 2
	{
		echo "account default"
		echo "host $host"
		echo "port $port"
		echo "domain client.example"
		echo "from sender@example.org"
		for l in "$@"; do echo "$l"; done
	} >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
}

# send [postie args...]: run postie inside the namespace with a small message.
send() { run ip netns exec "$NS" "$POSTIE" "$@" <<<$'Subject: t\n\nbody'; }

# connections: how many connections the sink saw.
connections() { grep -c '^\* connect' "$SINK_DIR/session.log" || true; }

@test "nonexistent smarthost (NXDOMAIN): 68, the host named" {
	dns_start nxdomain
	ns_config nosuch.test 25
	send r@example.org
	[ "$status" -eq 68 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "postie: cannot resolve host 'nosuch.test': "* ]]
	# the answer came from fakedns, not from the machine's resolver
	grep -q '^3 1 nosuch\.test\.$' "$DNS_LOG"
}

@test "resolver failure (SERVFAIL): 75, the host named" {
	dns_start servfail
	ns_config nosuch.test 25
	send r@example.org
	[ "$status" -eq 75 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == "postie: cannot resolve host 'nosuch.test': "* ]]
	grep -q '^2 1 nosuch\.test\.$' "$DNS_LOG"
}

@test "no name server answering: 75" {
	# nothing listens on 127.0.0.1:53 in the namespace
	ns_config nosuch.test 25
	send r@example.org
	[ "$status" -eq 75 ]
	[[ "$output" == "postie: cannot resolve host 'nosuch.test': "* ]]
}

@test "address fallback: ::1 refused, then 127.0.0.1 delivers" {
	hosts '::1 smarthost.test' '127.0.0.1 smarthost.test'
	ns_sink_start
	ns_config smarthost.test "$SINK_PORT"
	send -v r@example.org
	[ "$status" -eq 0 ]
	[[ "$output" == *"cannot connect to ::1 port $SINK_PORT: Connection refused; trying the next address"* ]]
	[ "$(sink_count)" -eq 1 ]
	[ "$(connections)" -eq 1 ]
	grep -qx 'RCPT TO:<r@example.org>' "$(sink_env 1)"
}

@test "address fallback is silent without -v" {
	hosts '::1 smarthost.test' '127.0.0.1 smarthost.test'
	ns_sink_start
	ns_config smarthost.test "$SINK_PORT"
	send r@example.org
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(sink_count)" -eq 1 ]
}

@test "every address refused: 75, the host, last address and reason named" {
	hosts '::1 smarthost.test' '127.0.0.1 smarthost.test'
	# nothing listens anywhere in the namespace
	ns_config smarthost.test 2525
	send -v r@example.org
	[ "$status" -eq 75 ]
	[[ "$output" == *"cannot connect to ::1 port 2525: Connection refused; trying the next address"* ]]
	[ "${lines[${#lines[@]} - 1]}" = "postie: cannot connect to smarthost.test (127.0.0.1 port 2525): Connection refused" ]
}

@test "source_ip 127.0.0.2 delivers, and only IPv4 addresses are tried" {
	hosts '::1 smarthost.test' '127.0.0.1 smarthost.test'
	ns_sink_start
	ns_config smarthost.test "$SINK_PORT" "source_ip 127.0.0.2"
	send -v r@example.org
	[ "$status" -eq 0 ]
	[[ "$output" != *"::1"* ]]
	[ "$(sink_count)" -eq 1 ]
	[ "$(connections)" -eq 1 ]
}

@test "source_ip is the source address of the connection" {
	hosts '127.0.0.1 smarthost.test'
	peer_start
	ns_config smarthost.test "$PEER_PORT" "source_ip 127.0.0.2"
	send r@example.org
	[ "$status" -eq 69 ]
	[[ "$output" == *"554 5.7.1 go away"* ]]
	wait_file "$PEER_FILE" "$PEER_PID"
	[ "$(<"$PEER_FILE")" = 127.0.0.2 ]
}

@test "source_ip ::1 with an IPv4-only server: only ::1 tried, 75" {
	hosts '::1 smarthost.test' '127.0.0.1 smarthost.test'
	ns_sink_start
	ns_config smarthost.test "$SINK_PORT" "source_ip ::1"
	send r@example.org
	[ "$status" -eq 75 ]
	[ "$output" = "postie: cannot connect to smarthost.test (::1 port $SINK_PORT): Connection refused" ]
	[ "$(sink_count)" -eq 0 ]
	[ "$(connections)" -eq 0 ]
}

@test "source_ip 'not-an-ip': 78, nothing sent" {
	hosts '127.0.0.1 smarthost.test'
	ns_sink_start
	ns_config smarthost.test "$SINK_PORT" "source_ip not-an-ip"
	send r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: invalid source_ip 'not-an-ip'" ]
	[ "$(sink_count)" -eq 0 ]
	[ "$(connections)" -eq 0 ]
}

@test "source_ip not on this host: 78, nothing sent" {
	hosts '127.0.0.1 smarthost.test'
	ns_sink_start
	ns_config smarthost.test "$SINK_PORT" "source_ip 192.0.2.1"
	send r@example.org
	[ "$status" -eq 78 ]
	[[ "$output" == "postie: cannot bind to source_ip '192.0.2.1': "* ]]
	[ "$(sink_count)" -eq 0 ]
	[ "$(connections)" -eq 0 ]
}

@test "source_ip of a family the host has no address in: 78" {
	hosts '::1 smarthost.test'
	ns_config smarthost.test 2525 "source_ip 127.0.0.2"
	send r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: smarthost.test has no address of the family of source_ip '127.0.0.2'" ]
}

# nodomain_config: ~/.postierc for the namespace's sink, without domain.
nodomain_config() {
	printf '%s\n' "account default" "host 127.0.0.1" "port $SINK_PORT" \
		"from sender@example.org" >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
}

@test "domain unset: this host's name comes from /etc/hosts, DNS is never asked" {
	dns_start nxdomain
	ns_sink_start
	nodomain_config
	hosts '127.0.0.1 localhost' '127.0.1.1 box.example.org box'
	HOSTNAME=box send r@example.org
	[ "$status" -eq 0 ]
	grep -q '^C: EHLO box\.example\.org$' "$SINK_DIR/session.log"
	# no query at all, for the EHLO name or anything else
	[ ! -s "$DNS_LOG" ]
}

@test "domain unset and the host name unknown locally: EHLO localhost, DNS never asked" {
	dns_start nxdomain
	ns_sink_start
	nodomain_config
	hosts '127.0.0.1 localhost'
	HOSTNAME=box send r@example.org
	[ "$status" -eq 0 ]
	grep -q '^C: EHLO localhost$' "$SINK_DIR/session.log"
	[ ! -s "$DNS_LOG" ]
}
