#!/bin/sh
# The queue's costs. Usage: bench/queue.sh [MESSAGES] [RUNS] (defaults
# 1000 and 21). Run from a built tree.
# 1. Flush: MESSAGES small messages queued with -odq (queue_dir in the
#    scratch directory), then one "postie -q" to the local test server
#    (tests/smtpsink.py on 127.0.0.1): wall time, CPU, peak RSS, messages
#    per second, and the connections the server saw (its session.log).
# 2. Latency a caller sees, median of RUNS runs each: "queue always"
#    (postie returns once the message is on disk; a detached child
#    delivers it, awaited before the next run) against direct delivery
#    ("queue off") to a server 50 ms away. As root with iproute2 and a
#    kernel with netem, the server runs in a network namespace behind a
#    veth pair delayed 25 ms each way. Otherwise the server delays each
#    reply postie waits for (sink script "drip"): 100 ms before the
#    greeting (TCP handshake and greeting), 50 ms for EHLO, the pipelined
#    MAIL/RCPT/DATA and the end of data (QUIT is pipelined with it).
#    The output says which.
# Every postie run has HOME set to the scratch directory; at exit the
# postie processes with that HOME (queue always's detached children), the
# servers and the namespace are stopped or removed.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
msgs=${1:-1000}
runs=${2:-21}
ns=

# stop_strays: stop the postie processes whose HOME is $dir.
stop_strays() {
	exe=$(readlink -f "$POSTIE")
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] || continue
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "HOME=$dir" || continue
		kill "${p#/proc/}" 2>/dev/null || true
	done
}

queue_cleanup() {
	stop_strays
	if [ -n "$ns" ]; then
		ip netns del "$ns" 2>/dev/null || true
	fi
	bench_cleanup
}
trap queue_cleanup EXIT
trap 'exit 130' INT TERM

# pst ARGS...: postie with the bench's environment.
pst() { HOME=$dir POSTIE_SYSTEM_CONFIG=/dev/null "$POSTIE" "$@"; }

# config FILE HOST PORT QUEUE: an account for the server at HOST:PORT.
config() {
	printf 'account default\nhost %s\nport %s\nfrom bench@example.org\nqueue %s\nqueue_dir %s\n' \
		"$2" "$3" "$4" "$dir/q" >"$1"
	chmod 600 "$1"
}

