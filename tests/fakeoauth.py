#!/usr/bin/python3
"""fakeoauth.py - an OAuth2 authorization server over HTTPS, for tests.

Usage:
  fakeoauth.py --cert FILE --key FILE --port-file FILE --client-id ID
               [--client-secret S] [--user EMAIL] [--log FILE] [--plan FILE]
               [--host 127.0.0.1] [--port 0] [--max-seconds N]

It binds --host:--port (port 0: any free one), writes the port number to
--port-file atomically once listening, and serves until SIGTERM or SIGINT
(exit 0), or until --max-seconds pass (exit 1).  Python standard library
only; HTTP/1.1 with keep-alive; the TLS handshake runs in the connection's
own thread.  Every answer is JSON (Content-Type application/json) except
those of /activate and /authorize, the browser's endpoints (HTML pages and
302s).  JSON errors are {"error": CODE, "error_description": TEXT}: status
400, 401 for invalid_client (with WWW-Authenticate when the client used
HTTP Basic), 404 for an unknown path, 405 for a wrong method.

Endpoints
  POST /device      RFC 8628 3.1: client_id, scope -> device_code, user_code
                    ("BCDF-GHJK": RFC 8628 6.1 letters), verification_uri
                    (https://127.0.0.1:PORT/activate), verification_uri_complete,
                    expires_in, interval.
  GET  /activate?user_code=X[&deny=1]
                    what the user does in the browser: approves (or denies)
                    that device code; 404 for an unknown code.
  GET  /authorize?response_type=code&client_id&redirect_uri&scope&state
                  &code_challenge&code_challenge_method=S256
                    RFC 6749 4.1.1 with RFC 7636 (S256 required) and an
                    http://127.0.0.1:PORT/ or http://[::1]:PORT/ redirect
                    (RFC 8252 7.3).  302 to redirect_uri?code=..&state=..
                    (?error=access_denied&state=.. when the plan says so).
                    Unknown client or a bad redirect_uri: 400, no redirect.
  POST /token       RFC 6749 section 3.2; grant_type:
    urn:ietf:params:oauth:grant-type:device_code  (device_code, client_id)
        expired_token after the device code's expires_in; slow_down when
        polled sooner than the interval (0.1 s tolerance) or as the plan
        says, and each slow_down adds 5 s to that device code's interval
        (RFC 8628 3.5); access_denied after /activate?deny=1;
        authorization_pending until /activate, or until "pending" such
        answers were given; then the plan's "device_result", tokens by
        default.  A device code gives tokens once.
    authorization_code  (code, redirect_uri, code_verifier, client_id)
        the code from /authorize, used at most once (any attempt uses it),
        within 600 s, by the same client, with the same redirect_uri, and
        BASE64URL(SHA256(code_verifier)) equal to the code_challenge, the
        verifier being 43-128 unreserved characters (RFC 7636 4.1, 4.6).
    refresh_token  (refresh_token, client_id[, scope])
        a live refresh token of this client -> a new access token; with
        "rotate" a new refresh token too, and the old one is dead.
        "refresh_fail" answers first, while "refresh_fail_times" lasts.
    client_credentials  (client_id, client_secret, scope): no refresh token.
    Client authentication (RFC 6749 2.3.1): client_id and client_secret
    in the body, or HTTP Basic.  A secret given must be --client-secret;
    with --client-secret every grant except device_code needs it;
    client_credentials always does.  Answers carry Cache-Control: no-store.
  /introspect       RFC 7662; the token as Dovecot 2.3's passdb oauth2
                    sends it: POST body token=X (introspection_mode post;
                    any Content-Type), GET ?token=X (get: the token is
                    appended to introspection_url, which ends in "?token="),
                    or GET with Authorization: Bearer X (auth).  A live access
                    token: {"active": true, "username": USER, "email": USER,
                    "scope", "exp", "client_id", "token_type": "Bearer"};
                    anything else {"active": false}.  Status 200 either way.
  POST /_plan       the body (a JSON object) becomes the plan; answers it.
  POST /_revoke     every access and refresh token dies (consent revoked).

The plan (--plan FILE at start, POST /_plan later) is a JSON object; a new
plan replaces the old one whole, missing keys take their defaults, unknown
keys are refused (400), and its counters start again:
  interval            1     device flow poll interval (s)
  device_expires_in   600   device code lifetime (s)
  pending             null  authorization_pending answers per device code
                            before it approves itself; null: until /activate
  device_result       "tokens"  or "expired_token", "access_denied": what
                            an approved device code is answered
  slow_down           0     the next N device-code polls get slow_down
  enforce_interval    true  slow_down for polls sooner than the interval
  authorize           "approve" or "deny" (redirect with access_denied)
  expires_in          3600  access token lifetime (s)
  refresh_token       true  issue refresh tokens (not for client_credentials)
  rotate              true  a refresh answers a new refresh token
  refresh_fail        null  "invalid_grant", 429, 500 or 503: refresh_token
                            grants fail so (429 with Retry-After)
  refresh_fail_times  null  how many refreshes fail; null: all of them
  retry_after         1     Retry-After of the 429 (s)
  scope               null  the scope granted; null: the one asked for
  token_delay         0     seconds /token waits before answering

Log (--log): one JSON object a line per request, written before the answer
is sent (a client holding its answer finds its request logged):
  {"time": EPOCH (float), "method", "path", "query": {..}, "form": {..},
   "authorization": HEADER or null, "status": N}
Form and query values appear in full, secrets included: the log is a test
artifact that shows what the client sent.  A field given twice appears
once (the first value); /token and /device refuse such a request.
"""

