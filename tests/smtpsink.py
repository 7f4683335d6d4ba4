#!/usr/bin/python3
"""smtpsink.py - a recording, fault-injecting SMTP/LMTP server for tests.

Built on aiosmtpd (Debian python3-aiosmtpd 1.4).  It accepts mail on
127.0.0.1 and records exactly what the client sent, so end-to-end tests can
check what a mail client really transmitted and how it reacts to failures.

Usage:
  smtpsink.py --dir DIR --port-file FILE [--host 127.0.0.1] [--port N]
              [--lmtp] [--script FILE] [--no-pipelining] [--chunking] [--size N]
              [--no-8bitmime] [--smtputf8] [--dsn] [--no-esmtp]
              [--ehlo-extra WORD]... [--unix PATH]
              [--cert FILE [--key FILE]] [--starttls] [--tls]
              [--client-ca FILE] [--tls-min VERSION] [--tls-max VERSION]
              [--ciphers STRING]
              [--auth "MECH ..."] [--auth-user U] [--auth-password P]
              [--auth-token T] [--auth-introspect URL [--auth-introspect-ca CA]]
              [--auth-realm R] [--auth-required]
              [--auth-tls-only] [--auth-bad-server-proof]

The server binds a free port (port 0), or --port N (e.g. 465 inside a
network namespace of the test's own), on --host (an address, not a name),
or the AF_UNIX socket --unix PATH, then writes the port number (or "unix")
to --port-file atomically.  It runs until SIGTERM or SIGINT and exits 0.

EHLO (LHLO with --lmtp) advertises PIPELINING, 8BITMIME, SIZE [N],
ENHANCEDSTATUSCODES, and STARTTLS (with --starttls, until TLS is active),
AUTH (with --auth, see AUTH below), CHUNKING, SMTPUTF8, DSN only when
asked for, plus every --ehlo-extra word, in this order.  --no-esmtp
answers EHLO with "502 5.5.1 command not implemented".  MAIL/RCPT
parameters are checked against what the EHLO reply actually advertised
(SIZE=, BODY= need 8BITMIME, SMTPUTF8, RET=/ENVID=/NOTIFY=/ORCPT= need
DSN, AUTH= needs AUTH; any other KEY[=VALUE] needs an advertised extension
named KEY), otherwise "555 5.5.4".  MAIL SIZE=x above the advertised
limit, or a message larger than it, gets "552 5.3.4 message size exceeds
fixed limit".
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

AUTH (RFC 4954; SASL done by the sink itself, Python stdlib only):
  --auth "MECH ..."   advertise "AUTH MECH ..." exactly so (the given
                      order and spelling) and accept those mechanisms;
                      without it AUTH is neither offered nor accepted
  --auth-user U, --auth-password P
                      the one account (default tester / secret)
  --auth-token T      the valid OAuth 2.0 bearer token (default test-token)
  --auth-introspect URL, --auth-introspect-ca CA
                      instead, a bearer token is valid when the RFC 7662
                      endpoint URL (HTTPS, trusting CA) calls it active
  --auth-realm R      DIGEST-MD5's realm (default smtpsink.test)
  --auth-required     MAIL before a successful AUTH gets
                      "530 5.7.0 Authentication required"
  --auth-tls-only     offer and accept AUTH only once TLS is active
  --auth-bad-server-proof
                      the server's proof (DIGEST-MD5 rspauth, SCRAM v=) is
                      wrong, so a client must abort (with "*")
Implemented: PLAIN (RFC 4616), LOGIN (334 VXNlcm5hbWU6 "Username:", 334
UGFzc3dvcmQ6 "Password:"), CRAM-MD5 (RFC 2195; challenge
"<RANDOM.TIME@smtpsink.test>"), DIGEST-MD5 (RFC 2831: challenge
realm="R",nonce="...",qop="auth",charset=utf-8,algorithm=md5-sess; the
response is checked (nc must be 00000001, digest-uri any "smtp/HOST"),
then "334 rspauth=..." and an empty client reply), SCRAM-SHA-1,
SCRAM-SHA-256 (RFC 5802/7677: random salt, i=4096, no SASLprep; the
server-final "v=..." comes in a 334 that the client answers with an
empty line), SCRAM-SHA-1-PLUS and SCRAM-SHA-256-PLUS (channel binding
"p=tls-unique" only, which needs TLS 1.2 or older: tls-exporter cannot be
computed by Python 3.11 and fails "cannot check tls-exporter"), EXTERNAL
(RFC 4422 A: needs a client certificate, see --client-ca; the authzid
must be empty or the certificate's CN, which is the AUTHID), XOAUTH2
("user=U\\x01auth=Bearer T\\x01\\x01"; a bad token or user gets the
challenge {"status":"401","schemes":"bearer","scope":
"https://mail.google.com/"}, then after the client's (empty) reply 535)
and OAUTHBEARER (RFC 7628, "n,a=U,\\x01host=H\\x01port=P\\x01auth=Bearer
T\\x01\\x01", a= optional; failure challenge {"status":"invalid_token",
"schemes":"bearer","scope":"https://mail.google.com/"}, expected reply
"\\x01", then 535).  SCRAM's gs2 flag: -PLUS needs "p=tls-unique"; the
others take "n", or "y" unless the EHLO offered the -PLUS variant
(RFC 5802 6: a downgrade); a= must be empty or the user.
"AUTH MECH BASE64" and "AUTH MECH =" (empty) give an initial response
(SASL-IR); CRAM-MD5 and DIGEST-MD5 refuse one with "501 5.5.2 MECH takes
no initial response", for LOGIN it is the user name.  Replies:
  235 2.7.0 Authentication successful
  535 5.7.8 Authentication credentials invalid   (any failed check)
  501 5.7.0 Authentication cancelled             (the client sent "*")
  501 5.5.2 Cannot decode base64
  501 5.5.4 Syntax: AUTH mechanism [initial-response]
  503 5.5.1 send HELO/EHLO first
  538 5.7.11 Encryption required for requested authentication mechanism
                                  (--auth-tls-only, before TLS)
  503 5.5.1 Already authenticated
  503 5.5.1 AUTH not permitted during a mail transaction
  503 5.5.1 Authentication not enabled   (the EHLO reply had no AUTH)
  504 5.5.4 Unrecognized authentication type
                                  (not in the EHLO's AUTH line, or in it
                                  but not implemented, e.g. GSSAPI)
The mechanisms accepted are those of the AUTH line of the EHLO reply
actually sent (a scripted EHLO reply can offer others).  STARTTLS forgets
a successful AUTH (RFC 3207 4.2); EHLO and RSET do not.
Script step AUTH: "AUTH MATCH ACTION", MATCH searched in the AUTH command
line, replaces the reply to the AUTH command itself, before any check, and
no exchange happens: "AUTH CRAM-MD5 reply 504 5.5.4 no", "AUTH PLAIN reply
454 4.7.0 temporary failure", "AUTH * reply 535 5.7.8 locked".  A 2xx
reply counts as success (AUTHID "-").

Files written to --dir:
  msg-N.eml    each accepted message, byte for byte (DATA dot-unstuffed,
               BDAT chunks concatenated); N counts accepted messages from 1
  msg-N.env    "MAIL FROM:..." as sent, then one "RCPT TO:..." line per
               accepted recipient
  msg-N.tls    how message N travelled: "tls VERSION CIPHER" (as in
               "tls TLSv1.3 TLS_AES_256_GCM_SHA384") or "plain"
  msg-N.auth   "MECH AUTHID" of the AUTH of the session that sent message
               N (e.g. "PLAIN tester"), or "none"
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
               "* tls ..." followed by "* close N".  AUTH adds
               "* sasl C: MSG" for each decoded client message (the
               initial response too), "* sasl S: MSG" for each decoded
               334 challenge (after its "S: 334 ..." line), MSG with
               control characters and bytes that are not UTF-8 as \\xHH
               and a backslash as \\\\ (PLAIN: "* sasl C:
               \\x00tester\\x00secret"), "* digest-uri URI" (DIGEST-MD5),
               then "* auth ok MECH AUTHID" or "* auth-failed MECH
               REASON" (MECH "-" when missing; e.g. "wrong password",
               "unknown user U", "cancelled", "not advertised",
               "cannot check tls-exporter", "scripted 454").
  reads.log    one line per network read: the command lines in it joined
               with " | ", message data shown as "<N bytes>", an incomplete
               trailing line as "<N bytes partial>" (over TLS: one line per
               decrypted chunk; handshakes are not shown)

Fault injection (--script FILE), one rule per line, "#" starts a comment
line, blank lines are ignored:
  STEP MATCH ACTION [TEXT]
STEP:   GREETING EHLO HELO LHLO MAIL RCPT DATA DATA-END BDAT QUIT RSET
        STARTTLS AUTH
        (DATA is the reply to the DATA command; DATA-END the reply after
        the message data or BDAT LAST; BDAT the reply to a non-LAST chunk;
        STARTTLS the reply to STARTTLS, see TLS above; AUTH the reply
        to the AUTH command, see AUTH above)
MATCH:  "*" or a substring (no spaces) of the command line.  For DATA-END
        it is searched in the MAIL and accepted RCPT lines (SMTP) or in
        each accepted RCPT line (LMTP: the rule replaces that recipient's
        reply; others get "250 2.0.0 ok").
ACTION: reply TEXT   send TEXT as the reply; "\\n" (backslash n) separates
                     the lines of a multi-line reply
        drop         close the connection instead of replying
        stall        never reply and read nothing more
        raw BYTES    send BYTES verbatim; \\r \\n \\t \\\\ \\xHH are escapes
        drip SECONDS TEXT
                     like reply TEXT, but wait SECONDS (a decimal number)
                     before each line: "GREETING * drip 1 220-a\\n220-b\\n220 c"
                     sends one greeting line a second
The first matching rule wins and rules apply every time.  A reply (or raw
bytes) starting with 2 counts as success (3 for DATA): a sender or
recipient is accepted, a message recorded.  LMTP records a message when at
least one recipient got a 2xx reply, listing only those in msg-N.env.
"""

