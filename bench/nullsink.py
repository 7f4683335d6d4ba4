#!/usr/bin/python3
"""nullsink.py - an SMTP server that reads messages and throws them away,
for throughput benchmarks (tests/smtpsink.py records every byte and line,
which caps what it can take in far below what a client can send).

  nullsink.py --port-file FILE [--host 127.0.0.1] [--port 0]
              [--cert FILE --key FILE] [--log FILE] [--max-seconds 3600]

It binds HOST:PORT (port 0: a free one), writes the port number to FILE
(atomically), and serves each connection in a thread until SIGTERM,
SIGINT or --max-seconds.  Accepted sockets get TCP_NODELAY.  Replies to
pipelined commands are sent together, when the server would wait for more
input.

EHLO offers PIPELINING, 8BITMIME, SIZE, CHUNKING, ENHANCEDSTATUSCODES and,
with --cert and until TLS is active, STARTTLS (Python's ssl module; the
plaintext buffered behind STARTTLS is discarded).  MAIL and RCPT are
accepted as they come; DATA reads to the end-of-data line without
unstuffing; "BDAT N [LAST]" skips N bytes.  Each message ends up as one
line in --log: "message N BYTES DATA|BDAT tls|plain" (BYTES as received,
without the end-of-data line).  AUTH is not offered.
"""

import argparse
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading

END = b'\r\n.\r\n'
BUFSIZE = 256 * 1024
MAX_LINE = 4096


class Closed(Exception):
    """The client went away or broke the protocol."""