import argparse
import base64
import hashlib
import html
import http.server
import json
import os
import re
import secrets
import signal
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
USER_CODE_LETTERS = 'BCDFGHJKLMNPQRSTVWXZ'      # RFC 8628 6.1
CODE_LIFETIME = 600
VERIFIER = re.compile(r'[A-Za-z0-9._~-]{43,128}\Z')
LOOPBACK = re.compile(r'http://(127\.0\.0\.1|\[::1\]):[0-9]{1,5}(/[^?#]*)?\Z')

PLAN_DEFAULTS = {
    'interval': 1, 'device_expires_in': 600, 'pending': None,
    'device_result': 'tokens', 'slow_down': 0, 'enforce_interval': True,
    'authorize': 'approve', 'expires_in': 3600, 'refresh_token': True,
    'rotate': True, 'refresh_fail': None, 'refresh_fail_times': None,
    'retry_after': 1, 'scope': None, 'token_delay': 0,
}
PLAN_CHOICES = {
    'device_result': ('tokens', 'expired_token', 'access_denied'),
    'authorize': ('approve', 'deny'),
    'refresh_fail': (None, 'invalid_grant', 429, 500, 503),
}


class OAuthError(Exception):
    """An error answer: status, error code, description, extra headers."""

    def __init__(self, error, description, status=400, headers=None):
        super().__init__(description)
        self.error, self.description = error, description
        self.status, self.headers = status, headers or {}


def check_plan(plan):
    """The plan with defaults filled in; ValueError names what is wrong."""
    if not isinstance(plan, dict):
        raise ValueError('the plan must be a JSON object')
    unknown = sorted(set(plan) - set(PLAN_DEFAULTS))
    if unknown:
        raise ValueError('unknown plan keys: ' + ', '.join(unknown))
    full = dict(PLAN_DEFAULTS, **plan)
    for key, allowed in PLAN_CHOICES.items():
        if full[key] not in allowed:
            raise ValueError(f'{key} must be one of {allowed}')
    for key in ('interval', 'device_expires_in', 'slow_down', 'expires_in',
                'retry_after', 'token_delay'):
        if not isinstance(full[key], (int, float)) or full[key] < 0:
            raise ValueError(f'{key} must be a number >= 0')
    return full


def s256(verifier):
    """BASE64URL(SHA256(ASCII(verifier))) without padding (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode('ascii')).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii')


def new_user_code():
    """Eight letters from RFC 8628 6.1's set, as XXXX-XXXX."""
    s = ''.join(secrets.choice(USER_CODE_LETTERS) for _ in range(8))
    return s[:4] + '-' + s[4:]


def single_fields(pairs):
    """{name: first value} of parse_qsl pairs, and the names given twice."""
    fields, twice = {}, set()
    for name, value in pairs:
        if name in fields:
            twice.add(name)
        else:
            fields[name] = value
    return fields, twice


def need(fields, *names):
    """Raise invalid_request unless every one of names is non-empty."""
    for name in names:
        if not fields.get(name):
            raise OAuthError('invalid_request', f'missing {name}')


