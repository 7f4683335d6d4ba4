#!/usr/bin/env bats
# The real mail user agents (Debian bsd-mailx, s-nail, mutt) pointed at
# postie through their own "sendmail" settings, delivering to the recording
# server.  The "calls its sendmail as" tests pin down the argv each one
# gives (through a shim that records it and runs postie).
#
# Debian packages: bsd-mailx (unpacked by contrib/testdeps.sh, not
# installed) s-nail mutt.  /usr/sbin/sendmail is never used:
#   bsd-mailx  "set sendmail=$POSTIE" in $MAILRC, "mail -n" (no /etc/mail.rc)
#   s-nail     "set mta=$POSTIE" in $MAILRC, "s-nail -:u" (only $MAILRC)
#   mutt       set sendmail="$POSTIE -oem -oi" in a muttrc, "mutt -n -F"
# No program may see a terminal or wait for input: stdin is always a file.
load common

setup() {
	common_setup
	# Every XDG directory inside the test's HOME (mutt and s-nail look
	# there); postie itself then still finds ~/.postierc.
	export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share"
	export XDG_CACHE_HOME="$HOME/.cache" XDG_STATE_HOME="$HOME/.local/state"
	export XDG_CONFIG_DIRS="$BATS_TEST_TMPDIR/no-xdg" XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR"
	# Where the agents save unsent mail; never the real user's home.
	export DEAD="$BATS_TEST_TMPDIR/dead.letter" MAIL="$BATS_TEST_TMPDIR/spool"
	export MBOX="$BATS_TEST_TMPDIR/mbox" MAILRC="$BATS_TEST_TMPDIR/mailrc"
	export LC_ALL=C.UTF-8 TERM=dumb
	unset EDITOR VISUAL
	# The server refuses one recipient, nobody@example.org.
	echo 'RCPT <nobody@example.org> reply 550 5.1.1 no such user' >"$BATS_TEST_TMPDIR/refuse.script"
	sink_start --script "$BATS_TEST_TMPDIR/refuse.script"
	write_config
	# A binary attachment with every byte value.
	/usr/bin/python3 -c 'import sys, os; sys.stdout.buffer.write(bytes(range(256)) * 8 + os.urandom(1000))' \
		>"$BATS_TEST_TMPDIR/attach.bin"
	printf 'first line\nsecond line\n' >"$BATS_TEST_TMPDIR/body.txt"
}

teardown() { common_teardown; }

# attachment_ok N FILE: message N is multipart/mixed with a text part holding
# body.txt and a base64 part named FILE's basename that decodes to FILE.
attachment_ok() {
	/usr/bin/python3 - "$(sink_msg "$1")" "$2" "$BATS_TEST_TMPDIR/body.txt" <<'EOF'
import email, os, sys
m = email.message_from_binary_file(open(sys.argv[1], 'rb'))
want = open(sys.argv[2], 'rb').read()
text = open(sys.argv[3], 'rb').read()
assert m.get_content_type() == 'multipart/mixed', m.get_content_type()
assert not m.defects, m.defects
parts = m.get_payload()
assert len(parts) == 2, len(parts)
body = parts[0].get_payload(decode=True).replace(b'\r\n', b'\n')
assert parts[0].get_content_type() == 'text/plain'
assert body.rstrip(b'\n') == text.rstrip(b'\n'), body
att = parts[1]
assert att['Content-Transfer-Encoding'].lower() == 'base64'
assert att.get_filename() == os.path.basename(sys.argv[2]), att.get_filename()
got = att.get_payload(decode=True)
assert got == want, (len(got), len(want))
EOF
}

# argv_shim: a sendmail that writes its arguments, one a line, to
# $BATS_TEST_TMPDIR/argv and then runs postie with them.
argv_shim() {
	local shim="$BATS_TEST_TMPDIR/argv-shim"
	printf '#!/bin/bash\nprintf "%%s\\n" "$@" >%q\nexec %q "$@"\n' \
		"$BATS_TEST_TMPDIR/argv" "$POSTIE" >"$shim"
	chmod +x "$shim"
	echo "$shim"
}

# bsd-mailx ------------------------------------------------------------------

