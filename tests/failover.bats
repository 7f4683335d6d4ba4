#!/usr/bin/env bats
# fallback_account: when account a's server cannot take the message before
# the data (down, 421, TLS, AUTH 454, MAIL 4xx), the next listed account's
# server gets it; never after the end of data, never after a 535 or a
# refused recipient. Each account has a recording sink of its own (a on
# 127.0.0.1, b on 127.0.0.2, c on 127.0.0.3); the exit status, stderr, the
# log line and what each server received are checked.
bats_require_minimum_version 1.5.0
load common
load pki

setup_file() { pki_make "$BATS_FILE_TMPDIR/pki"; }

setup() {
	common_setup
	declare -gA PORT=() HOST=([a]=127.0.0.1 [b]=127.0.0.2 [c]=127.0.0.3) DIR=()
	SERVERS=()
	LOG="$HOME/postie.log"
	Q="$BATS_TEST_TMPDIR/q"
}

teardown() {
	local p
	for p in "${SERVERS[@]}"; do stop_pid "$p"; done
	common_teardown
}

# server NAME [smtpsink.py options...]: account NAME's sink (sink.bash's
# sink_start, in a directory of its own), listening on HOST[NAME]; sets
# PORT[NAME] and DIR[NAME].
server() {
	local name="$1"
	shift
	mkdir -p "$BATS_TEST_TMPDIR/$name"
	BATS_TEST_TMPDIR="$BATS_TEST_TMPDIR/$name" sink_start --host "${HOST[$name]}" "$@" || return 1
	PORT[$name]=$SINK_PORT DIR[$name]=$SINK_DIR
	SERVERS+=("$SINK_PID")
	SINK_PID=
}

# down NAME: a port of HOST[NAME] with nothing listening (connection refused).
down() {
	server "$1" || return 1
	stop_pid "${SERVERS[-1]}"
}

