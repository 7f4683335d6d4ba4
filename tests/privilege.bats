#!/usr/bin/env bats
# System-wide use through a setgid postie (postie(1), SYSTEM-WIDE USE):
# /etc/postierc root:postie 0640 holds a password, postie is setgid
# postie, and a user who is not in the group sends through the system
# account without being able to get the password out of postie.
#
# Everything runs in one throwaway overlay of / (tests/sysroot.bash):
# group postie, the users alice (not in it) and bob (in it), /etc/postierc
# and the setgid copy /usr/local/bin/postie-test exist only in there. The
# test servers (tests/sink.bash) run outside; the overlay shares the
# network, so postie reaches them on 127.0.0.1.
load common
load sysroot
bats_require_minimum_version 1.5.0

# The system account's password, which the relay sink wants from user relay.
SYSPW='Sys-Pa55:w0rd'
MSG=$'Subject: system mail\n\nbody\n'

setup_file() {
	BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR sysroot_start
	export SYSROOT SYSROOT_PID
	sysroot_run sh -ec '
		groupadd --system postie
		useradd -m -s /bin/sh alice
		useradd -m -s /bin/sh -G postie bob
		echo relay.example >/etc/mailname'
	sysroot_copy "$POSTIE" /usr/local/bin/postie-test
	sysroot_copy "$POSTIE" /usr/local/bin/postie-plain
	sysroot_run sh -ec '
		chown root:postie /usr/local/bin/postie-test
		chmod 2755 /usr/local/bin/postie-test
		chmod 0755 /usr/local/bin/postie-plain'
	# probe WHAT TEXT: what a command run by postie sees into
	# /tmp/probe-WHAT.*: its groups, whether it can read /etc/postierc, and
	# the ids of the postie process that runs it (a shell that gives up
	# a setgid group by itself, as dash and bash do, would hide them);
	# prints TEXT
	sysroot_run sh -c 'cat >/usr/local/bin/probe && chmod 755 /usr/local/bin/probe' <<-'EOF'
		#!/bin/sh
		id -G >"/tmp/probe-$1.groups"
		cat /etc/postierc >"/tmp/probe-$1.cat" 2>&1
		p=$$
		while [ "$p" -gt 1 ]; do
			p=$(awk '$1 == "PPid:" { print $2 }' "/proc/$p/status")
			if [ "$(cat "/proc/$p/comm")" = postie-test ]; then
				grep -E '^(Uid|Gid|Groups):' "/proc/$p/status" >"/tmp/probe-$1.postie"
				break
			fi
		done
		echo "$2"
	EOF
	POSTIE_GID=$(sysroot_run getent group postie | cut -d: -f3)
	export POSTIE_GID
}

teardown_file() { sysroot_stop; }

setup() {
	export TMPDIR="$BATS_TEST_TMPDIR"
	OTHER_PID=
	sysroot_run sh -c 'rm -rf /etc/postierc /tmp/probe-* /tmp/priv.log /var/spool/postie \
		/home/alice/.postierc /home/alice/*.rc /home/alice/.local /home/bob/.local'
}

teardown() {
	sink_stop
	stop_pid "$OTHER_PID"
}

# as USER CMD...: CMD in the overlay as USER (real ids, USER's groups) with
# USER's HOME; stdin is passed on.
as() {
	local u=$1
	shift
	sysroot_run HOME="/home/$u" USER="$u" LOGNAME="$u" \
		setpriv --reuid="$u" --regid="$u" --init-groups "$@"
}

# relay_start [smtpsink options]: the server of the system account; it
# takes AUTH PLAIN from user relay with $SYSPW only.
relay_start() { sink_start --auth PLAIN --auth-user relay --auth-password "$SYSPW" "$@"; }

# other_start: a second server, which would take the same login: a
# password sent to it would show in $OTHER_DIR/session.log.
other_start() {
	local dir=$SINK_DIR port=$SINK_PORT pid=$SINK_PID
	BATS_TEST_TMPDIR="$BATS_TEST_TMPDIR/other" \
		sink_start --auth PLAIN --auth-user relay --auth-password "$SYSPW"
	OTHER_DIR=$SINK_DIR OTHER_PORT=$SINK_PORT OTHER_PID=$SINK_PID
	SINK_DIR=$dir SINK_PORT=$port SINK_PID=$pid
}

