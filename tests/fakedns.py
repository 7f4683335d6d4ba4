#!/usr/bin/python3
"""fakedns.py - a DNS responder for tests: fail every query, or answer from a zone.

Usage:
  fakedns.py (--rcode (nxdomain|servfail) | --zone FILE [--ad]) --ready FILE
             [--addr ADDR]... [--port 53] [--log FILE] [--max-seconds 60]

It binds UDP and TCP on --port of every --addr (repeatable, IPv4 or IPv6
literals; default 127.0.0.1), writes "ready" to --ready once listening, and
answers queries until SIGTERM or SIGINT (exit 0) or until --max-seconds
pass (so a test that dies cannot leave it running for ever).  Over TCP each
message has the 2-byte length prefix of RFC 1035 4.2.2; a connection serves
queries until the client closes it.  Packets too short or malformed to echo
are ignored.

--rcode mode: every query is answered with the same ID, opcode, RD bit and
question section, no records, and the response code NXDOMAIN (3) or
SERVFAIL (2).  With --log, one line "RCODE QTYPE NAME" (numbers, NAME as
asked, ending in ".") is appended per answered query.

--zone mode answers like a recursive resolver that holds the zone FILE:
  - a name with records of the asked type: NOERROR and those records;
  - a name that exists (it has records, or a name below it has: an empty
    non-terminal) but has none of that type: NOERROR, no answers (NODATA);
  - a name that does not exist: NXDOMAIN;
  - a CNAME at the name (asked type not CNAME): the CNAME record, then the
    answer for its target, followed within the zone (up to 8 links, more is
    SERVFAIL); a target outside the zone ends in NXDOMAIN;
  - ANY (255): every record at the name;
  - SERVFAIL (a directive, or a CNAME loop) has no records at all;
  - opcode other than QUERY: NOTIMP; class other than IN (or ANY): REFUSED.
  The header has QR, RA, the query's RD and CD, no AA.  Owner names and
  the names inside CNAME, MX, NS and PTR data are compressed (RFC 1035
  4.1.4): the first answer's owner is a pointer to the question name.
  EDNS (RFC 6891): a query with an OPT record gets one back (payload 1232,
  its DO bit echoed).  An answer longer than the UDP limit (512 bytes, or
  the query's EDNS payload size if larger) is sent over UDP as header and
  question only with TC set; the client retries over TCP, where the whole
  answer is sent.
  AD is set only when the query had AD or DO set (as a validating resolver
  does, RFC 6840 5.7; glibc sets AD in its queries when RES_TRUSTAD is on,
  and clears AD in answers when it is off) and every RRset the answer
  consists of is secure: each CNAME link and the final (name, type), data or
  no data alike.  Never on SERVFAIL.

Zone file: one item a line; "#" starts a comment, blank lines are ignored;
fields are separated by blanks, double quotes group a field (shlex rules).
Names are absolute (a missing final "." is added) and case-insensitive.
Records, "NAME TYPE DATA...":
  example.test. MX 10 mx1.example.test.
  nomail.test. MX 0 .                          (null MX, RFC 7505)
  mx1.example.test. A 10.53.0.11
  mx1.example.test. AAAA fd00:53::11
  alias.test. CNAME real.test.
  example.test. NS ns.example.test.
  11.0.53.10.in-addr.arpa. PTR mx1.example.test.
  x.test. TXT "v=spf1 -all" "more"           (each field one string; longer
                                               than 255 bytes is split)
  _25._tcp.mx1.example.test. TLSA 3 1 1 0123abcd...  (hex may be split in
                                               several fields)
  _submissions._tcp.example.test. SRV 0 1 465 smtp.example.test.
                                              (PRIORITY WEIGHT PORT TARGET;
                                               the target is sent
                                               uncompressed, RFC 2782)
Directives, "WORD NAME [TYPE]" (without TYPE: every type at NAME); they
apply to every name looked up, CNAME links included:
  servfail NAME [TYPE]   answer SERVFAIL
  drop NAME [TYPE]       send nothing (the client times out)
  secure NAME [TYPE]     the RRset (or the denial of it) is DNSSEC-secure
  insecure NAME [TYPE]   it is not
An RRset is secure when marked so for its type, else for its name (no
TYPE), else when --ad is given.  A name/type mark beats a name mark.

With --log in zone mode, one line per query:
  "RCODE QTYPE NAME TRANSPORT FLAGS"
RCODE a number, or "drop"; QTYPE a number; NAME as asked, ending in ".";
TRANSPORT "udp", "udp-tc" (the answer did not fit: TC sent) or "tcp";
FLAGS the query's flags among rd, cd, ad, do, comma-separated, or "-".
"""

