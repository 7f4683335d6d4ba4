#!/usr/bin/python3
"""mkpackets.py - writes the golden DNS answers that tests/unit/t-dns.c
reads (README in this directory lists them):

    python3 mkpackets.py [DIR]      (DIR: this script's directory)

Each answer is built field by field with struct, names compressed the way
a name server does (a suffix already in the packet becomes a pointer to
it); the malformed ones are well-formed answers with bytes patched or cut.
The output is deterministic: running it again rewrites identical files.
"""

import os
import struct
import sys

TYPES = {'A': 1, 'NS': 2, 'CNAME': 5, 'SOA': 6, 'MX': 15, 'TXT': 16,
         'AAAA': 28, 'TLSA': 52}
QR, AA, TC, RD, RA, AD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020
AN, NS, AR = 1, 2, 3


class Packet:
    """An answer to one question; sections are appended in order."""

    def __init__(self, qname, qtype, flags=QR | RD | RA, rcode=0, qid=0x1234):
        self.buf = bytearray(12)
        self.names = {}
        self.counts = [1, 0, 0, 0]
        self.flags = flags | rcode
        self.qid = qid
        self.name(qname)
        self.buf += struct.pack('!HH', TYPES[qtype], 1)

    def name(self, n):
        labels = [] if n == '.' else n.rstrip('.').split('.')
        for i, label in enumerate(labels):
            suffix = '.'.join(labels[i:])
            if suffix in self.names:
                self.buf += struct.pack('!H', 0xC000 | self.names[suffix])
                return
            self.names[suffix] = len(self.buf)
            raw = label.encode('ascii')
            self.buf += bytes([len(raw)]) + raw
        self.buf += b'\0'

    def rr(self, section, owner, rtype, rdata, ttl=3600, cls=1):
        """rdata: bytes, or a function that appends to the packet."""
        self.name(owner)
        self.buf += struct.pack('!HHIH', TYPES[rtype], cls, ttl, 0)
        start = len(self.buf)
        if callable(rdata):
            rdata(self)
        else:
            self.buf += rdata
        struct.pack_into('!H', self.buf, start - 2, len(self.buf) - start)
        self.counts[section] += 1
        return self

    def mx(self, owner, pref, host, section=AN):
        def rd(p):
            p.buf += struct.pack('!H', pref)
            p.name(host)
        return self.rr(section, owner, 'MX', rd)

    def cname(self, owner, target):
        return self.rr(AN, owner, 'CNAME', lambda p: p.name(target))

    def a(self, owner, text):
        return self.rr(AN, owner, 'A', bytes(int(x) for x in text.split('.')))

    def aaaa(self, owner, hexwords):
        return self.rr(AN, owner, 'AAAA', bytes.fromhex(hexwords))

    def tlsa(self, owner, usage, selector, mtype, data):
        return self.rr(AN, owner, 'TLSA', bytes([usage, selector, mtype]) + data)

    def soa(self, owner):
        def rd(p):
            p.name('ns1.' + owner)
            p.name('hostmaster.' + owner)
            p.buf += struct.pack('!IIIII', 2024010101, 7200, 900, 1209600, 300)
        return self.rr(NS, owner, 'SOA', rd, ttl=300)

    def bytes(self, counts=None):
        qd, an, ns, ar = counts or self.counts
        struct.pack_into('!HHHHHH', self.buf, 0, self.qid, self.flags, qd, an, ns, ar)
        return bytes(self.buf)


def digest(seed, n):
    """n deterministic bytes standing in for a hash or a certificate."""
    return bytes((seed * 31 + i * 7) & 0xFF for i in range(n))


