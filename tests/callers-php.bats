#!/usr/bin/env bats
# PHP applications as callers: Symfony Mailer's SendmailTransport (Debian's
# php-symfony-mailer, what Symfony, Laravel and Drupal send with), in its
# default -bs mode, with Laravel's "-bs -i" and in its -t mode, and PHP's
# own mail(), through tests/php/*.php, to the recording sink. postie stands
# in for /usr/sbin/sendmail through a shim that records each call's
# arguments and postie's exit status.
#
# Debian packages: php-cli, php-symfony-mailer (the tests that need it are
# skipped without it, and the whole file without php).
bats_require_minimum_version 1.5.0
load common

PHPDIR="$BATS_TEST_DIRNAME/php"
SYMFONY=/usr/share/php/Symfony/Component/Mailer/autoload.php
UP_QUEUED_RE='^< 250 2\.0\.0 queued as [0-9]+$'

setup() {
	common_setup
	command -v php >/dev/null || skip "php is not installed (Debian package php-cli)"
	CONF="$BATS_TEST_TMPDIR/postierc"
	CALLS="$BATS_TEST_TMPDIR/calls"
	SENDMAIL="$BATS_TEST_TMPDIR/bin/sendmail"
	Q="$BATS_TEST_TMPDIR/q"
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cat >"$SENDMAIL" <<EOF
#!/bin/sh
echo "args: \$*" >>"$CALLS"
"$POSTIE" -C "$CONF" "\$@"
rc=\$?
echo "exit \$rc" >>"$CALLS"
exit \$rc
EOF
	chmod +x "$SENDMAIL"
	echo 'RCPT bad@example.org reply 550 5.1.1 <bad@example.org>: user unknown' \
		>"$BATS_TEST_TMPDIR/refuse.script"
	sink_start --script "$BATS_TEST_TMPDIR/refuse.script"
	conf
}

teardown() { common_teardown; }

# conf [lines]: $CONF, the sink's account and these lines.
conf() {
	write_config "$@"
	mv "$HOME/.postierc" "$CONF"
}

# needs_symfony: skip without Debian's php-symfony-mailer.
needs_symfony() {
	[ -f "$SYMFONY" ] || skip "Symfony Mailer is not installed (Debian package php-symfony-mailer)"
}

# symfony COMMAND SUBJECT:TO...: tests/php/symfony-send.php, at most 60 s;
# its output in $output and $lines, the CRs of the transcripts removed.
symfony() {
	run timeout 60 php "$PHPDIR/symfony-send.php" "$@"
	output="${output//$'\r'/}"
	mapfile -t lines <<<"$output"
	echo "$output"
	echo "--- calls:"
	cat "$CALLS"
}

# calls_were LINE...: the shim's record, exactly.
calls_were() { diff <(printf '%s\n' "$@") "$CALLS"; }

# got N SUBJECT RCPT...: message N at the sink is SUBJECT from
# sender@example.org to these recipients, its body intact.
got() {
	local n="$1" subject="$2"
	shift 2
	[ "$(sink_header "$n" Subject)" = "$subject" ]
	grep -qx 'MAIL FROM:<sender@example.org>.*' "$(sink_env "$n")"
	diff <(printf 'RCPT TO:<%s>\n' "$@") <(grep '^RCPT' "$(sink_env "$n")")
	grep -q $'^body of '"$subject"$'\r$' "$(sink_msg "$n")"
	grep -q $'^\\.leading dot\r$' "$(sink_msg "$n")"
}

@test "Symfony Mailer's default transport (-bs): three messages, one postie process, all three arrive" {
	needs_symfony
	symfony "$SENDMAIL -bs" one:r@example.org two:r@example.org,s@example.org three:t@example.org
	[ "$status" -eq 0 ]
	[ "$(grep -c '^sent ' <<<"$output")" -eq 3 ]
	# each message's transcript ends with the upstream's reply, passed back
	[ "$(grep -cE "$UP_QUEUED_RE" <<<"$output")" -eq 3 ]
	calls_were "args: -bs" "exit 0"
	[ "$(sink_count)" -eq 3 ]
	got 1 one r@example.org
	got 2 two r@example.org s@example.org
	got 3 three t@example.org
}

@test "Symfony Mailer restarts its -bs process every N messages (100 by default): each session works" {
	needs_symfony
	RESTART=2 symfony "$SENDMAIL -bs" one:r@example.org two:r@example.org three:r@example.org
	[ "$status" -eq 0 ]
	calls_were "args: -bs" "exit 0" "args: -bs" "exit 0"
	[ "$(sink_count)" -eq 3 ]
	got 3 three r@example.org
}

