#!/usr/bin/python3
"""smtpsink.py - a recording, fault-injecting SMTP/LMTP server for tests.

Built on aiosmtpd (Debian python3-aiosmtpd 1.4).  It accepts mail on
127.0.0.1 and records exactly what the client sent, so end-to-end tests can
check what a mail client really transmitted and how it reacts to failures.

Usage:
  smtpsink.py --dir DIR --port-file FILE [--host 127.0.0.1] [--lmtp]
              [--script FILE] [--no-pipelining] [--chunking] [--size N]
              [--no-8bitmime] [--smtputf8] [--dsn] [--no-esmtp]
              [--ehlo-extra WORD]... [--unix PATH]
              [--cert FILE [--key FILE]] [--starttls] [--tls]
              [--client-ca FILE] [--tls-min VERSION] [--tls-max VERSION]
              [--ciphers STRING]

The server binds a free port (port 0) on --host (an address, not a name),
or the AF_UNIX socket --unix PATH, then writes the port number (or "unix")
to --port-file atomically.  It runs until SIGTERM or SIGINT and exits 0.

EHLO (LHLO with --lmtp) advertises PIPELINING, 8BITMIME, SIZE [N],
ENHANCEDSTATUSCODES, and STARTTLS (with --starttls, until TLS is active),
CHUNKING, SMTPUTF8, DSN only when asked for, plus every --ehlo-extra word.  --no-esmtp answers EHLO with
"502 5.5.1 command not implemented".  MAIL/RCPT parameters are checked
against what the EHLO reply actually advertised (SIZE=, BODY= need
8BITMIME, SMTPUTF8, RET=/ENVID=/NOTIFY=/ORCPT= need DSN, AUTH= needs AUTH;
any other KEY[=VALUE] needs an advertised extension named KEY), otherwise
"555 5.5.4".  MAIL SIZE=x above the advertised limit, or a message larger
than it, gets "552 5.3.4 message size exceeds fixed limit".
"BDAT <n> [LAST]" is implemented; without CHUNKING advertised it is
answered 503 (its n bytes are still consumed).

TLS (Python's ssl module; needs --cert):
  --cert FILE       the server certificate chain (PEM); its key too unless
                    --key is given
  --key FILE        the server's private key (PEM)
  --starttls        advertise STARTTLS in EHLO/LHLO and implement it
  --tls             implicit TLS ("smtps"): the TLS handshake starts with
                    the first byte, the greeting follows it
  --client-ca FILE  request a client certificate and require one that FILE
                    (PEM CA certificates) verifies; without it no client
                    certificate is requested
  --tls-min VERSION, --tls-max VERSION
                    lowest/highest protocol version allowed, an
                    ssl.TLSVersion name: TLSv1, TLSv1_1, TLSv1_2, TLSv1_3
  --ciphers STRING  OpenSSL cipher list (ctx.set_ciphers); it only limits
                    TLS 1.2 and older, so combine it with --tls-max TLSv1_2
STARTTLS answers "220 2.0.0 ready to start TLS" with --starttls, "454
4.7.0 TLS not available" without it, "501 5.5.4 syntax: STARTTLS" when
given an argument; script rules (step STARTTLS) can replace that reply.
Whenever the reply actually sent (reply or raw) has code 220 and --cert
was given, the server-side TLS handshake starts right after it; with any
other code nothing changes.  So
  STARTTLS * raw 220 go ahead\\r\\n250 injected\\r\\n
sends both lines in ONE write and then starts TLS as if only the 220 had
been sent: the STARTTLS response injection a client must detect (it
must not take anything received before the handshake as a reply; cf.
RFC 3207 4.2).  Plaintext the client sent after STARTTLS is discarded.
After the handshake the session starts over (EHLO/LHLO needed again, the
previous EHLO forgotten) and EHLO no longer offers STARTTLS.  Once TLS is
active, STARTTLS always gets "503 5.5.1 TLS already active" and rules do
not apply to it.  The handshake times out after 10 s.

Files written to --dir:
  msg-N.eml    each accepted message, byte for byte (DATA dot-unstuffed,
               BDAT chunks concatenated); N counts accepted messages from 1
  msg-N.env    "MAIL FROM:..." as sent, then one "RCPT TO:..." line per
               accepted recipient
  msg-N.tls    how message N travelled: "tls VERSION CIPHER" (as in
               "tls TLSv1.3 TLS_AES_256_GCM_SHA384") or "plain"
  session.log  "* connect N", "C: line", "S: line", "C: <N bytes of data>",
               "* drop N", "* stall N", "* close N" for all connections;
               with TLS also "* tls VERSION CIPHER" when a handshake
               completes (e.g. "* tls TLSv1.3 TLS_AES_256_GCM_SHA384"),
               then "* client-cert CN=NAME" if the client presented a
               certificate, "* tls-failed REASON" when a handshake fails
               (REASON: OpenSSL's, e.g. SSLV3_ALERT_BAD_CERTIFICATE (what
               a GnuTLS client that rejects the certificate sends),
               TLSV1_ALERT_UNKNOWN_CA, PEER_DID_NOT_RETURN_A_CERTIFICATE,
               WRONG_VERSION_NUMBER, or else the exception, e.g.
               "ConnectionResetError: ..." or "connection lost"),
               "* tls-discard N"
               when N plaintext bytes followed STARTTLS.  Lines "C:" and
               "S:" show the decrypted traffic.  A client that rejects the
               server certificate only after its handshake shows up as
               "* tls ..." followed by "* close N".
  reads.log    one line per network read: the command lines in it joined
               with " | ", message data shown as "<N bytes>", an incomplete
               trailing line as "<N bytes partial>" (over TLS: one line per
               decrypted chunk; handshakes are not shown)

Fault injection (--script FILE), one rule per line, "#" starts a comment
line, blank lines are ignored:
  STEP MATCH ACTION [TEXT]
STEP:   GREETING EHLO HELO LHLO MAIL RCPT DATA DATA-END BDAT QUIT RSET
        STARTTLS
        (DATA is the reply to the DATA command; DATA-END the reply after
        the message data or BDAT LAST; BDAT the reply to a non-LAST chunk;
        STARTTLS the reply to STARTTLS, see TLS above)
MATCH:  "*" or a substring (no spaces) of the command line.  For DATA-END
        it is searched in the MAIL and accepted RCPT lines (SMTP) or in
        each accepted RCPT line (LMTP: the rule replaces that recipient's
        reply; others get "250 2.0.0 ok").
ACTION: reply TEXT   send TEXT as the reply; "\\n" (backslash n) separates
                     the lines of a multi-line reply
        drop         close the connection instead of replying
        stall        never reply and read nothing more
        raw BYTES    send BYTES verbatim; \\r \\n \\t \\\\ \\xHH are escapes
The first matching rule wins and rules apply every time.  A reply (or raw
bytes) starting with 2 counts as success (3 for DATA): a sender or
recipient is accepted, a message recorded.  LMTP records a message when at
least one recipient got a 2xx reply, listing only those in msg-N.env.
"""

