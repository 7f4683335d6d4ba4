#!/usr/bin/env bats
# postie -bs from the outside: SMTP on its standard input and output, driven
# through pipes by tests/bsdriver.py, against the reply table of the -bs
# contract (every reply, every error), with the recording sink as the
# upstream server: what it received, the queue (mailq), the log file.
bats_require_minimum_version 1.5.0
load common

BS_DRIVER="$BATS_TEST_DIRNAME/bsdriver.py"
# The host name postie -bs greets with: host_canonical(), which takes
# $HOSTNAME when it holds a dot.
HOST=bs-host.example
DATA_GO='354 End data with <CR><LF>.<CR><LF>'
# The sink's own replies, which postie passes back one to one.
UP_MAIL='250 2.1.0 sender ok'
UP_RCPT='250 2.1.5 recipient ok'

setup() {
	common_setup
	export HOSTNAME=$HOST
	Q="$BATS_TEST_TMPDIR/q"
	BS_ERR="$BATS_TEST_TMPDIR/bs.err"
	B_PID=
}

teardown() {
	stop_pid "$B_PID"
	common_teardown
}

# bs_sink [smtpsink.py options]: the upstream sink (with DSN and SMTPUTF8,
# so that whatever parameters postie passes on are accepted) and the
# account for it, logging to ~/postie.log.
bs_sink() {
	sink_start --dsn --smtputf8 "$@" || return 1
	write_config "logfile $HOME/postie.log"
}

# script LINE...: a sink script file with these rules; prints its path.
script() {
	local f="$BATS_TEST_TMPDIR/sink.script"
	printf '%s\n' "$@" >"$f"
	echo "$f"
}

# talk [postie options] <SCRIPT: postie -bs OPTIONS driven by bsdriver.py
# through SCRIPT (its directives: see bsdriver.py), after the greeting,
# which every session starts with. Fails unless every line held; the
# transcript is in $output ("= VALUE" lines: the groups of "<~" lines),
# postie's stderr in $BS_ERR.
talk() {
	{
		echo "< 220 $HOST ESMTP postie"
		cat
	} >"$BATS_TEST_TMPDIR/bs.script"
	run /usr/bin/python3 "$BS_DRIVER" --timeout 10 --stderr "$BS_ERR" \
		--script "$BATS_TEST_TMPDIR/bs.script" -- "$POSTIE" -bs "$@"
	echo "$output"
	echo "--- stderr:"
	cat "$BS_ERR"
	[ "$status" -eq 0 ]
}

# captured: the "= VALUE" lines of the last talk, without the "= ".
captured() { sed -n 's/^= //p' <<<"$output"; }

# hello: the script lines of an EHLO and its reply.
hello() {
	printf '%s\n' "> EHLO client.example" "< 250-$HOST" "< 250-PIPELINING" "< 250-SIZE" \
		"< 250-8BITMIME" "< 250-SMTPUTF8" "< 250-DSN" "< 250 ENHANCEDSTATUSCODES"
}

# transaction FROM RCPT SUBJECT: the script lines of one accepted
# transaction to the sink (MAIL, one RCPT, DATA, a short message), up to
# the sink's reply to the end of data, whatever it is.
transaction() {
	printf '%s\n' "> MAIL FROM:<$1>" "< $UP_MAIL" "> RCPT TO:<$2>" "< $UP_RCPT" \
		"> DATA" "< $DATA_GO" "> Subject: $3" ">" "> body of $3" "> ." "<~ 250 .*"
}

# envelope N FROM RCPT...: message N at the sink came from FROM (MAIL
# FROM, whatever parameters follow) to exactly these recipients.
envelope() {
	local env n="$1" from="$2"
	env=$(sink_env "$n")
	shift 2
	cat "$env"
	[[ $(head -n 1 "$env") =~ ^MAIL\ FROM:\<([^>]*)\> ]]
	[ "${BASH_REMATCH[1]}" = "$from" ]
	diff <(printf '%s\n' "$@" | sort) <(sed -n 's/^RCPT TO:<\([^>]*\)>.*/\1/p' "$env" | sort)
}

# nothing_sent: the sink recorded no message.
nothing_sent() { [ "$(sink_count)" -eq 0 ]; }

# why ARGS...: postie's diagnostic for a plain send with ARGS (the same
# configuration), without "postie: "; it must be one line. What -bs puts
# after "451 4.4.1 " and the like.
why() {
	run --separate-stderr "$POSTIE" "$@" < <(printf 'Subject: plain\n\nbody\n')
	echo "plain send: status $status, stderr: $stderr" >&2
	[ "$status" -ne 0 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ $stderr == "postie: "* ]] || return 1
	WHY="${stderr#postie: }"
}