# no_connection DIR: nothing connected to the sink that records in DIR.
no_connection() {
	! grep -qs '^\* connect' "$1/session.log" || { echo "a connection reached $1" >&2; return 1; }
}

# system_file [lines]: /etc/postierc, root:postie 0640: account default
# (the relay with its password, from %U@%M), then the lines.
system_file() {
	{
		printf '%s\n' defaults "timeout 30" "domain client.example" "auth_without_tls on" \
			"account default" "host 127.0.0.1" "port $SINK_PORT" "tls off" "auth plain" \
			"user relay" "password $SYSPW" "from %U@%M"
		printf '%s\n' "$@"
	} | sysroot_run sh -c 'cat >/etc/postierc && chown root:postie /etc/postierc && chmod 0640 /etc/postierc'
}

# user_file USER NAME [lines]: /home/USER/NAME, USER's, mode 0600.
user_file() {
	local u=$1 f=$2
	shift 2
	printf '%s\n' "$@" | as "$u" sh -c "umask 077 && cat >\"\$HOME/$f\""
}

# send USER [postie args]: $MSG to r@example.org through postie-test as USER.
send() {
	local u=$1
	shift
	run --separate-stderr as "$u" postie-test "$@" r@example.org <<<"$MSG"
}

@test "a user not in group postie sends through the system account with its password, and cannot read the file" {
	relay_start
	system_file
	run as alice cat /etc/postierc
	[ "$status" -ne 0 ]
	[ "$output" = "cat: /etc/postierc: Permission denied" ]
	send alice
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(cat "$SINK_DIR/msg-1.auth")" = "PLAIN relay" ]
	# the sink saw the system password: AUTH used it
	grep -qxF "* sasl C: \\x00relay\\x00$SYSPW" "$SINK_DIR/session.log"
	# %U is the caller, whatever USER says; %M is /etc/mailname
	grep -q '^MAIL FROM:<alice@relay.example> ' "$(sink_env 1)"
}

@test "without setgid, a user gets one line that says why and how (77)" {
	relay_start
	system_file
	run --separate-stderr as alice postie-plain r@example.org <<<"$MSG"
	[ "$status" -eq 77 ]
	[ "$stderr" = "postie: cannot open /etc/postierc: Permission denied (it is for root and group postie; to let other users send through it, install postie setgid postie: see SYSTEM-WIDE USE in postie(1))" ]
	no_connection "$SINK_DIR"
}

@test "--pretend, -v and the log file never show the system password or its command" {
	relay_start
	system_file "logfile /tmp/priv.log" "account viaeval : default" "password" \
		"passwordeval \"echo $SYSPW\""
	run --separate-stderr as alice postie-test --pretend
	[ "$status" -eq 0 ]
	grep -qx 'password = \*' <<<"$output"
	[[ $output != *"$SYSPW"* ]]
	run --separate-stderr as alice postie-test --pretend -a viaeval
	[ "$status" -eq 0 ]
	grep -qx 'passwordeval = \*' <<<"$output"
	[[ $output != *"$SYSPW"* ]]
	# root may read the file: it sees the command
	run --separate-stderr sysroot_run postie-test --pretend -a viaeval
	grep -qxF "passwordeval = echo $SYSPW" <<<"$output"
	send alice -v
	[ "$status" -eq 0 ]
	grep -qxF -- '--> AUTH PLAIN [redacted]' <<<"$stderr"
	local b64
	b64=$(printf '\0relay\0%s' "$SYSPW" | base64)
	[[ $stderr != *"$SYSPW"* && $stderr != *"$b64"* ]]
	run sysroot_run cat /tmp/priv.log
	[[ $output == *"host=127.0.0.1 tls=off auth=on user=relay from=alice@relay.example"* ]]
	[[ $output != *"$SYSPW"* && $output != *"$b64"* ]]
}

