# postfix.bash - bats helpers that run a private, real Postfix on 127.0.0.1.
#
#   postfix_start PKI_DIR [DIR]  start an instance under DIR (default
#                                $BATS_FILE_TMPDIR/postfix, else a mktemp
#                                dir) that relays everything it accepts to
#                                a recording sink (sink_start, tests/sink.bash);
#                                with POSTFIX_SASL=1 also Dovecot SASL and
#                                two AUTH listeners (see "SMTP AUTH" below)
#   postfix_start_sasl PKI_DIR [DIR]
#                                the same as POSTFIX_SASL=1 postfix_start
#   postfix_start_oauth PKI_DIR INTROSPECTION_URL [DIR]
#                                the same, but Dovecot checks OAuth2 bearer
#                                tokens (see "OAuth2" below)
#   postfix_stop                 stop Postfix, Dovecot and the sink (safe
#                                to repeat)
#   postfix_log                  print Postfix's log (for failing tests)
#   postfix_dovecot_log          print Dovecot's log (for failing tests)
#   postfix_wait_relayed TEXT    wait (up to 20 s) for a relayed message
#                                containing TEXT; print its msg-N.eml path
#   postfix_queue_empty          true when nothing is queued (postqueue -p)
#   postfix_free_ports N         print N free TCP ports on 127.0.0.1
#   postfix_log_lines            how many lines the log has now (a mark)
#   postfix_wait_log ERE [MARK]  wait (up to 10 s) for log lines after line
#                                MARK that match ERE; print them
#
# For bats files that send with postie through the instance (with
# common.bash loaded: unix_text; the sink's sink_count):
#   postfix_test_setup PREFIX    per test: MARK (unique text for the test's
#                                message), LOG_MARK (log lines so far) and,
#                                with SASL, DOVECOT_LOG and DOVECOT_MARK
#   postfix_test_teardown        after a failed test, print postie's status
#                                and output and the logs since those marks
#   postfix_postierc PORT [LINE...]
#                                write ~/.postierc for the listener on PORT
#                                (from sender@example.org, timeout 20), then
#                                the LINEs
#   postfix_send MARK            bats "run" postie: a message carrying MARK
#                                to rcpt@example.net
#   postfix_relayed MARK         wait for that message at the sink, check
#                                its body and envelope; set MSG (its path),
#                                RECEIVED (Postfix's Received:, unfolded) and
#                                QID (Postfix's queue id)
#   postfix_nothing_relayed MARK BEFORE
#                                nothing queued and nothing new at the sink
#                                (BEFORE: sink_count before the test sent)
#
# Listeners, all on 127.0.0.1, exported after postfix_start:
#   POSTFIX_PORT       STARTTLS offered (smtpd_tls_security_level=may)
#   POSTFIX_TLS_PORT   implicit TLS (smtpd_tls_wrappermode=yes)
#   POSTFIX_CERT_PORT  STARTTLS required and a client certificate signed by
#                      PKI_DIR/ca.pem required (smtpd_tls_req_ccert=yes)
# TLS uses PKI_DIR/server.pem and server-key.pem.  Mail from 127.0.0.0/8 is
# accepted for any recipient and relayed, without TLS, to the sink, so each
# accepted message ends up as $SINK_DIR/msg-N.eml.  Received: headers carry
# the TLS details (smtpd_tls_received_header=yes).
#
# Also exported: POSTFIX_DIR (the instance: etc/ is config_directory with
# main.cf and master.cf, queue/, data/, maillog, start.log) and
# POSTFIX_MASTER_PID.
#
# SMTP AUTH (POSTFIX_SASL=1 or postfix_start_sasl): a private Dovecot
# (dovecot -c $POSTFIX_DIR/dovecot/dovecot.conf; base_dir, state_dir and
# log in that directory; /etc/dovecot and a system Dovecot are not used)
# serves Postfix's smtpd_sasl_type=dovecot on the socket
# $POSTFIX_DIR/queue/private/auth (postfix:postfix 0660).  It offers
# auth_mechanisms PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 (in
# Dovecot's order, which Postfix's EHLO repeats), answers failed logins
# quickly (auth_failure_delay = 0, no auth penalty; a failed AUTH still
# takes about half a second), and knows two users, both with the
# password $POSTFIX_SASL_PASSWORD (stored {PLAIN}, so every mechanism
# works):
#   $POSTFIX_SASL_USER (tester)         authenticates
#   $POSTFIX_SASL_LOCKED_USER (locked)  always refused (a deny passdb), even
#                                       with the right password
# Two more listeners, exported like the others:
#   POSTFIX_SUB_PORT   submission: STARTTLS required
#                      (smtpd_tls_security_level=encrypt), AUTH offered only
#                      after it (smtpd_tls_auth_only=yes)
#   POSTFIX_SUBS_PORT  submissions: implicit TLS (smtpd_tls_wrappermode=yes)
#                      with AUTH
# On both, mynetworks is empty and smtpd_relay_restrictions and
# smtpd_recipient_restrictions are permit_sasl_authenticated, reject: mail
# is relayed (to the sink, as above) only after a successful AUTH; else
# RCPT gets "554 5.7.1 <rcpt>: Recipient address rejected: Access denied".
# Postfix's Received: then says "(Authenticated sender: USER)"
# (smtpd_sasl_authenticated_header=yes) and "with ESMTPSA", and its
# "QID: client=..." log line ends "sasl_method=MECH, sasl_username=USER".
# The other three listeners do not offer AUTH.
# Also exported: POSTFIX_DOVECOT_PID (Dovecot's master, a process group
# leader), and the log is $POSTFIX_DIR/dovecot/dovecot.log (auth_verbose).
# Dovecot runs as root; its auth process as the system's dovecot user
# ("dovecot" and "dovenull" must exist: contrib/testdeps.sh makes them).
#
# OAuth2 (postfix_start_oauth, or POSTFIX_OAUTH_URL set with POSTFIX_SASL=1):
# the same instance and listeners, but Dovecot's only passdb is its oauth2
# driver and auth_mechanisms is XOAUTH2 OAUTHBEARER, so the AUTH listeners
# offer just those two.  Dovecot checks each bearer token by RFC 7662
# introspection: it POSTs token=TOKEN to POSTFIX_OAUTH_URL (e.g.
# tests/fakeoauth.py's $OAUTH_URL/introspect) over HTTPS trusting
# PKI_DIR/ca.pem, and accepts the login when the answer has "active": true
# and its "username" is the user the client named.  No auth cache: every
# AUTH is introspected.  The tester and locked users do not exist then.
#
# Extension points, read by postfix_start:
#   POSTFIX_MAIN_CF_EXTRA    text appended to main.cf after the base lines
#                            (a later line for a parameter wins)
#   POSTFIX_MASTER_CF_EXTRA  text appended to master.cf (more listeners;
#                            postfix_free_ports gives them ports)
#   POSTFIX_SMTPD_OPTS       extra "-o name=value" words for every smtpd
#                            listener above
#
# Postfix runs as root here (its master needs it); the daemons drop to the
# system's mail_owner "postfix" (group postdrop for setgid_group).
#
# The programs are never the system's, whether or not it has its own:
# Postfix and Dovecot are Debian's packages as contrib/testdeps.sh unpacked
# them (apt-get download, dpkg -x) into $POSTIE_TEST_CACHE/root
# (tests/common.bash; default /var/cache/postie-tests).  postfix_unpacked
# runs them in a private mount namespace where that tree is mounted over
# /usr, so their compiled-in paths (/usr/lib/postfix, /usr/lib/dovecot,
# /usr/bin/doveconf) lead to the unpacked files; Postfix's meta_directory
# is $POSTIE_TEST_CACHE/root/etc/postfix.  /etc/postfix, /etc/dovecot and
# a system instance of either are neither read nor changed.
#
#   postfix_unpacked CMD [ARG...]
#                      run CMD (e.g. postqueue -c $POSTFIX_DIR/etc -p) in
#                      such a namespace