def packets():
    p = {}
    mx = Packet('example.org', 'MX')
    mx.mx('example.org', 20, 'mx2.example.org')
    mx.mx('example.org', 10, 'mx1.example.org')
    mx.mx('example.org', 10, 'mx3.mail.example.net')
    mx.mx('EXAMPLE.org', 30, 'mx1.example.org')      # a host named twice
    p['mx-several'] = mx.bytes()

    p['mx-null'] = Packet('null.example.org', 'MX', QR | RD | RA | AD) \
        .mx('null.example.org', 0, '.').bytes()

    ch = Packet('alias.example.org', 'MX')
    ch.mx('real.example.net', 5, 'mx.example.net')       # before the chain
    ch.cname('alias.example.org', 'mid.example.com')
    ch.mx('alias.example.org', 1, 'wrong.example.org')   # owner not final
    ch.cname('MID.example.com', 'real.example.net')
    p['mx-cname'] = ch.bytes()

    p['cname-loop'] = Packet('loop1.example.org', 'MX') \
        .cname('loop1.example.org', 'loop2.example.org') \
        .cname('loop2.example.org', 'loop1.example.org').bytes()

    p['a'] = Packet('mx1.example.org', 'A', QR | RD | RA | AD) \
        .a('mx1.example.org', '192.0.2.1').a('mx1.example.org', '192.0.2.2').bytes()
    p['aaaa'] = Packet('mx1.example.org', 'AAAA', QR | RD | RA | AD) \
        .aaaa('mx1.example.org', '20010db8000000000000000000000001').bytes()
    p['a-insecure'] = Packet('mx2.example.org', 'A') \
        .a('mx2.example.org', '198.51.100.7').bytes()

    t = Packet('_25._tcp.mx1.example.org', 'TLSA', QR | RD | RA | AD)
    t.tlsa('_25._tcp.mx1.example.org', 3, 1, 1, digest(1, 32))
    t.tlsa('_25._tcp.mx1.example.org', 2, 0, 2, digest(2, 64))
    t.tlsa('_25._tcp.mx1.example.org', 3, 1, 1, digest(3, 31))   # too short
    t.tlsa('_25._tcp.mx1.example.org', 1, 0, 1, digest(4, 32))   # PKIX-EE
    t.tlsa('_25._tcp.mx1.example.org', 3, 2, 1, digest(5, 32))   # selector 2
    p['tlsa-digest'] = t.bytes()

    p['tlsa-cert'] = Packet('_25._tcp.mx2.example.org', 'TLSA') \
        .tlsa('_25._tcp.mx2.example.org', 3, 0, 0, digest(6, 1500)).bytes()

    p['nxdomain'] = Packet('nx.example.org', 'MX', rcode=3).soa('example.org').bytes()
    p['servfail'] = Packet('sf.example.org', 'MX', rcode=2).bytes()
    p['refused'] = Packet('ref.example.org', 'MX', rcode=5).bytes()
    p['implicit-mx'] = Packet('bare.example.org', 'MX', QR | RD | RA | AD) \
        .soa('example.org').bytes()
    p['truncated-tc'] = Packet('example.org', 'MX', QR | RD | RA | TC).bytes()
    p['tlsa-nxdomain'] = Packet('_25._tcp.mx9.example.org', 'TLSA', QR | RD | RA | AD,
                                rcode=3).soa('example.org').bytes()
    p['tlsa-servfail'] = Packet('_25._tcp.mx4.example.org', 'TLSA', rcode=2).bytes()

    # for dns_mx: no MX records, the domain has an address (implicit MX),
    # has none, or its AAAA lookup fails (half: the test's resolver times out)
    p['implicit-aaaa'] = Packet('bare.example.org', 'AAAA').soa('example.org').bytes()
    p['implicit-a'] = Packet('bare.example.org', 'A').a('bare.example.org', '203.0.113.5').bytes()
    for qtype in ('MX', 'AAAA', 'A'):
        p['empty-' + qtype.lower()] = Packet('empty.example.org', qtype) \
            .soa('example.org').bytes()
    for qtype in ('MX', 'A'):
        p['half-' + qtype.lower()] = Packet('half.example.org', qtype) \
            .soa('example.org').bytes()

    # malformed: cut, lengths and counts wrong, names broken
    p['cut'] = p['mx-several'][:75]
    bad = Packet('mx1.example.org', 'A').a('mx1.example.org', '192.0.2.1')
    struct.pack_into('!H', bad.buf, len(bad.buf) - 6, 200)
    p['rdlength-past-end'] = bad.bytes()
    bad = Packet('mx1.example.org', 'A').a('mx1.example.org', '192.0.2.1')
    bad.buf += b'\0'
    struct.pack_into('!H', bad.buf, len(bad.buf) - 7, 5)
    p['rdlength-a-5'] = bad.bytes()
    p['ancount-too-big'] = mx.bytes([1, 5, 0, 0])
    p['arcount-too-big'] = mx.bytes([1, 4, 0, 1])
    p['ancount-huge'] = mx.bytes([1, 0xFFFF, 0, 0])

    loop = Packet('example.org', 'MX')
    at = len(loop.buf)       # owner: "a" then a pointer back to that "a"
    loop.buf += b'\x01a' + struct.pack('!H', 0xC000 | at)
    loop.buf += struct.pack('!HHIH', 15, 1, 60, 3) + b'\0\x0a\0'
    loop.counts[AN] = 1
    p['pointer-loop'] = loop.bytes()

    fwd = Packet('example.org', 'MX')
    fwd.buf += struct.pack('!H', 0xC000 | (len(fwd.buf) + 12))   # to its own rdata
    fwd.buf += struct.pack('!HHIH', 15, 1, 60, 3) + b'\0\x0a\0'
    fwd.counts[AN] = 1
    p['pointer-forward'] = fwd.bytes()

    lab = Packet('example.org', 'MX')
    lab.buf += b'\x40' + b'a' * 64 + b'\0'
    lab.buf += struct.pack('!HHIH', 15, 1, 60, 3) + b'\0\x0a\0'
    lab.counts[AN] = 1
    p['label-64'] = lab.bytes()

    long_host = '.'.join(['h' * 63] * 4) + '.example.org'      # 270 octets
    lng = Packet('example.org', 'MX')
    lng.buf += b'\xc0\x0c' + struct.pack('!HHIH', 15, 1, 60, 0)
    start = len(lng.buf)
    lng.buf += struct.pack('!H', 10)
    for label in long_host.split('.'):
        lng.buf += bytes([len(label)]) + label.encode()
    lng.buf += b'\0'
    struct.pack_into('!H', lng.buf, start - 2, len(lng.buf) - start)
    lng.counts[AN] = 1
    p['name-too-long'] = lng.bytes()
    return p


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, data in sorted(packets().items()):
        with open(os.path.join(out, name + '.bin'), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