# One value for each option that sets a keyword: sealed ones would send
# the password elsewhere or with less protection; the others may change.
declare -gA VALUE=(
	[delivery]=mx [port]=OTHER [source-ip]=127.0.0.2 [proxy-host]=127.0.0.1 [proxy-port]=1080
	[socket]=/tmp/other.sock [timeout]=10 [protocol]=lmtp [domain]=other.example
	[auth]=login [user]=other [passwordeval]="echo guess" [auth-without-tls]=off [tls]=on
	[tls-starttls]=off [tls-trust-file]=/etc/hostname [tls-crl-file]=/etc/hostname
	[tls-fingerprint]=00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF
	[tls-key-file]=/etc/hostname [tls-cert-file]=/etc/hostname [tls-certcheck]=off
	[tls-priorities]=NORMAL [tls-host-override]=other.example [tls-min-dh-prime-bits]=512
	[dsn-notify]=failure [dsn-return]=full [set-from-header]=on [set-date-header]=off
	[set-msgid-header]=off [set-to-header]=on [remove-bcc-headers]=off
	[undisclosed-recipients]=on [logfile]=/tmp/other.log [logfile-time-format]=%s
	[syslog]=LOG_MAIL [aliases]=/etc/hostname [auto-from]=off [maildomain]=other.example
)

# sealed_keywords: the keywords postie.1's SYSTEM-WIDE USE lists as deciding
# where the secret goes, one a line.
sealed_keywords() {
	sed -n '/^These settings decide where the secret goes/,/^\.PP/p' "$DOCDIR/postie.1" |
		awk '$1 == ".BR" || $1 == ".B" { print $2 }' | tr -d ',.'
}

@test "every option that would send the system password elsewhere is refused (77), as postie.1 lists; the others work" {
	relay_start
	other_start
	system_file
	local sealed n=0 opt key val line
	sealed=$(sealed_keywords)
	[ "$(wc -l <<<"$sealed")" -ge 25 ]
	while read -r opt key; do
		[[ -v VALUE[$opt] ]] || { echo "no test value for --$opt: add it to VALUE" >&2; return 1; }
		val=${VALUE[$opt]/OTHER/$OTHER_PORT}
		run --separate-stderr as alice postie-test --pretend "--$opt=$val"
		# obsolete spellings set their target keyword
		[[ $key == undisclosed_recipients ]] && key=set_to_header
		if grep -qx "$key" <<<"$sealed"; then
			line="postie: account 'default' has its password from /etc/postierc, which you cannot read; --$opt may not change where it is sent or what protects it ($key)"
			[ "$status" -eq 77 ] || { echo "--$opt=$val: status $status: $stderr" >&2; return 1; }
			[ "$stderr" = "$line" ] || { echo "--$opt: $stderr" >&2; return 1; }
			n=$((n + 1))
		else
			[ "$status" -eq 0 ] || { echo "--$opt=$val refused: $status $stderr" >&2; return 1; }
		fi
	done < <("$POSTIE" --dump-keywords | awk -F '\t' '$1 == "option" && $2 != "" && $6 != "" { print $2, $6 }')
	echo "$n sealed options"
	[ "$n" -ge 20 ]
	# sending, not only --pretend: nothing reaches either server
	for opt in "--port=$OTHER_PORT" --tls-certcheck=off --auth=login "--user=other"; do
		send alice "$opt"
		[ "$status" -eq 77 ]
		[[ $stderr == "postie: account 'default' has its password from /etc/postierc, which you cannot read; ${opt%%=*} may not change where it is sent or what protects it ("*")" ]]
	done
	no_connection "$OTHER_DIR"
	no_connection "$SINK_DIR"
	# the value the file has is no change
	send alice "--port=$SINK_PORT" --timeout=20 --domain=mine.example
	[ "$status" -eq 0 ]
	[ "$(cat "$SINK_DIR/msg-1.auth")" = "PLAIN relay" ]
}

