#!/usr/bin/python3
"""fakedns.py - a UDP DNS responder that fails every query, for tests.

Usage:
  fakedns.py --rcode (nxdomain|servfail) --ready FILE
             [--addr 127.0.0.1] [--port 53] [--log FILE] [--max-seconds 60]

It binds --addr:--port (UDP), writes "ready" to --ready once listening,
and answers every query with the same ID, opcode, RD bit and question
section, no records, and the response code NXDOMAIN (3) or SERVFAIL (2).
Packets too short or malformed to echo are ignored.  With --log, one line
"RCODE QTYPE NAME" (numbers, NAME ending in ".") is appended per answered query.

It exits 0 on SIGTERM or SIGINT, and by itself after --max-seconds (so a
test that dies cannot leave it running for ever).
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time

RCODES = {'nxdomain': 3, 'servfail': 2}
HEADER = struct.Struct('!HHHHHH')


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


def question_text(pkt, end):
    """"QTYPE NAME" of the question ending at end, for the log."""
    labels, off = [], HEADER.size
    while pkt[off]:
        n = pkt[off]
        labels.append(pkt[off + 1:off + 1 + n].decode('ascii', 'replace'))
        off += 1 + n
    qtype = struct.unpack('!H', pkt[end - 4:end - 2])[0]
    return f'{qtype} {".".join(labels)}.'


def answer(pkt, rcode):
    """The reply to query pkt, or None to ignore it."""
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
    ap.add_argument('--rcode', required=True, choices=sorted(RCODES))
    ap.add_argument('--ready', required=True)
    ap.add_argument('--addr', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=53)
    ap.add_argument('--log')
    ap.add_argument('--max-seconds', type=float, default=60)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        serve(args)
    except Stopped:
        pass
    return 0


def serve(args):
    """Bind, report ready, answer queries until --max-seconds pass."""
    end = time.monotonic() + args.max_seconds
    rcode = RCODES[args.rcode]
    log = open(args.log, 'a', buffering=1) if args.log else None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.addr, args.port))
    write_ready(args.ready)
    while True:
        left = end - time.monotonic()
        if left <= 0:
            print('fakedns.py: --max-seconds reached', file=sys.stderr)
            return
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            continue
        pkt, peer = sock.recvfrom(4096)
        reply, text = answer(pkt, rcode)
        if reply is None:
            continue
        sock.sendto(reply, peer)
        if log:
            log.write(f'{rcode} {text}\n')


if __name__ == '__main__':
    sys.exit(main())
