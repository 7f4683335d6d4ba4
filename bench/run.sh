#!/bin/bash
# bench/run.sh - the figures of issue 15 (speed), for postie and, when it
# is installed, msmtp, in one table with the ratio postie/msmtp.
# Usage: bench/run.sh [--quick] [ROW...]   (root; run from a built tree)
# ROW (default: all of them, in this order):
#   trips   round trips per message over a link delayed 25 ms each way,
#           for plain, STARTTLS + AUTH PLAIN and implicit TLS + AUTH
#           PLAIN, against the suite's real Postfix + Dovecot SASL
#           (bench/postfix.sh) and against tests/smtpsink.py (asyncio
#           sets TCP_NODELAY on its sockets, Postfix's smtpd does not):
#           the median wall time of one send over the RTT that ICMP echo
#           measures.  The link: two network namespaces, a tun device in
#           each, joined by bench/delaylink.py (the kernel has no netem)
#   cpu     CPU (user + sys, wait4) per small plain message, over
#           sequential sends to tests/smtpsink.py on 127.0.0.1; and the
#           floor: bench/floor.c (the protocol alone, libc only) and an
#           empty main(), built with cc and measured alike
#   tlscpu  the same over STARTTLS + AUTH PLAIN with the default trust
#           store (tls_trust_file system): the system bundle plus the
#           test CA, bind-mounted over /etc/ssl/certs/ca-certificates.crt
#           in a mount namespace of its own (unshare -m)
#   bulk    a 100 MiB message (BULK_MIB) over STARTTLS on 127.0.0.1 to
#           bench/fastsink.py: throughput, client CPU, peak RSS
#   rss     peak RSS (/usr/bin/time -f %M) of a small plain send
# --quick: fewer repetitions (trips 3 sends, cpu and tlscpu 50, rss 3)
# instead of 11, 200, 200 and 5.
# Environment: POSTIE (default src/postie), MSMTP (default /usr/bin/msmtp;
# empty: postie only), BULK_MIB (default 100).
# Prints the raw figures as it goes, then the table.  Every server,
# namespace and tun device it starts is stopped or removed at exit.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init

# The suite's helpers, loaded as bats would: wait_until (common.bash),
# sink_start/sink_stop for tests/smtpsink.py, stop_pid and wait_file
# (sink.bash); pki_make (pki.bash).
# shellcheck disable=SC1090 # tests/NAME.bash
load() { . "$top/tests/$1.bash"; }
load common
load pki

ns_c='' ns_s='' link_pid='' null_pid='' postfix_dir='' child_pid=''
cleanup() {
	set +e
	stop_pid "$child_pid"
	sink_stop
	stop_pid "$null_pid"
	[ -z "$postfix_dir" ] || ip netns exec "$ns_s" "$top/bench/postfix.sh" stop "$postfix_dir"
	stop_pid "$link_pid"
	[ -z "$ns_c" ] || ip netns del "$ns_c" 2>/dev/null
	[ -z "$ns_s" ] || ip netns del "$ns_s" 2>/dev/null
	rm -rf "$dir"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

MSMTP=${MSMTP-/usr/bin/msmtp}
[ -z "$MSMTP" ] || [ -x "$MSMTP" ] || MSMTP=
BULK_MIB=${BULK_MIB:-100}
PY=/usr/bin/python3
sends=11 cpu_runs=200 rss_runs=5 pings=20
rows=
for arg; do
	case $arg in
	--quick) sends=3 cpu_runs=50 rss_runs=3 pings=10 ;;
	trips | cpu | tlscpu | bulk | rss) rows="$rows $arg" ;;
	*)
		echo "usage: bench/run.sh [--quick] [trips|cpu|tlscpu|bulk|rss]..." >&2
		exit 64
		;;
	esac
done
rows=${rows:-trips cpu tlscpu bulk rss}
if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh needs root (namespaces, tun devices, mounts)" >&2
	exit 1
fi

# Everything a client runs with: no system or user configuration.
export HOME=$dir/home POSTIE_SYSTEM_CONFIG=/dev/null TMPDIR=$dir
mkdir -p "$HOME"
# The private Postfix's daemons (user postfix) must reach their files.
chmod 711 "$dir"
CLIENT=198.18.0.1 SERVER=198.18.0.2 # RFC 2544's benchmarking range

