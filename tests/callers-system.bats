#!/usr/bin/env bats
# System programs as they really call sendmail: sudo, mdadm --monitor,
# logwatch, fail2ban, unattended-upgrades and PHP's mail().  Each test
# gives postie the argv and the stdin that the caller's source builds
# (shared/CALLERS.md has the references), through sh where the caller
# uses popen(), and checks what the server got.  PHP runs for real.
#
# The setup is the "cron alerts" one: an account with from
# cron@host.example and an aliases file that maps root and the local
# users to admin@example.org.
load common
load callers

setup() {
	callers_setup
	WANT="$BATS_TEST_TMPDIR/want-body"
}

teardown() { common_teardown; }


@test "sudo: mailerpath with -t by execve, environment HOME=/ PATH LOGNAME USER only" {
	# lib/eventlog/eventlog.c: exec_mailer() runs execve(mailerpath,
	# {"sendmail", "-t"}, {HOME=/, PATH=..., LOGNAME=root, USER=root});
	# send_mail() writes To, From (the invoking user), Auto-Submitted,
	# Subject, the charset headers, then "host : time : user : logline".
	# With HOME=/ only the system file applies: POSTIE_SYSTEM_CONFIG stands in
	# for /etc/postierc.
	local sysconf="$BATS_TEST_TMPDIR/postierc.system"
	sed "s#~/aliases#$HOME/aliases#" "$HOME/.postierc" >"$sysconf"
	rm "$HOME/.postierc"
	{
		printf 'To: root\nFrom: tester\nAuto-Submitted: auto-generated\n'
		printf 'Subject: *** SECURITY information for box ***\n'
		printf 'Content-Type: text/plain; charset="UTF-8"\nContent-Transfer-Encoding: 8bit\n'
		printf '\nbox : Nov 22 21:00:00 : tester : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/tester ; USER=root ; COMMAND=/usr/bin/id\n\n'
	} >"$IN"
	run /usr/bin/python3 -c 'import os, sys
os.execve(sys.argv[1], ["sendmail", "-t"], {"HOME": "/", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
          "LOGNAME": "root", "USER": "root", "POSTIE_SYSTEM_CONFIG": sys.argv[2]})' "$POSTIE" "$sysconf" <"$IN"
	ran_ok
	check_message
	envelope_is cron@host.example admin@example.org
	# "From: tester" has no domain and no name: the envelope sender replaces it
	[ "$(hdr From)" = cron@host.example ]
	[ "$(hdr To)" = root ]
	[ "$(hdr Subject)" = '*** SECURITY information for box ***' ]
}

# mdadm_message FROM: what send_event_email() writes (mdmonitor.c) for a
# DegradedArray event, then /proc/mdstat as read.  The mdstat stand-in has
# a line with a single dot: mdadm gives no -i, so it must not end input.
mdadm_message() {
	printf 'From: %s\n' "$1"
	printf 'To: root\n'
	printf 'Subject: DegradedArray event on /dev/md0:box\n\n'
	printf 'This is an automatically generated mail message.\n'
	printf 'DegradedArray event detected on md device /dev/md0\n'
	printf 'The /proc/mdstat file currently contains the following:\n\n'
	printf 'Personalities : [raid1] [linear] [multipath] [raid0] [raid6] [raid5] [raid4] [raid10] \n'
	printf 'md0 : active raid1 sda1[0]\n      976630464 blocks super 1.2 [2/1] [U_]\n'
	printf '      bitmap: 3/8 pages [12KB], 65536KB chunk\n.\n\nunused devices: <none>\n'
}

@test "mdadm --monitor: popen(\"sendmail -t\"), From mdadm monitoring <root>, no -i" {
	mdadm_message 'mdadm monitoring <root>' >"$IN"
	run sh -c "'$POSTIE' -t" <"$IN"
	ran_ok
	check_message
	envelope_is cron@host.example admin@example.org
	[ "$(hdr From)" = 'mdadm monitoring <cron@host.example>' ]
	[ "$(hdr Subject)" = 'DegradedArray event on /dev/md0:box' ]
}

