#!/usr/bin/env bats
# The command line: sendmail flags, msmtp options, modes, logging.
load common
bats_require_minimum_version 1.5.0

setup() { common_setup; sink_start; write_config; }
teardown() { common_teardown; }

@test "sendmail flags that callers pass are accepted silently" {
	run "$POSTIE" -FCronDaemon -i -B8BITMIME -oem -odi -oi -or0s -B 8BITMIME -Am -G -h 5 -L tag -m -n -O Opt=1 -U -x -bm r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(sink_count)" -eq 1 ]
}

@test "clusters and attached arguments: -it, -fADDR, -froot@x" {
	printf 'To: a@example.org\n\nx\n' | "$POSTIE" -it -fme@example.org
	grep -q '^MAIL FROM:<me@example.org>' "$(sink_env 1)"
	grep -q '^RCPT TO:<a@example.org>' "$(sink_env 1)"
}

@test "-r is -f; -- ends options" {
	"$POSTIE" -r me@example.org -- r@example.org <<<$'Subject: t\n\nx'
	grep -q '^MAIL FROM:<me@example.org>' "$(sink_env 1)"
}

@test "-F sets the name in a generated From header" {
	"$POSTIE" -FAnacron r@example.org <<<$'Subject: t\n\nx'
	grep -q $'^From: Anacron <sender@example.org>\r$' "$(sink_msg 1)"
}

@test "-f <> sends the null sender" {
	"$POSTIE" -f '<>' r@example.org <<<$'Subject: t\n\nx'
	grep -q '^MAIL FROM:<>' "$(sink_env 1)"
}

@test "unsupported modes fail with 64 and name the mode" {
	for m in -bv -bd -bD; do
		run "$POSTIE" "$m" </dev/null
		[ "$status" -eq 64 ]
		[[ "$output" == "postie: mode $m "*"not supported"* ]]
	done
	# a queue-run interval would make a daemon: refused, a timer runs --queue-run
	run "$POSTIE" -q30m </dev/null
	[ "$status" -eq 64 ]
	[ "$output" = "postie: -q30m: postie runs no daemon; run postie --queue-run from cron or a timer, or postie -q by hand" ]
	[ "$(sink_count)" -eq 0 ]
}

@test "-bs refuses recipient arguments, -t and --read-envelope-from with 64" {
	run "$POSTIE" -bs r@example.org </dev/null
	[ "$status" -eq 64 ]
	[ "$output" = "postie: -bs takes no recipients ('r@example.org' given; see postie --help)" ]
	for o in -t --read-envelope-from; do
		run "$POSTIE" -bs "$o" </dev/null
		[ "$status" -eq 64 ]
		[ "$output" = "postie: -bs takes the envelope from MAIL and RCPT: -t and --read-envelope-from do not apply" ]
	done
	[ "$(sink_count)" -eq 0 ]
}

@test "called as mailq: -bp, the queue is empty, stdin is not read" {
	ln -s "$POSTIE" "$BATS_TEST_TMPDIR/mailq"
	# stdin left open: a mailq that waited for a message would hang here
	run timeout 10 "$BATS_TEST_TMPDIR/mailq" < <(sleep 20)
	[ "$status" -eq 0 ]
	[ "$output" = "Mail queue is empty" ]
	run "$POSTIE" -bp </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "Mail queue is empty" ]
	[ "$(sink_count)" -eq 0 ]
}

@test "called as newaliases: -bi, nothing to rebuild, exit 0" {
	ln -s "$POSTIE" "$BATS_TEST_TMPDIR/newaliases"
	run timeout 10 "$BATS_TEST_TMPDIR/newaliases" < <(sleep 20)
	[ "$status" -eq 0 ]
	[ "$output" = "postie: no alias database to rebuild: the aliases file is read directly for each message" ]
	run "$POSTIE" -bi </dev/null
	[ "$status" -eq 0 ]
}

@test "called as sendmail: sends" {
	ln -s "$POSTIE" "$BATS_TEST_TMPDIR/sendmail"
	run "$BATS_TEST_TMPDIR/sendmail" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "an unknown option is a usage error: 64" {
	run "$POSTIE" --no-such-option r@example.org </dev/null
	[ "$status" -eq 64 ]
	[[ "$output" == *"unknown option --no-such-option"* ]]
}

@test "a missing option argument is a usage error: 64" {
	run "$POSTIE" r@example.org -f </dev/null
	[ "$status" -eq 64 ]
	[[ "$output" == *"-f"*"argument"* ]]
}

@test "--help lists the options; --version names the libraries" {
	run "$POSTIE" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--read-envelope-from"* ]]
	[[ "$output" == *"-t, --read-recipients"* ]]
	run "$POSTIE" --version
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "postie "* ]]
	[[ "$output" == *GnuTLS* ]]
	[[ "$output" == *libidn2* ]]
	# the SASL mechanisms this build can use
	[[ "$output" == *$'\nAuthentication mechanisms: SCRAM-SHA-256-PLUS '*" PLAIN LOGIN "*" XOAUTH2 OAUTHBEARER"* ]]
}

