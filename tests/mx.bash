# mx.bash - the MX test network inside a test's network namespace: test
# addresses on its loopback, the DNS server for a test zone (fakedns.py
# --zone) as the namespace's resolver, and SMTP sinks and connection traps
# on port 25 of those addresses. Load common and netns too; call netns_add
# (it sets NS) before mx_net_up, and mx_teardown in teardown.
#
# Addresses: IPv4 in 10.53.0.0/24, IPv6 in fd00:53::/64. The DNS server is
# MX_DNS_ADDR (10.53.0.53), the one nameserver in resolv.conf (one only:
# glibc asks the next nameserver after a SERVFAIL), and MX_DNS_ADDR6
# (fd00:53::53). In the namespace, connecting to an address of those
# ranges that was not added is refused (IPv4) or unreachable after about
# 1 s (IPv6); nothing listens on an added address until a sink or trap is
# started there. Files go to MX_DIR ($BATS_TEST_TMPDIR/mx).
#
#   mx_net_up [ADDR...]
#       Add MX_DNS_ADDR, MX_DNS_ADDR6 and each ADDR (IPv4 as /24, IPv6 as
#       /64 with nodad, usable at once) to lo in $NS. Write the namespace's
#       /etc/hosts (empty: no name of the machine's leaks in) and
#       resolv.conf: "nameserver $MX_DNS_ADDR" and "options
#       $MX_RESOLV_OPTIONS" (default "timeout:1 attempts:1", so SERVFAIL
#       and drop cases stay fast). No trust-ad: the program under test must
#       set RES_TRUSTAD itself, or glibc clears the AD bit of every answer
#       (and sends no AD in its queries, so fakedns.py sets none); set
#       MX_RESOLV_OPTIONS before the call to add trust-ad, edns0 etc.
#   mx_zone LINE...
#       Write the lines as the zone file $MX_DIR/zone (fakedns.py's format:
#       records "NAME TYPE DATA...", directives "servfail|drop|secure|
#       insecure NAME [TYPE]") and set MX_ZONE to its path.
#   mx_dns_start ZONEFILE [fakedns.py options...]
#       Start fakedns.py --zone ZONEFILE on port 53 (UDP and TCP) of
#       MX_DNS_ADDR and MX_DNS_ADDR6 in $NS, logging to MX_DNS_LOG, with
#       --max-seconds 300; the options are appended (e.g. --ad, or
#       --max-seconds N to override). Waits (10 s at most) until it is
#       listening; on failure prints its stderr and returns 1. Sets
#       MX_DNS_PID.
#   mx_dns_stop
#       Stop it; safe to repeat.
#   mx_dns_queries QTYPE NAME
#       Print how many queries for NAME (lower case, final dot) of QTYPE (a
#       mnemonic: A AAAA MX TLSA CNAME TXT PTR NS ANY, or a number) the log
#       has. A query answered truncated over UDP and asked again over TCP
#       counts twice. The log's line format is in fakedns.py's docstring.
#   mx_sink_start NAME ADDR [smtpsink.py options...]
#       Start smtpsink.py --host ADDR --port 25 in $NS, its files in
#       $MX_DIR/NAME (a sink NAME is started once per test). Waits (10 s at
#       most) until it listens; on failure prints its stderr and returns 1.
#   mx_sink_use NAME
#       Point SINK_DIR at sink NAME, so that sink.bash's sink_count,
#       sink_msg, sink_env, sink_header and sink_header_count read it.
#   mx_sink_count NAME / mx_sink_connections NAME
#       Print the number of messages sink NAME recorded / of connections it
#       accepted.
#   mx_trap_start NAME ADDR [PORT]
#       Start a listener on ADDR port PORT (25) in $NS that accepts each
#       connection, records its peer and closes it at once: an address that
#       must receive nothing. Waits (10 s at most) until it listens.
#   mx_trap_count NAME
#       Print the number of connections trap NAME accepted.
#   mx_teardown
#       Stop every process these helpers started (SIGTERM, SIGKILL after
#       3 s), then delete the namespace (netns_del). Safe to repeat.

MX_FAKEDNS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fakedns.py"
MX_DNS_ADDR=10.53.0.53
MX_DNS_ADDR6=fd00:53::53
MX_RESOLV_OPTIONS="${MX_RESOLV_OPTIONS:-timeout:1 attempts:1}"
MX_PIDS=()
MX_DNS_PID=

mx_dir() {
	MX_DIR="$BATS_TEST_TMPDIR/mx"
	mkdir -p "$MX_DIR${1:+/$1}"
}