class Conn:
    """Buffered SMTP I/O over a socket, plain or TLS.  TLS goes through
    memory BIOs: one recv(2) feeds many records, which matters for a
    client that sends one small record per line."""

    def __init__(self, sock):
        self.sock = sock
        self.tls = None  # ssl.SSLObject once STARTTLS is done
        self.inbio = self.outbio = None
        self.inbuf = bytearray()
        self.out = []
        self.chunk = memoryview(bytearray(BUFSIZE))

    def reply(self, text):
        self.out.append(text.encode() + b'\r\n')

    def send_raw(self):
        if self.outbio is not None and self.outbio.pending:
            self.sock.sendall(self.outbio.read())

    def flush(self):
        if self.out:
            data = b''.join(self.out)
            self.out = []
            if self.tls is None:
                self.sock.sendall(data)
            else:
                self.tls.write(data)
        self.send_raw()

    def recv_raw(self):
        n = self.sock.recv_into(self.chunk)
        if n == 0:
            raise Closed()
        return self.chunk[:n]

    def fill(self):
        """Append what the client sent next to inbuf (waiting for it)."""
        self.flush()
        if self.tls is None:
            self.inbuf += self.recv_raw()
            return
        got = 0
        while got < BUFSIZE:
            try:
                data = self.tls.read(BUFSIZE)
            except ssl.SSLWantReadError:
                if got:
                    break
                self.inbio.write(self.recv_raw())
                continue
            except ssl.SSLZeroReturnError:
                raise Closed()
            if not data:
                raise Closed()
            self.inbuf += data
            got += len(data)
        self.send_raw()

    def starttls(self, context):
        """The server side of a TLS handshake; the plaintext the client
        sent after STARTTLS is discarded."""
        self.flush()
        self.inbuf.clear()
        self.inbio, self.outbio = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(self.inbio, self.outbio, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.send_raw()
                self.inbio.write(self.recv_raw())
        self.tls = tls
        self.send_raw()

    def line(self):
        while True:
            i = self.inbuf.find(b'\n')
            if i >= 0:
                text = bytes(self.inbuf[:i + 1])
                del self.inbuf[:i + 1]
                return text.decode('utf-8', 'replace').rstrip('\r\n')
            if len(self.inbuf) > MAX_LINE:
                raise Closed()
            self.fill()

    def skip(self, n):
        """Read and drop N bytes."""
        while True:
            take = min(n, len(self.inbuf))
            del self.inbuf[:take]
            n -= take
            if n == 0:
                return
            self.fill()

    def data(self):
        """Read to the end-of-data line; the bytes before it."""
        count, tail = 0, b'\r\n'  # the data begins after a line end
        while True:
            if not self.inbuf:
                self.fill()
            i = (tail + bytes(self.inbuf[:4])).find(END)
            if i >= 0:
                used = i + len(END) - len(tail)
                del self.inbuf[:used]
                return count + max(0, used - len(END))
            i = self.inbuf.find(END)
            if i >= 0:
                del self.inbuf[:i + len(END)]
                return count + i
            count += len(self.inbuf)
            tail = (tail + bytes(self.inbuf[-4:]))[-4:]
            self.inbuf.clear()


class Session:
    def __init__(self, server, sock):
        self.server = server
        self.conn = Conn(sock)
        self.tls = False
        self.chunks = 0

    def ehlo(self):
        offers = ['PIPELINING', '8BITMIME', 'SIZE', 'CHUNKING']
        if self.server.tls_context and not self.tls:
            offers.append('STARTTLS')
        offers.append('ENHANCEDSTATUSCODES')
        lines = ['nullsink.test'] + offers
        for word in lines[:-1]:
            self.conn.reply('250-' + word)
        self.conn.reply('250 ' + lines[-1])

    def starttls(self):
        if not self.server.tls_context or self.tls:
            self.conn.reply('454 4.7.0 TLS not available')
            return
        self.conn.reply('220 2.0.0 ready to start TLS')
        self.conn.starttls(self.server.tls_context)
        self.tls = True

    def bdat(self, arg):
        words = arg.split()
        if not words or not words[0].isdigit():
            self.conn.reply('501 5.5.4 syntax: BDAT size [LAST]')
            return
        self.conn.skip(int(words[0]))
        self.chunks += int(words[0])
        if len(words) > 1 and words[1].upper() == 'LAST':
            self.done(self.chunks, 'BDAT')
            self.chunks = 0
        else:
            self.conn.reply('250 2.0.0 chunk accepted')

    def done(self, size, how):
        self.server.record(size, how, self.tls)
        self.conn.reply('250 2.0.0 ok: discarded')

    def run(self):
        self.conn.reply('220 nullsink.test ESMTP nullsink')
        while True:
            verb, _, arg = self.conn.line().partition(' ')
            verb = verb.upper()
            if verb == 'EHLO':
                self.ehlo()
            elif verb == 'STARTTLS':
                self.starttls()
            elif verb == 'DATA':
                self.conn.reply('354 end data with <CR><LF>.<CR><LF>')
                self.done(self.conn.data(), 'DATA')
            elif verb == 'BDAT':
                self.bdat(arg)
            elif verb == 'QUIT':
                self.conn.reply('221 2.0.0 bye')
                self.conn.flush()
                return
            elif verb in ('HELO', 'MAIL', 'RCPT', 'RSET', 'NOOP'):
                self.conn.reply('250 2.0.0 ok')
            else:
                self.conn.reply('502 5.5.1 command not implemented')


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            Session(self.server, self.request).run()
        except (Closed, OSError, ssl.SSLError):
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, opts):
        super().__init__((opts.host, opts.port), Handler)
        self.tls_context = None
        if opts.cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(opts.cert, opts.key)
            self.tls_context = ctx
        self.log = opts.log
        self.count = 0
        self.lock = threading.Lock()

    def record(self, size, how, tls):
        with self.lock:
            self.count += 1
            if self.log:
                with open(self.log, 'a') as f:
                    f.write(f'message {self.count} {size} {how} '
                            f'{"tls" if tls else "plain"}\n')


def stop(signum, frame):
    raise SystemExit(0)


def main(argv):
    p = argparse.ArgumentParser(description='SMTP server that discards mail')
    p.add_argument('--port-file', required=True)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--cert')
    p.add_argument('--key')
    p.add_argument('--log')
    p.add_argument('--max-seconds', type=int, default=3600)
    opts = p.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(signum, stop)
    signal.alarm(opts.max_seconds)
    with Server(opts) as server:
        tmp = opts.port_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(f'{server.server_address[1]}\n')
        os.replace(tmp, opts.port_file)
        server.serve_forever()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