# rules NAME RULE...: write these fault rules for NAME's sink; print the
# file's path, for --script.
rules() {
	local f="$BATS_TEST_TMPDIR/$1.script"
	shift
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

# script NAME RULE...: start NAME's sink with these fault rules.
script() { server "$1" --script "$(rules "$@")"; }

# acct NAME [LINE...]: the lines of account NAME, for its server.
acct() {
	local name="$1"
	shift
	printf '%s\n' "account $name" "host ${HOST[$name]}" "port ${PORT[$name]:-25}" \
		"domain client.example" "from sender@example.org" "$@"
}

# rc: standard input becomes ~/.postierc, private (it may hold a password).
rc() {
	cat >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
}

send() { run --separate-stderr "$POSTIE" -a a "$@" <<<$'Subject: t\n\nbody'; }

# got NAME: the number of messages NAME's sink recorded.
got() { SINK_DIR="${DIR[$1]}" sink_count; }

# connections NAME: the connections NAME's sink accepted.
connections() {
	if [[ -e ${DIR[$1]}/session.log ]]; then
		grep -c '^\* connect' "${DIR[$1]}/session.log" || true
	else
		echo 0
	fi
}

# rcpts NAME N: the RCPT lines of NAME's message N.
rcpts() { grep '^RCPT' "${DIR[$1]}/msg-$2.env"; }

# delivered_by_b: the last run delivered through b, said so with -v and in
# the log line, and a's server recorded nothing.
delivered_by_b() {
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(got b)" -eq 1 ]
	[ "$(rcpts b 1)" = "RCPT TO:<r@example.org>" ]
	grep -qx 'MAIL FROM:<sender@example.org> SIZE=[0-9]*' "${DIR[b]}/msg-1.env"
	[[ -z ${DIR[a]:-} ]] || [ "$(got a)" -eq 0 ]
	[[ $stderr == *"postie: trying fallback account 'b' after account 'a' failed: "* ]]
	[[ $stderr == *"postie: delivered through fallback account 'b'"* ]]
	grep -q " host=127\.0\.0\.2 tls=off auth=off from=sender@example\.org recipients=r@example\.org mailsize=[0-9]* smtpstatus=250 .*errormsg='delivered through fallback account \\\\'b\\\\'' exitcode=EX_OK$" "$LOG"
}

@test "a's server down: b delivers, exit 0; -v and the log line name b" {
	down a
	server b
	{ acct a "fallback_account b" "logfile $LOG"; acct b; } | rc
	send -v r@example.org
	delivered_by_b
	[[ $stderr == *"failed: cannot connect to 127.0.0.1 (127.0.0.1 port ${PORT[a]}): Connection refused"* ]]
}

@test "without -v the failover is silent: exit 0, nothing on stderr" {
	down a
	server b
	{ acct a "fallback_account b"; acct b; } | rc
	send r@example.org
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(got b)" -eq 1 ]
}

@test "421 greeting from a: b delivers" {
	script a 'GREETING * reply 421 4.3.2 shutting down'
	server b
	{ acct a "fallback_account b" "logfile $LOG"; acct b; } | rc
	send -v r@example.org
	delivered_by_b
	[ "$(connections a)" -eq 1 ]
	[[ $stderr == *"failed: "*"421 4.3.2 shutting down"* ]]
}

@test "tls on and a offers no STARTTLS: b delivers, nothing was sent to a" {
	server a
	server b
	{ acct a "tls on" "tls_trust_file $PKI/ca.pem" "fallback_account b" "logfile $LOG"; acct b; } | rc
	send -v r@example.org
	delivered_by_b
	[[ $stderr == *"failed: 127.0.0.1 does not offer STARTTLS, and account 'a' requires TLS"* ]]
	[ "$(grep -c '^C: MAIL' "${DIR[a]}/session.log")" -eq 0 ]
}

@test "a's certificate is not verified: b delivers" {
	server a --cert "$PKI/rogue.pem" --key "$PKI/rogue-key.pem" --starttls
	server b
	{ acct a "tls on" "tls_trust_file $PKI/ca.pem" "fallback_account b" "logfile $LOG"; acct b; } | rc
	send -v r@example.org
	delivered_by_b
	[[ $stderr == *"failed: "*"not signed by a trusted authority"* ]]
	[ "$(grep -c '^C: MAIL' "${DIR[a]}/session.log")" -eq 0 ]
}

@test "AUTH 454 at a: b delivers with its own credentials" {
	server a --auth PLAIN --script "$(rules a 'AUTH * reply 454 4.7.0 temporary authentication failure')"
	server b --auth PLAIN --auth-user bob --auth-password bobsecret --auth-required
	{
		acct a "auth plain" "user tester" "password secret" "auth_without_tls on" "fallback_account b"
		acct b "auth plain" "user bob" "password bobsecret" "auth_without_tls on"
	} | rc
	send -v r@example.org
	[ "$status" -eq 0 ]
	[ "$(got b)" -eq 1 ]
	[ "$(<"${DIR[b]}/msg-1.auth")" = "PLAIN bob" ]
	[[ $stderr == *"failed: "*"454 4.7.0 temporary authentication failure"* ]]
}

@test "AUTH 535 at a is not failed over: 77, b receives nothing" {
	server a --auth PLAIN --script "$(rules a 'AUTH * reply 535 5.7.8 bad credentials')"
	server b
	{
		acct a "auth plain" "user tester" "password secret" "auth_without_tls on" "fallback_account b"
		acct b
	} | rc
	send -v r@example.org
	[ "$status" -eq 77 ]
	[[ ${stderr##*$'\n'} == "postie: "*"refused by 127.0.0.1: 535 5.7.8 bad credentials" ]]
	[[ $stderr != *"fallback"* ]]
	[ "$(connections b)" -eq 0 ]
}

@test "MAIL 451 at a: b delivers; a saw no RCPT accepted and no data" {
	script a 'MAIL * reply 451 4.3.0 try later'
	server b
	{ acct a "fallback_account b" "logfile $LOG"; acct b; } | rc
	send -v r@example.org
	delivered_by_b
	[[ $stderr == *"failed: sender <sender@example.org> rejected by 127.0.0.1: 451 4.3.0 try later"* ]]
	[ "$(grep -c '^C: <[0-9]* bytes of data>' "${DIR[a]}/session.log")" -eq 0 ]
}

@test "451 after the end of data is not failed over: 75, b receives nothing" {
	script a 'DATA-END * reply 451 4.3.0 queue full'
	server b
	{ acct a "fallback_account b"; acct b; } | rc
	send r@example.org
	[ "$status" -eq 75 ]
	[ "$stderr" = "postie: message rejected by 127.0.0.1: 451 4.3.0 queue full" ]
	[ "$(connections b)" -eq 0 ]
}

@test "connection lost after the data, before the reply: not failed over (a may have it), 75" {
	script a 'DATA-END * drop'
	server b
	{ acct a "fallback_account b"; acct b; } | rc
	send r@example.org
	echo "$stderr"
	[ "$status" -eq 75 ]
	[[ $stderr == "postie: "*"127.0.0.1"* ]]
	[[ $stderr != *"fallback"* ]]
	[ "$(connections b)" -eq 0 ]
}

@test "451 after the end of data with queue tempfail: queued (0), mailq lists it, b receives nothing" {
	script a 'DATA-END * reply 451 4.3.0 queue full'
	server b
	{ acct a "fallback_account b" "queue tempfail" "queue_dir $Q"; acct b; } | rc
	send r@example.org
	[ "$status" -eq 0 ]
	[[ $stderr =~ ^postie:\ queued\ as\ ([0-9A-F]+):\ message\ rejected\ by\ 127\.0\.0\.1:\ 451\ 4\.3\.0\ queue\ full$ ]]
	id="${BASH_REMATCH[1]}"
	run "$POSTIE" -a a -bp
	[ "$status" -eq 0 ]
	[[ $output == *"$id "*"sender@example.org"* ]]
	[[ $output == *"451 4.3.0 queue full"* ]]
	[ "$(connections b)" -eq 0 ]
}

@test "every RCPT deferred is not a reason to fail over: 75, b receives nothing" {
	script a 'RCPT * reply 451 4.2.0 greylisted'
	server b
	{ acct a "fallback_account b"; acct b; } | rc
	send r@example.org s@example.org
	[ "$status" -eq 75 ]
	[[ $stderr == *"recipient <r@example.org> rejected by 127.0.0.1: 451 4.2.0 greylisted"* ]]
	[ "$(connections b)" -eq 0 ]
}

@test "a recipient refused by a stays refused: DATA 451 sends the others to b, exit 67" {
	script a 'RCPT bad@ reply 550 5.1.1 no such user' 'DATA * reply 451 4.3.0 try later'
	server b
	{ acct a "fallback_account b"; acct b; } | rc
	send r@example.org bad@example.org
	echo "$stderr"
	[ "$status" -eq 67 ]
	[ "$stderr" = "postie: recipient <bad@example.org> rejected by 127.0.0.1: 550 5.1.1 no such user" ]
	[ "$(got a)" -eq 0 ]
	[ "$(got b)" -eq 1 ]
	[ "$(rcpts b 1)" = "RCPT TO:<r@example.org>" ]
}

@test "a chain of three: a down, b MAIL 451, c delivers; -v names each step" {
	down a
	script b 'MAIL * reply 451 4.3.0 b is busy'
	server c
	{ acct a "fallback_account b c" "logfile $LOG"; acct b; acct c; } | rc
	send -v r@example.org
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(got b)" -eq 0 ]
	[ "$(got c)" -eq 1 ]
	[ "$(rcpts c 1)" = "RCPT TO:<r@example.org>" ]
	[[ $stderr == *"postie: trying fallback account 'b' after account 'a' failed: cannot connect"* ]]
	[[ $stderr == *"postie: trying fallback account 'c' after account 'b' failed: sender <sender@example.org> rejected by 127.0.0.2: 451 4.3.0 b is busy"* ]]
	[[ $stderr == *"postie: delivered through fallback account 'c'"* ]]
	grep -q " host=127\.0\.0\.3 .*errormsg='delivered through fallback account \\\\'c\\\\'' exitcode=EX_OK$" "$LOG"
}

@test "b's own fallback_account is not followed" {
	down a
	down b
	server c
	{ acct a "fallback_account b"; acct b "fallback_account c"; acct c; } | rc
	send r@example.org
	[ "$status" -eq 75 ]
	[ "$(connections c)" -eq 0 ]
}

@test "every account fails: the line names each failure; a temporary one makes it 75" {
	down a
	server b --auth PLAIN --script "$(rules b 'AUTH * reply 535 5.7.8 bad credentials')"
	{
		acct a "fallback_account b"
		acct b "auth plain" "user tester" "password secret" "auth_without_tls on"
	} | rc
	send r@example.org
	[ "$status" -eq 75 ]
	[ "$stderr" = "postie: account 'a': cannot connect to 127.0.0.1 (127.0.0.1 port ${PORT[a]}): Connection refused; fallback account 'b': authentication as tester with PLAIN refused by 127.0.0.2: 535 5.7.8 bad credentials" ]
}

@test "every account down with queue tempfail: queued; -q later goes down the chain again" {
	down a
	down b
	{ acct a "fallback_account b" "queue tempfail" "queue_dir $Q" "logfile $LOG"; acct b; } | rc
	send r@example.org
	[ "$status" -eq 0 ]
	[[ $stderr == "postie: queued as "*": account 'a': cannot connect"*"; fallback account 'b': cannot connect"* ]]
	[ "$(ls "$Q"/*.env | wc -l)" -eq 1 ]
	grep -qx 'account: a' "$Q"/*.env
	server b --port "${PORT[b]}"
	run --separate-stderr "$POSTIE" -a a -q
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ "$(got b)" -eq 1 ]
	[ "$(rcpts b 1)" = "RCPT TO:<r@example.org>" ]
	[ "$("$POSTIE" -a a -bp)" = "Mail queue is empty" ]
	grep -q " host=127\.0\.0\.2 .*errormsg='delivered through fallback account \\\\'b\\\\'' exitcode=EX_OK$" "$LOG"
}

@test "--pretend shows fallback_account and each fallback account's host and port" {
	{ acct a "fallback_account b   c"; acct b; printf '%s\n' "account c" "socket /run/c.sock"; } | rc
	run --separate-stderr "$POSTIE" --pretend -a a
	[ "$status" -eq 0 ]
	grep -qx 'fallback_account = b c' <<<"$output"
	[ "$(grep '^fallback account' <<<"$output")" = $'fallback account b = 127.0.0.2 port 25\nfallback account c = socket /run/c.sock' ]
}

# config_error LINE: the last run exited 78 with LINE as its only output,
# and no server was asked.
config_error() {
	echo "$stderr"
	[ "$status" -eq 78 ]
	[ "$stderr" = "$1" ]
	[ "$(connections b)" -eq 0 ]
}

@test "configuration errors name the file and line: unknown account, itself, twice, a cycle (78)" {
	server b
	{ acct a "fallback_account b nosuch"; acct b; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:6: fallback_account of account 'a' names 'nosuch', which is not an account"
	{ acct a "fallback_account b a"; acct b; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:6: account 'a' names itself in fallback_account"
	{ acct a "fallback_account b b"; acct b; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:6: fallback_account of account 'a' names 'b' twice"
	{ acct a "fallback_account b"; acct b "fallback_account c"; acct c "fallback_account a"; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:18: the fallback_account lists form a cycle: a -> b -> c -> a"
	# another account's broken list stops every account, as any error in the file does
	{ acct a; acct b "fallback_account nosuch"; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:11: fallback_account of account 'b' names 'nosuch', which is not an account"
}

@test "fallback_account with delivery mx, or in defaults: 78" {
	server b
	{ acct a "delivery mx" "domain client.example.org" "fallback_account b"; acct b; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:8: account 'a' has delivery mx, which cannot have fallback_account"
	{ acct a "fallback_account b"; acct b "delivery mx"; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:6: fallback account 'b' of account 'a' has delivery mx; a fallback account sends through its host"
	{ acct a "fallback_account b"; acct b; } | rc
	send --delivery mx r@example.org
	[ "$status" -eq 78 ]
	[[ $stderr == "postie: account a: delivery mx cannot have fallback_account (b); fallback accounts are for delivery smarthost" ]]
	{ echo defaults; echo "fallback_account b"; acct a; acct b; } | rc
	send r@example.org
	config_error "postie: ~/.postierc:2: 'fallback_account' names other accounts, so it belongs to an account, not to 'defaults'"
}

# bs_send: one -bs session through account a (MAIL chooses it by from
# with -a a), one message to r@example.org; its replies in $output.
bs_send() {
	run --separate-stderr timeout 20 "$POSTIE" -a a -bs "$@" < <(printf '%s\r\n' "EHLO client.example" \
		"MAIL FROM:<sender@example.org>" "RCPT TO:<r@example.org>" "DATA" "Subject: t" "" "body" "." "QUIT")
}

@test "-bs: a's server down: MAIL, RCPT and the data go to b, its replies come back; the log line names b" {
	down a
	server b
	{ acct a "fallback_account b" "logfile $LOG"; acct b; } | rc
	bs_send -v
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *$'\r\n250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n354 '*$'\r\n250 2.0.0 queued as 1\r\n221 2.0.0 Bye\r' ]]
	[ "$(got b)" -eq 1 ]
	[ "$(rcpts b 1)" = "RCPT TO:<r@example.org>" ]
	[[ $stderr == *"postie: trying fallback account 'b' after account 'a' failed: cannot connect to 127.0.0.1"* ]]
	grep -q " host=127\.0\.0\.2 .*errormsg='delivered through fallback account \\\\'b\\\\'' exitcode=EX_OK$" "$LOG"
}

@test "-bs: MAIL 451 at a: b takes the transaction; 451 after b's data comes back as it is" {
	script a 'MAIL * reply 451 4.3.0 try later'
	script b 'DATA-END * reply 451 4.3.0 queue full'
	{ acct a "fallback_account b"; acct b; } | rc
	bs_send
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *$'\r\n250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n354 '*$'\r\n451 4.3.0 queue full\r\n221 2.0.0 Bye\r' ]]
	[ "$(grep -c '^C: RCPT' "${DIR[a]}/session.log")" -eq 0 ]
	[ "$(grep -c '^C: <[0-9]* bytes of data>' "${DIR[b]}/session.log")" -eq 1 ]
}