message() {
	printf 'From: bench@example.org\nTo: r@example.org\nSubject: queue bench %s\n\n' "$1"
	awk 'BEGIN { for (i = 0; i < 12; i++) printf "line %d of a short message body, about sixty bytes long.\n", i }'
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# delivered: messages the running server has recorded.
delivered() { find "$dir/sink" -name 'msg-*.env' 2>/dev/null | wc -l; }

# wait_for N: until the server has N messages and the queue is empty.
wait_for() {
	i=0
	until [ "$(delivered)" -ge "$1" ] && [ "$(pst -C "$dir/rc" -bp)" = "Mail queue is empty" ]; do
		i=$((i + 1))
		[ "$i" -lt 1000 ] || { echo "queue always: message $1 not delivered in 20 s" >&2; exit 1; }
		sleep 0.02
	done
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

stop_sink() {
	kill "$bench_pid" 2>/dev/null || true
	wait "$bench_pid" 2>/dev/null || true
	bench_pid=
	rm -rf "$dir/sink" "$dir/port"
}

# --- 1. flushing the queue ---
bench_sink
config "$dir/rc" 127.0.0.1 "$port" tempfail
t0=$(now_ms)
i=0
while [ "$i" -lt "$msgs" ]; do
	i=$((i + 1))
	message "$i" | pst -C "$dir/rc" -odq r@example.org
done
t1=$(now_ms)
queued=$(find "$dir/q" -maxdepth 1 -name '*.msg' | wc -l)
[ "$queued" -eq "$msgs" ] || { echo "queued $queued of $msgs messages" >&2; exit 1; }
bytes=$(du -bc "$dir"/q/*.msg | tail -n 1 | cut -f 1)

rc=0
HOME=$dir /usr/bin/time -f "%e %U %S %M" -o "$dir/time" \
	env POSTIE_SYSTEM_CONFIG=/dev/null "$POSTIE" -C "$dir/rc" -q 2>"$dir/err" || rc=$?
[ "$rc" -eq 0 ] || { echo "postie -q: exit status $rc" >&2; tail -n 3 "$dir/err" >&2; exit 1; }
read -r secs user sys kb <<EOT
$(tail -n 1 "$dir/time")
EOT
got=$(delivered)
conns=$(grep -c '^\* connect ' "$dir/sink/session.log")
left=$(pst -C "$dir/rc" -bp)
[ "$got" -eq "$msgs" ] || { echo "the server received $got of $msgs messages" >&2; exit 1; }
[ "$left" = "Mail queue is empty" ] || { echo "postie -q left messages queued" >&2; exit 1; }

echo "flush: $msgs messages ($((bytes / msgs)) bytes each) queued with -odq, then postie -q to 127.0.0.1"
echo "  queueing (-odq, one postie each): $(((t1 - t0) / msgs)) ms per message (queue_dir on $(df -T "$dir" | awk 'NR == 2 { print $2 }'))"
echo "  postie -q: wall $secs s, CPU ${user} s user + ${sys} s sys, peak RSS $kb KiB"
echo "  $(awk -v n="$msgs" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0) ? n / s : 0 }') messages/s; the server saw $conns connection$([ "$conns" = 1 ] || echo s) for $got messages"
stop_sink

# --- 2. latency: queue always against direct delivery, 50 ms away ---

# netns_sink: the server in namespace $ns behind a veth pair with 25 ms
# of netem delay on each end; sets host and port. Fails (leaving no
# namespace) when any step fails, e.g. a kernel without netem.
netns_sink() {
	[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && command -v tc >/dev/null || return 1
	ns=postie-bench-$$
	net=10.231.$(($$ % 250 + 1))
	v=pbq$$
	if ! { ip netns add "$ns" && ip -n "$ns" link set lo up &&
		ip link add "${v}a" type veth peer name "${v}b" && ip link set "${v}b" netns "$ns" &&
		ip addr add "$net.1/30" dev "${v}a" && ip link set "${v}a" up &&
		ip -n "$ns" addr add "$net.2/30" dev "${v}b" && ip -n "$ns" link set "${v}b" up &&
		tc qdisc add dev "${v}a" root netem delay 25ms &&
		tc -n "$ns" qdisc add dev "${v}b" root netem delay 25ms; } 2>"$dir/netns.err"; then
		ip link del "${v}a" 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
		ns=
		return 1
	fi
	ip netns exec "$ns" /usr/bin/python3 "$top/tests/smtpsink.py" --dir "$dir/sink" \
		--port-file "$dir/port" --host "$net.2" --port 25 2>"$dir/sink.err" &
	bench_pid=$!
	bench_wait_port
	host=$net.2 port=25
}

# script_sink: the server on 127.0.0.1 delaying each awaited reply.
script_sink() {
	cat >"$dir/delay.script" <<'EOT'
GREETING * drip 0.1 220 smtpsink.test ESMTP smtpsink
EHLO * drip 0.01 250-smtpsink.test\n250-PIPELINING\n250-8BITMIME\n250-SIZE\n250 ENHANCEDSTATUSCODES
DATA * drip 0.05 354 end data with <CR><LF>.<CR><LF>
DATA-END * drip 0.05 250 2.0.0 ok
EOT
	bench_sink --script "$dir/delay.script"
	host=127.0.0.1
}

if netns_sink; then
	how="network namespace, veth pair with netem delay 25ms on each end (50 ms round trip)"
else
	script_sink
	how="netem not available ($(head -n 1 "$dir/netns.err" 2>/dev/null || echo "needs root, ip and tc")): loopback, the server delays each reply postie waits for (greeting 100 ms, EHLO, MAIL/RCPT/DATA, end of data 50 ms each)"
fi

# latency QUEUE: RUNS sends with "queue QUEUE", one elapsed ms a line.
latency() {
	config "$dir/rc" "$host" "$port" "$1"
	n=0
	while [ "$n" -lt "$runs" ]; do
		n=$((n + 1))
		message "$1 $n" >"$dir/msg"
		base=$(delivered)
		t0=$(now_ms)
		pst -C "$dir/rc" r@example.org <"$dir/msg" 2>"$dir/err" ||
			{ echo "queue $1: exit status $?" >&2; cat "$dir/err" >&2; exit 1; }
		t1=$(now_ms)
		echo $((t1 - t0))
		wait_for $((base + 1))
	done
}

latency off >"$dir/direct"
latency always >"$dir/always"
echo "latency: one message, median of $runs runs (min-max), $how"
echo "  direct delivery (queue off): $(median <"$dir/direct") ms ($(sort -n "$dir/direct" | head -n 1)-$(sort -n "$dir/direct" | tail -n 1))"
echo "  queue always:                $(median <"$dir/always") ms ($(sort -n "$dir/always" | head -n 1)-$(sort -n "$dir/always" | tail -n 1))"