import argparse
import asyncio
import asyncio.sslproto as sslproto
import collections
import os
import re
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, Envelope

HOSTNAME = 'smtpsink.test'
STEPS = ('GREETING', 'EHLO', 'HELO', 'LHLO', 'MAIL', 'RCPT', 'DATA',
         'DATA-END', 'BDAT', 'QUIT', 'RSET', 'STARTTLS')
TLS_VERSIONS = ('TLSv1', 'TLSv1_1', 'TLSv1_2', 'TLSv1_3')
TLS_HANDSHAKE_TIMEOUT = 10
BDAT_RE = re.compile(rb'BDAT[ \t]+([0-9]+)([ \t]+LAST)?[ \t]*', re.I)
ESCAPE_RE = re.compile(rb'\\(x[0-9a-fA-F]{2}|[rnt\\])')
ESCAPES = {b'r': b'\r', b'n': b'\n', b't': b'\t', b'\\': b'\\'}
# parameter -> extension that must have been advertised
MAIL_PARAMS = {'SIZE': 'SIZE', 'BODY': '8BITMIME', 'SMTPUTF8': 'SMTPUTF8',
               'RET': 'DSN', 'ENVID': 'DSN', 'AUTH': 'AUTH'}
RCPT_PARAMS = {'NOTIFY': 'DSN', 'ORCPT': 'DSN'}
# parameter -> value syntax (None: takes no value)
PARAM_SYNTAX = {
    'SIZE': r'[0-9]+', 'BODY': r'7BIT|8BITMIME', 'SMTPUTF8': None,
    'RET': r'FULL|HDRS', 'ENVID': r'\S+', 'AUTH': r'\S+',
    'NOTIFY': r'NEVER|(SUCCESS|FAILURE|DELAY)(,(SUCCESS|FAILURE|DELAY))*',
    'ORCPT': r'[^;]+;\S+',
}


