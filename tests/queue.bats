#!/usr/bin/env bats
# The queue (queue tempfail|always, -odq, -q, --queue-run, -qI, -bp/mailq,
# retry and expiry) against the recording sink: exit statuses, the stderr
# line, the spool files and what the server received.
bats_require_minimum_version 1.5.0
load common

# Postfix's mailq format, as monitoring tools (check_mailq, pflogsumm) parse it.
MAILQ_HEAD='-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------'
ENTRY_RE='^[0-9A-F]{10,}[*!]?\s+\d+\s+\w{3} \w{3}\s+\d+ \d\d:\d\d:\d\d\s+\S+$'
TRAILER_RE='^-- \d+ Kbytes in \d+ Requests?\.$'
QUEUED_RE='^postie: queued as ([0-9A-F]{10,12}): (.+)$'

setup() {
	common_setup
	unset XDG_STATE_HOME
	Q="$BATS_TEST_TMPDIR/q"
	RUNNERS=()
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	ln -s "$POSTIE" "$BATS_TEST_TMPDIR/bin/mailq"
}

teardown() {
	local p
	for p in "${RUNNERS[@]}"; do stop_pid "$p"; done
	stop_strays
	common_teardown
}

# stop_strays: stop every postie process of this test (same binary, this
# test's HOME) still running, e.g. queue always's detached delivery child.
stop_strays() {
	local p exe
	exe="$(readlink -f "$POSTIE")"
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/exe" 2>/dev/null) == "$exe" ]] || continue
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "HOME=$HOME" || continue
		stop_pid "${p#/proc/}"
	done
}

# sink_down: a sink's port with nothing listening on it any more
# (connection refused); sink_up starts a sink on that port again.
sink_down() { sink_start && sink_stop; }
sink_up() { sink_start --port "$SINK_PORT"; }

# queue_config [lines]: the sink's account with queue tempfail in $Q.
queue_config() { write_config "queue tempfail" "queue_dir $Q" "logfile $HOME/postie.log" "$@"; }

# message [N]: a message with every generated header given, so that nothing
# in it changes between a queued and a direct send.
message() {
	printf '%s\n' "From: Sender <sender@example.org>" "To: r@example.org" \
		"Subject: queued ${1:-1}" "Date: Thu, 01 Jan 2026 00:00:00 +0000" \
		"Message-ID: <fixed.${1:-1}@example.org>" "" "body line" ".leading dot" "last"
}

# queue_ids: the IDs with an envelope in $Q, one a line.
queue_ids() {
	local f
	for f in "$Q"/*.env; do
		[[ -e $f ]] || continue
		f="${f##*/}"
		echo "${f%.env}"
	done
}

# env_field ID KEY: the value of "KEY: value" in ID's envelope.
env_field() { sed -n "s/^$2: //p" "$Q/$1.env"; }

# queued_id: the ID in $stderr's "queued as" line, which must be its only line.
queued_id() {
	[[ $stderr =~ $QUEUED_RE ]] || { echo "no 'queued as' line: $stderr" >&2; return 1; }
	echo "${BASH_REMATCH[1]}"
}

# connects: how many connections the sink saw.
connects() {
	if [[ -e $SINK_DIR/session.log ]]; then
		grep -c '^\* connect' "$SINK_DIR/session.log" || true
	else
		echo 0
	fi
}

# sink_subjects: the Subject of every message the sink recorded, sorted.
sink_subjects() {
	local n
	for ((n = 1; n <= $(sink_count); n++)); do sink_header "$n" Subject; done | sort
}

# queue_two: two messages (Subjects "queued a", "queued b") queued after a
# refused connection; sets A and B to their IDs.
queue_two() {
	local x
	sink_down
	queue_config
	for x in a b; do
		run --separate-stderr "$POSTIE" r@example.org < <(message "$x")
		[ "$status" -eq 0 ] || return 1
		printf -v "${x^^}" '%s' "$(queued_id)"
	done
	[ "$A" != "$B" ]
}