@test "Symfony Mailer's NOOP after idling gets 250 and the session goes on" {
	needs_symfony
	PING=0 symfony "$SENDMAIL -bs" one:r@example.org two:r@example.org
	[ "$status" -eq 0 ]
	grep -qx '> NOOP' <<<"$output"
	grep -qx '< 250 2.0.0 Ok' <<<"$output"
	calls_were "args: -bs" "exit 0"
	[ "$(sink_count)" -eq 2 ]
}

@test "Symfony Mailer: a refused recipient is a TransportException naming it; the session goes on" {
	needs_symfony
	symfony "$SENDMAIL -bs" refused:r@example.org,bad@example.org after:r@example.org
	[ "$status" -eq 1 ]
	[[ ${lines[0]} == 'failed refused: Symfony\Component\Mailer\Exception\TransportException: '* ]]
	[[ ${lines[0]} == *'"550 5.1.1 <bad@example.org>: user unknown"'* ]]
	[ "${lines[1]}" = "sent after" ]
	calls_were "args: -bs" "exit 0"
	[ "$(sink_count)" -eq 1 ]
	got 1 after r@example.org
}

@test "Laravel's sendmail command (-bs -i) works as it is" {
	needs_symfony
	symfony "$SENDMAIL -bs -i" first:r@example.org second:r@example.org
	[ "$status" -eq 0 ]
	calls_were "args: -bs -i" "exit 0"
	[ "$(sink_count)" -eq 2 ]
	got 1 first r@example.org
	got 2 second r@example.org
}

@test "Symfony Mailer with the queue: the transcript says queued as the ID mailq lists" {
	local id
	needs_symfony
	sink_stop   # a port with nothing listening
	conf "queue tempfail" "queue_dir $Q"
	symfony "$SENDMAIL -bs" later:r@example.org
	[ "$status" -eq 0 ]
	id="$(sed -n 's/^< 250 2\.0\.0 Ok: queued as \([0-9A-F]\{1,\}\)$/\1/p' <<<"$output")"
	[ -n "$id" ]
	calls_were "args: -bs" "exit 0"
	run "$POSTIE" -C "$CONF" -bp
	echo "$output"
	[ "$(awk '/^[0-9A-F]+[*!]?[ \t]/ { sub(/[*!]$/, "", $1); print $1 }' <<<"$output")" = "$id" ]
	grep -qx ' *r@example.org' <<<"$output"
}

@test "Symfony Mailer's -t transport needs -i: with it, the message arrives intact" {
	needs_symfony
	symfony "$SENDMAIL -t -i" dash-t:r@example.org
	[ "$status" -eq 0 ]
	# Symfony drops -t when it names the recipients itself, and adds -f
	calls_were "args: -i -fsender@example.org -- r@example.org" "exit 0"
	[ "$(sink_count)" -eq 1 ]
	got 1 dash-t r@example.org
}

@test "Symfony Mailer's -t transport without -i: the dots it doubled arrive doubled (why -i is needed)" {
	needs_symfony
	symfony "$SENDMAIL -t" no-i:r@example.org
	[ "$status" -eq 0 ]
	calls_were "args: -fsender@example.org -- r@example.org" "exit 0"
	# Symfony stuffed the dot for a sendmail that would undo it; postie
	# reads to the end of its input and changes no line
	grep -q $'^\\.\\.leading dot\r$' "$(sink_msg 1)"
}

@test "PHP's mail() with its default sendmail arguments (-t -i)" {
	run timeout 60 php -d sendmail_path="$SENDMAIL -t -i" "$PHPDIR/mail.php" r@example.org 'php mail'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = true ]
	calls_were "args: -t -i" "exit 0"
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'RCPT TO:<r@example.org>' "$(sink_env 1)"
	[ "$(sink_header 1 Subject)" = "php mail" ]
	[ "$(sink_header 1 From)" = "PHP App <sender@example.org>" ]
	[ "$(sink_header_count 1 Date)" -eq 1 ]
	[ "$(sink_header_count 1 Message-ID)" -eq 1 ]
	sed -n '/^\r$/,$p' "$(sink_msg 1)" | tail -n +2 >"$BATS_TEST_TMPDIR/body"
	printf 'first line\r\n.leading dot\r\n.\r\nlast line\r\n' | cmp - "$BATS_TEST_TMPDIR/body"
}