def text(data):
    """Printable form of a received or sent line."""
    if isinstance(data, bytes):
        return data.decode('utf-8', 'backslashreplace')
    return data.encode('utf-8', 'surrogateescape').decode(
        'utf-8', 'backslashreplace')


def unescape(arg):
    def one(m):
        esc = m.group(1)
        if esc[:1] in b'xX':
            return bytes([int(esc[1:], 16)])
        return ESCAPES[esc]
    return ESCAPE_RE.sub(one, arg.encode('utf-8'))


def write_atomic(path, data):
    tmp = os.path.join(os.path.dirname(path) or '.',
                       '.' + os.path.basename(path) + '.tmp')
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def parse_path(arg, keyword):
    """Split "FROM:<addr> params" into (addr, {KEY: value|None}) or None."""
    if arg is None or arg[:len(keyword)].upper() != keyword:
        return None
    rest = arg[len(keyword):].lstrip()
    if rest.startswith('<'):
        end = rest.find('>')
        if end < 0:
            return None
        addr, rest = rest[1:end], rest[end + 1:]
        if rest and not rest[0].isspace():
            return None
    else:
        addr, _, rest = rest.partition(' ')
        if not addr:
            return None
    params = {}
    for param in rest.split():
        key, eq, value = param.partition('=')
        if not key.replace('-', '').isalnum() or (eq and not value):
            return None
        params[key.upper()] = value if eq else None
    return addr, params


def reply_lines(action):
    kind, payload = action
    if kind == 'reply':
        return payload
    if kind == 'raw':
        return [l for l in text(payload).split('\r\n') if l]
    return []


def reply_code(action):
    lines = reply_lines(action)
    return lines[0][:3] if lines else ''


def parse_ehlo(lines):
    ext = {}
    for line in lines[1:]:
        keyword, _, args = line[4:].partition(' ')
        ext[keyword.upper()] = args.strip()
    return ext


class Rule:
    def __init__(self, step, match, action, arg):
        self.step, self.match = step, match
        if action == 'reply':
            self.action = ('reply', arg.split('\\n'))
        elif action == 'raw':
            self.action = ('raw', unescape(arg))
        else:
            self.action = (action, None)

    def applies(self, step, subject):
        return self.step == step and (self.match == '*'
                                      or self.match in subject)


def load_script(path):
    rules = []
    with open(path, encoding='utf-8') as f:
        for num, line in enumerate(f, 1):
            line = line.rstrip('\r\n')
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            parts = line.split(None, 3)
            if len(parts) < 3:
                raise ValueError(f'{path}:{num}: want STEP MATCH ACTION')
            step, match, action = parts[0].upper(), parts[1], parts[2]
            arg = parts[3] if len(parts) > 3 else ''
            if step not in STEPS:
                raise ValueError(f'{path}:{num}: unknown step {step}')
            if action not in ('reply', 'drop', 'stall', 'raw'):
                raise ValueError(f'{path}:{num}: unknown action {action}')
            if action in ('reply', 'raw') and not arg:
                raise ValueError(f'{path}:{num}: {action} needs text')
            rules.append(Rule(step, match, action, arg))
    return rules