@test "mdadm --monitor with MAILFROM: popen(\"sendmail -t -fADDR\"), the -f attached" {
	# send_event_email(): snprintf(cmd, "%s -f%s", Sendmail, info.mailfrom)
	# and "From: MAILFROM"
	mdadm_message raid@host.example >"$IN"
	run sh -c "'$POSTIE' -t -fraid@host.example" <"$IN"
	ran_ok
	check_message
	envelope_is raid@host.example admin@example.org
	[ "$(hdr From)" = raid@host.example ]
}

@test "logwatch: sendmail -t, one To line per recipient, From: Logwatch, no -i" {
	# /usr/sbin/logwatch initprint(): open(OUTFILE, "|$Config{mailer}") with
	# mailer "/usr/sbin/sendmail -t"; MailTo "root ops@example.net" is split
	# on blanks into one To line each; MailFrom defaults to "Logwatch".
	{
		printf 'To: root\nTo: ops@example.net\nFrom: Logwatch\n'
		printf 'Subject: Logwatch for box (Linux)\n'
		printf 'Auto-Submitted: auto-generated\nPrecedence: bulk\n'
		printf 'MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n'
		printf 'Content-Type: text/plain; charset="UTF-8"\n\n'
		printf '\n ################### Logwatch 7.7 (07/22/22) #################### \n'
		printf '        Processing Initiated: Sun Nov 22 06:25:01 2026\n'
		printf '        Date Range Processed: yesterday\n\n'
		printf ' --------------------- Disk Space Begin ------------------------ \n\n'
		printf ' Filesystem      Size  Used Avail Use%% Mounted on\n /dev/sda1        20G   19G  1.0G  95%% /\n\n'
		printf ' ---------------------- Disk Space End ------------------------- \n\n'
		printf '\n ###################### Logwatch End ######################### \n\n'
	} >"$IN"
	run "$POSTIE" -t <"$IN"
	ran_ok
	check_message
	envelope_is cron@host.example admin@example.org ops@example.net
	# a bare word is an address without a domain, not a name
	[ "$(hdr From)" = cron@host.example ]
	[ "$(hdr To | tr '\n' ' ')" = 'root ops@example.net ' ]
	[ "$(hdr Precedence)" = bulk ]
}

@test "fail2ban: printf %b ... | sendmail -f SENDER DEST through sh, Date from date(1)" {
	# action.d/sendmail.conf actionban with sendmail-common.conf's mailcmd
	# and jail.conf's defaults (destemail root@localhost, sender
	# root@<fq-hostname>), continuation lines joined as fail2ban does.
	local cmd
	cmd=$(cat <<'EOC'
printf %b "Subject: [Fail2Ban] sshd: banned 192.0.2.7 from host.example
Date: `LC_ALL=C date +"%a, %d %h %Y %T %z"`
From: Fail2Ban <root@host.example>
To: root@localhost\n
Hi,\n
The IP 192.0.2.7 has just been banned by Fail2Ban after
5 attempts against sshd.\n
Regards,\n
Fail2Ban" | SENDMAIL -f "root@host.example" "root@localhost"
EOC
	)
	cmd=${cmd/SENDMAIL/"'$POSTIE'"}
	run sh -c "$cmd"
	ran_ok
	# the last line has no line end: postie adds one
	printf 'Hi,\n\nThe IP 192.0.2.7 has just been banned by Fail2Ban after\n5 attempts against sshd.\n\nRegards,\n\nFail2Ban' >"$WANT"
	check_message "$WANT"
	# root@localhost is a local name: the aliases file maps it
	envelope_is root@host.example admin@example.org
	# a From with a domain is kept as it is, and so is the caller's Date
	[ "$(hdr From)" = 'Fail2Ban <root@host.example>' ]
	[[ $(hdr Date) =~ ^[A-Z][a-z]{2},\ [0-9]{2}\ [A-Z][a-z]{2}\ [0-9]{4}\ [0-9]{2}:[0-9]{2}:[0-9]{2}\ [+-][0-9]{4}$ ]]
	[ "$(hdr To)" = root@localhost ]
}