import argparse
import os
import select
import shlex
import signal
import socket
import struct
import sys
import time

RCODES = {'nxdomain': 3, 'servfail': 2}
HEADER = struct.Struct('!HHHHHH')
TYPES = {'A': 1, 'NS': 2, 'CNAME': 5, 'PTR': 12, 'MX': 15, 'TXT': 16,
         'AAAA': 28, 'SRV': 33, 'TLSA': 52, 'ANY': 255}
NAME_TYPES = (2, 5, 12)          # data is one domain name
NOERROR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 2, 3, 4, 5
T_CNAME, T_OPT, T_ANY = 5, 41, 255
MAX_CHAIN = 8
EDNS_PAYLOAD = 1232
TTL = 300


def question_end(pkt):
    """Offset just past the first question, or None if malformed."""
    off = HEADER.size
    while True:
        if off >= len(pkt):
            return None
        n = pkt[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0:
            return None          # queries do not compress the question
        off += 1 + n
    off += 4                     # QTYPE, QCLASS
    return off if off <= len(pkt) else None


def question_labels(pkt):
    """The labels of the question name, as sent."""
    labels, off = [], HEADER.size
    while pkt[off]:
        n = pkt[off]
        labels.append(pkt[off + 1:off + 1 + n].decode('ascii', 'replace'))
        off += 1 + n
    return labels


def question_text(pkt, end):
    """"QTYPE NAME" of the question ending at end, for the log."""
    qtype = struct.unpack('!H', pkt[end - 4:end - 2])[0]
    return f'{qtype} {".".join(question_labels(pkt))}.'


def answer(pkt, rcode):
    """The --rcode reply to query pkt and its log text, or (None, None)."""
    if len(pkt) < HEADER.size:
        return None, None
    qid, flags, qdcount, _, _, _ = HEADER.unpack_from(pkt)
    if flags & 0x8000 or qdcount != 1:
        return None, None        # a response, or not a single question
    end = question_end(pkt)
    if end is None:
        return None, None
    # QR=1, keep opcode and RD, RA=1, then the response code
    rflags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | 0x0080 | rcode
    reply = HEADER.pack(qid, rflags, 1, 0, 0, 0) + pkt[HEADER.size:end]
    return reply, question_text(pkt, end)


# --- the zone -------------------------------------------------------------

class ZoneError(Exception):
    pass


def norm(name):
    """A name as a lower-case absolute name ("." for the root)."""
    name = name.lower()
    if name in ('', '.'):
        return '.'
    return name if name.endswith('.') else name + '.'


def parents(name):
    """The names strictly above name, root excluded."""
    labels = name.split('.')[:-1]
    return ['.'.join(labels[i:]) + '.' for i in range(1, len(labels))]


def type_number(word):
    if word.upper() not in TYPES:
        raise ZoneError(f'unknown type {word!r}')
    return TYPES[word.upper()]


def rdata_address(family, fields):
    if len(fields) != 1:
        raise ZoneError('one address expected')
    try:
        return [socket.inet_pton(family, fields[0])]
    except OSError:
        raise ZoneError(f'bad address {fields[0]!r}') from None


def rdata_mx(fields):
    if len(fields) != 2 or not fields[0].isdigit() or int(fields[0]) > 65535:
        raise ZoneError('MX wants PREFERENCE NAME')
    return [struct.pack('!H', int(fields[0])), norm(fields[1])]


def wire_name(name):
    """An absolute name in uncompressed wire form."""
    labels = [] if name == '.' else name.split('.')[:-1]
    out = b''
    for label in labels:
        data = label.encode()
        if not 0 < len(data) < 64:
            raise ZoneError(f'bad label in {name!r}')
        out += bytes([len(data)]) + data
    return out + b'\0'


def rdata_srv(fields):
    """SRV (RFC 2782): the target is never compressed."""
    nums = fields[:3]
    if len(fields) != 4 or not all(f.isdigit() and int(f) < 65536 for f in nums):
        raise ZoneError('SRV wants PRIORITY WEIGHT PORT TARGET')
    return [struct.pack('!HHH', *(int(f) for f in nums)) + wire_name(norm(fields[3]))]


def rdata_txt(fields):
    out = b''
    for text in fields:
        data = text.encode()
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b'']
        out += b''.join(bytes([len(c)]) + c for c in chunks)
    if not fields:
        raise ZoneError('TXT wants at least one string')
    return [out]