# queue_config: the sink's account with queue tempfail in $Q.
queue_config() { write_config "queue tempfail" "queue_dir $Q" "logfile $HOME/postie.log"; }

# mailq_ids: the queue IDs postie -bp (mailq) lists, one a line.
mailq_ids() {
	"$POSTIE" -bp | awk '/^[0-9A-F]+[*!]?[ \t]/ { sub(/[*!]$/, "", $1); print $1 }'
}

# sink_b: a second sink, files in $BATS_TEST_TMPDIR/b/sink; sets B_DIR,
# B_PORT, B_PID and leaves SINK_* naming the first one.
sink_b() {
	local dir="$SINK_DIR" port="$SINK_PORT" pid="$SINK_PID"
	BATS_TEST_TMPDIR="$BATS_TEST_TMPDIR/b" sink_start --dsn --smtputf8 || return 1
	B_DIR="$SINK_DIR" B_PORT="$SINK_PORT" B_PID="$SINK_PID"
	SINK_DIR="$dir" SINK_PORT="$port" SINK_PID="$pid"
}

# ------------------------------------------------------------ the driver

# fake_bs: a stand-in for postie -bs: greets, answers QUIT with 221 and
# exit 0, SILENT with nothing, LF with a reply ended by a bare LF, EXTRA
# with 221 and one line too many, any other line with "250 crlf|lf HEX"
# (how it ended, its bytes); exits 3 at the end of its input; logs each
# read to $BATS_TEST_TMPDIR/reads.
fake_bs() {
	cat >"$BATS_TEST_TMPDIR/fake.py" <<'EOF'
import os, sys
log = open(sys.argv[1], 'a')
def w(b): os.write(1, b)
w(b'220 fake ESMTP\r\n')
buf = b''
while True:
    data = os.read(0, 65536)
    log.write('%r\n' % data)
    log.flush()
    if not data:
        sys.exit(3)
    buf += data
    while b'\n' in buf:
        line, _, buf = buf.partition(b'\n')
        end = b'crlf' if line.endswith(b'\r') else b'lf'
        cmd = line.rstrip(b'\r')
        if cmd == b'QUIT':
            w(b'221 bye\r\n')
            sys.exit(0)
        elif cmd == b'EXTRA':
            w(b'221 bye\r\n250 one more\r\n')
            sys.exit(0)
        elif cmd == b'LF':
            w(b'250 bare\n')
        elif cmd != b'SILENT':
            w(b'250 ' + end + b' ' + cmd.hex().encode() + b'\r\n')
EOF
	echo "/usr/bin/python3 $BATS_TEST_TMPDIR/fake.py $BATS_TEST_TMPDIR/reads"
}

# drive TIMEOUT <SCRIPT: bsdriver.py against fake_bs.
drive() {
	# shellcheck disable=SC2046 # fake_bs prints the command, split here
	run /usr/bin/python3 "$BS_DRIVER" --timeout "$1" -- $(fake_bs)
	echo "$output"
}

@test "bsdriver.py: lines checked in order, a batch sent in one write, bytes as given, groups, the exit" {
	drive 10 <<'EOF'
< 220 fake ESMTP
> A
< 250 crlf 41
> B
> C
>> D\r\nE\n
<~ 250 crlf (4.)
< 250 crlf 43
< 250 crlf 44
< 250 lf 45
>> N\x00\x01\tU\r\n
< 250 crlf 4e00010955
>
< 250 crlf 
> QUIT
< 221 bye
exit 0
EOF
	[ "$status" -eq 0 ]
	[ "$(sed -n 's/^= //p' <<<"$output")" = 42 ]
	# one read per batch: A; B to E; the NUL line; the empty line; QUIT
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/reads")" = "b'B\\r\\nC\\r\\nD\\r\\nE\\n'" ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/reads")" -eq 5 ]
	drive 10 <<'EOF'
< 220 fake ESMTP
eof
exit 3
EOF
	[ "$status" -eq 0 ]
}