POSTFIX_DIR="${POSTFIX_DIR:-}"
POSTFIX_PORT="${POSTFIX_PORT:-}"
POSTFIX_TLS_PORT="${POSTFIX_TLS_PORT:-}"
POSTFIX_CERT_PORT="${POSTFIX_CERT_PORT:-}"
POSTFIX_MASTER_PID="${POSTFIX_MASTER_PID:-}"
POSTFIX_SASL="${POSTFIX_SASL:-}"
POSTFIX_SUB_PORT="${POSTFIX_SUB_PORT:-}"
POSTFIX_SUBS_PORT="${POSTFIX_SUBS_PORT:-}"
POSTFIX_DOVECOT_PID="${POSTFIX_DOVECOT_PID:-}"
POSTFIX_OAUTH_URL="${POSTFIX_OAUTH_URL:-}"
# The accounts the private Dovecot knows (fixed: tests may write them out).
POSTFIX_SASL_USER=tester
POSTFIX_SASL_LOCKED_USER=locked
POSTFIX_SASL_PASSWORD=s3cret-Pa55
POSTFIX_MAIN_CF_EXTRA="${POSTFIX_MAIN_CF_EXTRA:-}"
POSTFIX_MASTER_CF_EXTRA="${POSTFIX_MASTER_CF_EXTRA:-}"
POSTFIX_SMTPD_OPTS="${POSTFIX_SMTPD_OPTS:-}"

# postfix_unpacked CMD [ARG...]: CMD in a new mount namespace in which
# /usr is an overlay of $POSTIE_TEST_CACHE/root/usr (the packages that
# contrib/testdeps.sh unpacked) over the system's /usr, with
# /usr/lib/postfix and /usr/lib/dovecot exactly the unpacked directories
# (no stray modules of an installed Dovecot).  Read-only; the namespace
# lives as long as its processes (the daemons CMD starts).  Propagation
# "slave": a mount the host removes later (ip netns del) goes from the
# namespace too, and none made here reaches the host.  CMD is looked up
# in the namespace's /usr/sbin and /usr/bin (a full path is taken as is;
# "timeout 20 postfix ..." bounds the command, not the mounts).
postfix_unpacked() {
	# shellcheck disable=SC2016 # the script's own variables
	unshare --mount --propagation slave /bin/sh -c '
		r=$1
		shift
		mount -t overlay postie-tests -o "ro,lowerdir=$r/usr:/usr" /usr &&
			mount --bind "$r/usr/lib/postfix" /usr/lib/postfix &&
			mount --bind "$r/usr/lib/dovecot" /usr/lib/dovecot || exit 1
		PATH=/usr/sbin:/usr/bin:/sbin:/bin exec "$@"' sh "$POSTIE_TEST_CACHE/root" "$@"
}