@test "unattended-upgrades: [sendmail, -oi, -t] with an email.message quoted-printable body" {
	# /usr/bin/unattended-upgrade _send_mail_using_sendmail(): Message() with
	# Subject, From (Unattended-Upgrade::Sender, default "root"), To,
	# Auto-Submitted, a utf-8 QP payload, written as text to
	# subprocess.Popen([SENDMAIL_BINARY, "-oi", "-t"]).
	run /usr/bin/python3 - "$POSTIE" "$IN" <<'PY'
import email.charset, subprocess, sys
from email.message import Message
body = ('Unattended upgrade result: All upgrades installed\n\n'
        'Warning: A reboot is required to complete this upgrade, or a previous one.\n\n'
        'Packages that were upgraded:\n libc-bin libc6 linux-image-amd64 openssl\n\n'
        'Unattended-upgrades log:\nStarting unattended upgrades script\n'
        'Allowed origins are: origin=Debian,codename=bookworm,label=Debian-Security\n'
        'Paquets mis \u00e0 jour : 4 \u2013 r\u00e9sum\u00e9 = ok\n.\nAll upgrades installed\n')
msg = Message()
msg['Subject'] = '[reboot required] unattended-upgrades result for box: SUCCESS'
msg['From'] = 'root'
msg['To'] = 'root'
msg['Auto-Submitted'] = 'auto-generated'
charset = email.charset.Charset('utf-8')
charset.body_encoding = email.charset.QP
msg.set_payload(body, charset)
text = msg.as_string()
open(sys.argv[2], 'w').write(text)
p = subprocess.Popen([sys.argv[1], '-oi', '-t'], stdin=subprocess.PIPE, universal_newlines=True)
p.stdin.write(text)
p.stdin.close()
sys.exit(p.wait())
PY
	ran_ok
	check_message
	envelope_is cron@host.example admin@example.org
	[ "$(hdr From)" = cron@host.example ]
	[ "$(hdr Content-Transfer-Encoding)" = quoted-printable ]
	[ "$(hdr Auto-Submitted)" = auto-generated ]
}

# php_mail CODE: run PHP's mail() for real with sendmail_path
# $PHP_SENDMAIL_PATH (PHP popen()s it through sh); PHP 8 writes CRLF.
php_mail() {
	command -v php >/dev/null || {
		echo "php is missing: apt-get install -y --no-install-recommends php-cli"
		return 1
	}
	# double quotes: unquoted, php.ini syntax would take | as an operator
	run php -d "sendmail_path=\"$PHP_SENDMAIL_PATH\"" -d mail.add_x_header=0 -r "$1"
	echo "php: $output"
}

@test "PHP mail(): sendmail_path \"sendmail -t -i\", CRLF headers, Bcc in the extra headers" {
	# tee keeps a copy of what PHP wrote, to check that it really is CRLF
	PHP_SENDMAIL_PATH="tee '$IN' | '$POSTIE' -t -i"
	php_mail 'var_dump(mail("root, ops@example.net", "Disk usage on box",
		"Hello,\n.\nThe disk is 91% full.\nr\u{e9}sum\u{e9}",
		"Cc: cc@example.net\r\nBcc: audit@example.net\r\nX-Mailer: PHP/" . PHP_VERSION));'
	[ "$output" = 'bool(true)' ]
	grep -q $'^To: root, ops@example.net\r$' "$IN"
	grep -q $'^Bcc: audit@example.net\r$' "$IN"
	# the message as given, then PHP's CRLF
	printf 'Hello,\n.\nThe disk is 91%% full.\nr\xc3\xa9sum\xc3\xa9\r\n' >"$WANT"
	check_message "$WANT"
	envelope_is cron@host.example admin@example.org ops@example.net cc@example.net audit@example.net
	# no From from the script: one is added from the envelope sender
	[ "$(hdr From)" = cron@host.example ]
	[ "$(hdr To)" = 'root, ops@example.net' ]
	[ "$(hdr Cc)" = cc@example.net ]
	! grep -q audit "$(sink_msg 1)" || false
}

@test "PHP mail() with the fifth argument -fsender@example.org" {
	PHP_SENDMAIL_PATH="'$POSTIE' -t -i"
	php_mail 'var_dump(mail("root", "Backup done", "All 3 jobs finished.\n", "From: Backup <sender@example.org>", "-fsender@example.org"));'
	[ "$output" = 'bool(true)' ]
	printf 'All 3 jobs finished.\n\r\n' >"$WANT"
	check_message "$WANT"
	# -f sets the envelope (allow_from_override is on by default)
	envelope_is sender@example.org admin@example.org
	[ "$(hdr From)" = 'Backup <sender@example.org>' ]
}