@test "bsdriver.py: a wrong line, a bare LF, no reply, extra output, another status each fail, bounded" {
	drive 10 <<'EOF'
< 220 fake ESMTP
> A
< 250 crlf 42
exit 0
EOF
	[ "$status" -eq 1 ]
	[[ $output == *"bsdriver: line 3: expected '250 crlf 42', got '250 crlf 41'" ]]
	drive 10 <<'EOF'
< 220 fake ESMTP
> LF
< 250 bare
exit 0
EOF
	[ "$status" -eq 1 ]
	[[ $output == *"bsdriver: line 3: the line does not end in CR LF: b'250 bare\\n'" ]]
	drive 0.5 <<'EOF'
< 220 fake ESMTP
> SILENT
< 250 never
exit 0
EOF
	[ "$status" -eq 1 ]
	[[ $output == *"bsdriver: line 3: waited 0.5 s for a line ('250 never')" ]]
	drive 10 <<'EOF'
< 220 fake ESMTP
> EXTRA
< 221 bye
exit 0
EOF
	[ "$status" -eq 1 ]
	[[ $output == *"bsdriver: line 4: unexpected output before the exit: b'250 one more\\r\\n'" ]]
	drive 10 <<'EOF'
< 220 fake ESMTP
> QUIT
< 221 bye
< 250 more
exit 0
EOF
	[ "$status" -eq 1 ]
	[[ $output == *"bsdriver: line 4: the output ended; expected '250 more'" ]]
	drive 10 <<'EOF'
< 220 fake ESMTP
eof
exit 0
EOF
	[ "$status" -eq 1 ]
	[[ $output == *"bsdriver: line 3: exit status 3, expected 0" ]]
	# a command that never ends: killed after the bound
	run /usr/bin/python3 "$BS_DRIVER" --timeout 0.5 -- sleep 60 < <(echo 'exit 0')
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "bsdriver: line 1: waited 0.5 s for the end of its output" ]
	run /usr/bin/python3 "$BS_DRIVER" -- true < <(echo NOOP)
	[ "$status" -eq 2 ]
	[ "$output" = "bsdriver: line 1: not a directive: 'NOOP'" ]
}

# ------------------------------------------------- greeting and commands

@test "-bs: the greeting, EHLO's extensions, HELO, commands in any case, QUIT exits 0" {
	bs_sink
	talk <<EOF
$(hello)
> HELO client.example
< 250 $HOST
> ehlo client.example
< 250-$HOST
< 250-PIPELINING
< 250-SIZE
< 250-8BITMIME
< 250-SMTPUTF8
< 250-DSN
< 250 ENHANCEDSTATUSCODES
> HeLo client.example
< 250 $HOST
> EHLO
< 501 5.5.4 Syntax: EHLO hostname
> HELO
< 501 5.5.4 Syntax: HELO hostname
> quit
< 221 2.0.0 Bye
exit 0
EOF
	nothing_sent
	[ ! -s "$BS_ERR" ]
}

@test "-bs: NOOP, RSET, VRFY, HELP, the commands not implemented, unknown commands, bare LF" {
	bs_sink
	talk <<EOF
> NOOP
< 250 2.0.0 Ok
> NOOP anything at all
< 250 2.0.0 Ok
> RSET
< 250 2.0.0 Ok
> VRFY postmaster
< 252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery
> VRFY
< 501 5.5.4 Syntax: VRFY address
> HELP
< 214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT
> help mail
< 214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT
> STARTTLS
< 502 5.5.1 Error: command not implemented
> AUTH PLAIN AHRlc3RlcgBzZWNyZXQ=
< 502 5.5.1 Error: command not implemented
> BDAT 0 LAST
< 502 5.5.1 Error: command not implemented
> EXPN staff
< 502 5.5.1 Error: command not implemented
> ETRN example.org
< 502 5.5.1 Error: command not implemented
> TURN
< 502 5.5.1 Error: command not implemented
> XYZZY
< 500 5.5.2 Error: command not recognized
> SEND FROM:<sender@example.org>
< 500 5.5.2 Error: command not recognized
>> NOOP\n
< 250 2.0.0 Ok
>> HELO client.example\n
< 250 $HOST
>> QUIT\n
< 221 2.0.0 Bye
exit 0
EOF
	nothing_sent
}

# ------------------------------------------------------ the transaction

@test "-bs: MAIL, RCPT and DATA out of sequence, DATA with an argument" {
	bs_sink
	talk <<EOF
> MAIL FROM:<sender@example.org>
< 503 5.5.1 Error: send HELO/EHLO first
> HELO client.example
< 250 $HOST
> RCPT TO:<r@example.org>
< 503 5.5.1 Error: need MAIL command
> DATA
< 503 5.5.1 Error: need MAIL command
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> MAIL FROM:<other@example.org>
< 503 5.5.1 Error: nested MAIL command
> DATA
< 503 5.5.1 Error: need RCPT command
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA now
< 501 5.5.4 Syntax: DATA
> DATA
< $DATA_GO
> Subject: in sequence
>
> body
> .
< 250 2.0.0 queued as 1
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
	envelope 1 sender@example.org r@example.org
}