# _postfix_have_unpacked: the unpacked Postfix and Dovecot are there;
# otherwise say how to get them.
_postfix_have_unpacked() {
	local f r="$POSTIE_TEST_CACHE/root"
	for f in usr/sbin/postfix usr/lib/postfix/sbin/master usr/sbin/dovecot \
		usr/bin/doveadm usr/bin/doveconf etc/postfix/postfix-files; do
		if [[ ! -e $r/$f ]]; then
			echo "postfix_start: no unpacked Postfix and Dovecot in $r" \
				"(no $f): run sh contrib/testdeps.sh (POSTIE_TEST_CACHE" \
				"names the cache)" >&2
			return 1
		fi
	done
}

# postfix_free_ports N: N distinct TCP ports that were free on 127.0.0.1
# (all bound at once, then released for Postfix to take).
postfix_free_ports() {
	/usr/bin/python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# _postfix_main_cf PKI_DIR: main.cf for the instance in $POSTFIX_DIR.
_postfix_main_cf() {
	local pki="$1" d="$POSTFIX_DIR"
	cat <<EOF
# Generated by tests/postfix.bash for a private test instance.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
# The unpacked package's (command_directory, daemon_directory and
# shlib_directory keep their defaults under /usr: postfix_unpacked).
meta_directory = $POSTIE_TEST_CACHE/root/etc/postfix
syslog_name = postfix-test
maillog_file = $d/maillog
maillog_file_prefixes = $d
myhostname = postfix.test
mydomain = test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4

# Accept from loopback for any recipient, deliver nothing locally,
# relay everything to the sink.
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
relay_domains =
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
notify_classes =
biff = no
smtpd_banner = \$myhostname ESMTP Postfix (postie tests)

# Deliver at once; retry quickly if the sink was not reachable.
in_flow_delay = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s

smtpd_tls_security_level = may
smtpd_tls_cert_file = $pki/server.pem
smtpd_tls_key_file = $pki/server-key.pem
smtpd_tls_CAfile = $pki/ca.pem
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
EOF
	if [[ $POSTFIX_SASL == 1 ]]; then
		cat <<EOF

# SMTP AUTH through the private Dovecot; enabled per listener
# (smtpd_sasl_auth_enable) in master.cf.  The path is relative to
# queue_directory.
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
EOF
	fi
	if [[ -n $POSTFIX_MAIN_CF_EXTRA ]]; then
		printf '\n# POSTFIX_MAIN_CF_EXTRA\n%s\n' "$POSTFIX_MAIN_CF_EXTRA"
	fi
}

# _postfix_listener PORT NAME [OPTION...]: the master.cf lines of an smtpd
# on 127.0.0.1:PORT logging as postfix-test/NAME, with "-o OPTION" for
# each OPTION (the word "sasl" stands for the options of an AUTH listener:
# only an authenticated client may relay, 127.0.0.1 is not trusted), then
# the $POSTFIX_SMTPD_OPTS lines.
_postfix_listener() {
	local o
	printf '127.0.0.1:%s inet n - n - - smtpd\n  -o syslog_name=postfix-test/%s\n' "$1" "$2"
	shift 2
	for o in "$@"; do
		if [[ $o == sasl ]]; then
			printf '  -o %s\n' smtpd_sasl_auth_enable=yes smtpd_tls_auth_only=yes mynetworks= \
				smtpd_relay_restrictions=permit_sasl_authenticated,reject \
				smtpd_recipient_restrictions=permit_sasl_authenticated,reject
		else
			printf '  -o %s\n' "$o"
		fi
	done
	# shellcheck disable=SC2086 # POSTFIX_SMTPD_OPTS is a list of words
	for o in $POSTFIX_SMTPD_OPTS; do printf '  %s\n' "$o"; done
}

# _postfix_master_cf: master.cf with the listeners and the services
# a relay-only Postfix needs (no chroot, no local delivery, no pickup).
_postfix_master_cf() {
	echo "# Generated by tests/postfix.bash for a private test instance."
	_postfix_listener "$POSTFIX_PORT" starttls
	_postfix_listener "$POSTFIX_TLS_PORT" implicit smtpd_tls_wrappermode=yes \
		smtpd_tls_security_level=encrypt
	_postfix_listener "$POSTFIX_CERT_PORT" clientcert smtpd_tls_security_level=encrypt \
		smtpd_tls_ask_ccert=yes smtpd_tls_req_ccert=yes
	if [[ $POSTFIX_SASL == 1 ]]; then
		_postfix_listener "$POSTFIX_SUB_PORT" submission smtpd_tls_security_level=encrypt sasl
		_postfix_listener "$POSTFIX_SUBS_PORT" submissions smtpd_tls_wrappermode=yes \
			smtpd_tls_security_level=encrypt sasl
	fi
	cat <<EOF
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
	if [[ -n $POSTFIX_MASTER_CF_EXTRA ]]; then
		printf '# POSTFIX_MASTER_CF_EXTRA\n%s\n' "$POSTFIX_MASTER_CF_EXTRA"
	fi
}

# _postfix_make_dirs: the queue and data directories, with the owners and
# modes that the unpacked Postfix's own list ($meta_directory/postfix-files,
# read by post-install) gives them.
_postfix_make_dirs() {
	local files="$POSTIE_TEST_CACHE/root/etc/postfix/postfix-files"
	local name type owner group mode rest path key
	local -A how=()
	if [[ ! -r $files ]]; then
		echo "postfix_start: cannot read $files" >&2
		return 1
	fi
	# shellcheck disable=SC2016 # the file's literal "$queue_directory" etc.
	while IFS=: read -r name type owner group mode rest; do
		[[ $type == d ]] || continue
		case $name in
		'$queue_directory'*) path="$POSTFIX_DIR/queue${name#\$queue_directory}" ;;
		'$data_directory') path="$POSTFIX_DIR/data" ;;
		*) continue ;;
		esac
		[[ $owner == '$mail_owner' ]] && owner=postfix
		case $group in
		-) group=root ;;
		'$setgid_group') group=postdrop ;;
		esac
		how["$owner:$group $mode"]+=" $path"
	done <"$files"
	if [[ -z ${how[*]} ]]; then
		echo "postfix_start: $files names no queue directories" >&2
		return 1
	fi
	# One mkdir, chown and chmod per owner and mode: forks are the cost.
	for key in "${!how[@]}"; do
		# shellcheck disable=SC2086 # the paths have no blanks
		mkdir -p ${how[$key]} && chown "${key% *}" ${how[$key]} &&
			chmod "${key#* }" ${how[$key]} || return 1
	done
	if [[ ! -d $POSTFIX_DIR/queue/pid || ! -d $POSTFIX_DIR/data ]]; then
		echo "postfix_start: $files did not give the queue directories" >&2
		return 1
	fi
}