# child [<FILE] COMMAND...: run COMMAND (standard input from FILE, else
# /dev/null) and return its status.  In the background and waited for,
# so that a signal to this script is handled at once (bash runs a trap
# only after the foreground command ends); cleanup stops it.
child() {
	local rc=0 in=/dev/null
	case $1 in '<'*)
		in=${1#<}
		shift
		;;
	esac
	"$@" <"$in" &
	child_pid=$!
	wait "$child_pid" || rc=$?
	child_pid=''
	return "$rc"
}

# --- output ---

# result METRIC FORMAT POSTIE [MSMTP]: a row of the final table.
result() {
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$dir/table"
}

table() {
	[ -s "$dir/table" ] || return 0
	echo
	echo "| metric | postie | msmtp | postie/msmtp |"
	echo "|---|---:|---:|---:|"
	awk -F '\t' '{
		p = sprintf($2, $3); m = "-"; r = "-"
		if ($4 != "") { m = sprintf($2, $4); if ($4 > 0) r = sprintf("%.2f", $3 / $4) }
		printf "| %s | %s | %s | %s |\n", $1, p, m, r
	}' "$dir/table"
}

# field FILE KEY [N]: the Nth value (default 1) of measure.py's KEY line.
field() { awk -v k="$2" -v n="${3:-1}" '$1 == k { print $(n + 1) }' "$1"; }

# --- clients ---

clients() { echo postie${MSMTP:+ msmtp}; }

# client_cmd NAME RC: the command line of client NAME with config RC.
client_cmd() {
	case $1 in
	postie) echo "$POSTIE -C $2 rcpt@example.net" ;;
	msmtp) echo "$MSMTP -C $2 rcpt@example.net" ;;
	esac
}

# rc FILE HOST PORT [LINE...]: a configuration both clients read.
rc() {
	f=$1 host=$2 p=$3
	shift 3
	{
		printf 'account default\nhost %s\nport %s\nfrom bench@example.org\n' "$host" "$p"
		printf 'domain bench.example\ntimeout 30\n'
		printf '%s\n' "$@"
	} >"$f"
	chmod 600 "$f"
}

# The settings of each mode (TLS verified against the test CA unless the
# caller adds a later tls_trust_file line).
AUTH="auth plain
user tester
password s3cret-Pa55"
mode_lines() {
	case $1 in
	plain) printf 'tls off\n' ;;
	starttls) printf 'tls on\ntls_starttls on\ntls_trust_file %s\ntls_host_override localhost\n%s\n' "$dir/pki/ca.pem" "$AUTH" ;;
	implicit) printf 'tls on\ntls_starttls off\ntls_trust_file %s\ntls_host_override localhost\n%s\n' "$dir/pki/ca.pem" "$AUTH" ;;
	esac
}

small_message() {
	printf 'From: bench@example.org\nTo: rcpt@example.net\nSubject: postie bench\n'
	printf 'Date: Thu, 01 Jan 2026 00:00:00 +0000\nMessage-ID: <bench.1@example.org>\n\n'
	awk 'BEGIN { for (i = 1; i <= 12; i++) printf "line %d of a small message body, some sixty bytes long.\n", i }'
}

pki() {
	[ -s "$dir/pki/ca.pem" ] || pki_make "$dir/pki" >/dev/null
}

# measure PREFIX... -- CLIENT RC OUT MEASURE-OPTIONS...: bench/measure.py
# over CLIENT's command line with config RC and the small message, run
# under the command PREFIX (may be empty); its report in OUT.
measure() {
	local pre=() name conf out
	while [ "$1" != -- ]; do
		pre+=("$1")
		shift
	done
	shift
	name=$1 conf=$2 out=$3
	shift 3
	# shellcheck disable=SC2046 # the client's command line
	child "${pre[@]}" "$PY" "$top/bench/measure.py" --stdin "$dir/small.eml" \
		--err "$dir/client.err" "$@" -- $(client_cmd "$name" "$conf") >"$out"
}

# --- trips: the delayed link ---

link_up() {
	ns_c=postie-bench-$$-c ns_s=postie-bench-$$-s
	ip netns add "$ns_c"
	ip netns add "$ns_s"
	ip -n "$ns_c" link set lo up
	ip -n "$ns_s" link set lo up
	"$PY" "$top/bench/delaylink.py" link --ns-a "$ns_c" --dev-a "pb$$c" \
		--ns-b "$ns_s" --dev-b "pb$$s" --delay-ms 25 --ready-file "$dir/link" \
		2>"$dir/link.err" &
	link_pid=$!
	wait_file "$dir/link" "$link_pid" || { cat "$dir/link.err" >&2; exit 1; }
	ip -n "$ns_c" addr add "$CLIENT" peer "$SERVER" dev "pb$$c"
	ip -n "$ns_s" addr add "$SERVER" peer "$CLIENT" dev "pb$$s"
	ip -n "$ns_c" link set "pb$$c" up
	ip -n "$ns_s" link set "pb$$s" up
}