class Sink:
    """The aiosmtpd handler: options, rules and everything recorded."""

    def __init__(self, opts, rules):
        self.opts, self.rules, self.dir = opts, rules, opts.dir
        self.count = 0
        self.conns = 0
        self.protocols = set()
        self.session_log = self.open_log('session.log')
        self.reads_log = self.open_log('reads.log')
        self.tls_context = make_tls_context(opts) if opts.cert else None

    def open_log(self, name):
        return open(os.path.join(self.dir, name), 'a', encoding='utf-8',
                    errors='backslashreplace', buffering=1)

    def log(self, line):
        self.session_log.write(line + '\n')

    def log_read(self, items):
        self.reads_log.write(' | '.join(items) + '\n')

    def plan(self, step, subject, default):
        for rule in self.rules:
            if rule.applies(step, subject):
                return rule.action
        return ('reply', default)

    def ehlo_lines(self, tls_active):
        o = self.opts
        ext = [] if o.no_pipelining else ['PIPELINING']
        ext += [] if o.no_8bitmime else ['8BITMIME']
        ext.append(f'SIZE {o.size}' if o.size is not None else 'SIZE')
        ext.append('ENHANCEDSTATUSCODES')
        ext += ['STARTTLS'] if o.starttls and not tls_active else []
        ext += ['CHUNKING'] if o.chunking else []
        ext += ['SMTPUTF8'] if o.smtputf8 else []
        ext += ['DSN'] if o.dsn else []
        lines = [HOSTNAME] + ext + o.ehlo_extra
        return [f'250-{l}' for l in lines[:-1]] + [f'250 {lines[-1]}']

    def record(self, content, mail_line, rcpt_lines, tls):
        """Write msg-N.*; tls is "tls VERSION CIPHER" or None (plain)."""
        self.count += 1
        base = os.path.join(self.dir, f'msg-{self.count}')
        lines = [l for l in [mail_line] + rcpt_lines if l is not None]
        write_atomic(base + '.env', b''.join(l + b'\n' for l in lines))
        write_atomic(base + '.tls', ((tls or 'plain') + '\n').encode())
        write_atomic(base + '.eml', content)