def rdata_tlsa(fields):
    nums = fields[:3]
    if len(fields) < 4 or not all(f.isdigit() and int(f) < 256 for f in nums):
        raise ZoneError('TLSA wants USAGE SELECTOR MTYPE HEX')
    try:
        data = bytes.fromhex(''.join(fields[3:]))
    except ValueError:
        raise ZoneError('TLSA data is not hex') from None
    return [bytes(int(f) for f in nums) + data]


def rdata(rtype, fields):
    """RDATA as a list of parts: bytes as they are, str a name to compress."""
    if rtype == 1:
        return rdata_address(socket.AF_INET, fields)
    if rtype == 28:
        return rdata_address(socket.AF_INET6, fields)
    if rtype in NAME_TYPES:
        if len(fields) != 1:
            raise ZoneError('one name expected')
        return [norm(fields[0])]
    if rtype == 15:
        return rdata_mx(fields)
    if rtype == 16:
        return rdata_txt(fields)
    if rtype == 52:
        return rdata_tlsa(fields)
    if rtype == 33:
        return rdata_srv(fields)
    raise ZoneError('ANY is not a record type')


class Zone:
    """Records by (name, type), the names that exist, and the directives."""

    DIRECTIVES = ('servfail', 'drop', 'secure', 'insecure')

    def __init__(self, default_secure):
        self.rrsets = {}         # (name, type) -> [rdata parts, ...]
        self.names = set()       # names with records, and their parents
        self.marks = {}          # (name, type or None) -> directive word
        self.default_secure = default_secure

    def add_line(self, fields):
        if fields[0] in self.DIRECTIVES:
            self.add_directive(fields)
            return
        if len(fields) < 3:
            raise ZoneError('NAME TYPE DATA... expected')
        name, rtype = norm(fields[0]), type_number(fields[1])
        self.rrsets.setdefault((name, rtype), []).append(rdata(rtype, fields[2:]))
        self.names.add(name)
        self.names.update(parents(name))

    def add_directive(self, fields):
        if len(fields) not in (2, 3):
            raise ZoneError(f'{fields[0]} wants NAME [TYPE]')
        rtype = type_number(fields[2]) if len(fields) == 3 else None
        word = fields[0]
        kind = 'fail' if word in ('servfail', 'drop') else 'sec'
        self.marks[(kind, norm(fields[1]), rtype)] = word

    def check(self):
        for (name, rtype), rrs in self.rrsets.items():
            if rtype == T_CNAME and len(rrs) > 1:
                raise ZoneError(f'{name} has several CNAME records')
            if rtype == T_CNAME and any(n == name and t != T_CNAME
                                        for n, t in self.rrsets):
                raise ZoneError(f'{name} has a CNAME and other data')

    def mark(self, kind, name, rtype):
        """The directive of kind for (name, rtype), or None."""
        word = self.marks.get((kind, name, rtype))
        return word if word else self.marks.get((kind, name, None))

    def secure(self, name, rtype):
        word = self.mark('sec', name, rtype)
        return self.default_secure if word is None else word == 'secure'

    def at(self, name, qtype):
        """The (type, rdata) records at name for qtype."""
        if qtype == T_ANY:
            return [(t, rd) for (n, t), rrs in self.rrsets.items()
                    if n == name for rd in rrs]
        return [(qtype, rd) for rd in self.rrsets.get((name, qtype), [])]


def load_zone(path, default_secure):
    zone = Zone(default_secure)
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            try:
                fields = shlex.split(line, comments=True)
                if fields:
                    zone.add_line(fields)
            except (ZoneError, ValueError) as e:
                raise ZoneError(f'{path}:{number}: {e}') from None
    zone.check()
    return zone


def resolve(zone, qname, qtype):
    """(rcode or 'drop', [(owner, type, rdata)], [(name, type) visited])."""
    records, visited, name = [], [], qname
    for _ in range(MAX_CHAIN + 1):
        fail = zone.mark('fail', name, qtype)
        if fail:
            return ('drop' if fail == 'drop' else SERVFAIL), records, visited
        cname = zone.rrsets.get((name, T_CNAME))
        if cname and qtype not in (T_CNAME, T_ANY):
            records.append((name, T_CNAME, cname[0]))
            visited.append((name, T_CNAME))
            name = cname[0][0]
            continue
        visited.append((name, qtype))
        found = zone.at(name, qtype)
        records += [(name, t, rd) for t, rd in found]
        return (NOERROR if found or name in zone.names else NXDOMAIN), records, visited
    return SERVFAIL, [], []


