#!/usr/bin/env bats
# The cron family as it really calls sendmail: Debian's vixie cron,
# cronie (crond and its -n SIGKILL), anacron and systemd-cron.  Each test
# gives postie the argv and the stdin that the caller's source builds
# (shared/CALLERS.md has the references) and checks what the server got.
#
# The setup is the "cron alerts" one: an account with from
# cron@host.example and an aliases file that maps root and the local
# users to admin@example.org.
load common
load callers

setup() {
	callers_setup
	KILL_PID=
}

teardown() {
	stop_pid "$KILL_PID"
	common_teardown
}

@test "Debian cron: -FCronDaemon -i -B8BITMIME -oem with MAILTO=a,b as one argument" {
	# config.h MAILARGS "%s -FCronDaemon -i -B8BITMIME -oem  %s", split on
	# blanks by cron_popen (no shell): MAILTO stays one argument.
	local mailto='ops@example.net,root'
	local argv=("$POSTIE" -FCronDaemon -i -B8BITMIME -oem "$mailto")
	{
		printf 'From: root (Cron Daemon)\n'
		printf 'To: %s\n' "$mailto"
		printf 'Subject: Cron <tester@box> /usr/local/bin/backup (failed)\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=UTF-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n'
		printf 'X-Cron-Env: <%s>\n' "MAILTO=$mailto" 'SHELL=/bin/sh' 'HOME=/home/tester' \
			'PATH=/usr/bin:/bin' 'LOGNAME=tester'
		printf '\n'
		printf 'backup: copying /srv\n.\n..hidden\n.dotfile\nr\xc3\xa9sum\xc3\xa9 \xe2\x82\xac 100%%\ntrailing blank \n\nrsync error: some files vanished (code 24)\n'
	} >"$IN"
	run "${argv[@]}" <"$IN"
	ran_ok
	check_message
	envelope_is cron@host.example ops@example.net admin@example.org
	# a From without a domain is rebuilt on the envelope sender; -F names it
	[ "$(hdr From)" = 'CronDaemon <cron@host.example>' ]
	[ "$(hdr To)" = "$mailto" ]
	[ "$(hdr Subject)" = 'Cron <tester@box> /usr/local/bin/backup (failed)' ]
	[ "$(hdr X-Cron-Env | wc -l)" -eq 5 ]
	[ "$(hdr Content-Transfer-Encoding)" = 8bit ]
	grep -qx 'MAIL FROM:<cron@host.example>.*BODY=8BITMIME.*' "$(sink_env 1)"
}

@test "Debian cron: no MAILTO mails the crontab owner, MAILFROM with a domain is kept" {
	# MAILTO unset: cron passes the user name; MAILFROM replaces "root (Cron Daemon)"
	local argv=("$POSTIE" -FCronDaemon -i -B8BITMIME -oem tester)
	{
		printf 'From: backup-jobs@host.example\n'
		printf 'To: tester\n'
		printf 'Subject: Cron <tester@box> df -h /\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=UTF-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n'
		printf 'X-Cron-Env: <%s>\n' 'MAILFROM=backup-jobs@host.example' 'SHELL=/bin/sh' \
			'HOME=/home/tester' 'PATH=/usr/bin:/bin' 'LOGNAME=tester'
		printf '\nFilesystem      Size  Used Avail Use%% Mounted on\n/dev/sda1        20G   19G  1.0G  95%% /\n'
	} >"$IN"
	run "${argv[@]}" <"$IN"
	ran_ok
	check_message
	# no -f: the envelope is the account's; the From already has a domain
	envelope_is cron@host.example admin@example.org
	[ "$(hdr From)" = 'backup-jobs@host.example' ]
	[ "$(hdr To)" = tester ]
}

# cronie's MAILFMT "%s -FCronDaemon -i -odi -oem -oi -t -f %s" (configure.ac),
# split on blanks by cron_popen; the -f argument is MAILFROM or the user name.
cronie_message() {
	local from="$1"
	printf 'From: "(Cron Daemon)" <%s>\n' "$from"
	printf 'To: root\n'
	printf 'Subject: Cron <root@box> run-parts /etc/cron.hourly\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=UTF-8\n'
	printf 'Auto-Submitted: auto-generated\n'
	printf 'Precedence: bulk\n'
	printf 'X-Cron-Env: <%s>\n' 'XDG_SESSION_ID=7' 'SHELL=/bin/sh' 'PATH=/usr/bin:/bin' \
		'MAILTO=root' 'LOGNAME=root' 'USER=root' 'HOME=/root'
	printf '\n/etc/cron.hourly/0anacron:\nanacron: Can'"'"'t chdir to /var/spool/anacron\n.\nend of output\n'
}

@test "cronie: -FCronDaemon -i -odi -oem -oi -t -f USER with an unqualified From" {
	# Without MAILFROM, cronie passes the bare user name to -f: it cannot be an
	# envelope sender, so the account's from is used.
	local argv=("$POSTIE" -FCronDaemon -i -odi -oem -oi -t -f root)
	cronie_message root >"$IN"
	run "${argv[@]}" <"$IN"
	ran_ok
	check_message
	envelope_is cron@host.example admin@example.org
	[ "$(hdr From)" = 'CronDaemon <cron@host.example>' ]
	[ "$(hdr To)" = root ]
	[ "$(hdr Precedence)" = bulk ]
}