# trips_run SERVER MODE PORT: one row, both clients, from the client
# namespace to SERVER:PORT.
trips_run() {
	label=$1 mode=$2 p=$3 vals=
	rc "$dir/rc" "$SERVER" "$p" "$(mode_lines "$mode")"
	for c in $(clients); do
		measure ip netns exec "$ns_c" -- "$c" "$dir/rc" "$dir/m" --runs "$sends" --warmup 1
		n=$(awk -v w="$(field "$dir/m" wall_ms)" -v r="$rtt" 'BEGIN { printf "%.2f", w / r }')
		echo "  $label, $mode, $c: one send $(field "$dir/m" wall_ms) ms, median of $sends" \
			"($(field "$dir/m" wall_ms 2)-$(field "$dir/m" wall_ms 3)): $n RTT"
		vals="$vals $n"
	done
	case $mode in
	plain) what="plain" ;;
	starttls) what="STARTTLS + AUTH PLAIN" ;;
	implicit) what="implicit TLS + AUTH PLAIN" ;;
	esac
	# shellcheck disable=SC2086 # postie's, then msmtp's
	result "round trips, $what, $label" "%.1f" $vals
}

row_trips() {
	pki
	link_up
	ip netns exec "$ns_c" "$PY" "$top/bench/delaylink.py" ping "$SERVER" --device "pb$$c" \
		--count "$pings" >"$dir/ping" 2>&1 ||
		{ cat "$dir/ping" >&2; exit 1; }
	read -r _ rtt rmin rmax _ <"$dir/ping"
	echo "trips: link delayed 25 ms each way; ICMP echo RTT median $rtt ms" \
		"($rmin-$rmax, $pings echoes)"

	postfix_dir=$dir/postfix
	child ip netns exec "$ns_s" timeout 120 "$top/bench/postfix.sh" start "$dir/pki" \
		"$postfix_dir" "$SERVER" "$CLIENT/32" >"$dir/postfix.log" 2>&1 ||
		{ cat "$dir/postfix.log" >&2; exit 1; }
	trips_run Postfix plain 25
	trips_run Postfix starttls 587
	trips_run Postfix implicit 465
	ip netns exec "$ns_s" "$top/bench/postfix.sh" stop "$postfix_dir"
	postfix_dir=

	tls="--cert $dir/pki/server.pem --key $dir/pki/server-key.pem"
	sasl="--auth PLAIN --auth-user tester --auth-password s3cret-Pa55 --auth-required"
	for mode in plain starttls implicit; do
		case $mode in
		plain) args="" ;;
		starttls) args="$tls --starttls $sasl --auth-tls-only" ;;
		implicit) args="$tls --tls $sasl" ;;
		esac
		# shellcheck disable=SC2086 # word lists
		SINK_EXEC="ip netns exec $ns_s" sink_start --host "$SERVER" --chunking $args
		trips_run "TCP_NODELAY sink" "$mode" "$SINK_PORT"
		sink_stop
		# The same send without the delay: the time that is not round
		# trips (both sides' CPU: process start, TLS handshake, Python's
		# asyncio), in RTT of the link above. A round-trip count minus
		# this is what the protocol itself costs.
		# shellcheck disable=SC2086 # word lists
		sink_start --chunking $args
		rc "$dir/rc" 127.0.0.1 "$SINK_PORT" "$(mode_lines "$mode")"
		for c in $(clients); do
			measure -- "$c" "$dir/rc" "$dir/m" --runs "$sends" --warmup 1
			echo "  TCP_NODELAY sink, $mode, $c, on 127.0.0.1 without the delay: one send" \
				"$(field "$dir/m" wall_ms) ms, median of $sends:" \
				"$(awk -v w="$(field "$dir/m" wall_ms)" -v r="$rtt" 'BEGIN { printf "%.2f", w / r }') RTT"
		done
		sink_stop
	done
}

# --- CPU per message ---

