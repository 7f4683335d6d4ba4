#!/usr/bin/env bats
# The real git send-email (Debian packages git, git-email and
# libmailtools-perl, which git-email only recommends but needs for
# Mail::Address) pointed at postie with --smtp-server=$POSTIE (an absolute
# path: git runs it directly, as "$POSTIE [-f envelope] -i rcpt...") or
# --sendmail-cmd, delivering a patch series to the recording server.
# /usr/sbin/sendmail is never used.  No terminal: stdin is /dev/null and
# --confirm=never, --8bit-encoding and --from leave git nothing to ask.
load common

setup() {
	common_setup
	export XDG_CONFIG_HOME="$HOME/.config" XDG_DATA_HOME="$HOME/.local/share"
	export XDG_CACHE_HOME="$HOME/.cache" XDG_STATE_HOME="$HOME/.local/state"
	export XDG_CONFIG_DIRS="$BATS_TEST_TMPDIR/no-xdg"
	export GIT_CONFIG_NOSYSTEM=1 LC_ALL=C.UTF-8 TERM=dumb
	export GIT_AUTHOR_NAME='Patch Author' GIT_AUTHOR_EMAIL=author@example.org
	export GIT_COMMITTER_NAME='Patch Author' GIT_COMMITTER_EMAIL=author@example.org
	export GIT_AUTHOR_DATE='2026-01-02T03:04:05Z' GIT_COMMITTER_DATE='2026-01-02T03:04:05Z'
	unset GIT_DIR GIT_WORK_TREE EDITOR VISUAL GIT_EDITOR
	# The server refuses one recipient, nobody@example.org.
	echo 'RCPT <nobody@example.org> reply 550 5.1.1 no such user' >"$BATS_TEST_TMPDIR/refuse.script"
	sink_start --script "$BATS_TEST_TMPDIR/refuse.script"
	write_config
	REPO="$BATS_TEST_TMPDIR/repo"
	PATCHES="$BATS_TEST_TMPDIR/patches"
}

teardown() { common_teardown; }

# make_series: a repository with a base commit and three commits on top,
# the second full of lines that mail transport likes to damage (sent 8bit),
# the third with a line too long for SMTP (git sends it quoted-printable),
# and the three patches made by git format-patch in $PATCHES.
make_series() {
	git init -q -b main "$REPO"
	cd "$REPO" || return 1
	printf 'line 1\nline 2\n' >a.txt
	git add a.txt
	git commit -q -m 'base'
	printf 'change 1\n' >>a.txt
	git commit -q -a -m 'first change' -m 'The first patch of the series.'
	{
		printf '.\n..\n.leading dot\nFrom the start of a line\n>From quoted\n'
		printf 'trailing spaces   \n\ttab\t\nUTF-8: h\xc3\xa9llo \xe2\x82\xac\n\n\n'
		printf 'last line, no newline at the end'
	} >tricky.txt
	git add tricky.txt
	git commit -q -m 'add a tricky file' -m 'Body with a line that is only a dot:' -m '.' -m 'and more.'
	printf 'change 3\n' >>a.txt
	{ head -c 1200 /dev/zero | tr '\0' x; echo; } >long.txt
	git add long.txt
	git commit -q -a -m 'third change, a 1200-octet line'
	git format-patch -q -3 -o "$PATCHES"
	cd "$BATS_TEST_TMPDIR" || return 1
}

# send_email ARGS...: git send-email without a terminal, to postie.
send_email() {
	git -C "$REPO" send-email --confirm=never --no-annotate --suppress-cc=all \
		--8bit-encoding=UTF-8 --from='Patch Author <author@example.org>' "$@" </dev/null
}