@test "cronie: MAILFROM with a domain is the envelope sender and the From is kept" {
	local argv=("$POSTIE" -FCronDaemon -i -odi -oem -oi -t -f cron-jobs@host.example)
	cronie_message cron-jobs@host.example >"$IN"
	run "${argv[@]}" <"$IN"
	ran_ok
	check_message
	envelope_is cron-jobs@host.example admin@example.org
	[ "$(hdr From)" = '"(Cron Daemon)" <cron-jobs@host.example>' ]
}

# pipe_bytes FIFO: bytes waiting in the FIFO (FIONREAD on a second opening).
pipe_bytes() {
	/usr/bin/python3 -c 'import fcntl, os, struct, sys, termios
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NONBLOCK)
print(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])' "$1"
}

# pipe_empty FIFO: no bytes wait in the FIFO.
pipe_empty() { [ "$(pipe_bytes "$1")" -eq 0 ]; }

@test "cronie -n: SIGKILL before EOF sends nothing and leaves no spool file" {
	# crond -n kills the mailer when the job succeeded (src/popen.c
	# cron_pabort): nothing may reach the server before end of input.
	local fifo="$BATS_TEST_TMPDIR/stdin.fifo" w fd spool=
	local argv=("$POSTIE" -FCronDaemon -i -odi -oem -oi -t -f root)
	mkfifo "$fifo"
	"${argv[@]}" <"$fifo" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	KILL_PID=$!
	exec {w}>"$fifo"
	cronie_message root | head -c 300 >&"$w"
	# wait until postie has taken the half message out of the pipe
	wait_until 5 pipe_empty "$fifo"
	# it is still running, spooling into an unlinked file in $TMPDIR
	kill -0 "$KILL_PID"
	for fd in /proc/"$KILL_PID"/fd/*; do
		case "$(readlink "$fd")" in "$TMPDIR"/postie.*) spool=$fd ;; esac
	done
	echo "spool: $spool"
	[ -n "$spool" ]
	kill -KILL "$KILL_PID"
	wait "$KILL_PID" || true
	KILL_PID=
	exec {w}>&-
	[ "$(sink_count)" -eq 0 ]
	! grep -q '^C: MAIL' "$SINK_DIR/session.log" || false
	! ls "$TMPDIR"/postie.* 2>/dev/null || false
}

@test "anacron: -FAnacron -odi MAILTO, no -i: a lone dot line does not end the message" {
	# runjob.c: execl(SENDMAIL, SENDMAIL, "-FAnacron", "-odi", mailto, NULL)
	local argv=("$POSTIE" -FAnacron -odi root)
	{
		printf 'From: Anacron <root>\n'
		printf 'To: root\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset="UTF-8"\n'
		printf 'Content-Transfer-Encoding: 8bit\n'
		printf "Subject: Anacron job 'cron.daily' on box\n"
		printf '\n'
		printf '/etc/cron.daily/logrotate:\nerror: skipping "/var/log/app.log"\n.\nafter the lone dot\n.\n'
	} >"$IN"
	run "${argv[@]}" <"$IN"
	ran_ok
	check_message
	envelope_is cron@host.example admin@example.org
	[ "$(hdr From)" = 'Anacron <cron@host.example>' ]
	[ "$(hdr Subject)" = "Anacron job 'cron.daily' on box" ]
}

@test "systemd-cron: sendmail -i -B8BITMIME MAILTO found on PATH, message from MIMEText" {
	# lib/systemd-cron/mail_on_failure: email.mime.text.MIMEText with Date,
	# From "root (systemd-cron)", To, Subject, Auto-Submitted, then
	# subprocess.run(['sendmail', '-i', '-B8BITMIME', mailto], input=bytes).
	local bin="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$bin"
	ln -s "$POSTIE" "$bin/sendmail"
	run env PATH="$bin:$PATH" /usr/bin/python3 - "$IN" <<'EOF'
import email.mime.text, email.utils, subprocess, sys
status = ('\u00d7 cron-backup-root-0.service - [Cron] "0 3 * * * root /usr/local/bin/backup"\n'
          '     Loaded: loaded (/etc/crontab; generated)\n'
          '     Active: failed (Result: exit-code) since Sun 2026-11-22 03:00:05 UTC\n'
          '.\n'
          'Nov 22 03:00:05 box backup[812]: disk full\n')
m = email.mime.text.MIMEText(_text=status)
m['Date'] = email.utils.formatdate()
m['From'] = 'root' + ' (systemd-cron)'
m['To'] = 'root'
m['Subject'] = '[box] job cron-backup-root-0.service failed'
m['Auto-Submitted'] = 'auto-generated'
data = m.as_bytes()
open(sys.argv[1], 'wb').write(data)
sys.exit(subprocess.run(['sendmail', '-i', '-B8BITMIME', 'root'], input=data).returncode)
EOF
	ran_ok
	check_message
	envelope_is cron@host.example admin@example.org
	[ "$(hdr From)" = 'systemd-cron <cron@host.example>' ]
	# the caller's Date is kept, not replaced
	[ "$(hdr Date)" = "$(sed -n 's/^Date: //p' "$IN")" ]
	[ "$(hdr Content-Transfer-Encoding)" = base64 ]
}