@test "-bs: HELO or EHLO in a transaction resets it (RFC 5321 4.1.4)" {
	bs_sink
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<first@example.org>
< $UP_RCPT
> HELO client.example
< 250 $HOST
> DATA
< 503 5.5.1 Error: need MAIL command
> RCPT TO:<r@example.org>
< 503 5.5.1 Error: need MAIL command
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<second@example.org>
< $UP_RCPT
$(hello)
> DATA
< 503 5.5.1 Error: need MAIL command
$(transaction sender@example.org third@example.org after-ehlo)
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
	envelope 1 sender@example.org third@example.org
}

@test "-bs: MAIL syntax errors and unparsable senders; the null sender is accepted" {
	bs_sink
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL
< 501 5.5.4 Syntax: MAIL FROM:<address>
> MAIL FROM:
< 501 5.5.4 Syntax: MAIL FROM:<address>
> MAIL TO:<sender@example.org>
< 501 5.5.4 Syntax: MAIL FROM:<address>
> MAIL FROM:<sender@example.org
< 501 5.5.4 Syntax: MAIL FROM:<address>
> MAIL FROM:<sender@example.org>junk
< 501 5.5.4 Syntax: MAIL FROM:<address>
> MAIL FROM:<sender@@example.org>
< 501 5.1.7 Bad sender address syntax
> MAIL FROM:<sender@example..org>
< 501 5.1.7 Bad sender address syntax
> MAIL FROM:<>
< $UP_MAIL
> RSET
< 250 2.0.0 Ok
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	nothing_sent
}

@test "-bs: RCPT syntax errors, unparsable recipients and recipients without a domain" {
	bs_sink
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT
< 501 5.5.4 Syntax: RCPT TO:<address>
> RCPT TO:
< 501 5.5.4 Syntax: RCPT TO:<address>
> RCPT FROM:<r@example.org>
< 501 5.5.4 Syntax: RCPT TO:<address>
> RCPT TO:<r@example.org
< 501 5.5.4 Syntax: RCPT TO:<address>
> RCPT TO:<r@example.org>junk
< 501 5.5.4 Syntax: RCPT TO:<address>
> RCPT TO:<bob>
< 501 5.1.3 Bad recipient address syntax
> RCPT TO:<bob@>
< 501 5.1.3 Bad recipient address syntax
> RCPT TO:<bob@@example.org>
< 501 5.1.3 Bad recipient address syntax
> RCPT TO:<bob@example..org>
< 501 5.1.3 Bad recipient address syntax
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: one good recipient
>
> body
> .
< 250 2.0.0 queued as 1
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	envelope 1 sender@example.org r@example.org
}

@test "-bs: a MAIL or RCPT path without its angle brackets is taken, as Postfix takes it" {
	bs_sink
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:sender@example.org
< $UP_MAIL
> RCPT TO: r@example.org
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: bare
>
> x
> .
<~ 250 .*
> MAIL FROM:sender@example.org junk
< 555 5.5.4 Unsupported option: junk
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	envelope 1 sender@example.org r@example.org
}

@test "-bs: the MAIL and RCPT parameters of SIZE, 8BITMIME, SMTPUTF8 and DSN are accepted" {
	bs_sink
	talk <<EOF
$(hello)
> MAIL FROM:<sender@example.org> SIZE=100000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2Bone
< $UP_MAIL
> RCPT TO:<r@example.org> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;r@example.org
< $UP_RCPT
> RCPT TO:<s@example.org> NOTIFY=NEVER
< $UP_RCPT
> rcpt to:<t@example.org> notify=failure,delay orcpt=rfc822;t+2Bx@example.org
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: parameters
>
> caf$(printf '\xc3\xa9') 8-bit
> .
< 250 2.0.0 queued as 1
> MAIL FROM:<sender@example.org> BODY=7BIT RET=FULL
< $UP_MAIL
> RCPT TO:<u@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: 7bit
>
> body
> .
< 250 2.0.0 queued as 2
> mail from:<sender@example.org> body=8bitmime size=20
< $UP_MAIL
> RSET
< 250 2.0.0 Ok
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	envelope 1 sender@example.org r@example.org s@example.org t@example.org
	envelope 2 sender@example.org u@example.org
	grep -q $'^caf\xc3\xa9 8-bit\r$' "$(sink_msg 1)"
}