# --- messages -------------------------------------------------------------

class Query:
    """The parts of a query the zone answer needs."""

    def __init__(self, pkt):
        self.qid, self.flags, qdcount, _, _, arcount = HEADER.unpack_from(pkt)
        if self.flags & 0x8000 or qdcount != 1:
            raise ValueError('not a single-question query')
        self.end = question_end(pkt)
        if self.end is None:
            raise ValueError('bad question')
        self.question = pkt[HEADER.size:self.end]
        self.labels = question_labels(pkt)
        self.name = norm('.'.join(self.labels))
        self.qtype, self.qclass = struct.unpack('!HH', pkt[self.end - 4:self.end])
        self.edns, self.payload, self.do = self.parse_opt(pkt, arcount)

    def parse_opt(self, pkt, arcount):
        """(has OPT, UDP payload size, DO) from a root-named first additional."""
        off = self.end
        if arcount < 1 or off + 11 > len(pkt) or pkt[off] != 0:
            return False, 512, False
        rtype, size, ttl = struct.unpack('!HHI', pkt[off + 1:off + 9])
        if rtype != T_OPT:
            return False, 512, False
        return True, max(512, size), bool(ttl & 0x8000)

    def flag_words(self):
        words = [w for w, bit in (('rd', 0x0100), ('cd', 0x0010), ('ad', 0x0020))
                 if self.flags & bit]
        words += ['do'] if self.do else []
        return ','.join(words) or '-'


class Message:
    """A response being built, with name compression (RFC 1035 4.1.4)."""

    def __init__(self, query):
        self.buf = bytearray(HEADER.size) + query.question
        self.offsets = {}        # lower-case name suffix -> offset
        off, labels = HEADER.size, query.labels
        for i, label in enumerate(labels):
            self.offsets[norm('.'.join(labels[i:]))] = off
            off += 1 + self.buf[off]

    def name(self, name):
        labels = [] if name == '.' else name.split('.')[:-1]
        for i, label in enumerate(labels):
            suffix = '.'.join(labels[i:]) + '.'
            if suffix in self.offsets:
                self.buf += struct.pack('!H', 0xC000 | self.offsets[suffix])
                return
            if len(self.buf) < 0x4000:
                self.offsets[suffix] = len(self.buf)
            data = label.encode()
            self.buf += bytes([len(data)]) + data
        self.buf += b'\0'

    def record(self, owner, rtype, parts):
        self.name(owner)
        self.buf += struct.pack('!HHI', rtype, 1, TTL)
        start = len(self.buf)
        self.buf += b'\0\0'
        for part in parts:
            if isinstance(part, str):
                self.name(part)
            else:
                self.buf += part
        struct.pack_into('!H', self.buf, start, len(self.buf) - start - 2)

    def opt(self, do):
        self.buf += b'\0' + struct.pack('!HHIH', T_OPT, EDNS_PAYLOAD,
                                        0x8000 if do else 0, 0)

    def finish(self, qid, flags, ancount, arcount):
        HEADER.pack_into(self.buf, 0, qid, flags, 1, ancount, 0, arcount)
        return bytes(self.buf)


def response(query, rcode, records, ad, limit):
    """The wire response, and whether it was truncated to fit limit."""
    flags = 0x8000 | (query.flags & 0x7910) | 0x0080 | rcode
    flags |= 0x0020 if ad else 0
    msg = Message(query)
    for owner, rtype, parts in records:
        msg.record(owner, rtype, parts)
    if query.edns:
        msg.opt(query.do)
    wire = msg.finish(query.qid, flags, len(records), int(query.edns))
    if len(wire) <= limit:
        return wire, False
    short = Message(query)
    if query.edns:
        short.opt(query.do)
    return short.finish(query.qid, flags | 0x0200, 0, int(query.edns)), True


def zone_answer(zone, query):
    """(rcode or 'drop', records, AD) for a parsed query."""
    if query.flags & 0x7800:
        return NOTIMP, [], False
    if query.qclass not in (1, 255):
        return REFUSED, [], False
    rcode, records, visited = resolve(zone, query.name, query.qtype)
    if rcode == SERVFAIL:
        return SERVFAIL, [], False
    wants_ad = bool(query.flags & 0x0020) or query.do
    ad = (wants_ad and rcode in (NOERROR, NXDOMAIN)
          and all(zone.secure(n, t) for n, t in visited))
    return rcode, records, ad


