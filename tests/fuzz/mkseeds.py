#!/usr/bin/env python3
"""mkseeds.py - build the seed corpora in tests/fuzz/corpus/ from the case
tables of the unit programs (tests/unit/t-*.c), so that the fuzzers start
from every input the unit tests know about.

Run from anywhere: python3 tests/fuzz/mkseeds.py. It rewrites
corpus/TARGET/u-* (the files it made before) and leaves other seeds alone.
The input formats are the targets' (see the comment of each fuzz-*.c)."""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT = os.path.join(HERE, "..", "unit")
CORPUS = os.path.join(HERE, "corpus")

TOKEN = re.compile(r'''
    (?P<ws>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<chr>'(?:[^'\\\n]|\\.)*')
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>[0-9][0-9A-Za-z_.]*)
  | (?P<punct>.)
''', re.S | re.X)

ESC = {"n": 10, "r": 13, "t": 9, "\\": 92, '"': 34, "'": 39, "a": 7,
       "b": 8, "f": 12, "v": 11, "?": 63}


def c_string(lit):
    """The bytes of one C string literal (quotes included)."""
    s, out, i = lit[1:-1], bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        c = s[i + 1]
        if c == "x":
            m = re.match(r"[0-9A-Fa-f]+", s[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif c in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        else:
            out.append(ESC[c])
            i += 2
    return bytes(out)


def tokens(text):
    toks = []
    for m in TOKEN.finditer(text):
        kind = m.lastgroup
        if kind != "ws":
            toks.append((kind, m.group(kind)))
    return toks


def string_constants(text):
    """#define NAME "..." and static const char NAME[] = "..."; values."""
    consts = {}
    joined = text.replace("\\\n", " ")
    for m in re.finditer(r'^#define\s+(\w+)\s+((?:"(?:[^"\\\n]|\\.)*"\s*)+)$', joined, re.M):
        consts[m.group(1)] = b"".join(c_string(s) for _, s in tokens(m.group(2)))
    for m in re.finditer(r'static const char (\w+)\[\]\s*=\s*((?:\s*"(?:[^"\\\n]|\\.)*")+)\s*;', text):
        consts[m.group(1)] = b"".join(c_string(s) for _, s in tokens(m.group(2)))
    return consts


def field_value(toks, consts):
    """A field: adjacent string literals / string constants, a number, or
    a brace list of strings (returned as a list)."""
    if toks and toks[0] == ("punct", "{"):
        return [v for v in split_fields(toks[1:-1], consts) if isinstance(v, bytes)]
    if toks and all(k == "str" or (k == "id" and v in consts) for k, v in toks):
        return b"".join(c_string(v) if k == "str" else consts[v] for k, v in toks)
    if len(toks) == 1 and toks[0][0] == "num":
        return int(toks[0][1], 0)
    return None


def split_fields(toks, consts):
    fields, cur, depth = [], [], 0
    for t in toks:
        if t[1] in "{(" and t[0] == "punct":
            depth += 1
        elif t[1] in "})" and t[0] == "punct":
            depth -= 1
        if depth == 0 and t == ("punct", ","):
            fields.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        fields.append(cur)
    return [field_value(f, consts) for f in fields]


def table(fname, name):
    """The rows of the initialised array NAME in tests/unit/FNAME."""
    text = open(os.path.join(UNIT, fname), encoding="utf-8").read()
    consts = string_constants(text)
    m = re.search(r"\b" + name + r"\s*\[\s*\]\s*=\s*\{", text)
    if not m:
        sys.exit(f"mkseeds: table {name} not found in {fname}")
    toks, depth, rows, cur = tokens(text[m.end():]), 1, [], None
    for t in toks:
        if t == ("punct", "{"):
            depth += 1
            if depth == 2:
                cur = []
                continue
        elif t == ("punct", "}"):
            depth -= 1
            if depth == 0:
                break
            if depth == 1:
                rows.append(split_fields(cur, consts))
                continue
        if depth >= 2:
            cur.append(t)
    return rows


def lines_to_reply(text, code=b"250"):
    lines = text.split(b"\n")
    return b"".join(code + (b" " if i == len(lines) - 1 else b"-") + l + b"\r\n"
                    for i, l in enumerate(lines))


def seeds():
    out = {t: [] for t in ("conf", "addr", "aliases", "msg", "smtp", "netrc", "smtpcmd")}
    out["conf"] = [r[1] for r in table("t-conf.c", "pcases")]
    out["addr"] = [r[0] for r in table("t-addr.c", "parse_cases")]
    out["addr"] += [b"user@" + r[0] for r in table("t-addr.c", "idn_cases")]
    # aliases: the recipients on the first line, the file after it
    out["aliases"] = [r[2] + b"\n" + r[1] for r in table("t-aliases.c", "cases")]
    # msg: one flags byte (bit 0 dot-stuffing, see fuzz-msg.c), the input
    for r in table("t-msg.c", "goldens"):
        data = r[1][:r[2]] if r[2] else r[1]
        out["msg"].append(bytes([r[3] & 1]) + data)
        out["msg"].append(b"\xfe" + data)
    out["smtp"] = [b"".join(r[1]) for r in table("t-smtp.c", "reply_cases")]
    out["smtp"].append(b"\r\n".join(r[0] for r in table("t-smtp.c", "line_cases")) + b"\r\n")
    out["smtp"] += [b"220 mx ESMTP\r\n" + lines_to_reply(r[1]) for r in table("t-smtp.c", "caps_cases")]
    # netrc: "host user" (or "host") on the first line, the file after it
    for r in table("t-auth.c", "ncases"):
        first = r[2] + (b" " + r[3] if isinstance(r[3], bytes) else b"")
        out["netrc"].append(first + b"\n" + r[1])
    # smtpcmd: one command line each (the first n octets when n is given),
    # and every line in one input, CRLF-terminated, as a session
    lines = [r[0][:r[1]] if r[1] else r[0] for r in table("t-smtpcmd.c", "cases")]
    out["smtpcmd"] = lines + [b"".join(l + b"\r\n" for l in lines)]
    return out


def main():
    for target, inputs in seeds().items():
        d = os.path.join(CORPUS, target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("u-"):
                os.unlink(os.path.join(d, f))
        uniq = list(dict.fromkeys(i for i in inputs if isinstance(i, bytes)))
        for n, data in enumerate(uniq):
            with open(os.path.join(d, "u-%03d" % n), "wb") as f:
                f.write(data)
        print(f"{target}: {len(uniq)} seeds")


if __name__ == "__main__":
    main()
