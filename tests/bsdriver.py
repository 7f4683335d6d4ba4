#!/usr/bin/python3
"""bsdriver.py - drive "postie -bs" (or any program that speaks SMTP on its
standard input and output) through pipes, from a script of what to send and
what must come back.

Usage:
  bsdriver.py [--timeout SECONDS] [--stderr FILE] [--script FILE]
              -- COMMAND [ARG...]

COMMAND runs with its standard input and output on pipes (stderr to FILE,
else inherited) and this script, read from FILE or standard input, one
directive a line ("#" at the start of a line: a comment; blank lines are
ignored):

  > TEXT       send TEXT and CR LF (a command or a line of message data);
               ">" alone sends an empty line
  >> BYTES     send BYTES with nothing added; escapes \\r \\n \\t \\0 \\\\
               and \\xHH (e.g. ">> NO\\x00OP\\r\\n", ">> NOOP\\n" for a bare LF)
  < TEXT       the next line COMMAND writes must be TEXT, ended by CR LF
  <~ REGEX     the next line must match REGEX (Python re, the whole line
               without its CR LF); each of its groups is printed as "= VALUE"
  eof          close COMMAND's standard input (after what is still unsent)
  exit N       COMMAND must exit with status N and write nothing more; it
               must be the last directive

Everything sent between two expected lines goes out in one write(), as a
pipelining client does (a pipe passes up to 64 KiB at once); the driver
keeps reading while it writes, so a long batch cannot deadlock.  Every wait
(a line, the exit, the end of COMMAND's output) is bounded by --timeout
(default 10 s).  On the first failure COMMAND is killed (SIGKILL, by the PID
this driver started) and reaped.

Output on standard output: the transcript ("C: " for each line sent, with
control characters as \\xHH, "S: " for each line received), "= VALUE" for
the groups of "<~" lines, and on failure "bsdriver: line N: WHAT" naming the
script line.  Exit status 0 when every directive held, 1 on a failure, 2
for a usage or script error.  Standard library only.
"""
import argparse
import os
import re
import select
import subprocess
import sys
import time

ESCAPES = {'r': b'\r', 'n': b'\n', 't': b'\t', '0': b'\0', '\\': b'\\'}
ESCAPE_RE = re.compile(r'\\(x[0-9a-fA-F]{2}|[rnt0\\])')


class ScriptError(Exception):
    """The script itself is wrong (exit 2)."""


class Failed(Exception):
    """COMMAND did not do what the script says (exit 1)."""


def unescape(text):
    """The bytes of a ">>" directive."""
    out = bytearray()
    pos = 0
    for m in ESCAPE_RE.finditer(text):
        out += text[pos:m.start()].encode('utf-8')
        esc = m.group(1)
        out += bytes([int(esc[1:], 16)]) if esc[0] == 'x' else ESCAPES[esc]
        pos = m.end()
    return bytes(out + text[pos:].encode('utf-8'))


def printable(data):
    """DATA (bytes) with control characters and non-UTF-8 bytes as \\xHH."""
    text = data.decode('utf-8', 'backslashreplace')
    return re.sub(r'[\x00-\x1f\x7f]', lambda m: '\\x%02x' % ord(m.group()), text)


def parse(lines):
    """The script as a list of (line number, directive, argument)."""
    steps = []
    for num, raw in enumerate(lines, 1):
        line = raw.rstrip('\n')
        if not line.strip() or line.startswith('#'):
            continue
        for word in ('>>', '<~', '>', '<'):
            if line == word or line.startswith(word + ' '):
                steps.append((num, word, line[len(word) + 1:]))
                break
        else:
            word, _, arg = line.partition(' ')
            if word == 'eof' and not arg:
                steps.append((num, 'eof', ''))
            elif word == 'exit' and arg.isdigit():
                steps.append((num, 'exit', int(arg)))
            else:
                raise ScriptError(f'line {num}: not a directive: {line!r}')
        if steps[-1][1] == '<~':
            try:
                steps[-1] = (num, '<~', re.compile(steps[-1][2]))
            except re.error as e:
                raise ScriptError(f'line {num}: bad regular expression: {e}')
    if not steps or steps[-1][1] != 'exit':
        raise ScriptError('the script must end with "exit N"')
    if [s for s in steps[:-1] if s[1] == 'exit']:
        raise ScriptError('"exit N" must be the last directive')
    return steps