@test "-bs: an unknown parameter or a value out of range is 555, quoted as written" {
	bs_sink
	talk <<EOF
$(hello)
> MAIL FROM:<sender@example.org> BODY=BINARYMIME
< 555 5.5.4 Unsupported option: BODY=BINARYMIME
> MAIL FROM:<sender@example.org> FOO=bar
< 555 5.5.4 Unsupported option: FOO=bar
> MAIL FROM:<sender@example.org> size=big
< 555 5.5.4 Unsupported option: size=big
> MAIL FROM:<sender@example.org> RET=NONE
< 555 5.5.4 Unsupported option: RET=NONE
> MAIL FROM:<sender@example.org> ENVID=bad+zz
< 555 5.5.4 Unsupported option: ENVID=bad+zz
> MAIL FROM:<sender@example.org> SMTPUTF8=yes
< 555 5.5.4 Unsupported option: SMTPUTF8=yes
> MAIL FROM:<sender@example.org> NOTIFY=NEVER
< 555 5.5.4 Unsupported option: NOTIFY=NEVER
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<a@example.org> NOTIFY=SOMETIMES
< 555 5.5.4 Unsupported option: NOTIFY=SOMETIMES
> RCPT TO:<a@example.org> NOTIFY=NEVER,SUCCESS
< 555 5.5.4 Unsupported option: NOTIFY=NEVER,SUCCESS
> RCPT TO:<a@example.org> ORCPT=a@example.org
< 555 5.5.4 Unsupported option: ORCPT=a@example.org
> RCPT TO:<a@example.org> Frob=1
< 555 5.5.4 Unsupported option: Frob=1
> RCPT TO:<a@example.org> BODY=8BITMIME
< 555 5.5.4 Unsupported option: BODY=8BITMIME
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: after refused parameters
>
> body
> .
< 250 2.0.0 queued as 1
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	envelope 1 sender@example.org r@example.org
}

@test "-bs: 1000 recipients are taken, the 1001st is 452 4.5.3; the message goes to the 1000" {
	local i rcpts
	bs_sink
	{
		echo "> HELO client.example"
		echo "< 250 $HOST"
		echo "> MAIL FROM:<sender@example.org>"
		echo "< $UP_MAIL"
		# all 1001 in one write, then the replies
		for ((i = 1; i <= 1001; i++)); do echo "> RCPT TO:<r$i@example.org>"; done
		for ((i = 1; i <= 1000; i++)); do echo "< $UP_RCPT"; done
		echo "< 452 4.5.3 Error: too many recipients"
		printf '%s\n' "> DATA" "< $DATA_GO" "> Subject: many" ">" "> body" "> ." \
			"< 250 2.0.0 queued as 1" "> QUIT" "< 221 2.0.0 Bye" "exit 0"
	} >"$BATS_TEST_TMPDIR/many"
	talk <"$BATS_TEST_TMPDIR/many" >/dev/null
	[ "$(sink_count)" -eq 1 ]
	mapfile -t rcpts < <(for ((i = 1; i <= 1000; i++)); do echo "r$i@example.org"; done)
	envelope 1 sender@example.org "${rcpts[@]}" >/dev/null
}

@test "-bs: a command line over 512 octets (MAIL and RCPT: 1024) is 500, and the session goes on" {
	local x500 l60 addr orcpt
	bs_sink
	x500=$(printf '%0505d' 0)   # "NOOP " + 505 + CR LF = 512 octets
	l60=$(printf 'd%.0s' {1..60})
	# 64 + 1 + 185 = 250 octets, a long but valid address (RFC 5321
	# 4.5.3.1.3: a path of at most 256 with its brackets); its RCPT line
	# below is 555 octets, over 512 and under 1024
	addr="$(printf 'l%.0s' {1..64})@$l60.$l60.$(printf 'd%.0s' {1..51}).example.org"
	[ "${#addr}" -eq 250 ]
	orcpt=$(printf 'x%.0s' {1..1100})
	talk <<EOF
> HELO client.example
< 250 $HOST
> NOOP $x500
< 250 2.0.0 Ok
> NOOP ${x500}0
< 500 5.5.2 Error: line too long
> NOOP $orcpt$orcpt$orcpt$orcpt$orcpt$orcpt$orcpt$orcpt
< 500 5.5.2 Error: line too long
> NOOP
< 250 2.0.0 Ok
> MAIL FROM:<sender@example.org> ENVID=$orcpt
< 500 5.5.2 Error: line too long
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<$addr> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;$addr
< $UP_RCPT
> RCPT TO:<r@example.org> ORCPT=rfc822;$orcpt@example.org
< 500 5.5.2 Error: line too long
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: after long lines
>
> body
> .
< 250 2.0.0 queued as 1
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	envelope 1 sender@example.org "$addr" r@example.org
}

