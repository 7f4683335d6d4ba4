#!/usr/bin/env bats
# Every exit status in the table, produced by a real server reply, with the
# diagnostic a user sees and what the server recorded.
load common

teardown() { common_teardown; }

# with_script 'RULE' ['RULE'...]: start the sink with these fault rules.
with_script() {
	common_setup
	printf '%s\n' "$@" >"$BATS_TEST_TMPDIR/script"
	sink_start --script "$BATS_TEST_TMPDIR/script"
	write_config
}

send() { run "$POSTIE" "$@" <<<$'Subject: t\n\nbody'; }

@test "421 greeting: 75, server quoted" {
	with_script 'GREETING * reply 421 4.3.2 service shutting down'
	send r@example.org
	[ "$status" -eq 75 ]
	[[ "$output" == "postie: "*"127.0.0.1"*"421 4.3.2 service shutting down"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "554 greeting: 69" {
	with_script 'GREETING * reply 554 5.7.1 no service for you'
	send r@example.org
	[ "$status" -eq 69 ]
	[[ "$output" == *"554 5.7.1 no service for you"* ]]
}

@test "EHLO refused with 550: 69" {
	with_script 'EHLO * reply 550 5.7.1 go away'
	send r@example.org
	[ "$status" -eq 69 ]
	[[ "$output" == *"550 5.7.1 go away"* ]]
}

@test "MAIL 451: 75" {
	with_script 'MAIL * reply 451 4.3.0 try later'
	send r@example.org
	[ "$status" -eq 75 ]
	[[ "$output" == *"sender"*"451 4.3.0 try later"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "MAIL 550: 69" {
	with_script 'MAIL * reply 550 5.7.1 sender refused'
	send r@example.org
	[ "$status" -eq 69 ]
	[[ "$output" == *"sender <sender@example.org> rejected"*"550 5.7.1 sender refused"* ]]
}

@test "MAIL 552 5.3.4: 65 (the message is too big)" {
	with_script 'MAIL * reply 552 5.3.4 message too big'
	send r@example.org
	[ "$status" -eq 65 ]
}

@test "RCPT 550 5.1.1: 67 with the recipient named" {
	with_script 'RCPT bob@ reply 550 5.1.1 user unknown'
	send bob@example.org
	[ "$status" -eq 67 ]
	[ "$output" = "postie: recipient <bob@example.org> rejected by 127.0.0.1: 550 5.1.1 user unknown" ]
	[ "$(sink_count)" -eq 0 ]
	# nothing was half-sent and the session ended with QUIT
	grep -q '^C: QUIT' "$SINK_DIR/session.log"
}

@test "partial rejection: delivered to the others, each rejection on its own line, 67" {
	with_script 'RCPT bob@ reply 550 5.1.1 user unknown' 'RCPT carl@ reply 553 5.1.3 bad address'
	send ann@example.org bob@example.org carl@example.org dan@example.org
	[ "$status" -eq 67 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "postie: recipient <bob@example.org> rejected by 127.0.0.1: 550 5.1.1 user unknown" ]
	[ "${lines[1]}" = "postie: recipient <carl@example.org> rejected by 127.0.0.1: 553 5.1.3 bad address" ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(grep -c '^RCPT' "$(sink_env 1)")" -eq 2 ]
}

@test "one recipient 450, another 550: 75 wins (retry may help)" {
	with_script 'RCPT bob@ reply 550 5.1.1 user unknown' 'RCPT carl@ reply 450 4.2.0 mailbox busy'
	send ann@example.org bob@example.org carl@example.org
	[ "$status" -eq 75 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "DATA 554: 69" {
	with_script 'DATA * reply 554 5.5.1 no valid recipients'
	send r@example.org
	[ "$status" -eq 69 ]
	[[ "$output" == *"554 5.5.1"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "after data 552 5.3.4: 65" {
	with_script 'DATA-END * reply 552 5.3.4 message size exceeds limit'
	send r@example.org
	[ "$status" -eq 65 ]
	[[ "$output" == "postie: message rejected by 127.0.0.1: 552 5.3.4 message size exceeds limit" ]]
}

@test "after data 554 5.6.0: 65" {
	with_script 'DATA-END * reply 554 5.6.0 content rejected'
	send r@example.org
	[ "$status" -eq 65 ]
}

@test "after data 550 5.7.1 spam: 69" {
	with_script 'DATA-END * reply 550 5.7.1 looks like spam'
	send r@example.org
	[ "$status" -eq 69 ]
	[[ "$output" == *"550 5.7.1 looks like spam"* ]]
}

@test "after data 451: 75" {
	with_script 'DATA-END * reply 451 4.3.0 local error'
	send r@example.org
	[ "$status" -eq 75 ]
}

@test "RCPT 552 without enhanced code means too many recipients: 75 (RFC 5321 4.5.3.1.10)" {
	with_script 'RCPT b@ reply 552 too many recipients'
	send a@example.org b@example.org
	[ "$status" -eq 75 ]
}

@test "a malformed reply: 76" {
	with_script 'MAIL * raw hello there\r\n'
	send r@example.org
	[ "$status" -eq 76 ]
	[[ "$output" == *"malformed"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "a multi-line reply whose lines disagree: 76" {
	with_script 'RCPT * raw 250-ok\r\n550 no\r\n'
	send r@example.org
	[ "$status" -eq 76 ]
}

@test "connection dropped at RCPT: 75" {
	with_script 'RCPT * drop'
	send r@example.org
	[ "$status" -eq 75 ]
	[[ "$output" == *"127.0.0.1"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "a stalled server times out: 75, naming the wait" {
	with_script 'DATA-END * stall'
	write_config "timeout 2"
	send r@example.org
	[ "$status" -eq 75 ]
	[[ "$output" == *"timeout"* || "$output" == *"timed out"* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "connection refused: 75" {
	common_setup
	# a port with no listener: bind one, learn it, close it
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	run "$POSTIE" --host 127.0.0.1 --port "$port" -f a@example.org r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 75 ]
	[[ "$output" == *"127.0.0.1"*"refused"* ]]
}

@test "SIZE: a message over the server's limit is refused before MAIL: 65" {
	common_setup
	sink_start --size 100
	write_config
	run "$POSTIE" r@example.org < <(printf 'Subject: t\n\n'; head -c 500 /dev/zero | tr '\0' 'a'; echo)
	[ "$status" -eq 65 ]
	[[ "$output" == *"exceeds"*"100"* ]]
	! grep -q '^C: MAIL' "$SINK_DIR/session.log" || false
}

@test "a connect that never completes times out: 75, naming the wait" {
	common_setup
	# A listener that never accepts, its backlog filled: further SYNs are
	# dropped, so postie's connect hangs until its own timeout.
	/usr/bin/python3 -c '
import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(0)
fill = []
for _ in range(8):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(l.getsockname())
    except BlockingIOError: pass
    fill.append(c)
open(sys.argv[1] + ".tmp", "w").write(str(l.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(30)
' "$BATS_TEST_TMPDIR/port" 3>&- &
	lp=$!
	wait_until 10 test -s "$BATS_TEST_TMPDIR/port"
	run "$POSTIE" --host 127.0.0.1 --port "$(cat "$BATS_TEST_TMPDIR/port")" --timeout 2 -f a@example.org r@example.org <<<$'Subject: t\n\nx'
	kill "$lp"; wait "$lp" || true
	[ "$status" -eq 75 ]
	[[ "$output" == *"127.0.0.1"*"timed out"* || "$output" == *"127.0.0.1"*"timeout"* ]]
}

@test "after data 552 5.2.2 (mailbox full): 67, the recipient's problem, not the message's" {
	with_script 'DATA-END * reply 552 5.2.2 mailbox full'
	send r@example.org
	[ "$status" -eq 67 ]
	[ "$output" = "postie: message rejected by 127.0.0.1: 552 5.2.2 mailbox full" ]
	[ "$(sink_count)" -eq 0 ]
}

@test "RCPT 554 5.7.1 (relay denied): 69, policy, not an unknown user" {
	with_script 'RCPT * reply 554 5.7.1 relay access denied'
	send r@example.org
	[ "$status" -eq 69 ]
	[ "$output" = "postie: recipient <r@example.org> rejected by 127.0.0.1: 554 5.7.1 relay access denied" ]
}

@test "MAIL 530 5.7.0 (authentication required): 77" {
	with_script 'MAIL * reply 530 5.7.0 authentication required'
	send r@example.org
	[ "$status" -eq 77 ]
	[[ "$output" == *"530 5.7.0 authentication required"* ]]
	[ "$(sink_count)" -eq 0 ]
}