class Peer:
    """COMMAND on two pipes: bytes queued for its input, lines from its
    output, every wait bounded by the same timeout."""

    def __init__(self, argv, timeout, stderr):
        self.timeout = timeout
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=stderr)
        self.inp = self.proc.stdin.fileno()
        self.out = self.proc.stdout.fileno()
        os.set_blocking(self.inp, False)
        self.pending = b''   # queued for COMMAND's input
        self.buf = b''       # read from its output, not yet a line
        self.eof = False     # its output ended
        self.closed = False  # its input was closed (by us, or it went away)

    def send(self, data):
        if self.closed:
            raise Failed('cannot send: standard input already closed')
        self.pending += data

    def _pump(self, done, what):
        """Write what is pending and read what comes until done() is true;
        at most self.timeout seconds."""
        deadline = time.monotonic() + self.timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f'waited {self.timeout:g} s for {what}')
            rd = [] if self.eof else [self.out]
            wr = [self.inp] if self.pending and not self.closed else []
            if not rd and not wr:
                return
            r, w, _ = select.select(rd, wr, [], left)
            if w:
                self._write()
            if r:
                data = os.read(self.out, 65536)
                if data:
                    self.buf += data
                else:
                    self.eof = True

    def _write(self):
        try:
            n = os.write(self.inp, self.pending)
        except BlockingIOError:
            return
        except BrokenPipeError:
            print(f'bsdriver: the command closed its input; '
                  f'{len(self.pending)} bytes not sent')
            self.pending = b''
            self._close_input()
            return
        self.pending = self.pending[n:]

    def _close_input(self):
        if not self.closed:
            self.closed = True
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass

    def line(self, what='a line'):
        """The next output line with its line end, or b'' at the end."""
        self._pump(lambda: b'\n' in self.buf or self.eof, what)
        if b'\n' in self.buf:
            line, _, self.buf = self.buf.partition(b'\n')
            return line + b'\n'
        line, self.buf = self.buf, b''
        return line

    def close_input(self):
        self._pump(lambda: not self.pending or self.closed, 'the command to read its input')
        self._close_input()

    def finish(self):
        """Send what is left, close the input, read to the end of the
        output; then wait for the exit.  Returns (status, trailing output)."""
        self.close_input()
        self._pump(lambda: self.eof, 'the end of its output')
        rest, self.buf = self.buf, b''
        try:
            status = self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise Failed(f'still running {self.timeout:g} s after its output '
                         f'ended')
        return status, rest

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def expect(peer, word, arg):
    """Read one line; it must be ARG (word "<") or match it ("<~")."""
    want = repr(arg) if word == '<' else f'a match of {arg.pattern!r}'
    got = peer.line(f'a line ({want})')
    if not got:
        raise Failed(f'the output ended; expected {want}')
    print('S: ' + printable(got.rstrip(b'\r\n')))
    if not got.endswith(b'\r\n'):
        raise Failed(f'the line does not end in CR LF: {got!r}')
    text = got[:-2].decode('utf-8', 'surrogateescape')
    m = None if word == '<' else arg.fullmatch(text)
    if (word == '<' and text != arg) or (word == '<~' and not m):
        raise Failed(f'expected {want}, got {text!r}')
    for g in m.groups() if m else ():
        print(f'= {g}')


def finish(peer, status_wanted):
    """The end: nothing more on the output, then the exit status."""
    status, rest = peer.finish()
    for part in rest.splitlines():
        print('S: ' + printable(part))
    if rest:
        raise Failed(f'unexpected output before the exit: {rest!r}')
    print(f'exit {status}')
    if status != status_wanted:
        raise Failed(f'exit status {status}, expected {status_wanted}')


def step(peer, word, arg):
    if word in ('>', '>>'):
        data = arg.encode('utf-8') + b'\r\n' if word == '>' else unescape(arg)
        for part in data.splitlines(keepends=True):
            print('C: ' + printable(part.rstrip(b'\r\n')))
        peer.send(data)
    elif word in ('<', '<~'):
        expect(peer, word, arg)
    elif word == 'eof':
        print('C: (end of input)')
        peer.close_input()
    else:
        finish(peer, arg)


def run(peer, steps):
    for num, word, arg in steps:
        try:
            step(peer, word, arg)
        except Failed as e:
            raise Failed(f'line {num}: {e}')


def main():
    ap = argparse.ArgumentParser(
        usage='bsdriver.py [--timeout SECONDS] [--stderr FILE] [--script FILE] '
              '-- COMMAND [ARG...]')
    ap.add_argument('--timeout', type=float, default=10.0)
    ap.add_argument('--stderr')
    ap.add_argument('--script')
    ap.add_argument('command', nargs='+')
    a = ap.parse_args()
    try:
        if a.script:
            with open(a.script, encoding='utf-8') as f:
                steps = parse(f)
        else:
            steps = parse(sys.stdin)
    except (ScriptError, OSError) as e:
        print(f'bsdriver: {e}')
        return 2
    err = open(a.stderr, 'wb') if a.stderr else None
    peer = Peer(a.command, a.timeout, err)
    try:
        run(peer, steps)
    except Failed as e:
        print(f'bsdriver: {e}')
        peer.kill()
        return 1
    finally:
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main())