# _postfix_searchable DIR: make sure the daemons, running as "postfix",
# can reach DIR: the master opens data/master.lock with their rights.
# bats makes its temporary directories mode 0700; inside $BATS_RUN_TMPDIR
# (removed after the run) they get the search bit for others (not read).
# Anywhere else an unsearchable ancestor is an error.
_postfix_searchable() {
	local d="$1" mode run="${BATS_RUN_TMPDIR:-}"
	[[ -z $run ]] || run="$(cd "$run" && pwd)"
	while [[ -n $d ]]; do
		mode="$(stat -c %a "$d")" || return 1
		if (((8#$mode & 1) == 0)); then
			if [[ -n $run && ($d == "$run" || $d == "$run"/*) ]]; then
				chmod o+x "$d" || return 1
			else
				echo "postfix_start: user postfix cannot search $d;" \
					"give postfix_start a DIR elsewhere" >&2
				return 1
			fi
		fi
		d="${d%/*}"
	done
}

# _postfix_listening PORT...: true when every PORT has a listener on
# 127.0.0.1, read from /proc/net/tcp (no connection, so smtpd logs no probe
# sessions; no iproute2 needed).
_postfix_listening() {
	local p table line state
	table=
	while read -r _ line _ state _; do
		[[ $state == 0A ]] && table+=" $line"	# TCP_LISTEN
	done </proc/net/tcp
	for p in "$@"; do
		[[ $table == *" 0100007F:$(printf '%04X' "$p")"* ]] || return 1
	done
}

# _postfix_dovecot_conf DIR: dovecot.conf for a Dovecot that only serves
# SASL to the instance in $POSTFIX_DIR, with everything of its own in DIR;
# password or (POSTFIX_OAUTH_URL) OAuth2 logins.
_postfix_dovecot_conf() {
	local d="$1"
	cat <<EOF
# Generated by tests/postfix.bash: a private Dovecot serving SASL only.
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
instance_name = postfix-test-dovecot
# No IMAP, POP3 or other listener of its own; "listen" must not be empty.
protocols = none
listen = 127.0.0.1
ssl = no
# Postfix decides (smtpd_tls_auth_only) when AUTH is offered.
disable_plaintext_auth = no
auth_failure_delay = 0
auth_verbose = yes
EOF
	if [[ -n $POSTFIX_OAUTH_URL ]]; then
		_postfix_dovecot_oauth_passdb "$d"
	else
		_postfix_dovecot_passwd_passdbs "$d"
	fi
	_postfix_dovecot_services
}

# _postfix_dovecot_oauth_passdb DIR: the mechanisms and passdb of OAuth2
# logins; the driver's settings are in DIR/oauth2.conf.ext.
_postfix_dovecot_oauth_passdb() {
	cat <<EOF
auth_mechanisms = xoauth2 oauthbearer

# The token is the credential; the oauth2 driver introspects it.
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $1/oauth2.conf.ext
}
EOF
}

# _postfix_dovecot_oauth_args DIR: the oauth2 driver's settings (Dovecot
# 2.3): RFC 7662 introspection by POST at POSTFIX_OAUTH_URL, trusting
# DIR/oauth-ca.pem; the token is live when "active" is true, and names
# its user in "username".
_postfix_dovecot_oauth_args() {
	cat <<EOF
# Generated by tests/postfix.bash for the oauth2 passdb.
introspection_url = $POSTFIX_OAUTH_URL
introspection_mode = post
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $1/oauth-ca.pem
timeout_msecs = 10000
EOF
}

# _postfix_dovecot_passwd_passdbs DIR: the mechanisms and passdbs of
# password logins: the users in DIR/passwd, those in DIR/locked refused.
_postfix_dovecot_passwd_passdbs() {
	local d="$1"
	cat <<EOF
auth_mechanisms = plain login scram-sha-256 scram-sha-1 cram-md5

# Users listed here are refused whatever their password.
passdb {
  driver = passwd-file
  deny = yes
  args = $d/locked
}
# Passwords in the clear ({PLAIN}): Dovecot derives what SCRAM and
# CRAM-MD5 need from them.
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/passwd
}
EOF
}

# _postfix_dovecot_services: the service blocks: no auth penalty, and the
# auth socket Postfix uses.
_postfix_dovecot_services() {
	cat <<EOF

# No growing delays after failed logins from one address (anvil's auth
# penalty: up to 15 s); the tests fail logins on purpose.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

service auth {
  unix_listener $POSTFIX_DIR/queue/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF
}

# _postfix_dovecot_is PID: true when PID is a live Dovecot master that
# leads its own process group (what "dovecot" does when it daemonizes).
_postfix_dovecot_is() {
	local line rest state pgrp
	[[ $1 =~ ^[0-9]+$ ]] || return 1
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
	[[ $line == "$1 (dovecot) "* ]] || return 1
	rest="${line##*) }"
	read -r state _ pgrp _ <<<"$rest"
	[[ $state != Z && $pgrp == "$1" ]]
}

# _postfix_pid_file FILE: the number on FILE's first line ("" if none).
_postfix_pid_file() {
	local line=
	{ read -r line <"$1"; } 2>/dev/null
	line="${line//[^0-9]/}"
	echo "$line"
}

# _postfix_dovecot_files DIR PKI_DIR: the files the auth process (user
# dovecot) reads, world-readable test data: the users and their password,
# or the oauth2 driver's settings and the CA it trusts.
_postfix_dovecot_files() {
	local d="$1"
	if [[ -n $POSTFIX_OAUTH_URL ]]; then
		_postfix_dovecot_oauth_args "$d" >"$d/oauth2.conf.ext" &&
			cp "$2/ca.pem" "$d/oauth-ca.pem" &&
			chmod 644 "$d/oauth2.conf.ext" "$d/oauth-ca.pem"
		return
	fi
	printf '%s:{PLAIN}%s::::::\n' \
		"$POSTFIX_SASL_USER" "$POSTFIX_SASL_PASSWORD" \
		"$POSTFIX_SASL_LOCKED_USER" "$POSTFIX_SASL_PASSWORD" >"$d/passwd" &&
		printf '%s\n' "$POSTFIX_SASL_LOCKED_USER" >"$d/locked" &&
		chmod 644 "$d/passwd" "$d/locked"
}

# _postfix_dovecot_mechs SOCKET: the mechanisms the auth server on SOCKET
# offers, one a line, read from its handshake (auth client protocol 1.2).
_postfix_dovecot_mechs() {
	timeout 10 /usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(8)
s.connect(sys.argv[1])
s.sendall(b"VERSION\t1\t2\nCPID\t%d\n" % os.getpid())
data = b""
while not data.endswith(b"DONE\n"):
    more = s.recv(4096)
    if not more:
        sys.exit("the auth server closed the connection: %r" % data)
    data += more
for line in data.decode().splitlines():
    if line.startswith("MECH\t"):
        print(line.split("\t")[1])' "$1" 3>&-
}

# _postfix_dovecot_probe CONF SOCKET: start the auth process and prove it
# serves Postfix's socket: a real PLAIN login with a password, or with
# OAuth2 the two bearer mechanisms offered (a login needs a live token).
_postfix_dovecot_probe() {
	local conf="$1" sock="$2" log="${1%/*}/auth-test.log" mechs
	if [[ -n $POSTFIX_OAUTH_URL ]]; then
		mechs="$(_postfix_dovecot_mechs "$sock" 2>"$log" | sort | tr '\n' ' ')"
		[[ $mechs == "OAUTHBEARER XOAUTH2 " ]] && return 0
		echo "postfix_start: Dovecot offers \"$mechs\", not XOAUTH2 OAUTHBEARER" >&2
	else
		postfix_unpacked timeout 10 doveadm -c "$conf" auth test -a "$sock" \
			"$POSTFIX_SASL_USER" "$POSTFIX_SASL_PASSWORD" \
			</dev/null >"$log" 2>&1 3>&- && return 0
		echo "postfix_start: Dovecot does not authenticate" \
			"$POSTFIX_SASL_USER:" >&2
	fi
	cat "$log" >&2
	postfix_dovecot_log >&2
	return 1
}

# _postfix_dovecot_start DIR PKI_DIR: start Dovecot with its files in DIR;
# wait until its auth socket answers; set POSTFIX_DOVECOT_PID.
_postfix_dovecot_start() {
	local d="$1" sock="$POSTFIX_DIR/queue/private/auth" pid=
	local conf="$d/dovecot.conf"
	# Unix socket paths are limited to 107 bytes; the longest Dovecot
	# makes in base_dir is run/anvil-auth-penalty.
	if ((${#d} + 23 > 107 || ${#sock} > 107)); then
		echo "postfix_start: $d is too long a path for Dovecot's sockets;" \
			"give postfix_start a shorter DIR" >&2
		return 1
	fi
	rm -rf "$d"
	mkdir -p "$d" && chmod 755 "$d" || return 1
	_postfix_dovecot_files "$d" "$2" || return 1
	_postfix_dovecot_conf "$d" >"$conf" || return 1
	# It daemonizes (setsid) and writes run/master.pid; 3>&-: bats waits
	# for anything holding its fd 3.
	if ! postfix_unpacked timeout 20 dovecot -c "$conf" \
		</dev/null >>"$d/start.log" 2>&1 3>&-; then
		echo "postfix_start: dovecot -c $conf failed:" >&2
		cat "$d/start.log" >&2
		postfix_dovecot_log >&2
		return 1
	fi
	# Up once it has written its PID file and made the auth socket; the
	# checks below tell what is missing.
	wait_until 10 test -s "$d/run/master.pid" -a -S "$sock" || true
	if [[ -s $d/run/master.pid ]]; then
		pid="$(_postfix_pid_file "$d/run/master.pid")"
		POSTFIX_DOVECOT_PID="$pid"
		export POSTFIX_DOVECOT_PID
	fi
	if [[ -z $pid ]] || ! _postfix_dovecot_is "$pid" || [[ ! -S $sock ]]; then
		echo "postfix_start: Dovecot did not come up (master ${pid:-?}," \
			"socket $sock)" >&2
		cat "$d/start.log" >&2
		postfix_dovecot_log >&2
		return 1
	fi
	_postfix_dovecot_probe "$conf" "$sock"
}

# _postfix_dovecot_stop: stop the Dovecot that postfix_start started (safe
# to repeat).  SIGTERM to its process group (the master's PID): the
# master alone takes a second to shut its children down.
_postfix_dovecot_stop() {
	local pid="${POSTFIX_DOVECOT_PID:-}" d="${POSTFIX_DIR:-}" live
	POSTFIX_DOVECOT_PID=
	[[ -z $d ]] || d="$d/dovecot"
	if [[ -z $pid && -n $d && -s $d/run/master.pid ]]; then
		pid="$(_postfix_pid_file "$d/run/master.pid")"
	fi
	if [[ -n $pid ]] && _postfix_dovecot_is "$pid"; then
		kill -TERM -- "-$pid" 2>/dev/null || true
		if ! wait_until 5 _postfix_gone "$pid"; then
			live="$(_postfix_live "$pid")"
			echo "postfix_stop: Dovecot still running after 5 s, killing:" \
				"${live//$'\n'/ }" >&2
			# shellcheck disable=SC2086 # a list of PIDs
			kill -KILL $live 2>/dev/null || true
		fi
	fi
	[[ -z $d ]] || rm -f "$d/run/master.pid"
}

# postfix_start_sasl PKI_DIR [DIR]: postfix_start with Dovecot SASL and
# the AUTH listeners (POSTFIX_SASL=1, kept for later calls).
postfix_start_sasl() {
	POSTFIX_SASL=1
	export POSTFIX_SASL
	postfix_start "$@"
}

# postfix_start_oauth PKI_DIR INTROSPECTION_URL [DIR]: postfix_start_sasl
# with Dovecot's oauth2 passdb introspecting at INTROSPECTION_URL
# (POSTFIX_OAUTH_URL, kept for later calls, like POSTFIX_SASL).
postfix_start_oauth() {
	local pki="${1:?postfix_start_oauth PKI_DIR INTROSPECTION_URL [DIR]}"
	POSTFIX_OAUTH_URL="${2:?postfix_start_oauth PKI_DIR INTROSPECTION_URL [DIR]}"
	export POSTFIX_OAUTH_URL
	shift 2
	postfix_start_sasl "$pki" "$@"
}

postfix_start() {
	local pki="${1:?postfix_start PKI_DIR [DIR]}" dir="${2:-}" ports f try
	local nports=3 listeners
	if [[ -n $POSTFIX_MASTER_PID ]]; then
		echo "postfix_start: already running (master $POSTFIX_MASTER_PID)" >&2
		return 1
	fi
	_postfix_have_unpacked || return 1
	pki="$(cd "$pki" && pwd)" || return 1
	for f in server.pem server-key.pem ca.pem; do
		if [[ ! -s $pki/$f ]]; then
			echo "postfix_start: no $pki/$f" >&2
			return 1
		fi
	done
	if [[ -z $dir ]]; then
		if [[ -n ${BATS_FILE_TMPDIR:-} ]]; then
			dir="$BATS_FILE_TMPDIR/postfix"
		else
			dir="$(mktemp -d "${TMPDIR:-/tmp}/postfix.XXXXXX")" || return 1
		fi
	fi
	rm -rf "$dir"
	mkdir -p "$dir/etc" || return 1
	chmod 755 "$dir" "$dir/etc" || return 1
	POSTFIX_DIR="$(cd "$dir" && pwd)"
	export POSTFIX_DIR
	_postfix_searchable "$POSTFIX_DIR" || return 1
	_postfix_make_dirs || return 1

	# The sink records what Postfix relays; keep its files with ours when
	# there is no per-test directory (setup_file).
	if [[ -z ${BATS_TEST_TMPDIR:-} ]]; then
		TMPDIR="$POSTFIX_DIR" sink_start || return 1
	else
		sink_start || return 1
	fi

	# Dovecot first: its socket is in place before any smtpd needs it.
	if [[ $POSTFIX_SASL == 1 ]]; then
		nports=5
		_postfix_dovecot_start "$POSTFIX_DIR/dovecot" "$pki" || { postfix_stop; return 1; }
	fi

	# A free port may be taken before the master binds it; then the master
	# fails (it logs that to syslog only: its own log service is not up
	# yet) and we try again with other ports.
	for ((try = 1; ; try++)); do
		ports="$(postfix_free_ports "$nports")" || { postfix_stop; return 1; }
		read -r POSTFIX_PORT POSTFIX_TLS_PORT POSTFIX_CERT_PORT \
			POSTFIX_SUB_PORT POSTFIX_SUBS_PORT <<<"$ports"
		export POSTFIX_PORT POSTFIX_TLS_PORT POSTFIX_CERT_PORT \
			POSTFIX_SUB_PORT POSTFIX_SUBS_PORT
		listeners="$ports"
		_postfix_main_cf "$pki" >"$POSTFIX_DIR/etc/main.cf"
		_postfix_master_cf >"$POSTFIX_DIR/etc/master.cf"
		# Postfix rereads a config file that changed within the last
		# second (it may be half written), 0.3 s at a time, in every
		# program: age them.
		touch -d '-1 minute' "$POSTFIX_DIR/etc/main.cf" "$POSTFIX_DIR/etc/master.cf"
		# "postfix start" returns once the master is initialised (master
		# -w).  quick-start skips its checks of an installation (post-install
		# create-missing, postsuper, check-warn: 1-2 s): this instance is
		# new and _postfix_make_dirs made what post-install would.
		# 3>&-: bats waits for anything holding its fd 3.
		: >"$POSTFIX_DIR/queue/quick-start"
		if postfix_unpacked timeout 20 postfix -c "$POSTFIX_DIR/etc" start \
			</dev/null >>"$POSTFIX_DIR/start.log" 2>&1 3>&-; then
			break
		fi
		if ((try == 3)); then
			echo "postfix_start: postfix start failed $try times" \
				"(the master's own errors went to syslog, if any):" >&2
			cat "$POSTFIX_DIR/start.log" >&2
			postfix_log >&2
			echo "--- $POSTFIX_DIR/etc/master.cf ---" >&2
			cat "$POSTFIX_DIR/etc/master.cf" >&2
			postfix_stop
			return 1
		fi
	done
	POSTFIX_MASTER_PID="$(sed -n '1s/[^0-9]//gp' "$POSTFIX_DIR/queue/pid/master.pid" 2>/dev/null)"
	export POSTFIX_MASTER_PID
	# shellcheck disable=SC2086 # a list of ports
	if [[ -z $POSTFIX_MASTER_PID ]] || [[ -z $(_postfix_live "$POSTFIX_MASTER_PID") ]] ||
		! wait_until 15 _postfix_listening $listeners; then
		echo "postfix_start: Postfix is not listening on $listeners" >&2
		cat "$POSTFIX_DIR/start.log" >&2
		postfix_log >&2
		postfix_stop
		return 1
	fi
}

# _postfix_live PGID: the PIDs of the live (not zombie) processes in the
# process group PGID, from /proc (no procps needed).  The master is a group
# leader (it calls setsid) and its daemons stay in its group.  Zombies count
# as gone: where PID 1 is slow to reap orphans, a dead master stays visible
# to "kill -0" for seconds.
_postfix_live() {
	local f line rest state pgrp
	for f in /proc/[0-9]*/stat; do
		{ read -r line <"$f"; } 2>/dev/null || continue
		rest="${line##*) }"	# after "PID (comm) ": state ppid pgrp ...
		read -r state _ pgrp _ <<<"$rest"
		if [[ $pgrp == "$1" && $state != Z ]]; then
			f="${f#/proc/}"
			echo "${f%/stat}"
		fi
	done
}

# _postfix_gone PGID: true when no process of group PGID is left.
_postfix_gone() { [[ -z $(_postfix_live "$1") ]]; }

postfix_stop() {
	local pid="${POSTFIX_MASTER_PID:-}" dir="${POSTFIX_DIR:-}" live=
	POSTFIX_MASTER_PID=
	if [[ -z $pid && -n $dir && -s $dir/queue/pid/master.pid ]]; then
		pid="$(sed -n '1s/[^0-9]//gp' "$dir/queue/pid/master.pid")"
	fi
	[[ -z $pid ]] || live="$(_postfix_live "$pid")"
	if [[ -n $live ]]; then
		postfix_unpacked postfix -c "$dir/etc" stop </dev/null >>"$dir/stop.log" 2>&1 3>&- || true
		if ! wait_until 5 _postfix_gone "$pid"; then
			live="$(_postfix_live "$pid")"
			echo "postfix_stop: still running after 5 s, killing:" "${live//$'\n'/ }" >&2
			# shellcheck disable=SC2086 # a list of PIDs
			kill -KILL $live 2>/dev/null || true
		fi
	fi
	# Stopped: a later call must not take a reused PID for the master.
	[[ -z $dir ]] || rm -f "$dir/queue/pid/master.pid"
	_postfix_dovecot_stop
	sink_stop
}

postfix_dovecot_log() {
	local f="${POSTFIX_DIR:-}/dovecot/dovecot.log"
	if [[ -z ${POSTFIX_DIR:-} ]]; then
		echo "postfix_dovecot_log: no Postfix instance" >&2
		return 1
	fi
	echo "--- Dovecot log $f ---"
	cat "$f" 2>/dev/null
	echo "--- end of Dovecot log ---"
}

postfix_log() {
	local dir="${POSTFIX_DIR:-}"
	if [[ -z $dir ]]; then
		echo "postfix_log: no Postfix instance" >&2
		return 1
	fi
	echo "--- Postfix log $dir/maillog ---"
	cat "$dir/maillog" 2>/dev/null
	echo "--- end of Postfix log ---"
}

# postfix_wait_relayed TEXT: wait up to 20 s until a message the sink
# recorded contains TEXT (a fixed string); print its path.
postfix_wait_relayed() { wait_until 20 _postfix_relayed "$1"; }

# _postfix_relayed TEXT: print the path of a recorded message containing
# TEXT; false when there is none.
_postfix_relayed() {
	local f
	for f in "$SINK_DIR"/msg-*.eml; do
		if [[ -e $f ]] && grep -qF -- "$1" "$f"; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# postfix_queue_empty: true when the instance holds no queued mail.
postfix_queue_empty() {
	local out
	out="$(postfix_unpacked postqueue -c "$POSTFIX_DIR/etc" -p 2>&1)" || return 1
	[[ $out == *"Mail queue is empty"* ]]
}

# postfix_log_lines: how many lines the log has now; a mark for
# postfix_wait_log, so a test looks only at what happened after it.
postfix_log_lines() {
	local n
	n="$(wc -l <"$POSTFIX_DIR/maillog" 2>/dev/null)" || n=0
	echo "${n:-0}"
}

# postfix_wait_log ERE [MARK]: wait up to 10 s until a log line after line
# MARK (default 0) matches the extended regex ERE; print the matching lines.
# (Postfix logs through the postlogd service, a moment after the event.)
postfix_wait_log() { wait_until 10 _postfix_log_matches "$1" "${2:-0}"; }

# _postfix_log_matches ERE MARK: print the log lines after line MARK that
# match ERE; false when there is none.
_postfix_log_matches() {
	tail -n "+$(($2 + 1))" "$POSTFIX_DIR/maillog" | grep -E -- "$1"
}

# Helpers for bats files that send with postie through the instance.  One
# instance serves a whole file, so every test marks its message (MARK) and
# looks only for that mark and at the log lines after its start.

# postfix_test_setup PREFIX: per-test marks: MARK (PREFIX, the test's
# number and randomness: unique text for this test's message), LOG_MARK
# (Postfix's log lines so far) and, with SASL, DOVECOT_LOG (Dovecot's
# log) and DOVECOT_MARK (its lines so far).
postfix_test_setup() {
	# shellcheck disable=SC2034 # for the test
	MARK="$1-$BATS_TEST_NUMBER-$$-$RANDOM"
	LOG_MARK="$(postfix_log_lines)"
	if [[ $POSTFIX_SASL == 1 ]]; then
		DOVECOT_LOG="$POSTFIX_DIR/dovecot/dovecot.log"
		DOVECOT_MARK="$(wc -l <"$DOVECOT_LOG")"
	fi
}

# postfix_test_teardown: after a failed test, print postie's status and
# output and what Postfix (and Dovecot) logged since postfix_test_setup;
# bats shows it with the failure.
postfix_test_teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		echo "# postie: status ${status:-?}, output: ${output:-}"
		tail -n "+$((${LOG_MARK:-0} + 1))" "$POSTFIX_DIR/maillog"
		if [[ -n ${DOVECOT_LOG:-} ]]; then
			echo "--- Dovecot ---"
			tail -n "+$((${DOVECOT_MARK:-0} + 1))" "$DOVECOT_LOG"
		fi
	fi
}

# postfix_postierc PORT [LINE...]: ~/.postierc with one account for the
# instance's listener on PORT, from sender@example.org, then the LINEs
# (a later line for a setting wins).
postfix_postierc() {
	local port="$1" l
	shift
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $port"
		echo "from sender@example.org"
		echo "timeout 20"
		for l in "$@"; do echo "$l"; done
	} >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
}

# postfix_send MARK: postie (bats "run", so status and output are set)
# submits to rcpt@example.net a message with MARK as its subject and
# "body MARK" as its body.
postfix_send() {
	run timeout 60 "$POSTIE" rcpt@example.net \
		< <(printf 'Subject: %s\n\nbody %s\n' "$1" "$1")
}

# postfix_relayed MARK: wait for Postfix's copy of postfix_send's message
# at the sink; check its body and envelope; set MSG (its msg-N.eml path),
# RECEIVED (Postfix's Received: header, unfolded) and QID (Postfix's queue
# id).
postfix_relayed() {
	MSG="$(postfix_wait_relayed "$1")"
	grep -qx "body $1" <(unix_text "$MSG")
	grep -qx 'RCPT TO:<rcpt@example.net>' "${MSG%.eml}.env"
	grep -q '^MAIL FROM:<sender@example.org>' "${MSG%.eml}.env"
	# Postfix prepends its Received: header, so the first one is its.
	RECEIVED="$(unix_text "$MSG" | awk '
		/^$/ { exit }
		on && /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
		on { exit }
		/^Received:/ { on = 1; printf "%s", $0 }')"
	echo "# Received: ${RECEIVED#Received: }"
	[[ $RECEIVED =~ \ by\ postfix\.test\ .*\ id\ ([0-9A-Za-z]+) ]]
	# shellcheck disable=SC2034 # for the test
	QID="${BASH_REMATCH[1]}"
}

# postfix_nothing_relayed MARK BEFORE: Postfix holds nothing, the sink
# still has BEFORE messages (sink_count) and none of its files holds MARK.
# The queue is checked first, so a message accepted meanwhile would show
# in the sink.
postfix_nothing_relayed() {
	postfix_queue_empty
	[ "$(sink_count)" -eq "$2" ]
	! grep -rqF "$1" "$SINK_DIR" || false
}
