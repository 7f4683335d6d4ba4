"""smtpclient.py - a line-level SMTP client for the sink's self-tests.

sinktls.bats and sinkauth.bats test tests/smtpsink.py with it (and with
smtplib), not postie.  A test runs a short script with /usr/bin/python3 and
this directory on PYTHONPATH, after sink_start (tests/sink.bash) exported
SINK_PORT and pki_make (tests/pki.bash) exported PKI:

    import smtpclient as tc
    c = tc.Client()              # connected, the 220 greeting read
    assert c.cmd("EHLO me")[-1].startswith("250 ")

What it offers:
    PORT, PKI            $SINK_PORT (read at import) and $PKI
    context(cert, tls_max)
                         an ssl context that trusts PKI/ca.pem; with CERT,
                         PKI/CERT.pem and CERT-key.pem as client certificate;
                         with TLS_MAX (e.g. "TLSv1_2"), no newer protocol
    Client(tls, cert, tls_max, greet)
                         a connection to 127.0.0.1:PORT, TLS from the start
                         with tls=True, the greeting read and checked (220)
                         unless greet=False.  reply() reads one reply (its
                         lines, CR LF stripped), cmd(line) sends a line and
                         reads the reply, send64(bytes) answers a 334 with
                         base64, ehlo() the EHLO keywords, auth_line() the
                         AUTH ones, send() one message (MAIL, RCPT, DATA).
                         wrap() starts TLS on the socket as it is; starttls()
                         sends STARTTLS first and wants 220.  The socket is
                         c.sock, bytes read but not yet used are c.buf.
    send(smtp)           the same message through an smtplib.SMTP
    b64(data), unb64(reply)
                         base64 of bytes; the bytes in a "334 ..." reply
    scram(c, mech, ...), digest_md5(c, ...)
                         SCRAM-SHA-1/-256 (-PLUS) and DIGEST-MD5 exchanges,
                         computed here, so the sink's side is checked by
                         code that is not its own

The test message goes from a@example.org to b@example.org with the subject
"t".  Every read waits at most 10 s.  Standard library only.
"""
import base64
import hashlib
import hmac
import os
import secrets
import socket
import ssl

PORT = int(os.environ['SINK_PORT'])
PKI = os.environ.get('PKI', '')


def context(cert=None, tls_max=None):
    """A client ssl.SSLContext that trusts the test CA."""
    ctx = ssl.create_default_context(cafile=f'{PKI}/ca.pem')
    if cert:
        ctx.load_cert_chain(f'{PKI}/{cert}.pem', f'{PKI}/{cert}-key.pem')
    if tls_max:
        ctx.maximum_version = ssl.TLSVersion[tls_max]
    return ctx


def b64(data):
    return base64.b64encode(data).decode()


def unb64(reply):
    """The decoded payload of a "334 ..." reply."""
    assert reply[0].startswith('334 '), reply
    return base64.b64decode(reply[0][4:], validate=True)


def send(smtp):
    """The test message through an smtplib.SMTP (or SMTP_SSL)."""
    smtp.sendmail('a@example.org', ['b@example.org'],
                  'Subject: t\r\n\r\nbody\r\n')


class Client:
    """Line-level SMTP over a socket that can be wrapped in TLS later."""

    def __init__(self, tls=False, cert=None, tls_max=None, greet=True):
        self.sock = socket.create_connection(('127.0.0.1', PORT), timeout=10)
        self.buf = b''
        if tls:
            self.wrap(cert, tls_max)
        if greet:
            assert self.reply()[0].startswith('220 ')

    def wrap(self, cert=None, tls_max=None):
        """TLS on the socket now (the handshake is the next thing on it)."""
        self.sock = context(cert, tls_max).wrap_socket(
            self.sock, server_hostname='localhost')

    def starttls(self, cert=None, tls_max=None):
        assert self.cmd('STARTTLS')[0].startswith('220 ')
        self.wrap(cert, tls_max)

    def reply(self):
        lines = []
        for _ in range(100):
            while b'\n' not in self.buf:
                data = self.sock.recv(4096)
                if not data:
                    raise EOFError(f'EOF after {lines!r}')
                self.buf += data
            line, _, self.buf = self.buf.partition(b'\n')
            lines.append(line.rstrip(b'\r').decode())
            if lines[-1][3:4] != '-':
                return lines
        raise ValueError('endless reply')

    def cmd(self, line):
        self.sock.sendall(line.encode() + b'\r\n')
        return self.reply()

    def send64(self, data):
        """Answer a 334 challenge with DATA (bytes)."""
        return self.cmd(b64(data))

    def ehlo(self):
        lines = self.cmd('EHLO client.example')
        assert lines[-1].startswith('250 '), lines
        return [l[4:] for l in lines[1:]]

    def auth_line(self):
        return [l for l in self.ehlo() if l.startswith('AUTH')]

    def send(self):
        assert self.cmd('MAIL FROM:<a@example.org>')[0].startswith('250')
        assert self.cmd('RCPT TO:<b@example.org>')[0].startswith('250')
        assert self.cmd('DATA')[0].startswith('354')
        assert self.cmd('Subject: t\r\n\r\nbody\r\n.')[0].startswith('250')


