#!/usr/bin/python3
"""fastsink.py - an SMTP server for throughput benchmarks (bench/throughput.sh,
bench/run.sh bulk).

It accepts every command, keeps no message, and spends as little CPU per
octet as Python allows, so that it is not what limits a transfer: data is
read into one preallocated buffer (recv_into, no copies), the end of DATA
found with bytearray.find. Offers PIPELINING, SIZE, 8BITMIME, STARTTLS
(with --cert/--key) and, with --chunking, CHUNKING; sets TCP_NODELAY.

For each message it writes DIR/msg-N.sum: the CRC-32 of the data as it
arrived (dot-stuffed as sent, without the terminator; 0 with --nohash),
its length, the command (data or bdat), and the wall and CPU seconds the
data took from the first octet read to the last. Two runs that send the
same message give the same CRC-32 when their wire bytes are the same.

usage: fastsink.py --dir DIR --port-file FILE [--cert PEM --key PEM]
                   [--chunking] [--nohash]
It serves one connection at a time on 127.0.0.1 (a free port, written to
FILE) until it is killed."""
import argparse
import os
import socket
import ssl
import time
import zlib

BUF = 1 << 20
READ = 65536


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b''

    def recv(self):
        data = self.sock.recv(READ)
        if not data:
            raise EOFError
        return data

    def line(self):
        while b'\r\n' not in self.buf:
            self.buf += self.recv()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def send(self, text):
        self.sock.sendall(text.encode())


class TLSSock:
    """The server side of TLS over a connected socket through memory BIOs,
    with the socket calls Conn and read_data use. One recv from the kernel
    feeds every record it holds, and recv_into drains as many records as
    fit: a client that sends one small record per line (msmtp) costs a
    loop turn per record here, not a system call and a Python call each."""

    def __init__(self, sock, ctx):
        self.raw = sock
        self.inbio, self.outbio = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inbio, self.outbio, server_side=True)
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                self.feed()
        self.flush()

    def flush(self):
        out = self.outbio.read()
        if out:
            self.raw.sendall(out)

    def feed(self):
        data = self.raw.recv(1 << 18)
        if not data:
            raise EOFError
        self.inbio.write(data)

    def recv_into(self, view, n):
        got = 0
        while got < n:
            try:
                k = self.tls.read(n - got, view[got:])
            except ssl.SSLWantReadError:
                if got:
                    break
                self.feed()
                continue
            except ssl.SSLZeroReturnError:
                break
            if not k:
                break
            got += k
        self.flush()
        return got

    def recv(self, n):
        buf = bytearray(n)
        return bytes(buf[:self.recv_into(memoryview(buf), n)])

    def sendall(self, data):
        self.tls.write(data)
        self.flush()

    def close(self):
        self.raw.close()


def ehlo_reply(opts, tls):
    ext = ['PIPELINING', 'SIZE 0', '8BITMIME']
    ext += ['CHUNKING'] if opts.chunking else []
    ext += ['STARTTLS'] if opts.cert and not tls else []
    lines = ['250-fastsink'] + ['250-' + e for e in ext[:-1]] + ['250 ' + ext[-1]]
    return '\r\n'.join(lines) + '\r\n'


def read_data(c, crc_on):
    """The data after 354, up to "\\r\\n.\\r\\n" (found with "\\r\\n" put
    in front, so an empty message ends at once): (crc, length)."""
    big = bytearray(BUF)
    pre = b'\r\n' + c.buf
    big[:len(pre)] = pre
    view = memoryview(big)
    lo, hi, crc, done = 0, len(pre), 0, 0
    while True:
        i = big.find(b'\r\n.\r\n', lo, hi)
        end = i + 2 if i >= 0 else max(lo, hi - 4)  # keep what may start the end
        if crc_on:
            crc = zlib.crc32(view[lo:end], crc)
        done += end - lo
        lo = end
        if i >= 0:
            c.buf = bytes(view[i + 5:hi])
            view.release()
            return crc, done - 2
        if BUF - hi < READ:
            big[:hi - lo] = big[lo:hi]
            hi -= lo
            lo = 0
        got = c.sock.recv_into(view[hi:], READ)
        if not got:
            raise EOFError
        hi += got


def read_bdat(c, size, crc_on):
    crc, done = 0, 0
    while done < size:
        if not c.buf:
            c.buf = c.recv()
        k = min(size - done, len(c.buf))
        if crc_on:
            crc = zlib.crc32(memoryview(c.buf)[:k], crc)
        done += k
        c.buf = c.buf[k:]
    return crc, done


def session(c, opts, ctx, count):
    tls = False
    c.send('220 fastsink ESMTP\r\n')
    while True:
        line = c.line()
        verb = line[:4].upper()
        if verb in (b'EHLO', b'HELO'):
            c.send(ehlo_reply(opts, tls))
        elif verb == b'STAR' and ctx and not tls:
            c.send('220 ready\r\n')
            c.sock = TLSSock(c.sock, ctx)
            c.buf = b''
            tls = True
        elif verb in (b'MAIL', b'RCPT', b'RSET', b'NOOP'):
            c.send('250 ok\r\n')
        elif verb in (b'DATA', b'BDAT'):
            if verb == b'DATA':
                c.send('354 go on\r\n')
            t0, c0 = time.monotonic(), time.process_time()
            if verb == b'DATA':
                crc, n = read_data(c, not opts.nohash)
            else:
                crc, n = read_bdat(c, int(line.split()[1]), not opts.nohash)
            wall, cpu = time.monotonic() - t0, time.process_time() - c0
            count += 1
            with open('%s/msg-%d.sum' % (opts.dir, count), 'w') as f:
                f.write('%08x %d %s %.3f %.3f\n' % (crc, n, verb.decode().lower(), wall, cpu))
            c.send('250 queued\r\n')
        elif verb == b'QUIT':
            c.send('221 bye\r\n')
            return count
        else:
            c.send('502 not here\r\n')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--dir', required=True)
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--cert')
    ap.add_argument('--key')
    ap.add_argument('--chunking', action='store_true')
    ap.add_argument('--nohash', action='store_true')
    opts = ap.parse_args()
    os.makedirs(opts.dir, exist_ok=True)
    ctx = None
    if opts.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.cert, opts.key)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', 0))
    ls.listen(5)
    with open(opts.port_file + '.tmp', 'w') as f:
        f.write('%d\n' % ls.getsockname()[1])
    os.rename(opts.port_file + '.tmp', opts.port_file)
    count = 0
    while True:
        sock, _ = ls.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(sock)
        try:
            count = session(c, opts, ctx, count)
        except (EOFError, ConnectionError, ssl.SSLError):
            pass
        try:
            c.sock.close()
        except OSError:
            pass


if __name__ == '__main__':
    main()