@test "-bs: a NUL or another control character (DEL too) in a command is 500; a TAB is not" {
	bs_sink
	talk <<EOF
> HELO client.example
< 250 $HOST
>> NO\x00OP\r\n
< 500 5.5.2 Error: bad character in command
>> NOOP \x00\r\n
< 500 5.5.2 Error: bad character in command
>> MAIL FROM:<sender@example.org>\x01\r\n
< 500 5.5.2 Error: bad character in command
>> HELO client\x1bexample\r\n
< 500 5.5.2 Error: bad character in command
>> NOOP \x7f\r\n
< 500 5.5.2 Error: bad character in command
>> NOOP a\tb\r\n
< 250 2.0.0 Ok
> MAIL FROM:<sender@example.org>
< $UP_MAIL
>> RCPT TO:<r\x00@example.org>\r\n
< 500 5.5.2 Error: bad character in command
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: after bad characters
>
> body
> .
< 250 2.0.0 queued as 1
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	envelope 1 sender@example.org r@example.org
}

@test "-bs: pipelined commands in one write get their replies in order; a whole session in one write" {
	bs_sink
	talk <<EOF
> EHLO client.example
> MAIL FROM:<sender@example.org>
> RCPT TO:<a@example.org>
> RCPT TO:<b@example.org>
> DATA
$(hello | grep '^<')
< $UP_MAIL
< $UP_RCPT
< $UP_RCPT
< $DATA_GO
> Subject: pipelined
>
> body
> .
> MAIL FROM:<sender@example.org>
> MAIL FROM:<nested@example.org>
> RCPT TO:<c@example.org>
> DATA
> Subject: second
>
> ..leading dot
> .
> QUIT
< 250 2.0.0 queued as 1
< $UP_MAIL
< 503 5.5.1 Error: nested MAIL command
< $UP_RCPT
< $DATA_GO
< 250 2.0.0 queued as 2
< 221 2.0.0 Bye
exit 0
EOF
	envelope 1 sender@example.org a@example.org b@example.org
	envelope 2 sender@example.org c@example.org
	grep -q $'^\\.leading dot\r$' "$(sink_msg 2)"
}

@test "-bs: three transactions in one session: three messages, their envelopes, a log line each" {
	bs_sink
	talk <<EOF
> HELO client.example
< 250 $HOST
$(transaction one@example.org r1@example.org first)
> MAIL FROM:<two@example.org>
< $UP_MAIL
> RCPT TO:<r2@example.org>
< $UP_RCPT
> RCPT TO:<r3@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: second
>
> body
> .
< 250 2.0.0 queued as 2
> RSET
< 250 2.0.0 Ok
$(transaction three@example.org r4@example.org third)
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 3 ]
	envelope 1 one@example.org r1@example.org
	envelope 2 two@example.org r2@example.org r3@example.org
	envelope 3 three@example.org r4@example.org
	[ "$(sink_header 1 Subject)" = first ]
	[ "$(sink_header 2 Subject)" = second ]
	[ "$(sink_header 3 Subject)" = third ]
	# nothing on stderr (Symfony's ProcessStream takes early stderr output
	# for a failed start)
	[ ! -s "$BS_ERR" ]
	cat "$HOME/postie.log"
	[ "$(wc -l <"$HOME/postie.log")" -eq 3 ]
	sed -n 1p "$HOME/postie.log" | grep -Eq ' host=127\.0\.0\.1 .* from=one@example\.org recipients=r1@example\.org .*smtpstatus=250 .*exitcode=EX_OK$'
	sed -n 2p "$HOME/postie.log" | grep -Eq ' from=two@example\.org recipients=r2@example\.org,r3@example\.org .*exitcode=EX_OK$'
	sed -n 3p "$HOME/postie.log" | grep -Eq ' from=three@example\.org recipients=r4@example\.org .*exitcode=EX_OK$'
}

@test "-bs: RSET, QUIT or the end of input in a transaction abandon it: nothing is sent" {
	bs_sink
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<dropped@example.org>
< $UP_RCPT
> RSET
< 250 2.0.0 Ok
> RCPT TO:<r@example.org>
< 503 5.5.1 Error: need MAIL command
$(transaction sender@example.org kept@example.org kept)
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<quit@example.org>
< $UP_RCPT
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
	envelope 1 sender@example.org kept@example.org
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<eof@example.org>
< $UP_RCPT
eof
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
}