class Authority:
    """All server state: clients, codes, tokens and the plan, one lock."""

    def __init__(self, client_id, client_secret, user, plan):
        self.client_id, self.client_secret, self.user = client_id, client_secret, user
        self.lock = threading.Lock()
        self.devices, self.user_codes, self.codes = {}, {}, {}
        self.access, self.refresh = {}, {}
        self.base_url = ''
        self.set_plan(plan)

    def set_plan(self, plan):
        self.plan = check_plan(plan)
        self.slow_downs_left = self.plan['slow_down']
        self.refresh_fails_left = self.plan['refresh_fail_times']

    # -- client authentication -------------------------------------------
    def client(self, fields, basic, grant):
        """Authenticate the client of a /token or /device request."""
        client_id, secret = fields.get('client_id'), fields.get('client_secret')
        if basic is not None:
            if client_id not in (None, basic[0]) or secret is not None:
                raise OAuthError('invalid_request', 'two client authentications')
            client_id, secret = basic
        if client_id != self.client_id:
            raise OAuthError('invalid_client', 'unknown client', 401)
        if secret is not None and secret != self.client_secret:
            raise OAuthError('invalid_client', 'wrong client secret', 401)
        wanted = grant == 'client_credentials' or (
            self.client_secret is not None and grant not in (DEVICE_GRANT, None))
        if wanted and secret is None:
            raise OAuthError('invalid_client', 'client_secret required', 401)

    # -- tokens ------------------------------------------------------------
    def issue(self, scope, with_refresh):
        """A token response for scope; records the tokens."""
        plan = self.plan
        scope = plan['scope'] if plan['scope'] is not None else scope
        access = 'at-' + secrets.token_urlsafe(24)
        self.access[access] = {'exp': int(time.time() + plan['expires_in']),
                               'scope': scope}
        answer = {'access_token': access, 'token_type': 'Bearer',
                  'expires_in': plan['expires_in'], 'scope': scope}
        if with_refresh and plan['refresh_token']:
            refresh = 'rt-' + secrets.token_urlsafe(24)
            self.refresh[refresh] = {'scope': scope}
            answer['refresh_token'] = refresh
        return answer

    def revoke(self):
        self.access.clear()
        self.refresh.clear()

    def introspect(self, token):
        info = self.access.get(token or '')
        if info is None or info['exp'] <= time.time():
            return {'active': False}
        return {'active': True, 'username': self.user, 'email': self.user,
                'scope': info['scope'], 'exp': info['exp'],
                'client_id': self.client_id, 'token_type': 'Bearer'}

    # -- device flow (RFC 8628) --------------------------------------------
    def device_start(self, fields):
        need(fields, 'scope')
        plan, code, user_code = self.plan, secrets.token_urlsafe(32), new_user_code()
        self.devices[code] = {
            'user_code': user_code, 'scope': fields['scope'], 'state': 'pending',
            'expires': time.monotonic() + plan['device_expires_in'],
            'interval': plan['interval'], 'last_poll': None, 'pendings': 0}
        self.user_codes[user_code] = code
        uri = self.base_url + '/activate'
        return {'device_code': code, 'user_code': user_code,
                'verification_uri': uri,
                'verification_uri_complete': uri + '?user_code=' + user_code,
                'expires_in': plan['device_expires_in'],
                'interval': plan['interval']}

    def activate(self, user_code, deny):
        """Approve or deny the device code of user_code; False if unknown."""
        dev = self.devices.get(self.user_codes.get(user_code, ''))
        if dev is None or dev['state'] == 'used':
            return False
        dev['state'] = 'denied' if deny else 'approved'
        return True

    def device_poll_pace(self, dev, now):
        """slow_down when polled too soon or as planned (RFC 8628 3.5)."""
        last, dev['last_poll'] = dev['last_poll'], now
        too_soon = (self.plan['enforce_interval'] and last is not None
                    and now - last < dev['interval'] - 0.1)
        planned = self.slow_downs_left > 0
        if planned:
            self.slow_downs_left -= 1
        if too_soon or planned:
            dev['interval'] += 5
            raise OAuthError('slow_down', f'poll every {dev["interval"]} s')

    def device_token(self, fields):
        need(fields, 'device_code')
        dev = self.devices.get(fields['device_code'])
        if dev is None or dev['state'] == 'used':
            raise OAuthError('invalid_grant', 'unknown or used device_code')
        now = time.monotonic()
        if now >= dev['expires']:
            raise OAuthError('expired_token', 'the device code expired')
        self.device_poll_pace(dev, now)
        if dev['state'] == 'denied':
            raise OAuthError('access_denied', 'the user declined')
        pending = self.plan['pending']
        if dev['state'] == 'pending' and pending is not None and dev['pendings'] >= pending:
            dev['state'] = 'approved'
        if dev['state'] == 'pending':
            dev['pendings'] += 1
            raise OAuthError('authorization_pending', 'waiting for the user')
        result = self.plan['device_result']
        if result != 'tokens':
            raise OAuthError(result, 'as the plan says')
        dev['state'] = 'used'
        return self.issue(dev['scope'], True)

    # -- authorization code flow (RFC 6749 4.1, RFC 7636) ------------------
    def authorize(self, q):
        """The Location to redirect to; OAuthError for a 400 page."""
        if q.get('client_id') != self.client_id:
            raise OAuthError('invalid_client', 'unknown client_id')
        redirect = q.get('redirect_uri', '')
        if not LOOPBACK.match(redirect):
            raise OAuthError('invalid_request', 'redirect_uri is not a loopback http URL')
        answer = {'state': q['state']} if 'state' in q else {}
        try:
            self.authorize_check(q)
        except OAuthError as e:
            answer = dict({'error': e.error, 'error_description': e.description}, **answer)
            return redirect + '?' + urllib.parse.urlencode(answer)
        if self.plan['authorize'] == 'deny':
            answer = dict({'error': 'access_denied'}, **answer)
        else:
            answer = dict({'code': self.new_code(q)}, **answer)
        return redirect + '?' + urllib.parse.urlencode(answer)

    def authorize_check(self, q):
        if q.get('response_type') != 'code':
            raise OAuthError('unsupported_response_type', 'response_type must be code')
        if not q.get('scope'):
            raise OAuthError('invalid_scope', 'missing scope')
        if not q.get('code_challenge'):
            raise OAuthError('invalid_request', 'PKCE code_challenge required')
        if q.get('code_challenge_method') != 'S256':
            raise OAuthError('invalid_request', 'code_challenge_method must be S256')

    def new_code(self, q):
        code = secrets.token_urlsafe(24)
        self.codes[code] = {'redirect_uri': q['redirect_uri'], 'scope': q['scope'],
                            'challenge': q['code_challenge'],
                            'expires': time.monotonic() + CODE_LIFETIME}
        return code

    def code_token(self, fields):
        need(fields, 'code', 'redirect_uri', 'code_verifier')
        grant = self.codes.pop(fields['code'], None)
        if grant is None or time.monotonic() >= grant['expires']:
            raise OAuthError('invalid_grant', 'unknown, used or expired code')
        if fields['redirect_uri'] != grant['redirect_uri']:
            raise OAuthError('invalid_grant', 'redirect_uri differs from the authorization request')
        verifier = fields['code_verifier']
        if not VERIFIER.match(verifier) or s256(verifier) != grant['challenge']:
            raise OAuthError('invalid_grant', 'code_verifier does not match the code_challenge')
        return self.issue(grant['scope'], True)

    # -- refresh and client credentials -----------------------------------
    def refresh_failure(self):
        """Raise the planned refresh failure while it lasts."""
        fail, left = self.plan['refresh_fail'], self.refresh_fails_left
        if fail is None or left == 0:
            return
        if left is not None:
            self.refresh_fails_left = left - 1
        if fail == 'invalid_grant':
            raise OAuthError('invalid_grant', 'the refresh token was revoked')
        if fail == 429:
            raise OAuthError('temporarily_unavailable', 'too many requests', 429,
                             {'Retry-After': str(self.plan['retry_after'])})
        raise OAuthError('server_error' if fail == 500 else 'temporarily_unavailable',
                         f'planned HTTP {fail}', fail)

    def refresh_token(self, fields):
        need(fields, 'refresh_token')
        self.refresh_failure()
        old = self.refresh.get(fields['refresh_token'])
        if old is None:
            raise OAuthError('invalid_grant', 'unknown or revoked refresh token')
        scope = fields.get('scope') or old['scope']
        if not set(scope.split()) <= set(old['scope'].split()):
            raise OAuthError('invalid_scope', 'more scope than originally granted')
        rotate = self.plan['rotate']
        if rotate:
            del self.refresh[fields['refresh_token']]
        return self.issue(scope, rotate)

    def client_credentials(self, fields):
        need(fields, 'scope')
        return self.issue(fields['scope'], False)

    def token(self, fields, basic):
        grant = fields.get('grant_type')
        handlers = {DEVICE_GRANT: self.device_token,
                    'authorization_code': self.code_token,
                    'refresh_token': self.refresh_token,
                    'client_credentials': self.client_credentials}
        if grant not in handlers:
            raise OAuthError('unsupported_grant_type', f'grant_type {grant!r}')
        self.client(fields, basic, grant)
        return handlers[grant](fields)


