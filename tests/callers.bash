# callers.bash - shared by callers-cron.bats and callers-system.bats: the
# "cron alerts" setup and the checks of what a caller's message became.
#
#   callers_setup          sink, account with from cron@host.example and an
#                          aliases file mapping root and tester to
#                          admin@example.org; IN names the input file
#   check_message [BODY]   see below
#   hdr NAME / nhdr NAME   header values / count of message 1
#   envelope_is FROM RCPT...
#   ran_ok                 the caller exited 0 and printed nothing

callers_setup() {
	common_setup
	sink_start
	write_config "from cron@host.example" "aliases ~/aliases"
	printf '%s\n' 'root: admin@example.org' 'tester: admin@example.org' >"$HOME/aliases"
	IN="$BATS_TEST_TMPDIR/in"
}

# check_message [BODYFILE]: read message 1 once.  Its headers go to
# $GOT_HDRS (one "name<TAB>unfolded value" a line, name in lower case),
# and its body must be, byte for byte, the expected body with every line
# ending (LF or CRLF) made CRLF and a final CRLF added if missing.  The
# expected body is BODYFILE, or else what follows the blank line in $IN.
# Also: exactly one message; Date, Message-ID and From once each; no Bcc.
check_message() {
	echo "--- server got:"
	cat "$(sink_env 1)" "$(sink_msg 1)"
	echo "---"
	[ "$(sink_count)" -eq 1 ]
	GOT_HDRS="$BATS_TEST_TMPDIR/got-headers"
	/usr/bin/python3 - "$(sink_msg 1)" "$GOT_HDRS" "${1:-$IN}" "${1:+raw}" <<'PY'
import re, sys
msg, out, want_file, raw = sys.argv[1:5]
data = open(msg, 'rb').read()
head, body = data.split(b'\r\n\r\n', 1)
fields = []
for line in head.split(b'\r\n'):
    if line[:1] in (b' ', b'\t') and fields:
        fields[-1][1] += line
    else:
        name, _, value = line.partition(b':')
        fields.append([name, value])
with open(out, 'wb') as f:
    for name, value in fields:
        f.write(name.strip().lower() + b'\t' + value.strip() + b'\n')
want = open(want_file, 'rb').read()
if not raw:
    want = re.split(rb'\r?\n\r?\n', want, maxsplit=1)[1]
want = want.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
if not want.endswith(b'\r\n'):
    want += b'\r\n'
if body != want:
    print('body differs:\n  got  %r\n  want %r' % (body, want))
    sys.exit(1)
PY
	[ "$(nhdr Date)" -eq 1 ]
	[ "$(nhdr Message-ID)" -eq 1 ]
	[ "$(nhdr From)" -eq 1 ]
	[ "$(nhdr Bcc)" -eq 0 ]
}

# hdr NAME: the values of every NAME header of message 1, one a line
# (after check_message).
hdr() { awk -F '\t' -v n="${1,,}" '$1 == n { sub(/^[^\t]*\t/, ""); print }' "$GOT_HDRS"; }

# nhdr NAME: how many NAME headers message 1 has.
nhdr() { hdr "$1" | wc -l; }

# envelope_is FROM RCPT...: MAIL FROM and the exact set of RCPT TO.
envelope_is() {
	local env from="$1"
	env=$(sink_env 1)
	shift
	[[ $(head -n 1 "$env") =~ ^MAIL\ FROM:\<([^>]*)\> ]]
	[ "${BASH_REMATCH[1]}" = "$from" ]
	diff <(printf 'RCPT TO:<%s>\n' "$@" | sort) <(grep '^RCPT' "$env" | sort)
}

# ran_ok: the caller's command exited 0 and printed nothing.
ran_ok() {
	echo "status $status, output: $output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