# The man page: "sendmail  Pathname to an alternative mail delivery system."
# bsd-mailx depends on an MTA, so it is not installed: MAILX is the one
# contrib/testdeps.sh unpacked.
mailx_rc() {
	MAILX="$POSTIE_TEST_CACHE/root/usr/bin/bsd-mailx"
	if [[ ! -x $MAILX ]]; then
		echo "no $MAILX: run sh contrib/testdeps.sh (POSTIE_TEST_CACHE names the cache)" >&2
		return 1
	fi
	printf 'set sendmail=%s\n' "$1" >"$MAILRC"
}

@test "bsd-mailx: -c and -b recipients all reach the envelope; Bcc is stripped; Date and Message-ID added" {
	mailx_rc "$POSTIE"
	printf 'Hello from mailx.\nUTF-8: h\xc3\xa9llo\n' >"$BATS_TEST_TMPDIR/in"
	run "$MAILX" -n -s 'mailx subject' -c cc@example.net -b bcc@example.com \
		to@example.org <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(sink_count)" -eq 1 ]
	# mailx runs "sendmail -i -t": the recipients come from To/Cc/Bcc only
	run cat "$(sink_env 1)"
	[[ ${lines[0]} == 'MAIL FROM:<sender@example.org>'* ]]
	[ "${#lines[@]}" -eq 4 ]
	[ "$(sed 1d "$(sink_env 1)" | sort)" = "$(printf 'RCPT TO:<%s>\n' bcc@example.com cc@example.net to@example.org)" ]
	[ "$(sink_header_count 1 Bcc)" -eq 0 ]
	! grep -qi 'bcc@example.com' "$(sink_msg 1)" || false
	[ "$(sink_header 1 To)" = to@example.org ]
	[ "$(sink_header 1 Cc)" = cc@example.net ]
	[ "$(sink_header 1 Subject)" = 'mailx subject' ]
	# mailx writes neither Date nor Message-ID: postie adds exactly one each
	[ "$(sink_header_count 1 Date)" -eq 1 ]
	[ "$(sink_header_count 1 Message-ID)" -eq 1 ]
	[[ "$(sink_header 1 Message-ID)" =~ ^\<[^@\<\>]+@[^@\<\>]+\>$ ]]
	/usr/bin/python3 -c 'import sys, email.utils; assert email.utils.parsedate_to_datetime(sys.argv[1]).tzinfo' "$(sink_header 1 Date)"
	[ "$(sink_header_count 1 From)" -eq 1 ]
	# the 8-bit body (mailx declares 8bit) arrives byte for byte
	grep -qx 'MAIL FROM:<sender@example.org>.*BODY=8BITMIME.*' "$(sink_env 1)"
	sed -n '/^\r$/,$p' "$(sink_msg 1)" | tail -n +2 | tr -d '\r' | cmp - "$BATS_TEST_TMPDIR/in"
}

@test "bsd-mailx: ~c and ~b escapes with -I, -r sets the envelope sender, a lone dot survives" {
	mailx_rc "$POSTIE"
	printf '~c cc2@example.net\n~b bcc2@example.com\nbody line\n.\nafter the dot\n' >"$BATS_TEST_TMPDIR/in"
	run "$MAILX" -I -n -r 'Mail User <mailx@example.org>' -s 'tilde' to2@example.org <"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'MAIL FROM:<mailx@example.org>.*' "$(sink_env 1)"
	[ "$(grep -c '^RCPT TO:' "$(sink_env 1)")" -eq 3 ]
	grep -qx 'RCPT TO:<to2@example.org>' "$(sink_env 1)"
	grep -qx 'RCPT TO:<cc2@example.net>' "$(sink_env 1)"
	grep -qx 'RCPT TO:<bcc2@example.com>' "$(sink_env 1)"
	[ "$(sink_header_count 1 Bcc)" -eq 0 ]
	[ "$(sink_header 1 From)" = 'Mail User <mailx@example.org>' ]
	[ "$(sink_header 1 Cc)" = cc2@example.net ]
	[ "$(sink_header_count 1 Message-ID)" -eq 1 ]
	[ "$(sink_header_count 1 Date)" -eq 1 ]
	# the escapes are gone from the body, the lone "." is not an end marker
	[ "$(sed -n '/^\r$/,$p' "$(sink_msg 1)" | tail -n +2 | tr -d '\r')" = "$(printf 'body line\n.\nafter the dot')" ]
}

