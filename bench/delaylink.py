#!/usr/bin/python3
"""delaylink.py - a delayed point-to-point link between two network
namespaces, for benchmarks on a kernel without netem (root only).

  delaylink.py link --ns-a NS --dev-a NAME --ns-b NS --dev-b NAME
                    [--delay-ms 25] [--ready-file FILE] [--max-seconds 3600]
      Creates the tun device NAME-A in namespace NS-A and NAME-B in NS-B
      (both IFF_TUN | IFF_NO_PI, so one read or write is one IP packet),
      writes "ready" to FILE, then copies every packet read from one device
      to the other DELAY milliseconds later, in order.  The caller gives the
      devices their addresses and brings them up (ip -n NS ...) after FILE
      appears.  The devices vanish when this process exits: on SIGTERM or
      SIGINT, or after --max-seconds whatever happens.

  delaylink.py ping ADDRESS --device NAME [--count 20] [--interval 0.05]
                    [--timeout 2]
      ICMP echo from the current namespace (a raw socket bound to the
      device NAME, so that the echoes leave through the link or not at
      all): prints
      "rtt_ms MEDIAN MIN MAX COUNT", the round-trip times in milliseconds.
      Exit status 1 when an echo gets no reply within --timeout seconds.

The namespaces are those of "ip netns add" (/run/netns/NAME).
"""

import argparse
import collections
import ctypes
import fcntl
import os
import select
import signal
import socket
import statistics
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454ca
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
ICMP_ECHO_REQUEST = 8
ICMP_ECHO_REPLY = 0


class Stop(Exception):
    """SIGTERM, SIGINT or the lifetime bound."""


def stop(signum, frame):
    raise Stop()


def setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f'setns: {os.strerror(err)}')


def open_tun(ns, name):
    """Open the new tun device NAME inside namespace NS; the calling
    process returns to its own namespace."""
    home = os.open('/proc/self/ns/net', os.O_RDONLY)
    target = os.open(f'/run/netns/{ns}', os.O_RDONLY)
    try:
        setns(target)
        fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
        ifr = struct.pack('16sH22x', name.encode(), IFF_TUN | IFF_NO_PI)
        fcntl.ioctl(fd, TUNSETIFF, ifr)
        return fd
    finally:
        setns(home)
        os.close(home)
        os.close(target)


def relay(a, b, delay):
    """Copy packets between the tun fds A and B, each DELAY seconds late."""
    pending = {a: collections.deque(), b: collections.deque()}  # to write
    other = {a: b, b: a}
    while True:
        now = time.monotonic()
        for fd, queue in pending.items():
            while queue and queue[0][0] <= now:
                try:
                    os.write(fd, queue.popleft()[1])
                except (BlockingIOError, OSError):
                    pass  # a full or down device drops it, as a wire would
        due = [q[0][0] for q in pending.values() if q]
        timeout = max(0.0, min(due) - now) if due else 1.0
        ready, _, _ = select.select([a, b], [], [], timeout)
        now = time.monotonic()
        for fd in ready:
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not packet:
                    break
                pending[other[fd]].append((now + delay, packet))


def cmd_link(opts):
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(opts.max_seconds)
    try:
        a = open_tun(opts.ns_a, opts.dev_a)
        b = open_tun(opts.ns_b, opts.dev_b)
        if opts.ready_file:
            tmp = opts.ready_file + '.tmp'
            with open(tmp, 'w') as f:
                f.write('ready\n')
            os.replace(tmp, opts.ready_file)
        relay(a, b, opts.delay_ms / 1000.0)
    except Stop:
        return 0
    except OSError as error:
        print(f'delaylink: {error}', file=sys.stderr)
        return 1


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def echo_request(ident, seq):
    payload = b'postie-bench'.ljust(32, b'.')
    header = struct.pack('!BBHHH', ICMP_ECHO_REQUEST, 0, 0, ident, seq)
    cks = checksum(header + payload)
    return struct.pack('!BBHHH', ICMP_ECHO_REQUEST, 0, cks, ident,
                       seq) + payload


def is_reply(packet, ident, seq):
    ihl = (packet[0] & 0x0f) * 4
    if len(packet) < ihl + 8:
        return False
    kind, _, _, rid, rseq = struct.unpack('!BBHHH', packet[ihl:ihl + 8])
    return kind == ICMP_ECHO_REPLY and rid == ident and rseq == seq


def one_echo(sock, addr, ident, seq, timeout):
    start = time.perf_counter()
    sock.sendto(echo_request(ident, seq), (addr, 0))
    end = start + timeout
    while True:
        left = end - time.perf_counter()
        if left <= 0:
            return None
        ready, _, _ = select.select([sock], [], [], left)
        if ready and is_reply(sock.recv(2048), ident, seq):
            return (time.perf_counter() - start) * 1000.0


def cmd_ping(opts):
    ident = os.getpid() & 0xffff
    times = []
    with socket.socket(socket.AF_INET, socket.SOCK_RAW,
                       socket.IPPROTO_ICMP) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                        opts.device.encode())
        for seq in range(1, opts.count + 1):
            rtt = one_echo(sock, opts.address, ident, seq, opts.timeout)
            if rtt is None:
                print(f'delaylink: no echo reply from {opts.address} '
                      f'(seq {seq}) in {opts.timeout} s', file=sys.stderr)
                return 1
            times.append(rtt)
            time.sleep(opts.interval)
    print(f'rtt_ms {statistics.median(times):.3f} {min(times):.3f} '
          f'{max(times):.3f} {len(times)}')
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description='delayed link between two '
                                'network namespaces')
    sub = p.add_subparsers(dest='cmd', required=True)
    link = sub.add_parser('link')
    link.add_argument('--ns-a', required=True)
    link.add_argument('--dev-a', required=True)
    link.add_argument('--ns-b', required=True)
    link.add_argument('--dev-b', required=True)
    link.add_argument('--delay-ms', type=float, default=25.0)
    link.add_argument('--ready-file')
    link.add_argument('--max-seconds', type=int, default=3600)
    ping = sub.add_parser('ping')
    ping.add_argument('address')
    ping.add_argument('--device', required=True)
    ping.add_argument('--count', type=int, default=20)
    ping.add_argument('--interval', type=float, default=0.05)
    ping.add_argument('--timeout', type=float, default=2.0)
    opts = p.parse_args(argv)
    for dev in ('dev_a', 'dev_b'):
        if len(getattr(opts, dev, '') or '') > 15:
            p.error('a device name has 15 characters at most')
    return opts


def main(argv):
    opts = parse_args(argv)
    if opts.cmd == 'link':
        return cmd_link(opts)
    try:
        return cmd_ping(opts)
    except OSError as error:
        print(f'delaylink: ping {opts.address} on {opts.device}: {error}',
              file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