# mailq_empty: postie -bp says the queue is empty.
mailq_empty() { [ "$("$POSTIE" -bp)" = "Mail queue is empty" ]; }

# mailq_parse FILE: check that FILE is a non-empty listing in Postfix's
# format; print "msg ID SIZE SENDER" per entry and "rcpt ID ADDR REASON"
# per recipient (REASON "" without a reason line).
mailq_parse() {
	local -a l
	local line state=head id reason="" i n=0 total=0 m
	mapfile -t l <"$1"
	[[ ${l[0]} == "$MAILQ_HEAD" ]] || { echo "bad head: ${l[0]}"; return 1; }
	for ((i = 1; i < ${#l[@]} - 1; i++)); do
		line="${l[i]}"
		if grep -qP "$ENTRY_RE" <<<"$line"; then
			[[ $state == head || $state == blank ]] || { echo "entry out of place: $line"; return 1; }
			read -r id m _ _ _ _ sender <<<"$line"
			id="${id%[*!]}" total=$((total + m)) n=$((n + 1)) state=entry
			echo "msg $id $m $sender"
		elif [[ $line =~ ^\((.*)\)$ ]]; then
			[[ $state == entry || $state == rcpt ]] || { echo "reason out of place: $line"; return 1; }
			reason="${BASH_REMATCH[1]}" state=reason
		elif [[ $line =~ ^[[:space:]]+([^[:space:]]+)$ ]]; then
			[[ $state != head && $state != blank ]] || { echo "recipient out of place: $line"; return 1; }
			echo "rcpt $id ${BASH_REMATCH[1]} $reason"
			reason="" state=rcpt
		elif [[ -z $line ]]; then
			[[ $state == rcpt ]] || { echo "blank line out of place"; return 1; }
			state=blank
		else
			echo "unparsed line: $line"
			return 1
		fi
	done
	[[ $state == blank ]] || { echo "no blank line after the last entry"; return 1; }
	grep -qP "$TRAILER_RE" <<<"${l[-1]}" || { echo "bad trailer: ${l[-1]}"; return 1; }
	local want="-- $(((total + 1023) / 1024)) Kbytes in $n Request"
	((n == 1)) || want+="s"
	[[ ${l[-1]} == "$want." ]] || { echo "trailer ${l[-1]}, want $want."; return 1; }
}

# mailq_listing: postie -bp parsed by mailq_parse into $BATS_TEST_TMPDIR/mailq.
mailq_listing() {
	"$POSTIE" -bp >"$BATS_TEST_TMPDIR/mailq.out" || return 1
	mailq_parse "$BATS_TEST_TMPDIR/mailq.out" >"$BATS_TEST_TMPDIR/mailq" ||
		{ cat "$BATS_TEST_TMPDIR/mailq" "$BATS_TEST_TMPDIR/mailq.out"; return 1; }
}

@test "server down: queued (exit 0), listed by mailq, files private; server back: -q delivers it byte-identical, once" {
	umask 022
	sink_down
	write_config
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	[ "$status" -eq 75 ]
	refused="${stderr#postie: }"
	[[ $refused == *"Connection refused"* ]]
	queue_config
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	id="$(queued_id)"
	[ "$stderr" = "postie: queued as $id: $refused" ]
	grep -q "errormsg='queued as $id: " "$HOME/postie.log"
	# the spool
	[ "$(stat -c %a "$Q")" = 700 ]
	[ "$(stat -c %a "$Q/$id.env")" = 600 ]
	[ "$(stat -c %a "$Q/$id.msg")" = 600 ]
	[ "$(head -n 1 "$Q/$id.env")" = "version: 1" ]
	[ "$(env_field "$id" id)" = "$id" ]
	[ "$(env_field "$id" account)" = default ]
	[ "$(env_field "$id" sender)" = sender@example.org ]
	[ "$(env_field "$id" attempts)" = 1 ]
	[[ $(env_field "$id" rcpt) == "pending <r@example.org> "* ]]
	[ "$(queue_ids)" = "$id" ]
	cp "$Q/$id.msg" "$BATS_TEST_TMPDIR/spooled"
	# mailq, as -bp and as argv[0] mailq
	mailq_listing
	cat "$BATS_TEST_TMPDIR/mailq"
	[ "$(grep -c '^msg ' "$BATS_TEST_TMPDIR/mailq")" -eq 1 ]
	[ "$(grep '^msg ' "$BATS_TEST_TMPDIR/mailq")" = "msg $id $(stat -c %s "$Q/$id.msg") sender@example.org" ]
	[[ $(grep '^rcpt ' "$BATS_TEST_TMPDIR/mailq") == "rcpt $id r@example.org "*"Connection refused"* ]]
	grep -qx ' \{41\}r@example.org' "$BATS_TEST_TMPDIR/mailq.out"
	arrival="$(LC_ALL=C date -d "@$(env_field "$id" created)" '+%a %b %e %H:%M:%S')"
	grep -qF "$arrival  sender@example.org" "$BATS_TEST_TMPDIR/mailq.out"
	cmp "$BATS_TEST_TMPDIR/mailq.out" <("$BATS_TEST_TMPDIR/bin/mailq")
	# the server is back
	sink_up
	run --separate-stderr "$POSTIE" -q
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(grep -c '^RCPT' "$(sink_env 1)")" -eq 1 ]
	grep -qx 'RCPT TO:<r@example.org>' "$(sink_env 1)"
	cmp "$BATS_TEST_TMPDIR/spooled" "$(sink_msg 1)"
	mailq_empty
	[ -z "$(queue_ids)" ]
	[ ! -e "$Q/$id.msg" ]
	# a second run sends nothing
	before="$(connects)"
	run "$POSTIE" -q
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(connects)" -eq "$before" ]
	# what a direct send of the same input transmits
	write_config
	"$POSTIE" r@example.org < <(message)
	cmp "$(sink_msg 1)" "$(sink_msg 2)"
}

@test "partial: 451 for one recipient, 250 for the other; only the 451 one is queued and later delivered" {
	printf '%s\n' 'RCPT bob@ reply 451 4.7.1 try again later' >"$BATS_TEST_TMPDIR/script"
	sink_start --script "$BATS_TEST_TMPDIR/script"
	queue_config
	run --separate-stderr "$POSTIE" ann@example.org bob@example.org < <(message)
	echo "$stderr"
	[ "$status" -eq 0 ]
	id="$(queued_id)"
	[[ $stderr == *"451 4.7.1 try again later" ]]
	[ "$(sink_count)" -eq 1 ]
	[ "$(grep '^RCPT' "$(sink_env 1)")" = 'RCPT TO:<ann@example.org>' ]
	mailq_listing
	cat "$BATS_TEST_TMPDIR/mailq"
	[ "$(grep -c '^rcpt ' "$BATS_TEST_TMPDIR/mailq")" -eq 1 ]
	[[ $(grep '^rcpt ' "$BATS_TEST_TMPDIR/mailq") == "rcpt $id bob@example.org "*"451 4.7.1 try again later" ]]
	grep -qx "rcpt: done <ann@example.org>" "$Q/$id.env"
	grep -q "^rcpt: pending <bob@example.org> 451 4.7.1 try again later" "$Q/$id.env"
	# the server accepts bob now
	sink_stop
	sink_up
	run --separate-stderr "$POSTIE" -q
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(grep '^RCPT' "$(sink_env 1)")" = 'RCPT TO:<bob@example.org>' ]
	mailq_empty
	[ -z "$(queue_ids)" ]
}

@test "a permanent failure (550 at RCPT) with queue tempfail: 67 at once, nothing queued" {
	printf '%s\n' 'RCPT bob@ reply 550 5.1.1 user unknown' >"$BATS_TEST_TMPDIR/script"
	sink_start --script "$BATS_TEST_TMPDIR/script"
	queue_config
	run --separate-stderr "$POSTIE" ann@example.org bob@example.org < <(message)
	[ "$status" -eq 67 ]
	[ "$stderr" = "postie: recipient <bob@example.org> rejected by 127.0.0.1: 550 5.1.1 user unknown" ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(grep '^RCPT' "$(sink_env 1)")" = 'RCPT TO:<ann@example.org>' ]
	[ -z "$(queue_ids)" ]
	[ -z "$(find "$Q" -name '*.msg' 2>/dev/null)" ]
	mailq_empty
}

@test "queue off (the default and explicit): a refused connection is 75 and nothing is queued" {
	sink_down
	write_config
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	[ "$status" -eq 75 ]
	[[ $stderr == "postie: "*"Connection refused" ]]
	[ ! -e "$HOME/.local/state/postie" ]
	write_config "queue off" "queue_dir $Q"
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	echo "$stderr"
	[ "$status" -eq 75 ]
	[[ $stderr == "postie: "*"Connection refused" ]]
	[ ! -e "$Q" ]
	# without a queue, -odb and -odi (which callers pass) change nothing
	for od in -odb -odi; do
		run --separate-stderr "$POSTIE" "$od" r@example.org < <(message)
		[ "$status" -eq 75 ]
		[ ! -e "$Q" ]
	done
	[ ! -e "$HOME/.local/state/postie" ]
	mailq_empty
}

@test "-odq with queue tempfail queues without connecting; with queue off it is 64" {
	sink_start
	queue_config
	run --separate-stderr "$POSTIE" -odq r@example.org < <(message)
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ -z $stderr || $stderr =~ $QUEUED_RE ]]
	[ "$(connects)" -eq 0 ]
	[ "$(sink_count)" -eq 0 ]
	id="$(queue_ids)"
	[[ $id =~ ^[0-9A-F]{10,12}$ ]]
	mailq_listing
	[[ $(grep '^rcpt ' "$BATS_TEST_TMPDIR/mailq") == "rcpt $id r@example.org"* ]]
	write_config
	run --separate-stderr "$POSTIE" -odq r@example.org < <(message)
	[ "$status" -eq 64 ]
	[ "$stderr" = "postie: -odq needs queue tempfail or always in the account" ]
	[ "$(connects)" -eq 0 ]
}

@test "the default queue_dir is \$XDG_STATE_HOME/postie/queue, created 0700" {
	[ "$(id -u)" -ne 0 ] || skip "root's default queue_dir is /var/spool/postie"
	sink_start
	write_config "queue tempfail"
	export XDG_STATE_HOME="$BATS_TEST_TMPDIR/state"
	run "$POSTIE" -odq r@example.org < <(message)
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$XDG_STATE_HOME/postie/queue")" = 700 ]
	[ -n "$(find "$XDG_STATE_HOME/postie/queue" -name '*.env')" ]
	[ "$(connects)" -eq 0 ]
}

@test "queue always: exit 0 before the server's greeting, silently; the message arrives" {
	printf '%s\n' 'GREETING * drip 5 220 smtpsink.test ESMTP' >"$BATS_TEST_TMPDIR/script"
	sink_start --script "$BATS_TEST_TMPDIR/script"
	write_config "queue always" "queue_dir $Q"
	start=${EPOCHREALTIME/[.,]/}
	run --separate-stderr "$POSTIE" r@example.org 3>&- < <(message)
	took=$(((${EPOCHREALTIME/[.,]/} - start) / 1000))
	echo "took $took ms; $stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ -z "$output" ]
	[ "$took" -lt 2000 ]
	[ "$(sink_count)" -eq 0 ]
	wait_until 15 test -e "$(sink_msg 1)"
	wait_until 5 mailq_empty
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'RCPT TO:<r@example.org>' "$(sink_env 1)"
	[ "$(sink_header 1 Message-ID)" = "<fixed.1@example.org>" ]
}

@test "--queue-run skips a message whose next try is in the future, -q tries it; -qI with another ID touches nothing" {
	queue_two
	sed -i "s/^next-try: .*/next-try: $(($(date +%s) + 3600))/" "$Q/$A.env"
	sed -i "s/^next-try: .*/next-try: $(($(date +%s) - 1))/" "$Q/$B.env"
	sink_up
	run --separate-stderr "$POSTIE" --queue-run
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(sink_subjects)" = "queued b" ]
	[ "$(queue_ids)" = "$A" ]
	# part of B's ID, which is no longer queued, and not part of A's
	part="${B:1}"
	[[ $A != *"$part"* ]]
	cp "$Q/$A.env" "$BATS_TEST_TMPDIR/a.env"
	before="$(connects)"
	run --separate-stderr "$POSTIE" -qI"$part"
	[ "$status" -eq 0 ]
	[ "$(connects)" -eq "$before" ]
	cmp "$BATS_TEST_TMPDIR/a.env" "$Q/$A.env"
	run --separate-stderr "$POSTIE" -q
	[ "$status" -eq 0 ]
	[ "$(sink_subjects)" = "$(printf 'queued a\nqueued b')" ]
	mailq_empty
}

@test "-qI<substring> delivers only the messages whose ID contains it" {
	queue_two
	# a part of A's ID that is not in B's
	for ((i = 0; i + 4 <= ${#A}; i++)); do
		part="${A:i:4}"
		[[ $B == *"$part"* ]] || break
	done
	[[ $B != *"$part"* ]]
	sink_up
	run --separate-stderr "$POSTIE" -qI"$part"
	[ "$status" -eq 0 ]
	[ "$(sink_subjects)" = "queued a" ]
	[ "$(queue_ids)" = "$B" ]
}

@test "retry bookkeeping: backoff from 5 min doubling with jitter; after queue_lifetime the message moves to failed/" {
	sink_down
	queue_config
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	[ "$status" -eq 0 ]
	id="$(queued_id)"
	created="$(env_field "$id" created)"
	next="$(env_field "$id" next-try)"
	[ "$(env_field "$id" attempts)" -eq 1 ]
	# 5 min +-10% after the first attempt
	((next - created >= 269 && next - created <= 331))
	t0="$(date +%s)"
	run --separate-stderr "$POSTIE" -q
	t1="$(date +%s)"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(env_field "$id" attempts)" -eq 2 ]
	next="$(env_field "$id" next-try)"
	echo "next try $((next - t0)) s after the run"
	# 10 min +-10% after the second attempt
	((next >= t0 + 539 && next <= t1 + 661))
	[ "$(env_field "$id" created)" = "$created" ]

	# expiry: queue_lifetime 1s
	rm -rf "$Q" "$HOME/postie.log"
	queue_config "queue_lifetime 1s"
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	[ "$status" -eq 0 ]
	id="$(queued_id)"
	logged="$(wc -l <"$HOME/postie.log")"
	sleep 2
	run --separate-stderr "$POSTIE" -q
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -e "$Q/failed/$id.env" ]
	[ -e "$Q/failed/$id.msg" ]
	[ ! -e "$Q/$id.env" ]
	[ ! -e "$Q/$id.msg" ]
	mailq_empty
	tail -n +$((logged + 1)) "$HOME/postie.log" | grep -q "$id"
	# never retried
	sink_up
	run "$POSTIE" -q
	[ "$status" -eq 0 ]
	[ "$(connects)" -eq 0 ]
	[ -e "$Q/failed/$id.msg" ]
}

@test "a queue_dir readable by others: 78, nothing queued, the caller told" {
	mkdir -m 755 "$Q"
	sink_down
	queue_config
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	echo "$stderr"
	[ "$status" -eq 78 ]
	[[ $stderr == "postie: "*"$Q"* ]]
	[ -z "$(ls -A "$Q")" ]
}

@test "a queue_dir that is not writable: 73, nothing queued" {
	[ "$(id -u)" -ne 0 ] || skip "root can write to any directory"
	mkdir -m 500 "$Q"
	sink_down
	queue_config
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	echo "$stderr"
	[ "$status" -eq 73 ]
	[[ $stderr == "postie: "*"$Q"* ]]
	[ -z "$(ls -A "$Q")" ]
}

@test "two runners at once on 50 queued messages: each delivered exactly once" {
	sink_down
	queue_config
	for n in $(seq 1 50); do
		run --separate-stderr "$POSTIE" r@example.org < <(message "$n")
		[ "$status" -eq 0 ]
	done
	[ "$(queue_ids | wc -l)" -eq 50 ]
	sink_up
	"$POSTIE" -q >"$BATS_TEST_TMPDIR/r1" 2>&1 3>&- &
	RUNNERS+=($!)
	"$POSTIE" -q >"$BATS_TEST_TMPDIR/r2" 2>&1 3>&- &
	RUNNERS+=($!)
	for p in "${RUNNERS[@]}"; do
		wait_until 60 pid_exited "$p"
		rc=0
		wait "$p" || rc=$?
		cat "$BATS_TEST_TMPDIR/r1" "$BATS_TEST_TMPDIR/r2"
		[ "$rc" -eq 0 ]
	done
	RUNNERS=()
	[ "$(sink_count)" -eq 50 ]
	[ "$(sink_subjects)" = "$(seq 1 50 | sed 's/^/queued /' | sort)" ]
	mailq_empty
	[ -z "$(queue_ids)" ]
}

@test "--queue-hold keeps a message from every run (mailq marks it !), --queue-release makes it due, --queue-delete removes it" {
	queue_two
	run "$POSTIE" --queue-hold "$A"
	[ "$status" -eq 0 ]
	[ "$output" = "$A: held" ]
	[ "$(env_field "$A" held)" = 1 ]
	"$POSTIE" -bp | grep -q "^$A! "
	run "$POSTIE" --queue-delete "$B"
	[ "$output" = "$B: deleted" ]
	[ ! -e "$Q/$B.env" ] && [ ! -e "$Q/$B.msg" ]
	sink_up
	run "$POSTIE" -q
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 0 ]
	run "$POSTIE" --queue-release "$A"
	[ "$output" = "$A: released" ]
	run "$POSTIE" --queue-run
	[ "$(sink_count)" -eq 1 ]
	[ "$(sink_subjects)" = "queued a" ]
	mailq_empty
	run "$POSTIE" --queue-delete "$A"
	[ "$status" -eq 66 ]
	[ "$output" = "postie: no queued message $A in $Q" ]
	run "$POSTIE" --queue-hold ../etc
	[ "$status" -eq 64 ]
}

@test "queue_notify: one plain notice from the null sender when a message expires; none about a null-sender message" {
	printf '%s\n' 'RCPT r@ reply 451 4.7.1 not now' >"$BATS_TEST_TMPDIR/script"
	sink_start --script "$BATS_TEST_TMPDIR/script"
	queue_config "queue_lifetime 1s" "queue_notify admin@example.org"
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	[ "$status" -eq 0 ]
	local id
	id=$(queued_id)
	sleep 2
	run --separate-stderr "$POSTIE" -q
	echo "$stderr"
	[ "$status" -eq 0 ]
	[[ $stderr == *"$id expired after 1 s in the queue"* ]]
	[ "$(sink_count)" -eq 1 ]
	grep -q '^MAIL FROM:<>' "$(sink_env 1)"
	grep -qx 'RCPT TO:<admin@example.org>' "$(sink_env 1)"
	[ "$(sink_header 1 Subject)" = "Undelivered mail (queued message $id): queued 1" ]
	[ "$(sink_header 1 Auto-Submitted)" = "auto-replied" ]
	grep -q '<r@example.org>: 451 4.7.1 not now' "$(sink_msg 1)"
	# a message from the null sender (a notice itself) expires without a notice
	run --separate-stderr "$POSTIE" -f '<>' r@example.org < <(message 2)
	[ "$status" -eq 0 ]
	sleep 2
	run --separate-stderr "$POSTIE" -q
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "connection reuse: 20 queued messages for one server go over one connection" {
	sink_down
	queue_config
	local n
	for n in $(seq 20); do
		run --separate-stderr "$POSTIE" r@example.org < <(message "$n")
		[ "$status" -eq 0 ]
	done
	[ "$(queue_ids | wc -l)" -eq 20 ]
	sink_up
	run --separate-stderr "$POSTIE" -q
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 20 ]
	[ "$(connects)" -eq 1 ]
	[ "$(grep -c '^C: RSET\|^C: QUIT' "$SINK_DIR/session.log")" -eq 1 ]
	mailq_empty
}

@test "after a direct send, the account's due messages follow over the same connection; the caller does not wait" {
	queue_two
	queue_config "account other : default"
	run --separate-stderr "$POSTIE" -a other r@example.org < <(message o)
	[ "$status" -eq 0 ]
	O="$(queued_id)"
	sed -i "s/^next-try: .*/next-try: $(($(date +%s) - 1))/" "$Q/$A.env" "$Q/$O.env"
	sed -i "s/^next-try: .*/next-try: $(($(date +%s) + 3600))/" "$Q/$B.env"
	# the end of A's data (to r@) is answered after 3 s, C's (to c@) at once
	echo 'DATA-END r@example.org drip 3 250 2.0.0 ok' >"$BATS_TEST_TMPDIR/script"
	sink_start --port "$SINK_PORT" --script "$BATS_TEST_TMPDIR/script"
	run --separate-stderr "$POSTIE" c@example.org < <(message c)
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ -e "$Q/$A.env" ]   # the caller did not wait for the flush
	# A (due, same account) follows C; B (not due) and O (other account) stay
	wait_until 20 test ! -e "$Q/$A.env"
	stop_strays
	[ "$(sink_subjects)" = "$(printf 'queued a\nqueued c')" ]
	[ "$(connects)" -eq 1 ]
	[ "$(grep -c '^C: QUIT' "$SINK_DIR/session.log")" -eq 1 ]
	[ "$(queue_ids | sort)" = "$(printf '%s\n' "$B" "$O" | sort)" ]
}

@test "queue always: the detached delivery sends the account's due messages after its own, over its connection" {
	queue_two
	sed -i "s/^next-try: .*/next-try: $(($(date +%s) - 1))/" "$Q/$A.env" "$Q/$B.env"
	sink_up
	queue_config "queue always"
	run --separate-stderr "$POSTIE" r@example.org < <(message c)
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	# (functions: wait_until runs its command again, a $(...) argument would not be)
	three_sent() { [ "$(sink_count)" -eq 3 ]; }
	queue_empty() { [ -z "$(queue_ids)" ]; }
	wait_until 20 three_sent
	wait_until 10 queue_empty
	stop_strays
	[ "$(sink_subjects)" = "$(printf 'queued a\nqueued b\nqueued c')" ]
	[ "$(connects)" -eq 1 ]
}

@test "a direct send with nothing due sends QUIT with the data, and the queue is left alone" {
	queue_two
	sink_up
	run --separate-stderr "$POSTIE" -v r@example.org < <(message c)
	[ "$status" -eq 0 ]
	[ "$(sink_subjects)" = "queued c" ]
	[ "$(connects)" -eq 1 ]
	[ "$(queue_ids | sort)" = "$(printf '%s\n' "$A" "$B" | sort)" ]
	# QUIT went in the same flight as the end of the data (-v shows the order sent)
	grep -A1 -x -- '--> \.' <<<"$stderr" | tail -1 | grep -qx -- '--> QUIT'
}

@test "only temporary failures are queued: a 554 greeting is 69 at once, nothing queued" {
	printf '%s\n' 'GREETING * reply 554 5.7.1 no service' >"$BATS_TEST_TMPDIR/script"
	sink_start --script "$BATS_TEST_TMPDIR/script"
	queue_config
	run --separate-stderr "$POSTIE" r@example.org < <(message)
	echo "$stderr"
	[ "$status" -eq 69 ]
	[[ $stderr == "postie: "*"554 5.7.1 no service" ]]
	[ -z "$(queue_ids)" ]
}