@test "bsd-mailx: calls its sendmail as 'sendmail -i -t [-f from]'" {
	mailx_rc "$(argv_shim)"
	run "$MAILX" -n -r from@example.org -s s to@example.org <"$BATS_TEST_TMPDIR/body.txt"
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/argv")" = "$(printf '%s\n' -i -t -f from@example.org)" ]
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'RCPT TO:<to@example.org>' "$(sink_env 1)"
}

# (bsd-mailx then saves an EMPTY dead.letter: its sendmail child reads the
# message from a descriptor sharing mailx's file offset, and mailx saves
# from that offset.  Any sendmail that reads its input does the same, e.g.
# "cat >/dev/null; exit 75", so that is not checked here.)
@test "bsd-mailx: a recipient postie cannot deliver makes mail fail" {
	mailx_rc "$POSTIE"
	run "$MAILX" -n -s 'doomed' nobody@example.org <"$BATS_TEST_TMPDIR/body.txt"
	[ "$status" -eq 1 ]
	[[ $output == *"550 5.1.1 no such user"* ]]
	[[ $output == *"sendmail process failed with error code 67"* ]]
	[ "$(sink_count)" -eq 0 ]
}

# s-nail ---------------------------------------------------------------------

# s-nail replaces HOME with the passwd entry's home for root (its manual,
# ENVIRONMENT/HOME: "it will always be used for the root user"), so postie,
# as its child, would read root's real ~/.postierc: the test's config is
# passed with mta-arguments.  nosave: no dead.letter anywhere.
snail_rc() {
	{
		printf 'set mta=%s\n' "$1"
		printf "set mta-arguments='-C %s'\n" "$HOME/.postierc"
		echo 'set sendwait'
		echo 'set nosave'
		echo 'set from="Snail User <snail@example.org>"'
		echo 'set hostname=snail.example'
	} >"$MAILRC"
}

@test "s-nail: an attachment arrives intact; the recipients (given after -- in postie's argv) form the envelope" {
	snail_rc "$POSTIE"
	cd "$BATS_TEST_TMPDIR"
	run s-nail -:u -s 'snail subject' -a attach.bin -c cc@example.net -b bcc@example.com \
		-. to@example.org second@example.org <body.txt
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	# no -r: the envelope sender is postie's configured "from"
	run cat "$(sink_env 1)"
	[[ ${lines[0]} == 'MAIL FROM:<sender@example.org>'* ]]
	[ "${lines[1]}" = 'RCPT TO:<to@example.org>' ]
	[ "${lines[2]}" = 'RCPT TO:<second@example.org>' ]
	[ "${lines[3]}" = 'RCPT TO:<cc@example.net>' ]
	[ "${lines[4]}" = 'RCPT TO:<bcc@example.com>' ]
	[ "${#lines[@]}" -eq 5 ]
	[ "$(sink_header_count 1 Bcc)" -eq 0 ]
	[ "$(sink_header 1 From)" = 'Snail User <snail@example.org>' ]
	[ "$(sink_header 1 To)" = 'to@example.org, second@example.org' ]
	[ "$(sink_header 1 Cc)" = cc@example.net ]
	[ "$(sink_header 1 Subject)" = 'snail subject' ]
	# s-nail's own Date and Message-ID are kept, not doubled
	[ "$(sink_header_count 1 Date)" -eq 1 ]
	[ "$(sink_header_count 1 Message-ID)" -eq 1 ]
	[[ "$(sink_header 1 Message-ID)" == *@snail.example\> ]]
	attachment_ok 1 "$BATS_TEST_TMPDIR/attach.bin"
}

@test "s-nail: -r gives the envelope sender" {
	snail_rc "$POSTIE"
	run s-nail -:u -r 'Other <other@example.org>' -s s -. to@example.org <"$BATS_TEST_TMPDIR/body.txt"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'MAIL FROM:<other@example.org>.*' "$(sink_env 1)"
	grep -qx 'RCPT TO:<to@example.org>' "$(sink_env 1)"
	[ "$(sink_header 1 From)" = 'Other <other@example.org>' ]
}

@test "s-nail: calls its mta as 'mta -i [mta-arguments] [-f from] -- rcpt...'" {
	snail_rc "$(argv_shim)"
	run s-nail -:u -r from@example.org -s s -c cc@example.net -. to@example.org <"$BATS_TEST_TMPDIR/body.txt"
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/argv")" = "$(printf '%s\n' -i -C "$HOME/.postierc" -f from@example.org -- to@example.org cc@example.net)" ]
	[ "$(sink_count)" -eq 1 ]
}

