#!/usr/bin/env bats
# -t recipients and the header edits, as the server receives them.
load common

setup() { common_setup; sink_start; write_config; }
teardown() { common_teardown; }

rcpts() { grep '^RCPT' "$(sink_env 1)" | sed 's/^RCPT TO:<\([^>]*\)>.*/\1/' | sort | tr '\n' ' '; }

@test "-t reads To, Cc and Bcc with folds, groups, comments and quoted names" {
	printf '%s\n' 'To: "Doe, John" <john@example.org>,' \
		'   team: ann@example.org, (boss) bob@example.org;' \
		'Cc: carl@example.org (Carl C.)' \
		'Bcc: undisclosed-recipients:;, dave@example.org' \
		'Subject: t' '' 'x' | "$POSTIE" -t
	[ "$(rcpts)" = "ann@example.org bob@example.org carl@example.org dave@example.org john@example.org " ]
}

@test "-t adds header recipients to argument ones and sends each address once" {
	# domains compare without case; local parts are case-sensitive (RFC 5321 2.4)
	printf 'To: a@example.org, a@EXAMPLE.ORG\nCc: b@example.org\n\nx\n' | "$POSTIE" -t b@example.org c@example.org
	[ "$(rcpts)" = "a@example.org b@example.org c@example.org " ]
}

@test "a comma-separated argument is a list (cron MAILTO=a,b)" {
	printf 'Subject: t\n\nx\n' | "$POSTIE" 'a@example.org,b@example.org' 'Carl <c@example.org>'
	[ "$(rcpts)" = "a@example.org b@example.org c@example.org " ]
}

@test "-t uses only the first Resent- block when there is one" {
	printf '%s\n' 'Resent-To: new@example.org' 'Resent-Date: Mon, 1 Jan 2026 00:00:00 +0000' \
		'Received: by relay.example' 'Resent-To: older@example.org' 'To: original@example.org' '' 'x' | "$POSTIE" -t
	[ "$(rcpts)" = "new@example.org " ]
}

@test "Bcc is removed from the delivered copy but its recipient is reached" {
	printf 'To: a@example.org\nBcc: hidden@example.org\nSubject: t\n\nx\n' | "$POSTIE" -t
	grep -q '^RCPT TO:<hidden@example.org>' "$(sink_env 1)"
	! grep -qi '^bcc:' "$(sink_msg 1)" || false
	! grep -q 'hidden@' "$(sink_msg 1)" || false
}

@test "Resent-Bcc is removed too, and its recipient reached (Resent- block recipients)" {
	printf 'Resent-To: r@example.org\nResent-Bcc: h2@example.org\nTo: a@example.org\n\nx\n' | "$POSTIE" -t
	grep -q '^RCPT TO:<h2@example.org>' "$(sink_env 1)"
	! grep -qi '^resent-bcc:' "$(sink_msg 1)" || false
	! grep -q 'h2@' "$(sink_msg 1)" || false
}

@test "remove_bcc_headers off keeps Bcc" {
	write_config "remove_bcc_headers off"
	printf 'To: a@example.org\nBcc: hidden@example.org\n\nx\n' | "$POSTIE" -t
	grep -qi '^bcc: hidden@example.org' "$(sink_msg 1)"
}

@test "Date, Message-ID and From are added when missing" {
	printf 'Subject: t\n\nx\n' | "$POSTIE" -F 'Cron Daemon' r@example.org
	m=$(sink_msg 1)
	grep -Eq $'^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\r$' "$m"
	grep -Eq $'^Message-ID: <[^@<>]+@example\\.org>\r$' "$m"
	grep -q $'^From: Cron Daemon <sender@example.org>\r$' "$m"
}

@test "existing Date, Message-ID and From are kept untouched" {
	printf 'From: Me <me@example.org>\nDate: Mon, 1 Jan 2026 00:00:00 +0000\nMessage-ID: <abc@x>\n\nx\n' | "$POSTIE" r@example.org
	m=$(sink_msg 1)
	[ "$(grep -c '^From:' "$m")" -eq 1 ]
	grep -q $'^From: Me <me@example.org>\r$' "$m"
	grep -q $'^Date: Mon, 1 Jan 2026 00:00:00 +0000\r$' "$m"
	grep -q $'^Message-ID: <abc@x>\r$' "$m"
}

@test "set_from_header on replaces From; a non-ASCII name is RFC 2047 encoded" {
	write_config "set_from_header on" "from_full_name Jürgen Müller"
	printf 'From: other@example.net\n\nx\n' | "$POSTIE" r@example.org
	m=$(sink_msg 1)
	[ "$(grep -ci '^from:' "$m")" -eq 1 ]
	grep -q '^From: =?UTF-8?[BQ]?.*?= <sender@example.org>' "$m"
	run python3 -c 'import sys,email,email.header; m=email.message_from_binary_file(open(sys.argv[1],"rb")); print(str(email.header.make_header(email.header.decode_header(m["From"]))))' "$m"
	[ "$output" = "Jürgen Müller <sender@example.org>" ]
}

@test "set_date_header off and set_msgid_header off add nothing" {
	write_config "set_date_header off" "set_msgid_header off" "set_from_header off"
	printf 'Subject: t\n\nx\n' | "$POSTIE" r@example.org
	m=$(sink_msg 1)
	! grep -qi '^date:' "$m" || false
	! grep -qi '^message-id:' "$m" || false
	! grep -qi '^from:' "$m" || false
}

@test "set_to_header on replaces To/Cc with undisclosed-recipients" {
	write_config "set_to_header on"
	printf 'To: root\nCc: x@example.org\n\nx\n' | "$POSTIE" r@example.org
	m=$(sink_msg 1)
	grep -q $'^To: undisclosed-recipients:;\r$' "$m"
	! grep -qi '^cc:' "$m" || false
	! grep -q '^To: root' "$m" || false
}

@test "folded headers keep their folding on the wire" {
	printf 'Subject: a very\n long subject\nX-Folded: one\n\ttwo\n\nx\n' | "$POSTIE" r@example.org
	grep -q $'^Subject: a very\r$' "$(sink_msg 1)"
	grep -q $'^ long subject\r$' "$(sink_msg 1)"
	grep -q $'^\ttwo\r$' "$(sink_msg 1)"
}

@test "with -t and no recipients anywhere: 65, nothing sent" {
	run "$POSTIE" -t <<<$'Subject: t\n\nx'
	[ "$status" -eq 65 ]
	[[ "$output" == "postie: no recipients"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "no recipients and no -t: usage error 64" {
	run "$POSTIE" <<<$'Subject: t\n\nx'
	[ "$status" -eq 64 ]
	[[ "$output" == *"no recipients given"* ]]
}

@test "the spool goes to \$TMPDIR and leaves nothing there; a missing \$TMPDIR is an OS error (71), nothing sent" {
	mkdir "$BATS_TEST_TMPDIR/spool"
	TMPDIR=$BATS_TEST_TMPDIR/spool "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	[ "$(sink_count)" -eq 1 ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/spool")" ]
	run env TMPDIR="$BATS_TEST_TMPDIR/missing" "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 71 ]
	[ "$output" = "postie: cannot create spool file in $BATS_TEST_TMPDIR/missing: No such file or directory" ]
	[ "$(sink_count)" -eq 1 ]
}