def make_tls_context(opts):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opts.cert, opts.key)
    if opts.client_ca:
        ctx.load_verify_locations(cafile=opts.client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if opts.tls_min:
        ctx.minimum_version = ssl.TLSVersion[opts.tls_min]
    if opts.tls_max:
        ctx.maximum_version = ssl.TLSVersion[opts.tls_max]
    if opts.ciphers:
        ctx.set_ciphers(opts.ciphers)
    return ctx


def tls_failure(error):
    """Short reason for a failed handshake."""
    reason = getattr(error, 'reason', None)
    if reason:
        return str(reason)
    detail = str(error)
    return type(error).__name__ + (f': {detail}' if detail else '')


def subject_cn(cert):
    """The subject CN(s) of a getpeercert() dict as "CN=name[,CN=...]"."""
    names = [value for rdn in cert.get('subject', ()) for key, value in rdn
             if key == 'commonName']
    return ','.join(f'CN={n}' for n in names) or 'CN='


class Transaction(Envelope):
    def __init__(self):
        super().__init__()
        self.mail_line = None
        self.rcpt_lines = []
        self.chunks = bytearray()


class SinkSMTP(SMTP):
    command_size_limit = 65536
    command_size_limits = collections.defaultdict(lambda: 65536)
    line_length_limit = 1 << 20
    ident = 'ESMTP smtpsink'

    def __init__(self, sink):
        super().__init__(sink, hostname=HOSTNAME, ident=self.ident,
                         enable_SMTPUTF8=True, data_size_limit=None,
                         loop=asyncio.get_running_loop())
        self.sink = sink
        self.conn = 0
        self.cmdline = b''
        self.ext = {}
        self.greeted = False
        self.raw_readuntil = None
        self.rx_buf, self.rx_mode, self.rx_left = b'', 'cmd', 0
        self.tls_info = None        # "tls VERSION CIPHER" once TLS is up
        self.tls_task = None
        self.lost = False

    # --- connection and stream plumbing ---

    def connection_made(self, transport):
        self.sink.conns += 1
        self.conn = self.sink.conns
        self.sink.protocols.add(self)
        self.sink.log(f'* connect {self.conn}')
        super().connection_made(transport)
        if self.sink.opts.tls:
            # Now, before the transport reads anything in plaintext.
            self.begin_tls()

    def connection_lost(self, error):
        # After a failed handshake both we and asyncio's SSL layer may
        # report the loss; only the first counts.
        if self.lost:
            return
        self.lost = True
        self.sink.protocols.discard(self)
        self.sink.log(f'* close {self.conn}')
        super().connection_lost(error)

    def eof_received(self):
        keep_open = super().eof_received()
        # True means nothing on TLS (and asyncio warns about it).
        return False if self.tls_task is not None else keep_open

    async def _handle_client(self):
        if self.sink.opts.tls and not await self.tls_done():
            return
        await super()._handle_client()

    def begin_tls(self):
        """Put a server-side TLS layer between the socket and us, at once.

        This is loop.start_tls() done synchronously: the socket's next
        read already goes to the TLS layer, so not a byte of the client's
        handshake can end up in the plaintext stream, and bytes in the
        plaintext stream cannot be mistaken for decrypted ones.  Plaintext
        already read is thrown away (RFC 3207 4.2).  Replies sent before
        the handshake completes still go out in plaintext.  The handshake
        is awaited by a task of its own (tls_done() waits for it), so its
        outcome is logged even if the client's EOF cancels the command
        handler right after the handshake.
        """
        raw = self.transport
        left = len(self._reader._buffer)
        self._reader._buffer.clear()
        self.rx_buf, self.rx_mode, self.rx_left = b'', 'cmd', 0
        self._over_ssl = True   # StreamReaderProtocol.eof_received: no True
        waiter = self.loop.create_future()
        layer = sslproto.SSLProtocol(
            self.loop, self, self.sink.tls_context, waiter,
            server_side=True, call_connection_made=False,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT)
        tls = layer._get_app_transport()
        raw.set_protocol(layer)
        layer.connection_made(raw)
        self.tls_task = self.loop.create_task(
            self.finish_tls(raw, tls, waiter, left))

    async def tls_done(self):
        """Wait for the handshake begin_tls() started; True if it worked."""
        return await asyncio.shield(self.tls_task)

    async def finish_tls(self, raw, tls, waiter, left):
        """Log the handshake's outcome; on success re-wire aiosmtpd and the
        stream reader/writer to the TLS transport.  This protocol keeps
        receiving data_received() calls (decrypted), so the logs go on."""
        if left:
            self.sink.log(f'* tls-discard {left}')
        error = None
        try:
            await waiter
        except Exception as exc:    # whatever went wrong: log it
            error = tls_failure(exc)
        if error is None and tls.get_extra_info('ssl_object') is None:
            error = 'connection lost'
        if error is not None:
            self.sink.log(f'* tls-failed {error}')
            if not raw.is_closing():
                raw.close()
            # The SSL layer does not report a loss during the handshake.
            self.loop.call_soon(self.connection_lost, None)
            return False
        self.transport = tls
        self._transport = tls
        self._writer._transport = tls
        self._reader._transport = tls
        obj = tls.get_extra_info('ssl_object')
        self.session.ssl = tls.get_extra_info('peercert') or {}
        self.tls_info = f'tls {obj.version()} {obj.cipher()[0]}'
        self.sink.log('* ' + self.tls_info)
        cert = obj.getpeercert()
        if cert:
            self.sink.log(f'* client-cert {subject_cn(cert)}')
        return True

    def _client_connected_cb(self, reader, writer):
        super()._client_connected_cb(reader, writer)
        self.raw_readuntil = reader.readuntil
        reader.readuntil = self.readuntil_logged

    async def readuntil_logged(self, separator=b'\n'):
        line = await self.raw_readuntil(separator)
        self.cmdline = line.rstrip(b'\r\n')
        self.sink.log('C: ' + text(self.cmdline))
        return line

    def data_received(self, data):
        try:
            self.sink.log_read(self.summarise(data))
        except Exception as error:
            print(f'smtpsink: reads.log: {error!r}', file=sys.stderr)
        super().data_received(data)

    def summarise(self, data):
        """Describe one network read; tracks command/data/BDAT state."""
        buf, old = self.rx_buf + data, len(self.rx_buf)
        self.rx_buf, pos, items = b'', 0, []

        def add_data(start, end):
            n = end - max(start, old)
            if n <= 0:
                return
            if items and isinstance(items[-1], int):
                items[-1] += n
            else:
                items.append(n)

        while pos < len(buf):
            if self.rx_mode == 'bdat':
                take = min(self.rx_left, len(buf) - pos)
                add_data(pos, pos + take)
                pos, self.rx_left = pos + take, self.rx_left - take
                self.rx_mode = 'bdat' if self.rx_left else 'cmd'
                continue
            sep = b'\r\n' if self.rx_mode == 'data' else b'\n'
            end = buf.find(sep, pos)
            if end < 0:
                self.rx_buf = buf[pos:]
                if self.rx_mode == 'data':
                    add_data(pos, len(buf))
                else:
                    items.append(f'{len(buf) - max(pos, old)} bytes partial')
                break
            end += len(sep)
            if self.rx_mode == 'data':
                add_data(pos, end)
                if buf[pos:end] == b'.\r\n':
                    self.rx_mode = 'cmd'
            else:
                line = buf[pos:end].rstrip(b'\r\n')
                items.append(text(line))
                bdat = BDAT_RE.fullmatch(line)
                if bdat and int(bdat.group(1)):
                    self.rx_mode, self.rx_left = 'bdat', int(bdat.group(1))
            pos = end
        return [f'<{i} bytes>' if isinstance(i, int) else
                f'<{i}>' if i.endswith(' partial') else i for i in items]

    def _create_envelope(self):
        return Transaction()

    # --- replies and fault injection ---

    async def push(self, status):
        if not self.greeted:
            self.greeted = True
            action = self.sink.plan('GREETING', '', [text(status)])
            await self.perform(action)
            return
        self.sink.log('S: ' + text(status))
        await super().push(status)

    async def stall(self):
        await self.loop.create_future()

    async def perform(self, action):
        kind, payload = action
        if kind == 'reply':
            for line in payload:
                await self.push(line)
        elif kind == 'raw':
            self.sink.log('S: [raw] ' + repr(payload)[2:-1])
            self._writer.write(payload)
            await self._writer.drain()
        elif kind == 'drop':
            self.sink.log(f'* drop {self.conn}')
            self.transport.close()
            await self.stall()
        else:
            self.sink.log(f'* stall {self.conn}')
            await self.stall()

    async def respond(self, step, default):
        """Reply to the current command (or a rule's action); return code."""
        action = self.sink.plan(step, text(self.cmdline), default)
        await self.perform(action)
        return reply_code(action)

    # --- checks ---

    def size_limit(self):
        size = self.ext.get('SIZE', '')
        return int(size) if size.isdigit() else 0

    def check_params(self, params, table):
        for key, value in params.items():
            if table.get(key, key) not in self.ext:
                return f'555 5.5.4 {key} parameter not supported'
            if key not in PARAM_SYNTAX:
                continue
            syntax = PARAM_SYNTAX[key]
            if syntax is None:
                good = value is None
            else:
                good = value is not None and re.fullmatch(syntax, value, re.I)
            if not good:
                return f'501 5.5.4 invalid {key} parameter'
        return None

    def check_mail(self, arg):
        """Return (default reply, SMTPUTF8 requested)."""
        if not self.session.host_name:
            return '503 5.5.1 send HELO/EHLO first', False
        if self.envelope.mail_line is not None:
            return '503 5.5.1 nested MAIL command', False
        parsed = parse_path(arg, 'FROM:')
        if parsed is None:
            return '501 5.5.4 syntax: MAIL FROM:<address> [params]', False
        addr, params = parsed
        utf8 = 'SMTPUTF8' in params
        error = self.check_params(params, MAIL_PARAMS)
        if error:
            return error, False
        if not addr.isascii() and not utf8:
            return '553 5.6.7 non-ASCII address needs SMTPUTF8', False
        size = params.get('SIZE')
        if self.size_limit() and size and int(size) > self.size_limit():
            return '552 5.3.4 message size exceeds fixed limit', False
        return '250 2.1.0 sender ok', utf8

    def check_rcpt(self, arg):
        if not self.session.host_name:
            return '503 5.5.1 send HELO/EHLO first'
        if self.envelope.mail_line is None:
            return '503 5.5.1 need MAIL command'
        parsed = parse_path(arg, 'TO:')
        if parsed is None or not parsed[0]:
            return '501 5.5.4 syntax: RCPT TO:<address> [params]'
        addr, params = parsed
        error = self.check_params(params, RCPT_PARAMS)
        if error:
            return error
        if not addr.isascii() and not self.envelope.smtp_utf8:
            return '553 5.6.7 non-ASCII address needs SMTPUTF8'
        return '250 2.1.5 recipient ok'

    def check_data(self, arg, command):
        env = self.envelope
        if not self.session.host_name:
            return '503 5.5.1 send HELO/EHLO first'
        if env.mail_line is None:
            return '503 5.5.1 need MAIL command'
        if not env.rcpt_lines:
            return '554 5.5.1 no valid recipients'
        if arg:
            return f'501 5.5.4 syntax: {command}'
        return None

    # --- commands ---

    async def greet(self, step, arg):
        if not arg:
            default = [f'501 5.5.4 syntax: {step} hostname']
        elif step == 'EHLO' and self.sink.opts.no_esmtp:
            default = ['502 5.5.1 command not implemented']
        else:
            default = self.sink.ehlo_lines(self.tls_info is not None)
        action = self.sink.plan(step, text(self.cmdline), default)
        await self.perform(action)
        if reply_code(action).startswith('2'):
            self._set_rset_state()
            self.session.host_name = arg or HOSTNAME
            self.session.extended_smtp = True
            self.ext = parse_ehlo(reply_lines(action))

    async def smtp_EHLO(self, arg):
        await self.greet('EHLO', arg)

    async def smtp_HELO(self, arg):
        default = f'250 {HOSTNAME}' if arg else '501 5.5.4 syntax: HELO host'
        if (await self.respond('HELO', [default])).startswith('2'):
            self._set_rset_state()
            self.session.host_name = arg or HOSTNAME
            self.session.extended_smtp = False
            self.ext = {}

    async def smtp_MAIL(self, arg):
        line = self.cmdline
        default, utf8 = self.check_mail(arg)
        if (await self.respond('MAIL', [default])).startswith('2'):
            self.envelope.mail_line = line
            self.envelope.smtp_utf8 = utf8

    async def smtp_RCPT(self, arg):
        line = self.cmdline
        default = self.check_rcpt(arg)
        if (await self.respond('RCPT', [default])).startswith('2'):
            self.envelope.rcpt_lines.append(line)

    async def smtp_RSET(self, arg):
        default = '501 5.5.4 syntax: RSET' if arg else '250 2.0.0 ok'
        if (await self.respond('RSET', [default])).startswith('2'):
            self._set_rset_state()

    async def smtp_STARTTLS(self, arg):
        if self.tls_info is not None:
            await self.push('503 5.5.1 TLS already active')
            return
        if arg:
            default = '501 5.5.4 syntax: STARTTLS'
        elif self.sink.opts.starttls:
            default = '220 2.0.0 ready to start TLS'
        else:
            default = '454 4.7.0 TLS not available'
        action = self.sink.plan('STARTTLS', text(self.cmdline), [default])
        if reply_code(action) != '220':
            await self.perform(action)
            return
        if self.sink.tls_context is None:
            await self.perform(action)
            self.sink.log('* tls-failed no certificate (--cert)')
            await self.perform(('drop', None))
        # Switch first, so that the client's handshake cannot race the
        # switch; the reply still goes out in plaintext.
        self.begin_tls()
        await self.perform(action)
        if not await self.tls_done():
            await self.stall()
        # RFC 3207 4.2: start over, forget the EHLO.
        self._set_rset_state()
        self.session.host_name = None
        self.session.extended_smtp = False
        self.ext = {}

    async def smtp_QUIT(self, arg):
        await self.respond('QUIT', ['221 2.0.0 bye'])
        self.transport.close()
        await self.stall()

    async def smtp_DATA(self, arg):
        default = self.check_data(arg, 'DATA')
        default = default or '354 end data with <CR><LF>.<CR><LF>'
        action = self.sink.plan('DATA', text(self.cmdline), [default])
        if not reply_code(action).startswith('3'):
            await self.perform(action)
            return
        self.rx_mode = 'data'
        await self.perform(action)
        content = await self.read_data()
        self.sink.log(f'C: <{len(content)} bytes of data>')
        await self.deliver(bytes(content))

    async def read_data(self):
        """Read up to CRLF.CRLF, dot-unstuffing; no line length limit."""
        content, bol = bytearray(), True
        while True:
            try:
                piece = await self.raw_readuntil(b'\r\n')
            except asyncio.LimitOverrunError as error:
                size = error.consumed
                if self._reader._buffer[size - 1:size] == b'\r':
                    size -= 1
                piece = await self._reader.readexactly(size)
            if bol and piece == b'.\r\n':
                return content
            if bol and piece.startswith(b'.'):
                piece = piece[1:]
            content += piece
            bol = piece.endswith(b'\r\n')

    async def smtp_BDAT(self, arg):
        bdat = BDAT_RE.fullmatch(self.cmdline)
        if not bdat:
            await self.respond('BDAT', ['501 5.5.4 syntax: BDAT size [LAST]'])
            return
        size, last = int(bdat.group(1)), bool(bdat.group(2))
        chunk = await self._reader.readexactly(size)
        self.sink.log(f'C: <{size} bytes of data>')
        error = self.check_data(None, 'BDAT')
        if 'CHUNKING' not in self.ext:
            error = '503 5.5.1 CHUNKING not advertised'
        if error:
            await self.respond('BDAT', [error])
            return
        self.envelope.chunks += chunk
        if last:
            await self.deliver(bytes(self.envelope.chunks))
            return
        ok = f'250 2.0.0 {size} octets received'
        if not (await self.respond('BDAT', [ok])).startswith('2'):
            self._set_post_data_state()

    async def deliver(self, content):
        """Answer the end of the message data (SMTP: one reply)."""
        env = self.envelope
        self._set_post_data_state()
        if self.size_limit() and len(content) > self.size_limit():
            default = '552 5.3.4 message size exceeds fixed limit'
        else:
            default = f'250 2.0.0 queued as {self.sink.count + 1}'
        lines = [l for l in [env.mail_line] + env.rcpt_lines if l]
        action = self.sink.plan('DATA-END', '\n'.join(map(text, lines)),
                                [default])
        if reply_code(action).startswith('2'):
            self.sink.record(content, env.mail_line, env.rcpt_lines,
                             self.tls_info)
        await self.perform(action)


class SinkLMTP(SinkSMTP):
    """LMTP: LHLO instead of HELO/EHLO, one reply per recipient."""
    ident = 'LMTP smtpsink'

    async def smtp_LHLO(self, arg):
        await self.greet('LHLO', arg)

    async def smtp_EHLO(self, arg):
        await self.push('500 5.5.1 EHLO not valid in LMTP, use LHLO')

    async def smtp_HELO(self, arg):
        await self.push('500 5.5.1 HELO not valid in LMTP, use LHLO')

    async def deliver(self, content):
        env = self.envelope
        self._set_post_data_state()
        if self.size_limit() and len(content) > self.size_limit():
            default = '552 5.3.4 message size exceeds fixed limit'
        else:
            default = '250 2.0.0 ok'
        actions = [self.sink.plan('DATA-END', text(line), [default])
                   for line in env.rcpt_lines]
        accepted = []
        for line, action in zip(env.rcpt_lines, actions):
            if action[0] in ('drop', 'stall'):
                break
            if reply_code(action).startswith('2'):
                accepted.append(line)
        if accepted:
            self.sink.record(content, env.mail_line, accepted, self.tls_info)
        for action in actions:
            await self.perform(action)


async def serve(opts, sink):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    cls = SinkLMTP if opts.lmtp else SinkSMTP
    if opts.unix:
        server = await loop.create_unix_server(lambda: cls(sink), opts.unix)
        port = 'unix'
    else:
        server = await loop.create_server(lambda: cls(sink), opts.host, 0)
        port = str(server.sockets[0].getsockname()[1])
    write_atomic(opts.port_file, (port + '\n').encode())
    await stop.wait()
    server.close()
    for proto in list(sink.protocols):
        if proto.transport is not None:
            proto.transport.abort()
    await asyncio.sleep(0)
    if opts.unix:
        try:
            os.unlink(opts.unix)
        except OSError:
            pass


def parse_args(argv):
    p = argparse.ArgumentParser(description='recording test SMTP/LMTP server')
    p.add_argument('--dir', required=True)
    p.add_argument('--port-file', required=True)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--unix')
    p.add_argument('--lmtp', action='store_true')
    p.add_argument('--script')
    p.add_argument('--no-pipelining', action='store_true')
    p.add_argument('--chunking', action='store_true')
    p.add_argument('--size', type=int)
    p.add_argument('--no-8bitmime', action='store_true')
    p.add_argument('--smtputf8', action='store_true')
    p.add_argument('--dsn', action='store_true')
    p.add_argument('--no-esmtp', action='store_true')
    p.add_argument('--ehlo-extra', action='append', default=[])
    p.add_argument('--cert')
    p.add_argument('--key')
    p.add_argument('--starttls', action='store_true')
    p.add_argument('--tls', action='store_true')
    p.add_argument('--client-ca')
    p.add_argument('--tls-min', choices=TLS_VERSIONS)
    p.add_argument('--tls-max', choices=TLS_VERSIONS)
    p.add_argument('--ciphers')
    opts = p.parse_args(argv)
    if (opts.starttls or opts.tls) and not opts.cert:
        p.error('--starttls and --tls need --cert')
    return opts


def main(argv):
    opts = parse_args(argv)
    try:
        rules = load_script(opts.script) if opts.script else []
        if opts.cert:
            make_tls_context(opts)
    except (OSError, ValueError, ssl.SSLError) as error:
        print(f'smtpsink: {error}', file=sys.stderr)
        return 2
    os.makedirs(opts.dir, exist_ok=True)
    asyncio.run(serve(opts, Sink(opts, rules)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