def zone_reply(zone, pkt, transport):
    """The zone-mode reply to pkt (None: send nothing) and its log line."""
    if len(pkt) < HEADER.size:
        return None, None
    try:
        query = Query(pkt)
    except (ValueError, struct.error):
        return None, None
    rcode, records, ad = zone_answer(zone, query)
    line = f'{query.qtype} {".".join(query.labels)}.'
    if rcode == 'drop':
        return None, f'drop {line} {transport} {query.flag_words()}'
    limit = query.payload if transport == 'udp' else 65535
    wire, cut = response(query, rcode, records, ad, limit)
    if cut and transport != 'udp':
        wire, cut = response(query, SERVFAIL, [], False, limit)
    transport += '-tc' if cut else ''
    return wire, f'{rcode} {line} {transport} {query.flag_words()}'


# --- serving --------------------------------------------------------------

class Stopped(Exception):
    pass


def stop(signum, frame):
    raise Stopped()


def write_ready(path):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write('ready\n')
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument('--rcode', choices=sorted(RCODES))
    mode.add_argument('--zone')
    ap.add_argument('--ad', action='store_true')
    ap.add_argument('--ready', required=True)
    ap.add_argument('--addr', action='append')
    ap.add_argument('--port', type=int, default=53)
    ap.add_argument('--log')
    ap.add_argument('--max-seconds', type=float, default=60)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        serve(args, handler(args))
    except (ZoneError, OSError) as e:
        print(f'fakedns.py: {e}', file=sys.stderr)
        return 2
    except Stopped:
        pass
    return 0


def handler(args):
    """handle(pkt, transport) -> (reply or None, log line or None)."""
    if args.zone:
        zone = load_zone(args.zone, args.ad)
        return lambda pkt, transport: zone_reply(zone, pkt, transport)
    rcode = RCODES[args.rcode]

    def handle(pkt, transport):
        reply, text = answer(pkt, rcode)
        return reply, (f'{rcode} {text}' if reply else None)
    return handle


def bind(addr, port, kind):
    family = socket.AF_INET6 if ':' in addr else socket.AF_INET
    sock = socket.socket(family, kind)
    if kind == socket.SOCK_STREAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((addr, port))
    if kind == socket.SOCK_STREAM:
        sock.listen(16)
    return sock


class Server:
    """UDP and TCP sockets on every address, and the open TCP connections."""

    def __init__(self, args, handle):
        addrs = args.addr or ['127.0.0.1']
        self.udp = [bind(a, args.port, socket.SOCK_DGRAM) for a in addrs]
        self.tcp = [bind(a, args.port, socket.SOCK_STREAM) for a in addrs]
        self.conns = {}          # connected socket -> bytes received
        self.handle = handle
        self.log = open(args.log, 'a', buffering=1) if args.log else None

    def sockets(self):
        return self.udp + self.tcp + list(self.conns)

    def note(self, line):
        if self.log and line:
            self.log.write(line + '\n')

    def ready(self, sock):
        if sock in self.udp:
            self.datagram(sock)
        elif sock in self.tcp:
            conn, _ = sock.accept()
            conn.settimeout(5)
            self.conns[conn] = b''
        else:
            self.stream(sock)

    def datagram(self, sock):
        pkt, peer = sock.recvfrom(65535)
        reply, line = self.handle(pkt, 'udp')
        if reply is not None:
            sock.sendto(reply, peer)
        self.note(line)

    def stream(self, conn):
        try:
            data = conn.recv(65535)
        except OSError:
            data = b''
        if not data:
            del self.conns[conn]
            conn.close()
            return
        buf = self.conns[conn] + data
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack('!H', buf[:2])[0]:
            n = struct.unpack('!H', buf[:2])[0]
            self.message(conn, buf[2:2 + n])
            buf = buf[2 + n:]
        self.conns[conn] = buf

    def message(self, conn, pkt):
        reply, line = self.handle(pkt, 'tcp')
        if reply is not None:
            try:
                conn.sendall(struct.pack('!H', len(reply)) + reply)
            except OSError:
                pass
        self.note(line)


def serve(args, handle):
    """Bind, report ready, answer queries until --max-seconds pass."""
    end = time.monotonic() + args.max_seconds
    server = Server(args, handle)
    write_ready(args.ready)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            print('fakedns.py: --max-seconds reached', file=sys.stderr)
            return
        ready, _, _ = select.select(server.sockets(), [], [], left)
        for sock in ready:
            server.ready(sock)


if __name__ == '__main__':
    sys.exit(main())
