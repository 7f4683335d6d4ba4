#!/usr/bin/env bats
# The test DNS server (fakedns.py --zone) and the MX network helpers
# (mx.bash), asked from inside a namespace by real clients: glibc
# (getent ahosts; res_mkquery + res_send through ctypes) and the small
# stdlib client below, which builds its own queries and decodes answers
# with a decompressor of its own. Needs root and iproute2.
load common
load netns
load mx

setup() {
	common_setup
	netns_add postie-d || return 1
	mx_net_up 10.53.0.11 10.53.0.12 fd00:53::11
}

teardown() {
	mx_teardown
	common_teardown
}

# dnsq [--tcp] [--glibc] [--flags rd,ad,cd] [--do] [--edns SIZE]
#      [--server ADDR] NAME TYPE
# One query, from inside the namespace, to MX_DNS_ADDR port 53 (UDP unless
# --tcp; with --glibc through glibc's res_mkquery and res_send, which read
# the namespace's resolv.conf and retry over TCP on TC). Prints
#   RCODE FLAGS an=N ar=N        (FLAGS: qr,aa,tc,rd,ra,ad,cd set)
#   one line per answer record: NAME TYPE DATA (TLSA data as hex)
#   opt PAYLOAD do|-             (when the answer has an OPT record)
#   pointers N                   (compression pointers followed)
# or "timeout" when nothing comes back in 3 s.
dnsq() {
	ip netns exec "$NS" /usr/bin/python3 - --server "$MX_DNS_ADDR" "$@" <<'EOF'
import argparse, ctypes, random, socket, struct, sys
TYPES = {'A': 1, 'NS': 2, 'CNAME': 5, 'PTR': 12, 'MX': 15, 'TXT': 16,
         'AAAA': 28, 'OPT': 41, 'TLSA': 52, 'ANY': 255}
NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: 'NOERROR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED'}
BITS = [('qr', 0x8000), ('aa', 0x0400), ('tc', 0x0200), ('rd', 0x0100),
        ('ra', 0x0080), ('ad', 0x0020), ('cd', 0x0010)]
ap = argparse.ArgumentParser()
ap.add_argument('--server')
ap.add_argument('--tcp', action='store_true')
ap.add_argument('--glibc', action='store_true')
ap.add_argument('--flags', default='rd')
ap.add_argument('--do', action='store_true')
ap.add_argument('--edns', type=int)
ap.add_argument('name')
ap.add_argument('type')
a = ap.parse_args()
pointers = 0

def query():
    flags = sum(bit for word, bit in BITS if word in a.flags.split(','))
    q = struct.pack('!HHHHHH', random.randrange(65536), flags, 1, 0, 0,
                    1 if a.edns or a.do else 0)
    for label in a.name.rstrip('.').split('.'):
        q += bytes([len(label)]) + label.encode()
    q += b'\0' + struct.pack('!HH', TYPES[a.type], 1)
    if a.edns or a.do:
        q += b'\0' + struct.pack('!HHIH', 41, a.edns or 1232, 0x8000 if a.do else 0, 0)
    return q

def exchange(q):
    family = socket.AF_INET6 if ':' in a.server else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM if a.tcp else socket.SOCK_DGRAM)
    s.settimeout(3)
    s.connect((a.server, 53))
    if not a.tcp:
        s.send(q)
        return s.recv(65535)
    s.sendall(struct.pack('!H', len(q)) + q)
    data = b''
    while len(data) < 2 or len(data) < 2 + struct.unpack('!H', data[:2])[0]:
        more = s.recv(65535)
        if not more:
            sys.exit('connection closed early')
        data += more
    return data[2:]

def glibc():
    libc = ctypes.CDLL('libc.so.6')
    q = ctypes.create_string_buffer(512)
    n = libc.res_mkquery(0, a.name.encode(), 1, TYPES[a.type], None, 0, None, q, 512)
    ans = ctypes.create_string_buffer(65536)
    m = libc.res_send(q, n, ans, 65536)
    if m < 0:
        raise socket.timeout()
    return ans.raw[:m]

def name(msg, off):
    global pointers
    labels, end, jumps = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            pointers += 1
            jumps += 1
            if jumps > 32:
                sys.exit('compression loop')
            end = off + 2 if end is None else end
            off = (n & 0x3F) << 8 | msg[off + 1]
            continue
        off += 1
        if n == 0:
            break
        labels.append(msg[off:off + n].decode())
        off += n
    return '.'.join(labels) + '.', (off if end is None else end)

