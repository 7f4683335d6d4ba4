#!/usr/bin/env bats
# Recipients without a domain: aliases, and refusal before connecting.
load common

setup() { common_setup; sink_start; }
teardown() { common_teardown; }

@test "aliases map local names, recursively, with a default catch-all" {
	cat >"$HOME/aliases" <<'EOA'
# system accounts
root: admins
admins: ann@example.org, Bob <bob@example.org>
default: catchall@example.org
EOA
	write_config "aliases ~/aliases"
	printf 'Subject: t\n\nx\n' | "$POSTIE" root nobody carl@example.org
	grep '^RCPT' "$(sink_env 1)" | sort >"$BATS_TEST_TMPDIR/got"
	printf '%s\n' 'RCPT TO:<ann@example.org>' 'RCPT TO:<bob@example.org>' 'RCPT TO:<carl@example.org>' 'RCPT TO:<catchall@example.org>' >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "root@localhost and user@<this host> are looked up as local names" {
	printf 'root: admin@example.org\ndefault: other@example.org\n' >"$HOME/aliases"
	write_config "aliases ~/aliases"
	printf 'Subject: t\n\nx\n' | HOSTNAME=box.example "$POSTIE" root@localhost ann@box.example bob@LOCALHOST.localdomain carl@example.net
	grep '^RCPT' "$(sink_env 1)" | sort >"$BATS_TEST_TMPDIR/got"
	printf '%s\n' 'RCPT TO:<admin@example.org>' 'RCPT TO:<carl@example.net>' 'RCPT TO:<other@example.org>' >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "without an aliases file, root@localhost is sent as written" {
	write_config
	printf 'Subject: t\n\nx\n' | "$POSTIE" root@localhost
	grep -qx 'RCPT TO:<root@localhost>' "$(sink_env 1)"
}

@test "an alias loop is a configuration error" {
	printf 'a: b\nb: a\n' >"$HOME/aliases"
	write_config "aliases ~/aliases"
	run "$POSTIE" a <<<$'Subject: t\n\nx'
	[ "$status" -eq 78 ]
	[[ "$output" == *"loop"* ]]
	! grep -qs '^\* connect' "$SINK_DIR/session.log" || false
}

@test "a recipient without a domain is refused with 67 before connecting" {
	write_config
	run "$POSTIE" root <<<$'Subject: t\n\nx'
	[ "$status" -eq 67 ]
	[[ "$output" == "postie: recipient 'root' has no domain"*"alias"* ]]
	! grep -qs '^\* connect' "$SINK_DIR/session.log" || false
}

@test "an international domain is sent in its ASCII form" {
	write_config
	printf 'Subject: t\n\nx\n' | "$POSTIE" 'user@bücher.example'
	grep -qx 'RCPT TO:<user@xn--bcher-kva.example>' "$(sink_env 1)"
}