@test "the user's own files and --host cannot take the system password elsewhere" {
	relay_start
	other_start
	system_file
	# -C: an account of the user's own that inherits the system account:
	# inheritance is within one file, so there is none to inherit
	user_file alice own.rc "account mine : default" "host 127.0.0.1" "port $OTHER_PORT"
	send alice -C /home/alice/own.rc -a mine
	[ "$status" -eq 78 ]
	[ "$stderr" = "postie: ~/own.rc:1: account 'default' is not defined (yet)" ]
	# ~/.postierc: the user's account default replaces the system one as a
	# whole, password included: it reaches the other server without AUTH
	user_file alice .postierc "account default" "host 127.0.0.1" "port $OTHER_PORT" \
		"from alice@example.org" "tls off"
	send alice
	[ "$status" -eq 0 ]
	[ "$(cat "$OTHER_DIR/msg-1.auth")" = none ]
	# --host reads no file: no account, no password
	as alice rm /home/alice/.postierc
	send alice --host=127.0.0.1 "--port=$OTHER_PORT" -f alice@example.org --tls=off
	[ "$status" -eq 0 ]
	[ "$(cat "$OTHER_DIR/msg-2.auth")" = none ]
	! grep -qF "$SYSPW" "$OTHER_DIR/session.log"
	! grep -q '^C: AUTH' "$OTHER_DIR/session.log"
	no_connection "$SINK_DIR"
}

@test "the user's own account and password in their own file work, with the usual permission check" {
	sink_start --auth PLAIN --auth-user alice --auth-password alicepw
	system_file
	user_file alice .postierc "account mine" "host 127.0.0.1" "port $SINK_PORT" "tls off" \
		"auth plain" "auth_without_tls on" "user alice" "password alicepw" "from alice@example.org"
	send alice -a mine
	[ "$status" -eq 0 ]
	[ "$(cat "$SINK_DIR/msg-1.auth")" = "PLAIN alice" ]
	as alice chmod 644 /home/alice/.postierc
	send alice -a mine
	[ "$status" -eq 78 ]
	[ "$stderr" = "postie: ~/.postierc: contains a password but is accessible by others (chmod 600 ~/.postierc)" ]
}

@test "eval and passwordeval run without the postie group, in the user's files and in the system file" {
	sink_start --auth PLAIN --auth-user alice --auth-password alicepw
	system_file "eval probe system 'domain client.example'"
	user_file alice .postierc "account mine" "host 127.0.0.1" "port $SINK_PORT" "tls off" \
		"auth plain" "auth_without_tls on" "user alice" "from alice@example.org" \
		"eval probe user 'timeout 30'" "passwordeval \"probe pw alicepw\""
	send alice -a mine
	[ "$status" -eq 0 ]
	[ "$(cat "$SINK_DIR/msg-1.auth")" = "PLAIN alice" ]
	local w groups ids
	for w in system user pw; do
		groups=$(sysroot_run cat "/tmp/probe-$w.groups")
		ids=$(sysroot_run cat "/tmp/probe-$w.postie")
		echo "$w: groups $groups; postie: $ids (group postie is $POSTIE_GID)"
		[ -n "$groups" ]
		! grep -qw "$POSTIE_GID" <<<"$groups"
		[ "$(sysroot_run cat "/tmp/probe-$w.cat")" = "cat: /etc/postierc: Permission denied" ]
		# postie itself: real, effective, saved and file system group ids
		[ "$(grep -c '^Gid:' <<<"$ids")" -eq 1 ]
		! grep -E '^(Gid|Groups):' <<<"$ids" | grep -qw "$POSTIE_GID"
	done
}

@test "an eval line of the system file may not decide where the password goes for a user; root may use it" {
	relay_start
	system_file "account viaeval : default" "eval echo host 127.0.0.1"
	send alice -a viaeval
	[ "$status" -eq 77 ]
	[ "$stderr" = "postie: account 'viaeval': its password comes from /etc/postierc, which you cannot read, and an eval line there, which runs as you, sets host; refusing to let it decide where the password goes" ]
	no_connection "$SINK_DIR"
	run --separate-stderr sysroot_run postie-test -a viaeval r@example.org <<<"$MSG"
	[ "$status" -eq 0 ]
	[ "$(cat "$SINK_DIR/msg-1.auth")" = "PLAIN relay" ]
}