@test "-bs: the header edits of a plain send (Date, Message-ID added, QP repair); dot-stuffing undone" {
	local long
	bs_sink
	long=$(printf 'y%.0s' {1..1200})
	printf '%s\n' "To: r@example.org" "Subject: edits" "" "body" ".leading dot" "$long" "end" \
		>"$BATS_TEST_TMPDIR/msg"
	"$POSTIE" -f sender@example.org r@example.org <"$BATS_TEST_TMPDIR/msg"
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> To: r@example.org
> Subject: edits
>
> body
> ..leading dot
> $long
> end
> .
< 250 2.0.0 queued as 2
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_header_count 2 Date)" -eq 1 ]
	[ "$(sink_header_count 2 Message-ID)" -eq 1 ]
	[ "$(sink_header 2 Message-ID)" != "$(sink_header 1 Message-ID)" ]
	# the same message as the plain send, but for Date's and Message-ID's values
	diff <(sed -E 's/^(Date|Message-ID):.*/\1: -/I' "$(sink_msg 1)") \
		<(sed -E 's/^(Date|Message-ID):.*/\1: -/I' "$(sink_msg 2)")
	# the same envelope (postie's SIZE= on MAIL needs the message first, so
	# a relayed MAIL has the client's parameters only)
	envelope 2 sender@example.org r@example.org
	grep -qi '^Content-Transfer-Encoding: quoted-printable' "$(sink_msg 2)"
}

@test "-bs: the account comes from MAIL FROM as with -f, or from -a NAME" {
	sink_start --dsn --smtputf8
	sink_b
	cat >"$HOME/.postierc" <<EOF
account default
host 127.0.0.1
port $SINK_PORT
domain client.example
from sender@example.org

account other
host 127.0.0.1
port $B_PORT
domain client.example
from other@example.net
EOF
	chmod 600 "$HOME/.postierc"
	talk <<EOF
> HELO client.example
< 250 $HOST
$(transaction other@example.net to-b@example.org via-other)
$(transaction sender@example.org to-a@example.org via-default)
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
	envelope 1 sender@example.org to-a@example.org
	[ "$(SINK_DIR=$B_DIR sink_count)" -eq 1 ]
	SINK_DIR=$B_DIR envelope 1 other@example.net to-b@example.org
	talk -a other <<EOF
> HELO client.example
< 250 $HOST
$(transaction sender@example.org to-b2@example.org named)
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
	[ "$(SINK_DIR=$B_DIR sink_count)" -eq 2 ]
	grep -qx 'RCPT TO:<to-b2@example.org>' "$B_DIR/msg-2.env"
}

# ----------------------------------------------------------- time, input

@test "-bs: no command for --timeout=2 seconds: 421 4.4.2, exit 75" {
	bs_sink
	talk --timeout=2 <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
< 421 4.4.2 $HOST Error: timeout exceeded
exit 75
EOF
	nothing_sent
}

@test "-bs: the input ends in the middle of DATA: nothing delivered or queued, the stderr line, exit 75" {
	bs_sink
	queue_config
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: cut short
>
> half a message
eof
exit 75
EOF
	[ "$(cat "$BS_ERR")" = "postie: -bs: standard input ended in the middle of the message data; nothing was sent" ]
	nothing_sent
	[ -z "$(mailq_ids)" ]
}

# ------------------------------------------------------ upstream replies

@test "-bs: the upstream's refusal of a recipient comes back one to one; DATA with none accepted is 554" {
	bs_sink --script "$(script 'RCPT bad@example.org reply 550 5.1.1 <bad@example.org>: user unknown' \
		'RCPT later@example.org reply 450 4.2.1 <later@example.org>: mailbox busy')"
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<bad@example.org>
< 550 5.1.1 <bad@example.org>: user unknown
> DATA
< 554 5.5.1 Error: no valid recipients
> RSET
< 250 2.0.0 Ok
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<good@example.org>
< $UP_RCPT
> RCPT TO:<bad@example.org>
< 550 5.1.1 <bad@example.org>: user unknown
> RCPT TO:<later@example.org>
< 450 4.2.1 <later@example.org>: mailbox busy
> DATA
< $DATA_GO
> Subject: one of three
>
> body
> .
< 250 2.0.0 queued as 1
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
	envelope 1 sender@example.org good@example.org
}

@test "-bs: the upstream's 4xx to MAIL and to the end of data come back one to one (no queue)" {
	bs_sink --script "$(script 'MAIL grey@example.org reply 451 4.7.1 greylisted, try again later' \
		'DATA-END * reply 451 4.3.0 cannot store it now')"
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<grey@example.org>
< 451 4.7.1 greylisted, try again later
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: not stored
>
> body
> .
< 451 4.3.0 cannot store it now
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	nothing_sent
}

@test "-bs: upstream down, no queue: MAIL is 451 4.4.1 with postie's diagnostic; the session goes on" {
	sink_start && sink_stop   # a port with nothing listening
	write_config
	why -f sender@example.org r@example.org
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< 451 4.4.1 $WHY
> RCPT TO:<r@example.org>
< 503 5.5.1 Error: need MAIL command
> NOOP
< 250 2.0.0 Ok
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
}