def rdata(msg, rtype, off, size):
    data = msg[off:off + size]
    if rtype == 1:
        return socket.inet_ntop(socket.AF_INET, data)
    if rtype == 28:
        return socket.inet_ntop(socket.AF_INET6, data)
    if rtype in (2, 5, 12):
        return name(msg, off)[0]
    if rtype == 15:
        return '%d %s' % (struct.unpack('!H', data[:2])[0], name(msg, off + 2)[0])
    if rtype == 16:
        out, i = [], 0
        while i < len(data):
            out.append('"%s"' % data[i + 1:i + 1 + data[i]].decode())
            i += 1 + data[i]
        return ' '.join(out)
    if rtype == 52:
        return '%d %d %d %s' % (data[0], data[1], data[2], data[3:].hex())
    return data.hex()

def show(msg):
    _, flags, qd, an, ns, ar = struct.unpack('!HHHHHH', msg[:12])
    words = ','.join(w for w, bit in BITS if flags & bit)
    print(RCODES.get(flags & 15, flags & 15), words, 'an=%d' % an, 'ar=%d' % ar)
    off = name(msg, 12)[1] + 4
    for i in range(an + ns + ar):
        owner, off = name(msg, off)
        rtype, rclass, ttl, size = struct.unpack('!HHIH', msg[off:off + 10])
        off += 10
        if rtype == 41:
            print('opt', rclass, 'do' if ttl & 0x8000 else '-')
        elif i < an:
            print(owner, NAMES.get(rtype, rtype), rdata(msg, rtype, off, size))
        off += size
    print('pointers', pointers)

try:
    show(glibc() if a.glibc else exchange(query()))
except socket.timeout:
    print('timeout')
EOF
}

# log: the DNS server's log.
log() { cat "$MX_DNS_LOG"; }

# the zone most tests use
zone() {
	mx_zone \
		'example.test. MX 10 mx1.example.test.' \
		'example.test. MX 20 mx2.example.test.' \
		'mx1.example.test. A 10.53.0.11' \
		'mx1.example.test. AAAA fd00:53::11' \
		'mx2.example.test. A 10.53.0.12' \
		'alias.test. CNAME mid.test.' \
		'Mid.Test CNAME mx1.example.test.' \
		'loop1.test. CNAME loop2.test.' \
		'loop2.test. CNAME loop1.test.' \
		'dangling.test. CNAME nowhere.test.' \
		'nomail.test. MX 0 .' \
		'txt.test. TXT "v=spf1 -all" "two words"' \
		'_25._tcp.mx1.example.test. TLSA 3 1 1 0011 2233' \
		"$@"
}

@test "MX answer: both records, owner and exchange names compressed" {
	zone
	mx_dns_start "$MX_ZONE"
	run dnsq example.test MX
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=2 ar=0" ]
	[ "${lines[1]}" = "example.test. MX 10 mx1.example.test." ]
	[ "${lines[2]}" = "example.test. MX 20 mx2.example.test." ]
	# two owners point at the question, two exchanges at "example.test."
	[ "${lines[3]}" = "pointers 4" ]
	[ "$(log)" = "0 15 example.test. udp rd" ]
}

@test "glibc's res_send decodes the compressed MX answer; the question's case is kept" {
	zone
	mx_dns_start "$MX_ZONE"
	run dnsq --glibc EXAMPLE.test MX
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=2 ar=0" ]
	# the exchanges' "example.test." points into the question, as sent
	[ "${lines[1]}" = "EXAMPLE.test. MX 10 mx1.EXAMPLE.test." ]
	[ "${lines[2]}" = "EXAMPLE.test. MX 20 mx2.EXAMPLE.test." ]
	[ "${lines[3]}" = "pointers 4" ]
	[ "$(log)" = "0 15 EXAMPLE.test. udp rd" ]
}

@test "null MX, TXT strings, TLSA data" {
	zone
	mx_dns_start "$MX_ZONE"
	run dnsq nomail.test MX
	[ "${lines[1]}" = "nomail.test. MX 0 ." ]
	run dnsq txt.test TXT
	[ "${lines[1]}" = 'txt.test. TXT "v=spf1 -all" "two words"' ]
	run dnsq _25._tcp.mx1.example.test TLSA
	[ "${lines[1]}" = "_25._tcp.mx1.example.test. TLSA 3 1 1 00112233" ]
}