@test "OAuth2 with a client secret from the system file is refused for a user: its tokens would be the user's" {
	relay_start
	system_file "account oauth" "host 127.0.0.1" "port $SINK_PORT" "oauth_provider custom" \
		"oauth_client_id postie-test" "oauth_client_secret $SYSPW" "oauth_flow client_credentials" \
		"oauth_token_url https://127.0.0.1:1/token" "oauth_scope smtp" "from a@example.org"
	local line="postie: account 'oauth': its OAuth2 client secret comes from /etc/postierc, which you cannot read, but OAuth2 tokens would be kept in your files; only root and the file's group may use it"
	run --separate-stderr as alice postie-test -a oauth --oauth-token
	[ "$status" -eq 77 ]
	[ "$stderr" = "$line" ]
	[ -z "$output" ]
	send alice -a oauth
	[ "$status" -eq 77 ]
	[ "$stderr" = "$line" ]
	no_connection "$SINK_DIR"
	# --pretend shows the account, the secret masked
	run --separate-stderr as alice postie-test -a oauth --pretend
	[ "$status" -eq 0 ]
	grep -qx 'oauth_client_secret = \*' <<<"$output"
}

@test "a setgid start ignores POSTIE_SYSTEM_CONFIG, POSTIE_MAILNAME_FILE and USER" {
	relay_start
	other_start
	system_file
	user_file alice fake.rc "account default" "host 127.0.0.1" "port $OTHER_PORT"
	printf 'evil.example\n' | as alice sh -c 'cat >/home/alice/mailname'
	run --separate-stderr as alice env POSTIE_SYSTEM_CONFIG=/home/alice/fake.rc \
		POSTIE_MAILNAME_FILE=/home/alice/mailname USER=root LOGNAME=root postie-test --pretend
	[ "${lines[0]}" = "loaded system configuration file /etc/postierc" ]
	run --separate-stderr as alice env POSTIE_SYSTEM_CONFIG=/home/alice/fake.rc \
		POSTIE_MAILNAME_FILE=/home/alice/mailname USER=root LOGNAME=root postie-test r@example.org <<<"$MSG"
	[ "$status" -eq 0 ]
	[ "$(cat "$SINK_DIR/msg-1.auth")" = "PLAIN relay" ]
	grep -q '^MAIL FROM:<alice@relay.example> ' "$(sink_env 1)"
	no_connection "$OTHER_DIR"
}

@test "while postie waits on the server, the user cannot read its memory or environment, attach to it or make it dump core" {
	printf 'GREETING * stall\n' >"$BATS_TEST_TMPDIR/stall"
	relay_start --script "$BATS_TEST_TMPDIR/stall"
	system_file
	as alice mkdir -p /home/alice/cores-postie /home/alice/cores-control
	# As alice: start postie (and, for comparison, an ordinary process of
	# hers) with core dumps allowed, wait until postie has connected (read
	# its configuration, password included), then try /proc, ptrace
	# (PTRACE_ATTACH through ctypes) and SIGSEGV on each.
	run as alice /usr/bin/python3 - "$SINK_PORT" <<-'EOF'
		import ctypes, errno, os, resource, signal, subprocess, sys, time
		port = int(sys.argv[1])
		libc = ctypes.CDLL(None, use_errno=True)
		libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
		soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
		resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
		def connected():
		    for line in open("/proc/net/tcp").read().splitlines()[1:]:
		        f = line.split()
		        if int(f[2].split(":")[1], 16) == port and f[3] == "01":
		            return True
		    return False
		def probe(name, p):
		    for what in ("environ", "mem"):
		        try:
		            open("/proc/%d/%s" % (p.pid, what), "rb").close()
		            print(name, what, "open")
		        except OSError as e:
		            print(name, what, errno.errorcode[e.errno])
		    if libc.ptrace(16, p.pid, None, None) == 0:   # PTRACE_ATTACH
		        os.waitpid(p.pid, 0)
		        libc.ptrace(17, p.pid, None, None)        # PTRACE_DETACH
		        print(name, "attach ok")
		    else:
		        print(name, "attach", errno.errorcode[ctypes.get_errno()])
		    p.send_signal(signal.SIGSEGV)
		    st = os.waitpid(p.pid, 0)[1]
		    d = "/home/alice/cores-" + name
		    print(name, "core", "dumped" if os.WCOREDUMP(st) else "none", len(os.listdir(d)))
		postie = subprocess.Popen(["postie-test", "r@example.org"], stdin=subprocess.PIPE,
		                          stderr=subprocess.DEVNULL, cwd="/home/alice/cores-postie")
		postie.stdin.write(b"Subject: t\n\nbody\n")
		postie.stdin.close()
		control = subprocess.Popen(["sleep", "60"], cwd="/home/alice/cores-control")
		end = time.time() + 10
		while not connected() and time.time() < end:
		    time.sleep(0.05)
		print("connected", connected())
		probe("postie", postie)
		probe("control", control)
	EOF
	echo "$output"
	[ "${lines[0]}" = "connected True" ]
	grep -qx 'postie environ EACCES' <<<"$output"
	grep -qx 'postie mem EACCES' <<<"$output"
	grep -qx 'postie attach EPERM' <<<"$output"
	grep -qx 'postie core none 0' <<<"$output"
	# the same steps work on an ordinary process of hers
	grep -qx 'control environ open' <<<"$output"
	grep -qx 'control mem open' <<<"$output"
	grep -qx 'control attach ok' <<<"$output"
	# a core dump of the control shows that dumps can happen here at all
	# (core_pattern, the hard RLIMIT_CORE); say so when they cannot
	if ! grep -q '^control core dumped' <<<"$output"; then
		echo "# this machine makes no core dumps ($(cat /proc/sys/kernel/core_pattern)); the core check proves nothing here" >&3
	fi
}