import argparse
import asyncio
import asyncio.sslproto as sslproto
import base64
import binascii
import collections
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, Envelope

HOSTNAME = 'smtpsink.test'
STEPS = ('GREETING', 'EHLO', 'HELO', 'LHLO', 'MAIL', 'RCPT', 'DATA',
         'DATA-END', 'BDAT', 'QUIT', 'RSET', 'STARTTLS', 'AUTH')
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
    if kind == 'drip':
        return payload[1]
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


# --- SASL (SMTP AUTH, RFC 4954) ---

AUTH_OK = '235 2.7.0 Authentication successful'
AUTH_BAD = '535 5.7.8 Authentication credentials invalid'
AUTH_CANCELLED = '501 5.7.0 Authentication cancelled'
AUTH_BAD_BASE64 = '501 5.5.2 Cannot decode base64'
SCRAM_ITERATIONS = 4096
OAUTH_SCOPE = 'https://mail.google.com/'
XOAUTH2_ERROR = ('{"status":"401","schemes":"bearer","scope":"%s"}'
                 % OAUTH_SCOPE)
OAUTHBEARER_ERROR = ('{"status":"invalid_token","schemes":"bearer",'
                     '"scope":"%s"}' % OAUTH_SCOPE)
DIGEST_DIRECTIVE_RE = re.compile(
    r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^",\s]*)\s*')


def introspect(url, ca, token):
    """POST token=TOKEN to an RFC 7662 introspection endpoint: active?"""
    import ssl
    import urllib.parse
    import urllib.request
    ctx = ssl.create_default_context(cafile=ca)
    data = urllib.parse.urlencode({'token': token}).encode()
    try:
        with urllib.request.urlopen(url, data=data, context=ctx, timeout=10) as r:
            return json.loads(r.read()).get('active') is True
    except (OSError, ValueError):
        return False


class AuthError(Exception):
    """A failed AUTH exchange: REASON is logged, REPLY sent."""

    def __init__(self, reason, reply=AUTH_BAD):
        super().__init__(reason)
        self.reason, self.reply = reason, reply


def sasl_text(data):
    """A SASL message for the log: control characters as \\xHH, a
    backslash as \\\\, bytes that are not UTF-8 as \\xHH."""
    out = []
    for ch in data.decode('utf-8', 'surrogateescape'):
        code = ord(ch)
        if 0xdc80 <= code <= 0xdcff:
            out.append(f'\\x{code - 0xdc00:02x}')
        elif code < 0x20 or code == 0x7f:
            out.append(f'\\x{code:02x}')
        elif ch == '\\':
            out.append('\\\\')
        else:
            out.append(ch)
    return ''.join(out)


def utf8(data):
    return data.decode('utf-8', 'surrogateescape')


def b64decode(data):
    """Strict base64 (RFC 4954: no line breaks, padding required)."""
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AuthError('bad base64', AUTH_BAD_BASE64) from None


def b64encode(data):
    return base64.b64encode(data).decode('ascii')


def saslname(value):
    """RFC 5802 saslname: "=2C" is ",", "=3D" is "="; anything else after
    "=" is malformed."""
    if re.search(r'=(?!2C|3D)', value):
        raise AuthError(f'malformed saslname {value!r}')
    return value.replace('=2C', ',').replace('=3D', '=')


def digest_directives(message):
    """RFC 2831 "key=value, key="quoted"" list as a dict, or AuthError."""
    out, pos = {}, 0
    while pos < len(message):
        if message[pos] in ', \t':
            pos += 1
            continue
        m = DIGEST_DIRECTIVE_RE.match(message, pos)
        if not m:
            raise AuthError(f'malformed directive at {message[pos:]!r}')
        key, value = m.group(1).lower(), m.group(2)
        if value.startswith('"'):
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        if key in out:
            raise AuthError(f'directive {key} given twice')
        out[key] = value
        pos = m.end()
        if pos < len(message) and message[pos] != ',':
            raise AuthError(f'malformed directive at {message[pos:]!r}')
    return out


class Rule:
    def __init__(self, step, match, action, arg):
        self.step, self.match = step, match
        if action == 'reply':
            self.action = ('reply', arg.split('\\n'))
        elif action == 'raw':
            self.action = ('raw', unescape(arg))
        elif action == 'drip':
            delay, _, lines = arg.partition(' ')
            self.action = ('drip', (float(delay), lines.split('\\n')))
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
            if action not in ('reply', 'drop', 'stall', 'raw', 'drip'):
                raise ValueError(f'{path}:{num}: unknown action {action}')
            if action in ('reply', 'raw') and not arg:
                raise ValueError(f'{path}:{num}: {action} needs text')
            if action == 'drip' and not re.fullmatch(r'[0-9.]+ \S.*', arg):
                raise ValueError(f'{path}:{num}: drip needs SECONDS TEXT')
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
        return self.find_rule(step, subject) or ('reply', default)

    def find_rule(self, step, subject):
        for rule in self.rules:
            if rule.applies(step, subject):
                return rule.action
        return None

    def ehlo_lines(self, tls_active):
        o = self.opts
        ext = [] if o.no_pipelining else ['PIPELINING']
        ext += [] if o.no_8bitmime else ['8BITMIME']
        ext.append(f'SIZE {o.size}' if o.size is not None else 'SIZE')
        ext.append('ENHANCEDSTATUSCODES')
        ext += ['STARTTLS'] if o.starttls and not tls_active else []
        if o.auth and (tls_active or not o.auth_tls_only):
            ext.append('AUTH ' + ' '.join(o.auth))
        ext += ['CHUNKING'] if o.chunking else []
        ext += ['SMTPUTF8'] if o.smtputf8 else []
        ext += ['DSN'] if o.dsn else []
        lines = [HOSTNAME] + ext + o.ehlo_extra
        return [f'250-{l}' for l in lines[:-1]] + [f'250 {lines[-1]}']

    def record(self, content, mail_line, rcpt_lines, tls, auth):
        """Write msg-N.*; tls is "tls VERSION CIPHER" or None (plain),
        auth (MECH, AUTHID) or None."""
        self.count += 1
        base = os.path.join(self.dir, f'msg-{self.count}')
        lines = [l for l in [mail_line] + rcpt_lines if l is not None]
        write_atomic(base + '.env', b''.join(l + b'\n' for l in lines))
        write_atomic(base + '.tls', ((tls or 'plain') + '\n').encode())
        auth_line = ' '.join(auth) if auth else 'none'
        write_atomic(base + '.auth', (auth_line + '\n').encode(
            'utf-8', 'surrogateescape'))
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
        self.ssl_object = None      # its ssl.SSLObject
        self.peer_cn = None         # the client certificate's first CN
        self.auth = None            # (MECH, AUTHID) after AUTH succeeded
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
        self.ssl_object = obj
        self.tls_info = f'tls {obj.version()} {obj.cipher()[0]}'
        self.sink.log('* ' + self.tls_info)
        cert = obj.getpeercert()
        if cert:
            self.sink.log(f'* client-cert {subject_cn(cert)}')
            names = [value for rdn in cert.get('subject', ())
                     for key, value in rdn if key == 'commonName']
            self.peer_cn = names[0] if names else ''
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
        elif kind == 'drip':
            delay, lines = payload
            for line in lines:
                await asyncio.sleep(delay)
                await self.push(line)
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
        if self.sink.opts.auth_required and self.auth is None:
            return '530 5.7.0 Authentication required', False
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
        # RFC 3207 4.2: start over, forget the EHLO (and an AUTH).
        self._set_rset_state()
        self.session.host_name = None
        self.session.extended_smtp = False
        self.ext = {}
        self.auth = None

    # --- AUTH (RFC 4954) ---

    async def smtp_AUTH(self, arg):
        words = (arg or '').split()
        mech = words[0].upper() if words else '-'
        action = self.sink.find_rule('AUTH', text(self.cmdline))
        if action is not None:
            code = reply_code(action)
            if code.startswith('2'):
                self.auth = (mech, '-')
                self.sink.log(f'* auth ok {mech} -')
            elif action[0] in ('reply', 'raw'):
                self.sink.log(f'* auth-failed {mech} scripted {code}')
            await self.perform(action)
            return
        try:
            authid = await self.authenticate(mech, words)
        except AuthError as error:
            self.sink.log(f'* auth-failed {mech} {error.reason}')
            await self.push(error.reply)
            return
        self.auth = (mech, authid)
        self.sink.log(f'* auth ok {mech} {authid}')
        await self.push(AUTH_OK)

    async def authenticate(self, mech, words):
        """Check the AUTH command, run the exchange; return the AUTHID."""
        o = self.sink.opts
        if not words or len(words) > 2:
            raise AuthError('syntax', '501 5.5.4 Syntax: AUTH mechanism '
                                      '[initial-response]')
        if not self.session.host_name:
            raise AuthError('no EHLO', '503 5.5.1 send HELO/EHLO first')
        if o.auth_tls_only and self.tls_info is None:
            raise AuthError('no TLS', '538 5.7.11 Encryption required for '
                                      'requested authentication mechanism')
        if self.auth is not None:
            raise AuthError('already authenticated',
                            '503 5.5.1 Already authenticated')
        if self.envelope.mail_line is not None:
            raise AuthError('in a mail transaction',
                            '503 5.5.1 AUTH not permitted during a mail '
                            'transaction')
        if 'AUTH' not in self.ext:
            raise AuthError('AUTH not advertised',
                            '503 5.5.1 Authentication not enabled')
        offered = [m.upper() for m in self.ext['AUTH'].split()]
        unknown = '504 5.5.4 Unrecognized authentication type'
        if mech not in offered:
            raise AuthError('not advertised', unknown)
        handler = self.sasl_handlers().get(mech)
        if handler is None:
            raise AuthError('not implemented', unknown)
        initial = None
        if len(words) > 1:
            initial = b'' if words[1] == '=' else b64decode(words[1])
            self.sink.log('* sasl C: ' + sasl_text(initial))
        return await handler(mech, initial)

    def sasl_handlers(self):
        return {
            'PLAIN': self.sasl_plain, 'LOGIN': self.sasl_login,
            'CRAM-MD5': self.sasl_cram_md5, 'DIGEST-MD5': self.sasl_digest_md5,
            'SCRAM-SHA-1': self.sasl_scram, 'SCRAM-SHA-256': self.sasl_scram,
            'SCRAM-SHA-1-PLUS': self.sasl_scram,
            'SCRAM-SHA-256-PLUS': self.sasl_scram,
            'EXTERNAL': self.sasl_external, 'XOAUTH2': self.sasl_xoauth2,
            'OAUTHBEARER': self.sasl_oauthbearer,
        }

    async def sasl_step(self, challenge):
        """Send "334 base64(challenge)", return the decoded client reply."""
        await self.push('334 ' + b64encode(challenge))
        self.sink.log('* sasl S: ' + sasl_text(challenge))
        line = (await self._reader.readuntil(b'\n')).rstrip(b'\r\n')
        if line == b'*':
            raise AuthError('cancelled', AUTH_CANCELLED)
        data = b64decode(line)
        self.sink.log('* sasl C: ' + sasl_text(data))
        return data

    async def client_first(self, initial):
        """The client's first message: the initial response or a reply to
        an empty challenge."""
        return initial if initial is not None else await self.sasl_step(b'')

    @staticmethod
    def server_first(mech, initial):
        if initial is not None:
            raise AuthError('initial response to a server-first mechanism',
                            f'501 5.5.2 {mech} takes no initial response')

    def check_password(self, user, password):
        o = self.sink.opts
        if user != o.auth_user:
            raise AuthError(f'unknown user {user}')
        if password != o.auth_password:
            raise AuthError('wrong password')

    @staticmethod
    def check_authzid(authzid, authid):
        if authzid and authzid != authid:
            raise AuthError(f'authzid {authzid} is not {authid}')

    async def sasl_plain(self, mech, initial):
        message = await self.client_first(initial)
        parts = utf8(message).split('\0')
        if len(parts) != 3:
            raise AuthError('malformed message')
        authzid, user, password = parts
        self.check_password(user, password)
        self.check_authzid(authzid, user)
        return user

    async def sasl_login(self, mech, initial):
        if initial is None:
            initial = await self.sasl_step(b'Username:')
        user = utf8(initial)
        password = utf8(await self.sasl_step(b'Password:'))
        self.check_password(user, password)
        return user

    async def sasl_cram_md5(self, mech, initial):
        self.server_first(mech, initial)
        challenge = (f'<{secrets.randbelow(1 << 31)}.{int(time.time())}'
                     f'@{HOSTNAME}>').encode()
        user, _, digest = utf8(await self.sasl_step(challenge)).rpartition(' ')
        if not user:
            raise AuthError('malformed message')
        if user != self.sink.opts.auth_user:
            raise AuthError(f'unknown user {user}')
        password = self.sink.opts.auth_password.encode()
        if digest != hmac.new(password, challenge, 'md5').hexdigest():
            raise AuthError('wrong digest')
        return user

    async def sasl_digest_md5(self, mech, initial):
        o = self.sink.opts
        self.server_first(mech, initial)
        nonce = secrets.token_urlsafe(18)
        challenge = (f'realm="{o.auth_realm}",nonce="{nonce}",qop="auth",'
                     f'charset=utf-8,algorithm=md5-sess')
        d = digest_directives(utf8(await self.sasl_step(challenge.encode())))
        for key in ('username', 'nonce', 'cnonce', 'nc', 'digest-uri',
                    'response'):
            if key not in d:
                raise AuthError(f'no {key}')
        uri = d['digest-uri']
        self.sink.log(f'* digest-uri {uri}')
        service, _, host = uri.partition('/')
        if service != 'smtp' or not host:
            raise AuthError(f'digest-uri {uri} is not smtp/HOST')
        user, realm = d['username'], d.get('realm', '')
        if realm != o.auth_realm:
            raise AuthError(f'realm {realm} is not {o.auth_realm}')
        if d['nonce'] != nonce:
            raise AuthError('nonce mismatch')
        if d['nc'] != '00000001':
            raise AuthError(f'nc {d["nc"]} is not 00000001')
        qop = d.get('qop', 'auth')
        if qop != 'auth':
            raise AuthError(f'qop {qop} is not auth')
        if user != o.auth_user:
            raise AuthError(f'unknown user {user}')
        authzid = d.get('authzid', '')

        def md5(data):
            return hashlib.md5(data.encode('utf-8', 'surrogateescape')
                               if isinstance(data, str) else data).digest()

        a1 = (md5(f'{user}:{realm}:{o.auth_password}')
              + f':{nonce}:{d["cnonce"]}'.encode()
              + (f':{authzid}'.encode() if authzid else b''))

        def response(a2):
            return md5(f'{md5(a1).hex()}:{nonce}:{d["nc"]}:{d["cnonce"]}:'
                       f'{qop}:{md5(a2).hex()}').hex()

        if d['response'].lower() != response(f'AUTHENTICATE:{uri}'):
            raise AuthError('wrong response')
        self.check_authzid(authzid, user)
        rspauth = response(f':{uri}')
        if o.auth_bad_server_proof:
            rspauth = ('1' if rspauth[0] == '0' else '0') + rspauth[1:]
        if await self.sasl_step(f'rspauth={rspauth}'.encode()):
            raise AuthError('non-empty reply to rspauth')
        return user

    async def sasl_scram(self, mech, initial):
        o = self.sink.opts
        plus = mech.endswith('-PLUS')
        hash_name = 'sha256' if mech.startswith('SCRAM-SHA-256') else 'sha1'
        first = utf8(await self.client_first(initial))
        m = re.fullmatch(r'(n|y|p=[A-Za-z0-9.-]+),(a=[^,]*)?,(.*)', first,
                         re.S)
        if not m:
            raise AuthError('malformed client-first message')
        flag, bare = m.group(1), m.group(3)
        authzid = saslname(m.group(2)[2:]) if m.group(2) else ''
        gs2_header = first[:len(first) - len(bare)]
        cb_data = b''
        if plus:
            cb_type = flag[2:]
            if not flag.startswith('p='):
                raise AuthError(f'{mech} without channel binding ({flag})')
            if cb_type == 'tls-exporter':
                raise AuthError('cannot check tls-exporter')
            if cb_type != 'tls-unique':
                raise AuthError(f'unsupported channel binding {cb_type}')
            if self.ssl_object is None:
                raise AuthError('tls-unique without TLS')
            if self.ssl_object.version() == 'TLSv1.3':
                raise AuthError('tls-unique is not defined for TLSv1.3')
            cb_data = self.ssl_object.get_channel_binding('tls-unique')
        elif flag.startswith('p='):
            raise AuthError(f'channel binding {flag} with {mech}')
        elif flag == 'y' and (f'{mech}-PLUS'
                              in self.ext['AUTH'].upper().split()):
            raise AuthError(f'flag y but {mech}-PLUS was offered (downgrade)')
        attrs = bare.split(',')
        if attrs[0].startswith('m='):
            raise AuthError('unsupported mandatory extension')
        if len(attrs) < 2 or attrs[0][:2] != 'n=' or attrs[1][:2] != 'r=' \
                or not attrs[1][2:]:
            raise AuthError('malformed client-first message')
        user, client_nonce = saslname(attrs[0][2:]), attrs[1][2:]
        if user != o.auth_user:
            raise AuthError(f'unknown user {user}')
        self.check_authzid(authzid, user)
        nonce = client_nonce + secrets.token_urlsafe(18)
        salt = secrets.token_bytes(16)
        server_first = f'r={nonce},s={b64encode(salt)},i={SCRAM_ITERATIONS}'
        final = utf8(await self.sasl_step(server_first.encode()))
        m = re.fullmatch(r'(c=([^,]*),r=([^,]*)(?:,[^,]*)*?),p=([^,]*)', final)
        if not m:
            raise AuthError('malformed client-final message')
        without_proof, binding, final_nonce, proof = m.groups()
        if final_nonce != nonce:
            raise AuthError('nonce mismatch')
        if b64decode(binding) != gs2_header.encode() + cb_data:
            raise AuthError('channel binding mismatch')
        salted = hashlib.pbkdf2_hmac(hash_name, o.auth_password.encode(),
                                     salt, SCRAM_ITERATIONS)

        def mac(key, data):
            return hmac.new(key, data, hash_name).digest()

        client_key = mac(salted, b'Client Key')
        stored_key = hashlib.new(hash_name, client_key).digest()
        auth_message = f'{bare},{server_first},{without_proof}'.encode()
        signature = mac(stored_key, auth_message)
        proof = b64decode(proof)
        if len(proof) != len(signature) or hashlib.new(
                hash_name, bytes(a ^ b for a, b in zip(proof, signature))
        ).digest() != stored_key:
            raise AuthError('wrong proof')
        server_signature = mac(mac(salted, b'Server Key'), auth_message)
        if o.auth_bad_server_proof:
            server_signature = bytes([server_signature[0] ^ 1]) \
                + server_signature[1:]
        if await self.sasl_step(b'v=' + b64encode(server_signature).encode()):
            raise AuthError('non-empty reply to server-final message')
        return user

    async def sasl_external(self, mech, initial):
        authzid = utf8(await self.client_first(initial))
        if self.peer_cn is None:
            raise AuthError('no client certificate')
        self.check_authzid(authzid, self.peer_cn)
        return self.peer_cn

    async def oauth_failure(self, reason, error, expect):
        """The bearer token failed: send the error challenge, then 535."""
        reply = await self.sasl_step(error.encode())
        if reply != expect:
            reason += (f' (then {sasl_text(reply)!r}, '
                       f'not {sasl_text(expect)!r})')
        raise AuthError(reason)

    async def sasl_xoauth2(self, mech, initial):
        o = self.sink.opts
        message = utf8(await self.client_first(initial))
        m = re.fullmatch('user=([^\x01]*)\x01auth=([^\x01]*)\x01\x01', message)
        if not m:
            raise AuthError('malformed message')
        user, auth = m.groups()
        scheme, _, token = auth.partition(' ')
        if scheme.lower() != 'bearer':
            raise AuthError(f'auth scheme {scheme} is not Bearer')
        if user != o.auth_user:
            await self.oauth_failure(f'unknown user {user}', XOAUTH2_ERROR,
                                     b'')
        if not await self.token_ok(token):
            await self.oauth_failure('wrong token', XOAUTH2_ERROR, b'')
        return user

    async def token_ok(self, token):
        """--auth-token's value, or with --auth-introspect a token the
        authorization server calls active (RFC 7662)."""
        o = self.sink.opts
        if not o.auth_introspect:
            return token == o.auth_token
        return await asyncio.get_running_loop().run_in_executor(
            None, introspect, o.auth_introspect, o.auth_introspect_ca, token)

    async def sasl_oauthbearer(self, mech, initial):
        o = self.sink.opts
        message = utf8(await self.client_first(initial))
        m = re.fullmatch('([ny]),(a=[^,]*)?,\x01(.*)\x01\x01', message, re.S)
        if not m:
            raise AuthError('malformed message')
        authzid = saslname(m.group(2)[2:]) if m.group(2) else ''
        pairs = {}
        for pair in m.group(3).split('\x01'):
            key, eq, value = pair.partition('=')
            if not eq or not re.fullmatch('[A-Za-z]+', key):
                raise AuthError('malformed message')
            pairs[key] = value
        scheme, _, token = pairs.get('auth', '').partition(' ')
        if scheme.lower() != 'bearer':
            raise AuthError('no auth=Bearer')
        user = authzid or o.auth_user
        if user != o.auth_user:
            await self.oauth_failure(f'unknown user {user}',
                                     OAUTHBEARER_ERROR, b'\x01')
        if not await self.token_ok(token):
            await self.oauth_failure('wrong token', OAUTHBEARER_ERROR,
                                     b'\x01')
        return user

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
                             self.tls_info, self.auth)
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
            self.sink.record(content, env.mail_line, accepted, self.tls_info,
                             self.auth)
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
        server = await loop.create_server(lambda: cls(sink), opts.host,
                                          opts.port)
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
    p.add_argument('--port', type=int, default=0)
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
    p.add_argument('--auth', type=str.split, default=[])
    p.add_argument('--auth-user', default='tester')
    p.add_argument('--auth-password', default='secret')
    p.add_argument('--auth-token', default='test-token')
    p.add_argument('--auth-introspect')
    p.add_argument('--auth-introspect-ca')
    p.add_argument('--auth-realm', default=HOSTNAME)
    p.add_argument('--auth-required', action='store_true')
    p.add_argument('--auth-tls-only', action='store_true')
    p.add_argument('--auth-bad-server-proof', action='store_true')
    opts = p.parse_args(argv)
    for mech in opts.auth:
        if not re.fullmatch(r'[A-Za-z0-9_-]{1,20}', mech):
            p.error(f'--auth: bad mechanism name {mech!r}')
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