# cpu_run LABEL PREFIX...: CPU per message of each client with $dir/rc,
# $cpu_runs sends (after 2 not counted), under PREFIX.
cpu_run() {
	label=$1 vals=
	shift
	for c in $(clients); do
		measure "$@" -- "$c" "$dir/rc" "$dir/m" --runs "$cpu_runs" --warmup 2
		echo "  $c: $(field "$dir/m" cpu_ms) ms per message ($(field "$dir/m" user_s) s user +" \
			"$(field "$dir/m" sys_s) s sys over $cpu_runs; wall $(field "$dir/m" wall_ms) ms median)"
		vals="$vals $(field "$dir/m" cpu_ms)"
	done
	# shellcheck disable=SC2086 # postie's, then msmtp's
	result "$label" "%.1f" $vals
}

# The floor of the cpu row: bench/floor.c (the protocol and nothing else,
# libc only) to the same sink, and an empty main(), measured alike; in
# the table against msmtp's figure.
floor_run() {
	printf 'int main(void) { return 0; }\n' >"$dir/empty.c"
	cc -O2 -o "$dir/empty" "$dir/empty.c"
	cc -O2 -o "$dir/floor" "$top/bench/floor.c"
	child "$PY" "$top/bench/measure.py" --stdin "$dir/small.eml" --runs "$cpu_runs" --warmup 2 \
		-- "$dir/floor" 127.0.0.1 "$SINK_PORT" bench@example.org rcpt@example.net >"$dir/m"
	floor_ms=$(field "$dir/m" cpu_ms)
	child "$PY" "$top/bench/measure.py" --runs "$cpu_runs" --warmup 2 -- "$dir/empty" >"$dir/m"
	empty_ms=$(field "$dir/m" cpu_ms)
	echo "  bench/floor.c: $floor_ms ms per message; an empty main(): $empty_ms ms per run"
	result "CPU per small plain message, bench/floor.c: SMTP alone, libc only (ms)" "%.1f" "$floor_ms" "$1"
	result "CPU of an empty main() (ms)" "%.1f" "$empty_ms" "$1"
}

row_cpu() {
	sink_start --chunking
	rc "$dir/rc" 127.0.0.1 "$SINK_PORT" "$(mode_lines plain)"
	echo "cpu: small plain message to tests/smtpsink.py on 127.0.0.1, user + sys (wait4) per send"
	cpu_run "CPU per small plain message (ms)"
	# shellcheck disable=SC2086 # msmtp's figure, the last of $vals, if any
	floor_run "$([ -z "$MSMTP" ] || echo ${vals##* })"
	sink_stop
}

row_tlscpu() {
	pki
	store=/etc/ssl/certs/ca-certificates.crt
	cat "$store" "$dir/pki/ca.pem" >"$dir/bundle.crt"
	sink_start --chunking --cert "$dir/pki/server.pem" --key "$dir/pki/server-key.pem" \
		--starttls --auth PLAIN --auth-user tester --auth-password s3cret-Pa55 \
		--auth-required --auth-tls-only
	rc "$dir/rc" 127.0.0.1 "$SINK_PORT" "$(mode_lines starttls)" "tls_trust_file system"
	echo "tlscpu: STARTTLS + AUTH PLAIN to tests/smtpsink.py on 127.0.0.1, tls_trust_file system:" \
		"$store ($(grep -c 'BEGIN CERTIFICATE' "$dir/bundle.crt") certificates with the test CA)"
	# The check that the store is what verifies the server: without the
	# bind mount postie must refuse the certificate.
	rcheck=0
	"$POSTIE" -C "$dir/rc" rcpt@example.net <"$dir/small.eml" 2>"$dir/client.err" || rcheck=$?
	if [ "$rcheck" -eq 0 ]; then
		echo "  warning: postie verified the test server without the test CA in $store" >&2
	fi
	# shellcheck disable=SC2016 # for sh -c
	cpu_run "CPU per STARTTLS + AUTH message, system trust store (ms)" \
		unshare -m sh -c 'mount --bind "$0" "$1" && shift 2 && exec "$@"' "$dir/bundle.crt" "$store"
	sink_stop
}

# --- the 100 MiB message ---