@test "git send-email: a 3-patch series arrives threaded, to both recipients, and git am rebuilds the same tree" {
	make_series
	run send_email --smtp-server="$POSTIE" --envelope-sender=env@example.org \
		--to=to@example.org --cc=cc@example.net --in-reply-to='<cover@example.org>' \
		"$PATCHES"/*.patch
	[ "$status" -eq 0 ]
	[ "$(grep -c '^Result: OK' <<<"$output")" -eq 3 ]
	[ "$(sink_count)" -eq 3 ]
	local n ids=()
	for n in 1 2 3; do
		# envelope: --envelope-sender, To then Cc, nothing else
		[ "$(cat "$(sink_env $n)")" = "$(printf '%s\n' "$(head -1 "$(sink_env $n)")" 'RCPT TO:<to@example.org>' 'RCPT TO:<cc@example.net>')" ]
		[[ "$(head -1 "$(sink_env $n)")" == 'MAIL FROM:<env@example.org>'* ]]
		[ "$(sink_header $n From)" = 'Patch Author <author@example.org>' ]
		[ "$(sink_header $n To)" = to@example.org ]
		[ "$(sink_header $n Cc)" = cc@example.net ]
		[[ "$(sink_header $n Subject)" == "[PATCH $n/3] "* ]]
		# git's own Date and Message-Id are kept, one of each
		[ "$(sink_header_count $n Date)" -eq 1 ]
		[ "$(sink_header_count $n Message-ID)" -eq 1 ]
		ids[n]="$(sink_header $n Message-ID)"
		[[ ${ids[n]} =~ ^\<[^\<\>]+@[^\<\>]+\>$ ]]
	done
	[ "${ids[1]}" != "${ids[2]}" ]
	[ "${ids[2]}" != "${ids[3]}" ]
	[ "${ids[1]}" != "${ids[3]}" ]
	# shallow threading: the first answers --in-reply-to, the others the first
	[ "$(sink_header 1 In-Reply-To)" = '<cover@example.org>' ]
	[ "$(sink_header 1 References)" = '<cover@example.org>' ]
	for n in 2 3; do
		[ "$(sink_header $n In-Reply-To)" = "${ids[1]}" ]
		[ "$(sink_header $n References)" = "<cover@example.org> ${ids[1]}" ]
	done
	# the delivered messages, applied in a fresh clone of the base commit,
	# give the same tree and the same commit messages and authors
	git clone -q "$REPO" "$BATS_TEST_TMPDIR/clone"
	cd "$BATS_TEST_TMPDIR/clone"
	git reset -q --hard HEAD~3
	git am -q "$(sink_msg 1)" "$(sink_msg 2)" "$(sink_msg 3)"
	[ "$(git rev-parse 'HEAD^{tree}')" = "$(git -C "$REPO" rev-parse 'HEAD^{tree}')" ]
	[ "$(git rev-parse 'HEAD~1^{tree}')" = "$(git -C "$REPO" rev-parse 'HEAD~1^{tree}')" ]
	[ "$(git log -3 --format='%an <%ae>%n%B')" = "$(git -C "$REPO" log -3 --format='%an <%ae>%n%B')" ]
	cmp "$REPO/tricky.txt" tricky.txt
	cmp "$REPO/long.txt" long.txt
	# how git sent them: the second as 8bit (trailing blanks and dot lines
	# raw through postie), the third quoted-printable
	[ "$(sink_header 2 Content-Transfer-Encoding)" = 8bit ]
	grep -q $'^+trailing spaces   \r$' "$(sink_msg 2)"
	grep -q $'^+\\.\r$' "$(sink_msg 2)"
	[ "$(sink_header 3 Content-Transfer-Encoding)" = quoted-printable ]
}

@test "git send-email: calls --smtp-server as 'server -f envelope -i rcpt...' (no --); Bcc only in the envelope" {
	make_series
	local shim="$BATS_TEST_TMPDIR/argv-shim"
	printf '#!/bin/bash\nprintf "%%s\\n" "$@" >>%q\nexec %q "$@"\n' \
		"$BATS_TEST_TMPDIR/argv" "$POSTIE" >"$shim"
	chmod +x "$shim"
	run send_email --smtp-server="$shim" --envelope-sender=env@example.org \
		--to=to@example.org --cc=cc@example.net --bcc=bcc@example.com "$PATCHES"/0001-*.patch
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/argv")" = "$(printf '%s\n' -f env@example.org -i to@example.org cc@example.net bcc@example.com)" ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(sed 1d "$(sink_env 1)")" = "$(printf 'RCPT TO:<%s>\n' to@example.org cc@example.net bcc@example.com)" ]
	[ "$(sink_header_count 1 Bcc)" -eq 0 ]
	! grep -qi 'bcc@example.com' "$(sink_msg 1)" || false
}

@test "git send-email: --sendmail-cmd runs postie through the shell; the envelope sender comes from --from" {
	make_series
	run send_email --sendmail-cmd="$POSTIE -oi" --envelope-sender=auto \
		--to=to@example.org "$PATCHES"/0002-*.patch
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	[[ "$(head -1 "$(sink_env 1)")" == 'MAIL FROM:<author@example.org>'* ]]
	[ "$(sed 1d "$(sink_env 1)")" = 'RCPT TO:<to@example.org>' ]
	[[ "$(sink_header 1 Subject)" == '[PATCH 2/3] add a tricky file' ]]
}

@test "git send-email: a recipient postie cannot deliver stops the series with an error" {
	make_series
	run send_email --smtp-server="$POSTIE" --to=nobody@example.org "$PATCHES"/*.patch
	[ "$status" -ne 0 ]
	[[ $output == *"550 5.1.1 no such user"* ]]
	[[ $output != *"Result: OK"* ]]
	[ "$(sink_count)" -eq 0 ]
	# only the first patch was tried
	[ "$(grep -c '^C: RCPT TO:<nobody@example.org>' "$SINK_DIR/session.log")" -eq 1 ]
}