@test "a bad option value is a usage error (64), not a configuration error" {
	run "$POSTIE" --tls=yes r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 64 ]
	[ "$output" = "postie: --tls: invalid tls 'yes' (on or off)" ]
	# the same without any configuration file
	rm "$HOME/.postierc"
	run "$POSTIE" --port=0 r@example.org </dev/null
	[ "$status" -eq 64 ]
	[[ "$output" == "postie: --port: "* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "--serverinfo with recipients is a usage error: 64" {
	run "$POSTIE" --serverinfo r@example.org
	[ "$status" -eq 64 ]
	[ "$output" = "postie: --serverinfo takes no recipients ('r@example.org' given; see postie --help)" ]
	! grep -q '^\* connect' "$SINK_DIR/session.log" 2>/dev/null || false
}

@test "-v names the account and file, and shows the header section sent, not the body" {
	run --separate-stderr "$POSTIE" -v r@example.org <<<$'Subject: hello\nX-Test: folded\n  line\n\nsecret body text'
	[ "$status" -eq 0 ]
	[[ $stderr == *"postie: using account 'default' from $HOME/.postierc"* ]]
	[[ $stderr == *$'postie: the header section to be sent:\npostie: | From: sender@example.org\n'* ]]
	[[ $stderr == *$'\npostie: | Subject: hello\npostie: | X-Test: folded\npostie: |   line\n'* ]]
	[[ $stderr != *"secret body text"* ]]
	# what was shown is what the server got
	grep -q $'^Subject: hello\r$' "$(sink_msg 1)"
}

@test "the log file gets msmtp's line format, success and failure" {
	write_config "logfile ~/postie.log"
	"$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	grep -Eq '^[A-Z][a-z]{2} [0-9]{2} [0-9:]{8} host=127.0.0.1 tls=off auth=off from=sender@example.org recipients=r@example.org mailsize=[0-9]+ smtpstatus=250 smtpmsg=.* exitcode=EX_OK$' "$HOME/postie.log"
	sink_stop
	run "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 75 ]
	tail -n 1 "$HOME/postie.log" | grep -Eq "errormsg='.*' exitcode=EX_TEMPFAIL$"
}

# last_log: the last line of ~/postie.log, after checking that each run
# so far wrote exactly one (the argument: how many runs).
last_log() {
	[ "$(wc -l <"$HOME/postie.log")" -eq "$1" ]
	tail -n 1 "$HOME/postie.log"
}

@test "failures before connecting are logged too, one line per run" {
	write_config "logfile ~/postie.log" "tls on" "auth on" "user me"
	# a recipient without a domain: 67
	run "$POSTIE" root <<<$'Subject: t\n\nx'
	[ "$status" -eq 67 ]
	last_log 1 | grep -Eq " host=127\.0\.0\.1 tls=on auth=on user=me from=sender@example\.org recipients=root errormsg='recipient .*root.* has no domain.*' exitcode=EX_NOUSER$"
	# empty input: 65
	run "$POSTIE" r@example.org </dev/null
	[ "$status" -eq 65 ]
	last_log 2 | grep -Eq " recipients=r@example\.org errormsg='empty message.*' exitcode=EX_DATAERR$"
	# -t and no recipient in the header: 65
	run "$POSTIE" -t <<<$'Subject: t\n\nx'
	[ "$status" -eq 65 ]
	last_log 3 | grep -Eq " recipients= errormsg='no recipients.*' exitcode=EX_DATAERR$"
	# the server is down: the account's settings, not the session's
	sink_stop
	run "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 75 ]
	last_log 4 | grep -Eq " host=127\.0\.0\.1 tls=on auth=on user=me .*exitcode=EX_TEMPFAIL$"
	[ "$(sink_count)" -eq 0 ]
}

@test "a configuration error found once the account is known is logged" {
	printf '%s\n' "account default" "logfile ~/postie.log" "from sender@example.org" >"$HOME/.postierc"
	run "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 78 ]
	last_log 1 | grep -Eq "errormsg='.*host.*' exitcode=EX_CONFIG$"
}

@test "a new log file is created private (0600): it holds addresses" {
	write_config "logfile ~/postie.log"
	umask 022
	"$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	[ "$(stat -c %a "$HOME/postie.log")" = 600 ]
}

@test "-X sets the log file from the command line" {
	"$POSTIE" -X "$HOME/x.log" r@example.org <<<$'Subject: t\n\nx'
	grep -q 'exitcode=EX_OK' "$HOME/x.log"
}

@test "syslog: one line per message at the chosen facility" {
	write_config "syslog LOG_MAIL"
	out="$BATS_TEST_TMPDIR/syslog.out"
	# A private /dev in a mount namespace, with a receiver on its /dev/log,
	# so syslog(3) talks to this test and to nothing on the machine.
	export -f wait_until
	unshare -m bash -ec '
		mount -t tmpfs postie-test /dev
		mknod -m 666 /dev/null c 1 3
		/usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(\"/dev/log\"); s.settimeout(10)
open(sys.argv[1], \"wb\").write(s.recv(65536))
" "$1" & rp=$!
		wait_until 10 test -S /dev/log
		printf "Subject: t\n\nx\n" | "$2" r@example.org
		wait $rp' sh "$out" "$POSTIE"
	# <22> = LOG_MAIL (2) * 8 + LOG_INFO (6)
	grep -Eq '^<22>.*postie\[[0-9]+\]: host=127.0.0.1 tls=off auth=off from=sender@example.org recipients=r@example.org mailsize=[0-9]+ .*exitcode=EX_OK' "$out"
	[ "$(sink_count)" -eq 1 ]
}