@test "CNAME chain in the answer, followed within the zone; getent resolves through it" {
	zone
	mx_dns_start "$MX_ZONE"
	run dnsq alias.test A
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=3 ar=0" ]
	[ "${lines[1]}" = "alias.test. CNAME mid.test." ]
	[ "${lines[2]}" = "mid.test. CNAME mx1.example.test." ]
	[ "${lines[3]}" = "mx1.example.test. A 10.53.0.11" ]
	run ip netns exec "$NS" getent ahosts alias.test
	[ "$status" -eq 0 ]
	# the canonical name is the end of the chain
	[ "${lines[0]}" = "fd00:53::11     STREAM mx1.example.test" ]
	[[ "$output" == *"10.53.0.11      STREAM"* ]]
	grep -qx '0 1 alias.test. udp rd' "$MX_DNS_LOG"
	grep -qx '0 28 alias.test. udp rd' "$MX_DNS_LOG"
	# a CNAME asked for itself is not followed
	run dnsq alias.test CNAME
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	[ "${lines[1]}" = "alias.test. CNAME mid.test." ]
}

@test "CNAME to a missing name: NXDOMAIN with the CNAME; a CNAME loop: SERVFAIL" {
	zone
	mx_dns_start "$MX_ZONE"
	run dnsq dangling.test MX
	[ "${lines[0]}" = "NXDOMAIN qr,rd,ra an=1 ar=0" ]
	[ "${lines[1]}" = "dangling.test. CNAME nowhere.test." ]
	run dnsq loop1.test A
	[ "${lines[0]}" = "SERVFAIL qr,rd,ra an=0 ar=0" ]
}

@test "NXDOMAIN for a missing name, NODATA for a name without the type or an empty non-terminal" {
	zone
	mx_dns_start "$MX_ZONE"
	run dnsq nosuch.example.test MX
	[ "${lines[0]}" = "NXDOMAIN qr,rd,ra an=0 ar=0" ]
	run dnsq mx2.example.test AAAA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=0 ar=0" ]
	run dnsq _tcp.mx1.example.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=0 ar=0" ]
	run ip netns exec "$NS" getent ahosts nosuch.example.test
	[ "$status" -eq 2 ]
	# mx2 has A only: getent gets that and no IPv6 address
	run ip netns exec "$NS" getent ahosts mx2.example.test
	[ "$status" -eq 0 ]
	[[ "$output" == *"10.53.0.12"* ]]
	[[ "$output" != *"fd00"* ]]
}

@test "servfail per type: TLSA fails while A works; servfail for a name: every type" {
	zone 'servfail _25._tcp.mx1.example.test. TLSA' 'servfail mx2.example.test.'
	mx_dns_start "$MX_ZONE"
	run dnsq _25._tcp.mx1.example.test TLSA
	[ "${lines[0]}" = "SERVFAIL qr,rd,ra an=0 ar=0" ]
	run dnsq mx1.example.test A
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	run dnsq mx2.example.test A
	[ "${lines[0]}" = "SERVFAIL qr,rd,ra an=0 ar=0" ]
	run dnsq mx2.example.test MX
	[ "${lines[0]}" = "SERVFAIL qr,rd,ra an=0 ar=0" ]
	grep -qx '2 52 _25._tcp.mx1.example.test. udp rd' "$MX_DNS_LOG"
}

@test "servfail and drop apply to CNAME targets too" {
	zone 'servfail mx1.example.test. A' 'drop mid.test. AAAA'
	mx_dns_start "$MX_ZONE"
	run dnsq alias.test A
	[ "${lines[0]}" = "SERVFAIL qr,rd,ra an=0 ar=0" ]
	run dnsq alias.test AAAA
	[ "$output" = timeout ]
	run dnsq alias.test MX
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=2 ar=0" ]
}

@test "drop: no answer at all, logged; other types still answered" {
	zone 'drop mx1.example.test. AAAA'
	mx_dns_start "$MX_ZONE"
	run dnsq mx1.example.test AAAA
	[ "$output" = timeout ]
	run dnsq --tcp mx1.example.test AAAA
	[ "$output" = timeout ]
	run dnsq mx1.example.test A
	[ "${lines[1]}" = "mx1.example.test. A 10.53.0.11" ]
	grep -qx 'drop 28 mx1.example.test. udp rd' "$MX_DNS_LOG"
	grep -qx 'drop 28 mx1.example.test. tcp rd' "$MX_DNS_LOG"
	# glibc gives up on the dropped AAAA (timeout:1 attempts:1) and still
	# returns the A record; the bound only catches a hang, it times nothing
	run timeout 20 ip netns exec "$NS" getent ahosts mx1.example.test
	[ "$status" -ne 124 ]
	[[ $output == *10.53.0.11* ]]
}