def scram(c, mech, user='tester', password='secret', gs2=None, cb=b'',
          ir=True):
    """Run SCRAM; return (final reply, whether the server proved itself).
    A server-final message that does not verify is answered with "*"."""
    name = 'sha256' if mech.startswith('SCRAM-SHA-256') else 'sha1'
    if gs2 is None:
        gs2 = 'p=tls-unique,,' if mech.endswith('-PLUS') else 'n,,'
    bare = f'n={user},r={secrets.token_urlsafe(12)}'
    first = (gs2 + bare).encode()
    if ir:
        r = c.cmd(f'AUTH {mech} {b64(first)}')
    else:
        r = c.cmd(f'AUTH {mech}')
        assert r == ['334 '], r
        r = c.send64(first)
    if not r[0].startswith('334 '):
        return r, None
    server_first = unb64(r).decode()
    attrs = dict(a.split('=', 1) for a in server_first.split(','))
    assert attrs['r'].startswith(bare.split('r=')[1]) and int(attrs['i']) == 4096
    salted = hashlib.pbkdf2_hmac(name, password.encode(),
                                 base64.b64decode(attrs['s']), 4096)
    mac = lambda k, d: hmac.new(k, d, name).digest()
    client_key = mac(salted, b'Client Key')
    stored_key = hashlib.new(name, client_key).digest()
    without_proof = f'c={b64(gs2.encode() + cb)},r={attrs["r"]}'
    message = f'{bare},{server_first},{without_proof}'.encode()
    proof = bytes(a ^ b for a, b in zip(client_key, mac(stored_key, message)))
    r = c.send64(f'{without_proof},p={b64(proof)}'.encode())
    if not r[0].startswith('334 '):
        return r, None
    want = 'v=' + b64(mac(mac(salted, b'Server Key'), message))
    ok = unb64(r).decode() == want
    return (c.cmd('') if ok else c.cmd('*')), ok


def digest_md5(c, user='tester', password='secret', realm='smtpsink.test',
               uri='smtp/localhost', authzid=''):
    """Run DIGEST-MD5; return (final reply, whether rspauth verified)."""
    r = c.cmd('AUTH DIGEST-MD5')
    challenge = unb64(r).decode()
    nonce = challenge.split('nonce="')[1].split('"')[0]
    cnonce, nc, qop = secrets.token_hex(8), '00000001', 'auth'
    md5 = lambda d: hashlib.md5(d.encode() if isinstance(d, str) else d).digest()
    a1 = md5(f'{user}:{realm}:{password}') + f':{nonce}:{cnonce}'.encode() \
        + (f':{authzid}'.encode() if authzid else b'')
    kd = lambda a2: md5(f'{md5(a1).hex()}:{nonce}:{nc}:{cnonce}:{qop}:'
                        f'{md5(a2).hex()}').hex()
    resp = (f'charset=utf-8,username="{user}",realm="{realm}",'
            f'nonce="{nonce}",nc={nc},cnonce="{cnonce}",'
            f'digest-uri="{uri}",response={kd("AUTHENTICATE:" + uri)},qop=auth')
    if authzid:
        resp += f',authzid="{authzid}"'
    r = c.send64(resp.encode())
    if not r[0].startswith('334 '):
        return r, None
    ok = unb64(r).decode() == 'rspauth=' + kd(':' + uri)
    return (c.cmd('') if ok else c.cmd('*')), ok