@test "s-nail: a recipient postie cannot deliver makes s-nail fail" {
	snail_rc "$POSTIE"
	run s-nail -:u -s 'doomed' -. nobody@example.org <"$BATS_TEST_TMPDIR/body.txt"
	[ "$status" -eq 4 ]
	[[ $output == *"550 5.1.1 no such user"* ]]
	[[ $output == *"message not sent"* ]]
	[ "$(sink_count)" -eq 0 ]
}

# mutt -----------------------------------------------------------------------

# mutt -n -F FILE reads only FILE; with stdin not a terminal it sends in
# batch mode without asking anything.
mutt_rc() {
	{
		printf 'set sendmail="%s -oem -oi"\n' "$1"
		echo 'set from="Mutt User <mutt@example.org>"'
		echo 'set use_from=yes'
		echo 'set use_envelope_from=yes'
		echo 'set hostname=mutt.example'
		echo 'set record=""'
		echo 'set copy=no'
		echo 'set charset=utf-8'
		echo 'set send_charset=us-ascii:utf-8'
		printf 'set folder="%s"\n' "$BATS_TEST_TMPDIR/Mail"
		printf 'set spoolfile="%s"\n' "$MAIL"
		printf 'set tmpdir="%s"\n' "$BATS_TEST_TMPDIR"
	} >"$BATS_TEST_TMPDIR/muttrc"
}

@test "mutt: batch send with an attachment; To, Cc and Bcc (argv only) in the envelope" {
	mutt_rc "$POSTIE"
	cd "$BATS_TEST_TMPDIR"
	run mutt -n -F "$BATS_TEST_TMPDIR/muttrc" -s 'mutt subject' -c cc@example.net \
		-b bcc@example.com -a attach.bin -- to@example.org <body.txt
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	# use_envelope_from: mutt passes -f from its From address
	run cat "$(sink_env 1)"
	[[ ${lines[0]} == 'MAIL FROM:<mutt@example.org>'* ]]
	[ "${lines[1]}" = 'RCPT TO:<to@example.org>' ]
	[ "${lines[2]}" = 'RCPT TO:<cc@example.net>' ]
	[ "${lines[3]}" = 'RCPT TO:<bcc@example.com>' ]
	[ "${#lines[@]}" -eq 4 ]
	[ "$(sink_header_count 1 Bcc)" -eq 0 ]
	! grep -qi 'bcc@example.com' "$(sink_msg 1)" || false
	[ "$(sink_header 1 From)" = 'Mutt User <mutt@example.org>' ]
	[ "$(sink_header 1 To)" = to@example.org ]
	[ "$(sink_header 1 Cc)" = cc@example.net ]
	[ "$(sink_header 1 Subject)" = 'mutt subject' ]
	[ "$(sink_header_count 1 Date)" -eq 1 ]
	[ "$(sink_header_count 1 Message-ID)" -eq 1 ]
	[[ "$(sink_header 1 Message-ID)" == *@mutt.example\> ]]
	attachment_ok 1 "$BATS_TEST_TMPDIR/attach.bin"
}

@test "mutt: calls its sendmail as '\$sendmail -f from -- to... cc... bcc...'" {
	mutt_rc "$(argv_shim)"
	run mutt -n -F "$BATS_TEST_TMPDIR/muttrc" -s s -c cc@example.net -b bcc@example.com \
		-- to@example.org <"$BATS_TEST_TMPDIR/body.txt"
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/argv")" = "$(printf '%s\n' -oem -oi -f mutt@example.org -- to@example.org cc@example.net bcc@example.com)" ]
	[ "$(sink_count)" -eq 1 ]
}

@test "mutt: a recipient postie cannot deliver makes mutt fail with the sysexits text" {
	mutt_rc "$POSTIE"
	run mutt -n -F "$BATS_TEST_TMPDIR/muttrc" -s doomed -- nobody@example.org <"$BATS_TEST_TMPDIR/body.txt"
	[ "$status" -eq 1 ]
	[[ $output == *"550 5.1.1 no such user"* ]]
	[[ $output == *"child exited 67 (User unknown.)"* ]]
	[ "$(sink_count)" -eq 0 ]
}