row_bulk() {
	pki
	# Exactly BULK_MIB MiB: a header section, then base64 lines.
	head=$'From: bench@example.org\nTo: rcpt@example.net\nSubject: bulk\n\n'
	bytes=$((BULK_MIB * 1024 * 1024))
	{
		printf '%s' "$head"
		base64 -w 76 </dev/urandom | head -c "$((bytes - ${#head} - 1))" || true
		printf '\n'
	} >"$dir/bulk.eml"
	bytes=$(wc -c <"$dir/bulk.eml")
	"$PY" "$top/bench/fastsink.py" --dir "$dir/fast" --port-file "$dir/fast.port" --chunking \
		--nohash --cert "$dir/pki/server.pem" --key "$dir/pki/server-key.pem" 2>"$dir/fast.err" &
	null_pid=$!
	wait_file "$dir/fast.port" "$null_pid" || { cat "$dir/fast.err" >&2; exit 1; }
	rc "$dir/rc" 127.0.0.1 "$(cat "$dir/fast.port")" "tls on" "tls_starttls on" \
		"tls_trust_file $dir/pki/ca.pem" "tls_host_override localhost"
	echo "bulk: $bytes bytes (base64 text) over STARTTLS to bench/fastsink.py on 127.0.0.1"
	mbs='' cpus='' kbs=''
	for c in $(clients); do
		rm -f "$dir"/fast/msg-*.sum
		rcode=0
		# shellcheck disable=SC2046 # the command line
		child "<$dir/bulk.eml" timeout 300 /usr/bin/time -f '%e %U %S %M' -o "$dir/time" \
			$(client_cmd "$c" "$dir/rc") 2>"$dir/client.err" || rcode=$?
		if [ "$rcode" -ne 0 ]; then
			echo "$c: exit status $rcode" >&2
			tail -n 3 "$dir/client.err" >&2
			exit 1
		fi
		read -r secs user sys kb <<EOT
$(tail -n 1 "$dir/time")
EOT
		got=$(cat "$dir"/fast/msg-*.sum 2>/dev/null | awk '{ n = $2 } END { print n + 0 }')
		if [ "$got" -lt "$bytes" ]; then
			echo "$c: the server received $got bytes, fewer than the message's $bytes" >&2
			exit 1
		fi
		mb=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0) ? b / 1e6 / s : 0 }')
		cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
		echo "  $c: $secs s wall, $mb MB/s; CPU $user s user + $sys s sys; peak RSS $kb KiB;" \
			"$(cat "$dir"/fast/msg-*.sum | cut -d ' ' -f 3 | tr a-z A-Z) sent $got bytes"
		mbs="$mbs $mb" cpus="$cpus $cpu" kbs="$kbs $kb"
	done
	stop_pid "$null_pid"
	null_pid=
	# shellcheck disable=SC2086 # postie's, then msmtp's
	{
		result "$BULK_MIB MiB over STARTTLS: throughput (MB/s)" "%.0f" $mbs
		result "$BULK_MIB MiB over STARTTLS: client CPU (s)" "%.2f" $cpus
		result "$BULK_MIB MiB over STARTTLS: peak RSS (KiB)" "%d" $kbs
	}
}

# --- peak RSS ---

row_rss() {
	sink_start --chunking
	rc "$dir/rc" 127.0.0.1 "$SINK_PORT" "$(mode_lines plain)"
	echo "rss: small plain message to tests/smtpsink.py on 127.0.0.1, /usr/bin/time -f %M, median of $rss_runs"
	vals=
	for c in $(clients); do
		: >"$dir/rss"
		i=0
		while [ "$i" -lt "$rss_runs" ]; do
			i=$((i + 1))
			rcode=0
			# shellcheck disable=SC2046 # the command line
			child "<$dir/small.eml" timeout 60 /usr/bin/time -f '%M' -o "$dir/time" \
				$(client_cmd "$c" "$dir/rc") 2>"$dir/client.err" || rcode=$?
			[ "$rcode" -eq 0 ] || { echo "$c: exit status $rcode" >&2; tail -n 3 "$dir/client.err" >&2; exit 1; }
			tail -n 1 "$dir/time" >>"$dir/rss"
		done
		kb=$(sort -n "$dir/rss" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
		echo "  $c: $kb KiB ($(sort -n "$dir/rss" | tr '\n' ' ' | sed 's/ $//'))"
		vals="$vals $kb"
	done
	# shellcheck disable=SC2086 # postie's, then msmtp's
	result "peak RSS of a small plain send (KiB)" "%d" $vals
	sink_stop
}

# --- main ---

small_message >"$dir/small.eml"
echo "bench/run.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr)"
echo "postie: $POSTIE"
if [ -n "$MSMTP" ]; then
	echo "msmtp: $MSMTP ($("$MSMTP" --version | head -n 1))"
else
	echo "msmtp: not installed; postie alone"
fi
for row in $rows; do
	"row_$row"
done
table