@test "a setgid start queues in the user's own queue, not in the system file's queue_dir" {
	printf 'GREETING * reply 421 4.3.2 try later\n' >"$BATS_TEST_TMPDIR/busy"
	relay_start --script "$BATS_TEST_TMPDIR/busy"
	system_file "queue tempfail" "queue_dir /var/spool/postie"
	send alice
	[ "$status" -eq 0 ]
	[[ $stderr =~ ^postie:\ queued\ as\ ([0-9A-F]{10,12}):\  ]]
	local id=${BASH_REMATCH[1]}
	as alice test -f "/home/alice/.local/state/postie/queue/$id.env"
	run as alice postie-test -bp
	[[ $output == *"$id"* ]]
	# root queues where the file says
	run --separate-stderr sysroot_run postie-test r@example.org <<<"$MSG"
	[ "$status" -eq 0 ]
	[[ $stderr =~ ^postie:\ queued\ as\ ([0-9A-F]{10,12}):\  ]]
	sysroot_run test -f "/var/spool/postie/${BASH_REMATCH[1]}.env"
}

@test "root and members of group postie may change the system account's settings" {
	relay_start
	other_start
	system_file "account viaeval : default" "password" "passwordeval \"echo $SYSPW\""
	run --separate-stderr sysroot_run postie-test "--port=$OTHER_PORT" r@example.org <<<"$MSG"
	[ "$status" -eq 0 ]
	[ "$(cat "$OTHER_DIR/msg-1.auth")" = "PLAIN relay" ]
	send bob "--port=$OTHER_PORT"
	[ "$status" -eq 0 ]
	[ "$(cat "$OTHER_DIR/msg-2.auth")" = "PLAIN relay" ]
	run --separate-stderr as bob postie-test --pretend -a viaeval
	grep -qxF "passwordeval = echo $SYSPW" <<<"$output"
	no_connection "$SINK_DIR"
}

@test "an error in the system file is shown to a user by file and line only; root sees it" {
	relay_start
	system_file "account broken" "host 127.0.0.1" "eval \"false $SYSPW\""
	send alice
	[ "$status" -eq 78 ]
	[ "$stderr" = "postie: /etc/postierc:15: an error in the system file, which you cannot read (root and group postie see what it is with postie --pretend)" ]
	run --separate-stderr sysroot_run postie-test --pretend
	[ "$status" -eq 78 ]
	[ "$stderr" = "postie: /etc/postierc:15: eval command 'false $SYSPW' failed with status 1" ]
	no_connection "$SINK_DIR"
}