mx_net_up() {
	local a etc="/etc/netns/$NS"
	[[ -n ${NS:-} ]] || { echo "mx_net_up: no namespace (netns_add first)" >&2; return 1; }
	for a in "$MX_DNS_ADDR" "$MX_DNS_ADDR6" "$@"; do
		if [[ $a == *:* ]]; then
			ip -n "$NS" addr add "$a/64" dev lo nodad || return 1
		else
			ip -n "$NS" addr add "$a/24" dev lo || return 1
		fi
	done
	mkdir -p "$etc" || return 1
	: >"$etc/hosts"
	printf 'nameserver %s\noptions %s\n' "$MX_DNS_ADDR" "$MX_RESOLV_OPTIONS" >"$etc/resolv.conf"
	mx_dir
}

mx_zone() {
	mx_dir
	MX_ZONE="$MX_DIR/zone"
	printf '%s\n' "$@" >"$MX_ZONE"
}

# mx_spawn NAME CMD...: run CMD in $NS in the background, output to
# $MX_DIR/NAME/err; record its PID in MX_PIDS and MX_LAST_PID.
mx_spawn() {
	local name="$1"
	shift
	# 3>&-: bats waits for anything still holding its fd 3.
	# ip netns exec execs the command: $! is the command's own PID.
	ip netns exec "$NS" "$@" >"$MX_DIR/$name/err" 2>&1 3>&- &
	MX_LAST_PID=$!
	MX_PIDS+=("$MX_LAST_PID")
}

# mx_wait_up NAME FILE WHAT: wait for FILE from the last process spawned.
mx_wait_up() {
	wait_file "$2" "$MX_LAST_PID" && return 0
	echo "$3 did not come up; its stderr:" >&2
	cat "$MX_DIR/$1/err" >&2
	return 1
}

mx_dns_start() {
	local zone="$1"
	shift
	mx_dir dns
	rm -f "$MX_DIR/dns/ready"
	MX_DNS_LOG="$MX_DIR/dns/queries.log"
	mx_spawn dns /usr/bin/python3 "$MX_FAKEDNS" --zone "$zone" \
		--addr "$MX_DNS_ADDR" --addr "$MX_DNS_ADDR6" --ready "$MX_DIR/dns/ready" \
		--log "$MX_DNS_LOG" --max-seconds 300 "$@"
	MX_DNS_PID=$MX_LAST_PID
	mx_wait_up dns "$MX_DIR/dns/ready" "fakedns.py --zone $zone"
}

mx_dns_stop() {
	local pid="$MX_DNS_PID"
	MX_DNS_PID=
	stop_pid "$pid"
}

mx_dns_queries() {
	local t="$1"
	case "$t" in
	A) t=1 ;; NS) t=2 ;; CNAME) t=5 ;; PTR) t=12 ;; MX) t=15 ;; TXT) t=16 ;;
	AAAA) t=28 ;; TLSA) t=52 ;; ANY) t=255 ;;
	esac
	awk -v t="$t" -v n="$2" '$2 == t && tolower($3) == n { c++ } END { print c + 0 }' \
		"$MX_DNS_LOG" 2>/dev/null || echo 0
}

mx_sink_start() {
	local name="$1" addr="$2" dir
	shift 2
	mx_dir "$name"
	dir="$MX_DIR/$name"
	mx_spawn "$name" /usr/bin/python3 "$SINK_SERVER" --dir "$dir" \
		--port-file "$dir/port" --host "$addr" --port 25 "$@"
	mx_wait_up "$name" "$dir/port" "smtpsink.py --host $addr $*"
}

# shellcheck disable=SC2034 # read by sink.bash's helpers
mx_sink_use() { SINK_DIR="$MX_DIR/$1"; }

mx_sink_count() { (mx_sink_use "$1" && sink_count); }

mx_sink_connections() { grep -c '^\* connect' "$MX_DIR/$1/session.log" 2>/dev/null || true; }

mx_trap_start() {
	local name="$1" addr="$2" port="${3:-25}" dir
	mx_dir "$name"
	dir="$MX_DIR/$name"
	: >"$dir/connections"
	mx_spawn "$name" /usr/bin/python3 -c '
import os, socket, sys, time
addr, port, log, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
with open(ready + ".tmp", "w") as f:
    f.write("ready\n")
os.rename(ready + ".tmp", ready)
end = time.monotonic() + 300
while time.monotonic() < end:
    s.settimeout(end - time.monotonic())
    try:
        c, peer = s.accept()
    except socket.timeout:
        break
    with open(log, "a") as f:
        f.write(peer[0] + "\n")
    c.close()
' "$addr" "$port" "$dir/connections" "$dir/ready"
	mx_wait_up "$name" "$dir/ready" "the trap on $addr port $port"
}

mx_trap_count() { wc -l <"$MX_DIR/$1/connections"; }

mx_teardown() {
	local pid
	for pid in "${MX_PIDS[@]}"; do
		stop_pid "$pid"
	done
	MX_PIDS=()
	MX_DNS_PID=
	netns_del
}