class Reply:
    """An answer not yet sent: status, body bytes, Content-Type, headers."""

    def __init__(self, status, body, ctype, headers=None):
        self.status, self.body, self.ctype = status, body, ctype
        self.headers = headers or {}


def json_reply(status, obj, headers=None):
    return Reply(status, json.dumps(obj).encode('utf-8'), 'application/json', headers)


def html_reply(status, text):
    page = f'<!DOCTYPE html>\n<html><body><p>{text}</p></body></html>\n'
    return Reply(status, page.encode('utf-8'), 'text/html; charset=utf-8')


def error_reply(e, for_browser, basic):
    """The answer to OAuthError e: an HTML page for a browser, else JSON."""
    if for_browser:
        return html_reply(e.status, f'{e.error}: {html.escape(e.description)}')
    headers = dict(e.headers, **{'Cache-Control': 'no-store'})
    if e.status == 401 and basic:
        headers['WWW-Authenticate'] = 'Basic realm="fakeoauth"'
    return json_reply(e.status, {'error': e.error, 'error_description': e.description},
                      headers)


class Handler(http.server.BaseHTTPRequestHandler):
    """One HTTP request: parse, dispatch, log, answer (logged first, so a
    client that has its answer finds its request in the log)."""

    protocol_version = 'HTTP/1.1'
    server_version = 'fakeoauth/1'
    timeout = 30
    routes = {('POST', '/device'): 'on_device', ('POST', '/token'): 'on_token',
              ('GET', '/activate'): 'on_activate', ('GET', '/authorize'): 'on_authorize',
              ('GET', '/introspect'): 'on_introspect',
              ('POST', '/introspect'): 'on_introspect',
              ('POST', '/_plan'): 'on_plan', ('POST', '/_revoke'): 'on_revoke'}

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        self.query, _ = single_fields(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        self.form, self.twice = {}, set()
        self.auth = self.server.authority
        try:
            body = self.read_body(url.path)
            route = self.routes.get((self.command, url.path))
            if route is None:
                known = url.path in {p for _, p in self.routes}
                raise OAuthError('invalid_request', f'no {self.command} {url.path}',
                                 405 if known else 404)
            reply = getattr(self, route)(body)
        except OAuthError as e:
            basic = self.headers.get('Authorization', '').lower().startswith('basic ')
            reply = error_reply(e, url.path in ('/authorize', '/activate'), basic)
        self.server.log(self, url.path, reply.status)
        self.send(reply)

    def read_body(self, path):
        """The request body; a urlencoded one (any for /introspect) also
        lands in self.form, repeated names in self.twice."""
        if 'chunked' in self.headers.get('Transfer-Encoding', ''):
            self.close_connection = True
            raise OAuthError('invalid_request', 'chunked bodies are not supported', 411)
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        if self.headers.get_content_type() == 'application/x-www-form-urlencoded' \
                or path == '/introspect':
            pairs = urllib.parse.parse_qsl(body.decode('utf-8', 'replace'),
                                           keep_blank_values=True)
            self.form, self.twice = single_fields(pairs)
        return body

    def oauth_form(self):
        """The form of an OAuth request (RFC 6749 3.2): urlencoded, no repeats."""
        if self.headers.get_content_type() != 'application/x-www-form-urlencoded':
            raise OAuthError('invalid_request', 'body must be application/x-www-form-urlencoded')
        if self.twice:
            raise OAuthError('invalid_request', 'repeated: ' + ', '.join(sorted(self.twice)))
        return self.form

    def basic_auth(self):
        """(client_id, secret) of an Authorization: Basic header, or None
        (RFC 6749 2.3.1: both form-urlencoded first)."""
        value = self.headers.get('Authorization', '')
        if not value.lower().startswith('basic '):
            return None
        try:
            raw = base64.b64decode(value[6:].strip(), validate=True).decode('utf-8')
            user, secret = raw.split(':', 1)
        except (ValueError, UnicodeDecodeError):
            raise OAuthError('invalid_client', 'malformed Basic credentials', 401)
        unq = urllib.parse.unquote_plus
        return unq(user), unq(secret)

    # -- endpoints: each returns a Reply or raises OAuthError ---------------
    def on_device(self, _body):
        fields = self.oauth_form()
        with self.auth.lock:
            self.auth.client(fields, self.basic_auth(), None)
            return json_reply(200, self.auth.device_start(fields))

    def on_token(self, _body):
        fields, basic = self.oauth_form(), self.basic_auth()
        with self.auth.lock:
            delay = self.auth.plan['token_delay']
        time.sleep(delay)
        with self.auth.lock:
            answer = self.auth.token(fields, basic)
        return json_reply(200, answer, {'Cache-Control': 'no-store', 'Pragma': 'no-cache'})

    def on_activate(self, _body):
        code = self.query.get('user_code', '').strip().upper()
        deny = self.query.get('deny') not in (None, '', '0')
        with self.auth.lock:
            if not self.auth.activate(code, deny):
                raise OAuthError('invalid_request', 'unknown user code', 404)
        return html_reply(200, f'Device {html.escape(code)} {"denied" if deny else "approved"}.')

    def on_authorize(self, _body):
        with self.auth.lock:
            location = self.auth.authorize(self.query)
        return Reply(302, b'', 'text/plain', {'Location': location})

    def on_introspect(self, _body):
        token = self.form.get('token') or self.query.get('token')
        bearer = self.headers.get('Authorization', '')
        if not token and bearer.lower().startswith('bearer '):
            token = bearer[7:].strip()
        with self.auth.lock:
            return json_reply(200, self.auth.introspect(token))

    def on_plan(self, body):
        try:
            plan = json.loads(body.decode('utf-8') or 'null')
            with self.auth.lock:
                self.auth.set_plan(plan)
                return json_reply(200, self.auth.plan)
        except ValueError as e:
            raise OAuthError('invalid_request', f'bad plan: {e}')

    def on_revoke(self, _body):
        with self.auth.lock:
            self.auth.revoke()
        return json_reply(200, {'revoked': True})

    def send(self, reply):
        self.send_response(reply.status)
        self.send_header('Content-Type', reply.ctype)
        self.send_header('Content-Length', str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """HTTPS: each accepted connection does its TLS handshake in its thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, tls, authority, log):
        super().__init__(addr, Handler)
        self.tls, self.authority = tls, authority
        self.log_file, self.log_lock = log, threading.Lock()

    def finish_request(self, request, client_address):
        request.settimeout(Handler.timeout)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(conn, client_address)
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    def log(self, handler, path, status):
        if self.log_file is None:
            return
        entry = {'time': time.time(), 'method': handler.command, 'path': path,
                 'query': handler.query, 'form': handler.form,
                 'authorization': handler.headers.get('Authorization'),
                 'status': status}
        with self.log_lock:
            self.log_file.write(json.dumps(entry) + '\n')
            self.log_file.flush()


class Stopped(Exception):
    pass


class TimedOut(Exception):
    pass


def stop(signum, frame):
    raise Stopped()


def time_out(signum, frame):
    raise TimedOut()


def write_port(path, port):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(f'{port}\n')
    os.rename(tmp, path)


def options():
    ap = argparse.ArgumentParser(description='fake OAuth2 authorization server')
    ap.add_argument('--cert', required=True)
    ap.add_argument('--key')
    ap.add_argument('--port-file', required=True)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--log')
    ap.add_argument('--plan')
    ap.add_argument('--client-id', required=True)
    ap.add_argument('--client-secret')
    ap.add_argument('--user', default='tester@example.org')
    ap.add_argument('--max-seconds', type=float)
    return ap.parse_args()


def main():
    args = options()
    plan = {}
    if args.plan:
        with open(args.plan) as f:
            plan = json.load(f)
    authority = Authority(args.client_id, args.client_secret, args.user, plan)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    log = open(args.log, 'a', buffering=1) if args.log else None
    server = Server((args.host, args.port), tls, authority, log)
    port = server.server_address[1]
    authority.base_url = f'https://{args.host}:{port}'
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.max_seconds:
        signal.signal(signal.SIGALRM, time_out)
        signal.setitimer(signal.ITIMER_REAL, args.max_seconds)
    write_port(args.port_file, port)
    try:
        server.serve_forever(poll_interval=0.2)
    except Stopped:
        return 0
    except TimedOut:
        print('fakeoauth.py: --max-seconds reached', file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