@test "AD: only a secure RRset, and only when the query has AD or DO" {
	zone 'secure _25._tcp.mx1.example.test. TLSA'
	mx_dns_start "$MX_ZONE"
	run dnsq --flags rd,ad _25._tcp.mx1.example.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra,ad an=1 ar=0" ]
	run dnsq --do _25._tcp.mx1.example.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra,ad an=1 ar=1" ]
	[ "${lines[2]}" = "opt 1232 do" ]
	run dnsq _25._tcp.mx1.example.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	# the addresses are insecure
	run dnsq --flags rd,ad mx1.example.test A
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	grep -qx '0 52 _25._tcp.mx1.example.test. udp rd,ad' "$MX_DNS_LOG"
	grep -qx '0 52 _25._tcp.mx1.example.test. udp rd,do' "$MX_DNS_LOG"
}

@test "AD with --ad: every RRset of a CNAME chain must be secure; denials too" {
	zone 'insecure mid.test. CNAME' 'insecure mx1.example.test. AAAA'
	mx_dns_start "$MX_ZONE" --ad
	run dnsq --flags rd,ad mx1.example.test A
	[ "${lines[0]}" = "NOERROR qr,rd,ra,ad an=1 ar=0" ]
	run dnsq --flags rd,ad mx1.example.test AAAA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	run dnsq --flags rd,ad alias.test A
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=3 ar=0" ]
	run dnsq --flags rd,ad nosuch.test A
	[ "${lines[0]}" = "NXDOMAIN qr,rd,ra,ad an=0 ar=0" ]
	run dnsq --flags rd,ad mx2.example.test AAAA
	[ "${lines[0]}" = "NOERROR qr,rd,ra,ad an=0 ar=0" ]
}

@test "a name/type mark beats a name mark; CD is echoed" {
	zone 'secure mx1.example.test.' 'insecure mx1.example.test. AAAA'
	mx_dns_start "$MX_ZONE"
	run dnsq --flags rd,ad,cd mx1.example.test A
	[ "${lines[0]}" = "NOERROR qr,rd,ra,ad,cd an=1 ar=0" ]
	run dnsq --flags rd,ad mx1.example.test AAAA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
}

@test "glibc sends AD and keeps it in answers only with trust-ad" {
	zone 'secure _25._tcp.mx1.example.test. TLSA'
	mx_dns_start "$MX_ZONE"
	run dnsq --glibc _25._tcp.mx1.example.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	[ "$(tail -n 1 "$MX_DNS_LOG")" = "0 52 _25._tcp.mx1.example.test. udp rd" ]
	printf 'nameserver %s\noptions trust-ad\n' "$MX_DNS_ADDR" >"/etc/netns/$NS/resolv.conf"
	run dnsq --glibc _25._tcp.mx1.example.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra,ad an=1 ar=0" ]
	[ "$(tail -n 1 "$MX_DNS_LOG")" = "0 52 _25._tcp.mx1.example.test. udp rd,ad" ]
}

@test "a TLSA answer over 512 bytes: TC over UDP, whole over TCP; glibc retries over TCP" {
	local hex
	hex="$(head -c 1200 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
	zone "_25._tcp.big.test. TLSA 3 0 0 $hex"
	mx_dns_start "$MX_ZONE"
	run dnsq _25._tcp.big.test TLSA
	[ "$output" = $'NOERROR qr,tc,rd,ra an=0 ar=0\npointers 0' ]
	run dnsq --tcp _25._tcp.big.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	[ "${lines[1]}" = "_25._tcp.big.test. TLSA 3 0 0 $hex" ]
	: >"$MX_DNS_LOG"
	run dnsq --glibc _25._tcp.big.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=0" ]
	[ "${lines[1]}" = "_25._tcp.big.test. TLSA 3 0 0 $hex" ]
	[ "$(log)" = $'0 52 _25._tcp.big.test. udp-tc rd\n0 52 _25._tcp.big.test. tcp rd' ]
	[ "$(mx_dns_queries TLSA _25._tcp.big.test.)" -eq 2 ]
}

@test "EDNS: the query's payload size is the UDP limit" {
	local hex
	hex="$(head -c 1200 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
	zone "_25._tcp.big.test. TLSA 3 0 0 $hex"
	mx_dns_start "$MX_ZONE"
	run dnsq --edns 4096 _25._tcp.big.test TLSA
	[ "${lines[0]}" = "NOERROR qr,rd,ra an=1 ar=1" ]
	[ "${lines[2]}" = "opt 1232 -" ]
	run dnsq --edns 1000 _25._tcp.big.test TLSA
	[ "${lines[0]}" = "NOERROR qr,tc,rd,ra an=0 ar=1" ]
}