@test "-bs: the connection lost at the end of data, no queue: 451 4.4.1 with postie's diagnostic" {
	bs_sink --script "$(script 'DATA-END * drop')"
	why -f sender@example.org r@example.org
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: lost
>
> body
> .
< 451 4.4.1 $WHY
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	nothing_sent
}

@test "-bs: no such account is 451 4.3.5 with postie's diagnostic" {
	bs_sink
	why -a nosuch -f sender@example.org r@example.org
	[[ $WHY == *nosuch* ]]
	talk -a nosuch <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< 451 4.3.5 $WHY
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	nothing_sent
}

@test "-bs: AUTH refused upstream (535) is 554 5.7.0 with postie's diagnostic" {
	sink_start --auth PLAIN
	write_config "tls off" "auth plain" "user tester" "password wrong" "auth_without_tls on"
	why -f sender@example.org r@example.org
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< 554 5.7.0 $WHY
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
}

@test "-bs: another permanent session failure (a 554 greeting) is 554 5.3.0 with postie's diagnostic" {
	sink_start --script "$(script 'GREETING * reply 554 5.3.2 no service here')"
	write_config
	why -f sender@example.org r@example.org
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< 554 5.3.0 $WHY
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
}

@test "-bs: message data over the upstream's SIZE limit is 552 5.3.4" {
	local i
	bs_sink --size 2000
	{
		printf '%s\n' "> HELO client.example" "< 250 $HOST" "> MAIL FROM:<sender@example.org>" \
			"< $UP_MAIL" "> RCPT TO:<r@example.org>" "< $UP_RCPT" "> DATA" "< $DATA_GO" \
			"> Subject: too big" ">"
		for ((i = 0; i < 100; i++)); do echo "> line $i of a message bigger than 2000 octets"; done
		printf '%s\n' "> ." "< 552 5.3.4 Error: message file too big" "> QUIT" "< 221 2.0.0 Bye" "exit 0"
	} >"$BATS_TEST_TMPDIR/big"
	talk <"$BATS_TEST_TMPDIR/big"
	nothing_sent
}

# ------------------------------------------------------------- the queue

@test "-bs with queue tempfail, upstream down: 250s, queued as the ID mailq lists; -q delivers it" {
	sink_start && sink_stop
	queue_config
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< 250 2.1.0 Ok
> RCPT TO:<r@example.org>
< 250 2.1.5 Ok
> RCPT TO:<bob>
< 501 5.1.3 Bad recipient address syntax
> RCPT TO:<s@example.org>
< 250 2.1.5 Ok
> DATA
< $DATA_GO
> Subject: queued
>
> body
> .
<~ 250 2\.0\.0 Ok: queued as ([0-9A-F]+)
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	id="$(captured)"
	[ -n "$id" ]
	[ "$(mailq_ids)" = "$id" ]
	"$POSTIE" -bp | grep -qx ' *r@example.org'
	sink_start --port "$SINK_PORT"
	"$POSTIE" -q
	[ "$(sink_count)" -eq 1 ]
	envelope 1 sender@example.org r@example.org s@example.org
	[ "$(sink_header 1 Subject)" = queued ]
	[ -z "$(mailq_ids)" ]
}

@test "-bs with queue tempfail: a 451 to the end of data queues the message, queued as the ID mailq lists" {
	bs_sink --script "$(script 'DATA-END * reply 451 4.3.0 cannot store it now')"
	queue_config
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<r@example.org>
< $UP_RCPT
> DATA
< $DATA_GO
> Subject: queued after 451
>
> body
> .
<~ 250 2\.0\.0 Ok: queued as ([0-9A-F]+)
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	nothing_sent
	[ "$(mailq_ids)" = "$(captured)" ]
	"$POSTIE" -bp | grep -qx ' *r@example.org'
}

@test "-bs with queue tempfail: a recipient deferred upstream is 250 2.1.5 Ok and queued; the others get it" {
	bs_sink --script "$(script 'RCPT later@example.org reply 450 4.2.1 <later@example.org>: mailbox busy')"
	queue_config
	talk <<EOF
> HELO client.example
< 250 $HOST
> MAIL FROM:<sender@example.org>
< $UP_MAIL
> RCPT TO:<now@example.org>
< $UP_RCPT
> RCPT TO:<later@example.org>
< 250 2.1.5 Ok
> DATA
< $DATA_GO
> Subject: half now
>
> body
> .
<~ 250 .*
> QUIT
< 221 2.0.0 Bye
exit 0
EOF
	[ "$(sink_count)" -eq 1 ]
	envelope 1 sender@example.org now@example.org
	[ "$(mailq_ids | wc -l)" -eq 1 ]
	"$POSTIE" -bp | grep -qx ' *later@example.org'
	! "$POSTIE" -bp | grep -q 'now@example.org' || false
}
