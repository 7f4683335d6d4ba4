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

# refused_before_connect STATUS LINE: the last run exited STATUS, printed
# exactly LINE, and never connected to the sink.
refused_before_connect() {
	[ "$status" -eq "$1" ] || { echo "status $status, want $1: $output"; return 1; }
	[ "$output" = "$2" ] || { printf 'got:  %s\nwant: %s\n' "$output" "$2"; return 1; }
	! grep -qs '^\* connect' "$SINK_DIR/session.log" || { echo "connected"; return 1; }
}

# layers P LEVELS N: aliases P<level>_<i>, each listing the N of the next
# level; the last level lists N addresses P<i>_<k>@example.org each (N * N
# distinct addresses; N^LEVELS * N without memoisation).
layers() {
	local l i k sep
	for ((l = 0; l < $2; l++)); do
		for ((i = 0; i < $3; i++)); do
			printf '%s%d_%d:' "$1" "$l" "$i"
			sep=
			for ((k = 0; k < $3; k++)); do
				if ((l + 1 < $2)); then printf '%s %s%d_%d' "$sep" "$1" $((l + 1)) "$k"
				else printf '%s %s%d_%d@example.org' "$sep" "$1" "$i" "$k"; fi
				sep=,
			done
			echo
		done
	done
}

@test "an alias loop is a configuration error that names the cycle" {
	printf 'a: b\nb: a\n' >"$HOME/aliases"
	write_config "aliases ~/aliases"
	run "$POSTIE" a <<<$'Subject: t\n\nx'
	refused_before_connect 78 "postie: aliases $HOME/aliases: alias loop: a -> b -> a"
}

@test "a chain of 30 aliases without a loop is delivered" {
	for ((i = 0; i < 30; i++)); do echo "c$i: c$((i + 1))"; done >"$HOME/aliases"
	echo "c30: end@example.org" >>"$HOME/aliases"
	write_config "aliases ~/aliases"
	run "$POSTIE" c0 <<<$'Subject: t\n\nx'
	[ "$status" -eq 0 ]
	[ "$(grep '^RCPT' "$(sink_env 1)")" = 'RCPT TO:<end@example.org>' ]
}

@test "aliases nested deeper than 1000 are refused as such, not as a loop" {
	for ((i = 0; i < 1001; i++)); do echo "c$i: c$((i + 1))"; done >"$HOME/aliases"
	echo "c1001: end@example.org" >>"$HOME/aliases"
	write_config "aliases ~/aliases"
	run "$POSTIE" c0 <<<$'Subject: t\n\nx'
	refused_before_connect 78 "postie: aliases $HOME/aliases: aliases nested deeper than 1000, from 'c0'"
}

@test "8 levels x 10 aliases x 10 members: each alias expanded once" {
	layers l 8 10 >"$HOME/aliases"
	write_config "aliases ~/aliases"
	# naively 10^9 addresses: 7 levels took 15 s and 864 MB
	run timeout 20 "$POSTIE" l0_0 l0_5 <<<$'Subject: t\n\nx'
	[ "$status" -eq 0 ]
	layers l 1 10 | sed 's/^[^:]*: //; s/, /\n/g' | sed 's/^/RCPT TO:</; s/$/>/' >"$BATS_TEST_TMPDIR/want"
	grep '^RCPT' "$(sink_env 1)" | tr -d '\r' >"$BATS_TEST_TMPDIR/got"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "more than 10000 recipients from the aliases is a configuration error" {
	layers s 4 11 >"$HOME/aliases"
	layers b 2 101 >>"$HOME/aliases"
	write_config "aliases ~/aliases"
	run timeout 20 "$POSTIE" ok@example.org s0_3 <<<$'Subject: t\n\nx'
	[ "$status" -eq 0 ]
	[ "$(grep -c '^RCPT' "$(sink_env 1)")" -eq 122 ]
	rm -f "$SINK_DIR"/session.log
	run timeout 20 "$POSTIE" ok@example.org b0_100 <<<$'Subject: t\n\nx'
	refused_before_connect 78 "postie: aliases $HOME/aliases: the aliases of 'b0_100' expand to more than 10000 recipients"
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