@test "served on IPv4 and IPv6, UDP and TCP" {
	zone
	mx_dns_start "$MX_ZONE"
	run dnsq --server "$MX_DNS_ADDR6" mx1.example.test AAAA
	[ "${lines[1]}" = "mx1.example.test. AAAA fd00:53::11" ]
	run dnsq --tcp --server "$MX_DNS_ADDR6" mx1.example.test A
	[ "${lines[1]}" = "mx1.example.test. A 10.53.0.11" ]
	run dnsq --tcp mx1.example.test A
	[ "${lines[1]}" = "mx1.example.test. A 10.53.0.11" ]
}

@test "a zone file error: exit 2 naming file and line, never ready" {
	mx_zone 'ok.test. A 10.53.0.1' 'bad.test. A 300.1.1.1'
	run ip netns exec "$NS" /usr/bin/python3 "$MX_FAKEDNS" --zone "$MX_ZONE" \
		--addr "$MX_DNS_ADDR" --ready "$MX_DIR/ready"
	[ "$status" -eq 2 ]
	[ "$output" = "fakedns.py: $MX_ZONE:2: bad address '300.1.1.1'" ]
	[ ! -e "$MX_DIR/ready" ]
	mx_zone 'x.test. CNAME a.test.' 'x.test. A 10.53.0.1'
	run ip netns exec "$NS" /usr/bin/python3 "$MX_FAKEDNS" --zone "$MX_ZONE" \
		--addr "$MX_DNS_ADDR" --ready "$MX_DIR/ready"
	[ "$status" -eq 2 ]
	[ "$output" = "fakedns.py: x.test. has a CNAME and other data" ]
}

@test "--max-seconds ends it with status 0; SIGTERM too" {
	zone
	mx_dns_start "$MX_ZONE" --max-seconds 1
	wait_until 5 pid_exited "$MX_DNS_PID"
	wait "$MX_DNS_PID"
	mx_dns_start "$MX_ZONE"
	kill -TERM "$MX_DNS_PID"
	wait_until 5 pid_exited "$MX_DNS_PID"
	wait "$MX_DNS_PID"
}

# smtp ADDR RCPT: one message to ADDR port 25 from inside the namespace.
smtp() {
	ip netns exec "$NS" /usr/bin/python3 -c '
import smtplib, sys
with smtplib.SMTP(sys.argv[1], 25, timeout=10) as s:
    s.sendmail("a@client.test", [sys.argv[2]], "Subject: t\r\n\r\nbody\r\n")
' "$@"
}

@test "sinks on several addresses and a trap: each counted apart" {
	mx_sink_start one 10.53.0.11
	mx_sink_start six fd00:53::11
	mx_trap_start trap 10.53.0.12
	smtp 10.53.0.11 r1@example.test
	smtp 10.53.0.11 r2@example.test
	smtp fd00:53::11 r3@example.test
	[ "$(mx_sink_count one)" -eq 2 ]
	[ "$(mx_sink_connections one)" -eq 2 ]
	[ "$(mx_sink_count six)" -eq 1 ]
	[ "$(mx_sink_connections six)" -eq 1 ]
	[ "$(mx_trap_count trap)" -eq 0 ]
	mx_sink_use six
	grep -qix 'RCPT TO:<r3@example.test>' "$(sink_env 1)"
	run smtp 10.53.0.12 r4@example.test
	[ "$status" -ne 0 ]
	# the trap records the connection before closing it
	[ "$(mx_trap_count trap)" -eq 1 ]
	[ "$(mx_sink_connections one)" -eq 2 ]
	# an address not added: refused
	run smtp 10.53.0.99 r5@example.test
	[[ "$output" == *"Connection refused"* ]]
}

@test "mx_net_up: resolv.conf, empty hosts, addresses; teardown stops only what was started" {
	[ "$(<"/etc/netns/$NS/resolv.conf")" = $'nameserver 10.53.0.53\noptions timeout:1 attempts:1' ]
	[ ! -s "/etc/netns/$NS/hosts" ]
	run ip -n "$NS" addr show dev lo
	[[ "$output" == *"inet 10.53.0.11/24"* ]]
	[[ "$output" == *"inet6 fd00:53::11/64 scope global nodad"* ]]
	zone
	mx_dns_start "$MX_ZONE"
	mx_sink_start one 10.53.0.11
	mx_trap_start trap 10.53.0.12
	local pids=("${MX_PIDS[@]}") ns="$NS" pid
	[ "${#pids[@]}" -eq 3 ]
	mx_teardown
	for pid in "${pids[@]}"; do pid_exited "$pid"; done
	run ip netns list
	[[ "$output" != *"$ns"* ]]
	[ ! -e "/etc/netns/$ns" ]
}
