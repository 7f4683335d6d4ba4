#!/usr/bin/env bats
# contrib/: the ssmtp/nullmailer converter, the bash and zsh completions,
# the logrotate sample, the example configurations, the queue runner's
# systemd units and cron line, and the SMTP socket for applications with
# its postie -bs service (as built in $BUILDDIR).
# Needs zsh (with its zsh/zpty module) and logrotate installed; uses
# systemd-analyze when it is installed and works.
load common
load buildtree

CONTRIB="$(cd "$BATS_TEST_DIRNAME/../contrib" && pwd)"
CONVERT="$CONTRIB/postie-convert"

setup() {
	common_setup
	POSTIE_ABS="$(cd "$(dirname "$POSTIE")" && pwd)/$(basename "$POSTIE")"
	cd "$BATS_TEST_TMPDIR"
	# postie on PATH under its own name and as sendmail, as when installed
	mkdir -p bin
	ln -s "$POSTIE_ABS" bin/postie
	ln -s "$POSTIE_ABS" bin/sendmail
	export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
	ACCEPT_PID=
}
teardown() {
	stop_pid "$ACCEPT_PID"
	common_teardown
}

# pretend FILE [options]: postie's view of a converted or example file
pretend() {
	local f="$1"
	shift
	chmod 600 "$f"
	run "$POSTIE" -C "$f" --pretend "$@"
}

# has LINE: the output of the last run holds this exact line
# converts_as_expected ARGS...: postie-convert ARGS exits 0 and prints
# exactly the file "expected" (its output stays in $output).
converts_as_expected() {
	run "$CONVERT" "$@"
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" >actual
	diff -u expected actual
}

has() {
	local l
	for l in "${lines[@]}"; do
		[[ $l == "$1" ]] && return 0
	done
	echo "missing line: $1" >&2
	return 1
}

# ------------------------------------------------------------ converter

@test "postie-convert ssmtp: a typical ssmtp.conf and revaliases" {
	cat >ssmtp.conf <<'EOF'
# Config file for sSMTP sendmail
root=postmaster@example.org
mailhub=smtp.example.org:587
rewriteDomain=example.org
hostname=host1.example.org
FromLineOverride=YES
UseSTARTTLS=YES
AuthUser=me@example.org
AuthPass=s3cr#t=x
Debug=YES
Frobnicate=7
EOF
	cat >revaliases <<'EOF'
# sSMTP aliases
root:admin@example.org:smtp.other.example:465
alice:alice@example.org # a comment
bad line
bob:bob@example.org
bob:robert@example.org:mx.example.org
default:someone@example.org
EOF
	cat >expected <<'EOF'
# postierc converted from ssmtp's ssmtp.conf and revaliases by postie-convert.
# Check it with "postie -C FILE --pretend", then install it as
# /etc/postierc (or ~/.postierc). See postierc(5).

account default
host smtp.example.org
port 587
tls on
tls_starttls on
# ssmtp did not verify the server certificate; postie does, against
# the system's authorities. For a self-signed certificate, pin it with
# tls_fingerprint (postie --serverinfo prints it).
auth on
user me@example.org
# The password was copied from ssmtp.conf. Keep this file private
# (chmod 600 it), or better, delete the line and let a password
# manager print it, e.g.  passwordeval "pass show mail/smtp"
password s3cr#t=x
from %U@example.org
domain host1.example.org
allow_from_override on
# not converted: Debug=YES (postie -v prints the SMTP conversation)
# not converted: Frobnicate=7
# not converted: root=postmaster@example.org (postie does not redirect mail by user id)
# For mail to root to go there, put the line "root: postmaster@example.org" in an
# aliases file and name it here, e.g.  aliases /etc/aliases

# From revaliases: ssmtp chose the sender (and the server) by the login
# name of the user sending. postie chooses an account with -a NAME, or
# by the -f address that mail readers pass (the first account whose
# from matches), so each user has an account of the same name below.

account root : default
from admin@example.org
host smtp.other.example
port 465

account alice : default
from alice@example.org

account bob : default
from robert@example.org
host mx.example.org

# not converted: bad line (not a user:address[:mailhub[:port]] line)
# not converted: bob:bob@example.org (a later line for bob replaces it, as in ssmtp)
# not converted: default:someone@example.org ("default" is the name of postie's default account)
EOF
	converts_as_expected ssmtp ssmtp.conf revaliases

	"$CONVERT" ssmtp ssmtp.conf revaliases >converted
	pretend converted
	[ "$status" -eq 0 ]
	has "account = default"
	has "host = smtp.example.org"
	has "port = 587"
	has "tls = on"
	has "tls_starttls = on"
	has "auth = on"
	has "user = me@example.org"
	has "password = *"
	has "from = tester@example.org"
	has "domain = host1.example.org"
	[[ $output != *s3cr* ]]
	pretend converted -a root
	[ "$status" -eq 0 ]
	has "host = smtp.other.example"
	has "port = 465"
	has "from = admin@example.org"
	has "user = me@example.org"
	pretend converted -a bob
	[ "$status" -eq 0 ]
	has "host = mx.example.org"
	has "port = 587"
	has "from = robert@example.org"
}

@test "postie-convert ssmtp: implicit TLS, client certificate, CRLF, keys in any case" {
	printf '%s\r\n' 'MAILHUB = [2001:db8::25]:465' usetls=Yes UseTLSCert=YES \
		TLSCert=/etc/ssl/certs/client.pem TLS_CA_File=/etc/ssl/ca.pem \
		TLS_CA_Dir=/etc/ssl/certs AuthPass=hidden-secret hostname=box \
		'this line has no equals' >ssmtp.conf
	cat >expected <<'EOF'
# postierc converted from ssmtp's ssmtp.conf by postie-convert.
# Check it with "postie -C FILE --pretend", then install it as
# /etc/postierc (or ~/.postierc). See postierc(5).

account default
host 2001:db8::25
port 465
tls on
tls_starttls off
tls_trust_file /etc/ssl/ca.pem
tls_cert_file /etc/ssl/certs/client.pem
# ssmtp read the private key from the certificate file
tls_key_file /etc/ssl/certs/client.pem
from %U@box
domain box
# FromLineOverride is not YES: ssmtp replaced the From header and
# ignored -f
set_from_header on
allow_from_override off
# not converted: TLS_CA_Dir=/etc/ssl/certs (postie reads one file of authorities, tls_trust_file; the system store is the default)
# not converted: this line has no equals (not a key=value line)
# not converted: AuthPass=(hidden) (no AuthUser, so ssmtp did not authenticate)
EOF
	converts_as_expected ssmtp ssmtp.conf
	[[ $output != *hidden-secret* ]]

	"$CONVERT" ssmtp ssmtp.conf >converted
	pretend converted
	[ "$status" -eq 0 ]
	has "host = 2001:db8::25"
	has "port = 465"
	has "tls = on"
	has "tls_starttls = off"
	has "tls_trust_file = /etc/ssl/ca.pem"
	has "tls_cert_file = /etc/ssl/certs/client.pem"
	has "tls_key_file = /etc/ssl/certs/client.pem"
	has "auth = (not set)"
	has "from = tester@box"
	has "set_from_header = on"
	has "allow_from_override = off"
}

@test "postie-convert ssmtp: no TLS, a named mechanism, a password that needs quotes" {
	cat >ssmtp.conf <<'EOF'
mailhub=relay.example.org # the relay
AuthUser=joe
AuthPass="q"uote\
AuthMethod=CRAM-MD5
RemotePort=2525
FromLineOverride=no
rewriteDomain=100%.example
EOF
	cat >expected <<'EOF'
# postierc converted from ssmtp's ssmtp.conf by postie-convert.
# Check it with "postie -C FILE --pretend", then install it as
# /etc/postierc (or ~/.postierc). See postierc(5).

account default
host relay.example.org
port 2525
auth cram-md5
user joe
# The password was copied from ssmtp.conf. Keep this file private
# (chmod 600 it), or better, delete the line and let a password
# manager print it, e.g.  passwordeval "pass show mail/smtp"
password ""q"uote\"
# This server was used without TLS. With no tls line postie uses
# STARTTLS whenever the server offers it; add "tls off" to never use it.
# postie sends a password only over TLS with a verified certificate;
# for a trusted local server without TLS, uncomment (see postierc(5)):
# auth_without_tls on
from %U@100%%.example
# FromLineOverride is not YES: ssmtp replaced the From header and
# ignored -f
set_from_header on
allow_from_override off
EOF
	converts_as_expected ssmtp ssmtp.conf

	"$CONVERT" ssmtp ssmtp.conf >converted
	pretend converted
	[ "$status" -eq 0 ]
	has "host = relay.example.org"
	has "port = 2525"
	has "auth = cram-md5"
	has "user = joe"
	has "password = *"
	has "tls = (not set)"
	has "from = tester@100%.example"
}

@test "postie-convert ssmtp: without a mailhub, ssmtp's default host" {
	echo 'FromLineOverride=yes' >ssmtp.conf
	run "$CONVERT" ssmtp ssmtp.conf
	[ "$status" -eq 0 ]
	has "# ssmtp.conf names no mailhub; ssmtp then used the host called mailhub"
	has "host mailhub"
	has "allow_from_override on"
	"$CONVERT" ssmtp ssmtp.conf >converted
	pretend converted
	[ "$status" -eq 0 ]
	has "host = mailhub"
}

@test "postie-convert nullmailer: remotes and control files" {
	mkdir nm
	cat >nm/remotes <<'EOF'
# smarthosts, tried in order
smtp.example.org smtp --port=587 --starttls --user=me@example.org --pass=pa55word

backup.example.org smtp --ssl --x509cafile=/etc/ssl/my-ca.pem --x509certfile=/etc/ssl/me.pem --insecure --x509fmtder --frob
qmqp.example.org qmqp
plain.example.org
EOF
	echo box >nm/me
	echo mail.example.org >nm/helohost
	echo example.org >nm/defaultdomain
	echo admin@example.org >nm/adminaddr
	echo 60 >nm/pausetime
	echo notes >nm/README
	cat >expected <<'EOF'
# postierc converted from nullmailer's nm by postie-convert.
# Check it with "postie -C FILE --pretend", then install it as
# /etc/postierc (or ~/.postierc). See postierc(5).

defaults
domain mail.example.org
from %U@box.example.org

# not converted: the file README
# not converted: pausetime=60 (postie has no queue: it sends at once or fails)
# not converted: adminaddr=admin@example.org (postie does not redirect mail for local users)
# For mail to local users (root, ...) to go to admin@example.org, put the
# line "default: admin@example.org" in an aliases file and name it in the
# defaults section, e.g.  aliases /etc/aliases

account remote1
host smtp.example.org
port 587
tls on
tls_starttls on
auth on
user me@example.org
# The password was copied from the remotes file. Keep this file private
# (chmod 600 it), or better, delete the line and let a password
# manager print it, e.g.  passwordeval "pass show mail/smtp"
password pa55word

account remote2
host backup.example.org
tls on
tls_starttls off
tls_trust_file /etc/ssl/my-ca.pem
tls_cert_file /etc/ssl/me.pem
# nullmailer read the private key from the certificate file
tls_key_file /etc/ssl/me.pem
# --insecure: the certificate is not verified, so anyone on the way
# can read the session; prefer tls_fingerprint (postie --serverinfo)
tls_certcheck off
# not converted: --x509fmtder (postie reads PEM files only; convert them with certtool or openssl)
# not converted: --frob

# not converted: qmqp.example.org qmqp (the qmqp protocol; postie speaks SMTP)

account remote3
host plain.example.org
# This server was used without TLS. With no tls line postie uses
# STARTTLS whenever the server offers it; add "tls off" to never use it.

# nullmailer tried the remotes in this order until one took the
# message; postie sends through one account: the default below.
# "postie -a remote2" sends through another.
account default : remote1
EOF
	converts_as_expected nullmailer nm/

	"$CONVERT" nullmailer nm >converted
	pretend converted
	[ "$status" -eq 0 ]
	has "account = default"
	has "host = smtp.example.org"
	has "port = 587"
	has "tls = on"
	has "auth = on"
	has "user = me@example.org"
	has "password = *"
	has "domain = mail.example.org"
	has "from = tester@box.example.org"
	pretend converted -a remote2
	[ "$status" -eq 0 ]
	has "host = backup.example.org"
	has "port = 465"
	has "tls_starttls = off"
	has "tls_certcheck = off"
	has "tls_key_file = /etc/ssl/me.pem"
	has "from = tester@box.example.org"
	pretend converted -a remote3
	[ "$status" -eq 0 ]
	has "host = plain.example.org"
	has "tls = (not set)"
}

@test "postie-convert nullmailer: allmailfrom, AUTH LOGIN, a remotes file alone" {
	mkdir nm
	echo 'mail.example.org --port=2525 --user=u --pass=p --auth-login --ssl' >nm/remotes
	echo bounces@example.org >nm/allmailfrom
	echo relay1 >nm/defaulthost
	cat >expected <<'EOF'
# postierc converted from nullmailer's nm by postie-convert.
# Check it with "postie -C FILE --pretend", then install it as
# /etc/postierc (or ~/.postierc). See postierc(5).

defaults
# allmailfrom: every message is sent with this envelope sender
from bounces@example.org
allow_from_override off

# not converted: defaulthost=relay1 (allmailfrom sets the sender)

account remote1
host mail.example.org
port 2525
tls on
tls_starttls off
auth login
user u
# The password was copied from the remotes file. Keep this file private
# (chmod 600 it), or better, delete the line and let a password
# manager print it, e.g.  passwordeval "pass show mail/smtp"
password p

account default : remote1
EOF
	converts_as_expected nullmailer nm
	"$CONVERT" nullmailer nm >converted
	pretend converted -f other@example.org
	[ "$status" -eq 0 ]
	has "from = bounces@example.org"
	has "allow_from_override = off"
	has "auth = login"

	# the remotes file without its directory: no control files
	run "$CONVERT" nullmailer nm/remotes
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "# postierc converted from nullmailer's nm/remotes by postie-convert." ]
	[[ $output != *defaults* ]]
	has "account remote1"
	has "account default : remote1"
}

@test "postie-convert nullmailer: no SMTP remote is exit 65, with the reason kept" {
	mkdir nm
	printf '# only QMQP\nq.example.org qmqp\n' >nm/remotes
	run "$CONVERT" nullmailer nm
	[ "$status" -eq 65 ]
	has "# not converted: q.example.org qmqp (the qmqp protocol; postie speaks SMTP)"
	has "postie-convert: no SMTP remote in nm/remotes"
}

@test "postie-convert: usage errors are 64, unreadable input is 66" {
	run "$CONVERT"
	[ "$status" -eq 64 ]
	[[ ${lines[0]} == "postie-convert: no input format given" ]]
	[[ $output == *"usage: postie-convert ssmtp SSMTP.CONF [REVALIASES]"* ]]
	run "$CONVERT" exim /etc/exim4
	[ "$status" -eq 64 ]
	[[ ${lines[0]} == *"unknown input format 'exim'"* ]]
	touch a b c
	run "$CONVERT" ssmtp
	[ "$status" -eq 64 ]
	run "$CONVERT" ssmtp a b c
	[ "$status" -eq 64 ]
	run "$CONVERT" nullmailer
	[ "$status" -eq 64 ]
	run "$CONVERT" nullmailer a b
	[ "$status" -eq 64 ]

	run "$CONVERT" ssmtp no-such-file
	[ "$status" -eq 66 ]
	[ "$output" = "postie-convert: cannot read no-such-file" ]
	run "$CONVERT" ssmtp a no-such-revaliases
	[ "$status" -eq 66 ]
	mkdir d
	run "$CONVERT" ssmtp d
	[ "$status" -eq 66 ]
	run "$CONVERT" nullmailer d
	[ "$status" -eq 66 ]
	[ "$output" = "postie-convert: cannot read d/remotes" ]
	run "$CONVERT" nullmailer no-such-dir
	[ "$status" -eq 66 ]

	run "$CONVERT" --help
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "usage: postie-convert ssmtp"* ]]
}

@test "postie-convert is a POSIX sh script" {
	[ "$(head -n 1 "$CONVERT")" = "#!/bin/sh" ]
	[ -x "$CONVERT" ]
	sh -n "$CONVERT"
	# run by dash, the strictest common sh, when /bin/sh is another one
	echo 'mailhub=m.example.org' >ssmtp.conf
	run dash "$CONVERT" ssmtp ssmtp.conf
	[ "$status" -eq 0 ]
	has "host m.example.org"
}

# ----------------------------------------------------- bash completion

# bcomp WORD...: the completions bash offers for the last WORD (COMP_WORDS
# as readline splits them: "=" is a word of its own after an option).
bcomp() {
	bash -c 'set -u; source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_postie
		if ((${#COMPREPLY[@]})); then printf "%s\n" "${COMPREPLY[@]}"; fi' \
		bcomp "$CONTRIB/completion/postie.bash" "$@"
}

@test "bash completion: long options come from postie --help" {
	run bcomp postie --tl
	[ "$status" -eq 0 ]
	has "--tls"
	has "--tls-starttls"
	has "--tls-certcheck"
	has "--tls-trust-file="
	for l in "${lines[@]}"; do [[ $l == --tl* ]]; done
	[[ $output != *--timeout* ]]

	# every long option of --help, and nothing else
	"$POSTIE" --help | sed -n 's/^ *\(-[A-Za-z], \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p' | sort >want
	[ "$(wc -l <want)" -gt 40 ]
	bcomp postie -- | sed 's/=$//' | sort >got
	diff -u want got
}

@test "bash completion: words for option values, attached or not" {
	run bcomp postie --tls = ""
	[ "$output" = $'on\noff' ]
	run bcomp postie --tls = o
	[ "$output" = $'on\noff' ]
	# COMP_WORDBREAKS without "=": the option stays in the word
	run bcomp postie --tls=
	[ "$output" = $'--tls=on\n--tls=off' ]
	run bcomp postie --protocol ""
	[ "$output" = $'smtp\nlmtp' ]
	run bcomp postie --dsn-return = ""
	[ "$output" = $'off\nheaders\nfull' ]
	run bcomp postie -R ""
	[ "$output" = $'off\nheaders\nfull' ]
	run bcomp postie --auth = ""
	has on
	has off
	has plain
	has scram-sha-256
	has xoauth2
	run bcomp postie --auth = scram-sha-256
	[ "$output" = $'scram-sha-256-plus\nscram-sha-256' ]
	run bcomp postie -N failure,d
	[ "$output" = "failure,delay" ]
	run bcomp postie --syslog = LOG_M
	[ "$output" = "LOG_MAIL" ]
	# --tls takes its value only attached: the next word is a recipient
	run bcomp postie --tls o
	[ -z "$output" ]
	# after --, only recipients
	run bcomp postie -- --t
	[ -z "$output" ]
}

@test "bash completion: -a offers the accounts of the configuration files" {
	cat >"$HOME/.postierc" <<'EOF'
defaults
port 587
account home
host smtp.home.example
account work : home
from me@work.example
account default : home
EOF
	printf 'account sys\nhost relay.example\n' >"$POSTIE_SYSTEM_CONFIG"
	cat >other.rc <<'EOF'
account alpha
host a.example
 account  beta : alpha
host b.example
EOF
	run bcomp postie -a ""
	[ "$output" = $'default\nhome\nsys\nwork' ]
	run bcomp postie --account = w
	[ "$output" = "work" ]
	run bcomp postie -C other.rc -a ""
	[ "$output" = $'alpha\nbeta\nsys' ]
	run bcomp postie --file=other.rc --account ""
	[ "$output" = $'alpha\nbeta\nsys' ]
	# $XDG_CONFIG_HOME/postie/config comes before ~/.postierc
	mkdir -p xdg/postie
	printf 'account xdgacct\nhost x.example\n' >xdg/postie/config
	export XDG_CONFIG_HOME="$PWD/xdg"
	run bcomp postie -a ""
	unset XDG_CONFIG_HOME
	[ "$output" = $'sys\nxdgacct' ]
	# -C and --logfile complete file names
	run bcomp postie -C oth
	[ "$output" = "other.rc" ]
	run bcomp postie --logfile = oth
	[ "$output" = "other.rc" ]
}

@test "bash completion: also for postie installed as sendmail" {
	run bash -c 'source "$1"; complete -p sendmail' x "$CONTRIB/completion/postie.bash"
	[ "$status" -eq 0 ]
	[[ $output == *"-F _postie"* ]]
	run bcomp sendmail --pre
	[ "$output" = "--pretend" ]
	run bcomp sendmail -
	has "-t"
	has "-f"
	has "--read-envelope-from"
}

@test "bash completion: an option added to --help is offered at once" {
	mkdir fake
	cat >fake/postie <<'EOF'
#!/bin/sh
cat <<'HELP'
Usage: postie [options] [--] [recipient ...]

  --help                print this help and exit
  -Z, --frobnicate[=yes|no]  a new option
  --colour=red|green    another one
HELP
EOF
	chmod +x fake/postie
	run bcomp "$PWD/fake/postie" --
	[ "$output" = $'--help\n--frobnicate\n--colour=' ]
	run bcomp "$PWD/fake/postie" --frobnicate = ""
	[ "$output" = $'yes\nno' ]
	run bcomp "$PWD/fake/postie" --colour ""
	[ "$output" = $'red\ngreen' ]
}

# ------------------------------------------------------ zsh completion

# zcomp LINE: the matches zsh's completion system offers at the end of
# LINE, typed into an interactive zsh on a pseudo-terminal.
zcomp() {
	cat >zcap.zsh <<'EOF'
zmodload zsh/zpty || exit 1
local out= chunk i
zpty z zsh -f -i
zpty -w z "PS1='' PROMPT='' RPROMPT=''; fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -d \$TMPDIR/zcompdump"
# print each match on a line of its own, marked; leave after one completion
zpty -w z 'compadd() { if (( ${@[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi; local -a m; builtin compadd -O m "$@"; (( $#m )) && print -rl -- "" "<m""m>"${^m}; builtin compadd "$@"; }'
zpty -w z '_zc_done() { print -r -- "" "<en""d>"; exit; }; comppostfuncs=(_zc_done); bindkey "^I" complete-word'
zpty -w -n z "$2"$'\t'
for (( i = 0; i < 200; i++ )); do
	if zpty -r -t z chunk; then
		out+=$chunk
		[[ $out == *'<end>'* ]] && break
	else
		sleep 0.05
	fi
done
zpty -d z
[[ $out == *'<end>'* ]] || { print -u2 -r -- "no completion: $out"; exit 1; }
print -rl -- ${(o)${(M)${(f)out//$'\r'/}:#<mm>*}#<mm>}
EOF
	zsh -f zcap.zsh "$CONTRIB/completion" "$1"
}

@test "zsh completion: the file is valid zsh" {
	zsh -n "$CONTRIB/completion/_postie"
	[ "$(head -n 1 "$CONTRIB/completion/_postie")" = "#compdef postie sendmail" ]
}

@test "zsh completion: options, values and accounts from a real zsh" {
	printf 'account home\nhost h.example\naccount work : home\naccount default : home\n' >"$HOME/.postierc"
	run zcomp 'postie --tl'
	[ "$status" -eq 0 ]
	has "--tls"
	has "--tls-starttls"
	has "--tls-trust-file"
	for l in "${lines[@]}"; do [[ $l == --tl* ]]; done
	run zcomp 'postie --tls='
	[ "$output" = $'off\non' ]
	run zcomp 'postie --protocol '
	[ "$output" = $'lmtp\nsmtp' ]
	run zcomp 'postie -a '
	[ "$output" = $'default\nhome\nwork' ]
	printf 'account alpha\nhost a.example\n' >other.rc
	run zcomp 'postie -C other.rc --account='
	[ "$output" = "alpha" ]
	run zcomp 'sendmail --pre'
	[ "$output" = "--pretend" ]
}

# ----------------------------------------------------------- logrotate

@test "logrotate: the sample passes logrotate's debug mode" {
	run logrotate -d -s "$BATS_TEST_TMPDIR/state" "$CONTRIB/logrotate/postie"
	[ "$status" -eq 0 ]
	[[ $output == *"rotating pattern: /var/log/postie.log  weekly (8 rotations)"* ]]
	[[ $output == *"empty log files are not rotated"* ]]
	[[ $output != *error* ]]
}

@test "logrotate: the sample rotates a log and creates the new one" {
	mkdir -m 755 log
	sed "s|/var/log/postie.log|$PWD/log/postie.log|" "$CONTRIB/logrotate/postie" >rotate.conf
	# only root can give the file to root:adm
	[[ $EUID -eq 0 ]] || sed -i 's/create 0640 root adm/create 0640/' rotate.conf
	echo "Nov 22 10:00:00 host=smtp.example.org exitcode=EX_OK" >log/postie.log
	run logrotate -f -s "$PWD/state" rotate.conf
	[ "$status" -eq 0 ]
	[ "$(cat log/postie.log.1)" = "Nov 22 10:00:00 host=smtp.example.org exitcode=EX_OK" ]
	[ -f log/postie.log ] && [ ! -s log/postie.log ]
	[ "$(stat -c %a log/postie.log)" = 640 ]
	if [[ $EUID -eq 0 ]]; then
		[ "$(stat -c %U:%G log/postie.log)" = root:adm ]
	fi
	# an empty log is left alone (notifempty)
	run logrotate -f -s "$PWD/state" rotate.conf
	[ "$status" -eq 0 ]
	[ ! -e log/postie.log.2 ] && [ ! -e log/postie.log.2.gz ]
}

# ------------------------------------------------------------ examples

@test "the example configurations are accepted by postie, every account" {
	local f a n=0
	for f in gmail-oauth fastmail office365 cron-alerts local-relay; do
		[ -f "$CONTRIB/examples/$f.postierc" ]
	done
	for f in "$CONTRIB"/examples/*.postierc; do
		cp "$f" ex.rc
		pretend ex.rc
		[ "$status" -eq 0 ] || { echo "$f: $output"; false; }
		has "account = default"
		for a in $(awk '$1 == "account" { print $2 }' ex.rc); do
			pretend ex.rc -a "$a"
			[ "$status" -eq 0 ] || { echo "$f, account $a: $output"; false; }
			has "account = $a"
			n=$((n + 1))
		done
	done
	[ "$n" -ge 10 ]
	cp "$CONTRIB/examples/gmail-oauth.postierc" g.rc
	pretend g.rc
	has "host = smtp.gmail.com"
	has "auth = xoauth2"
	has "tls = on"
	has "oauth_provider = google"
	has "oauth_flow = authcode"
	has "oauth_scope = https://mail.google.com/"
}

@test "contrib/README describes every contrib file" {
	local f
	for f in completion/postie.bash completion/_postie logrotate/postie postie-convert \
		systemd/postie-queue.service.in systemd/user/postie-queue.service.in \
		systemd/postie-queue.timer systemd/postie-smtpd.socket systemd/postie-smtpd@.service.in \
		cron/postie-queue.in examples/gmail-oauth.postierc examples/fastmail.postierc \
		examples/office365.postierc examples/cron-alerts.postierc \
		examples/local-relay.postierc postierc.example quickstart.sh testdeps.sh; do
		[ -e "$CONTRIB/$f" ]
		# the examples are listed under "examples/" by their own names
		grep -q -F "${f#examples/}" "$CONTRIB/README" || { echo "not in contrib/README: $f"; false; }
	done
}

# ------------------------------------------------ systemd units, cron line

# built_units: $bindir as configured, and the built units with the timer
# beside each service, as installed: sys/ (system) and user/.
built_units() {
	# shellcheck disable=SC2016 # make expands $(...), not the shell
	make_vars 'bindir=$(bindir)' || return 1
	[[ $bindir == /* ]]
	mkdir -p sys user
	cp "$BUILDDIR/contrib/systemd/postie-queue.service" "$CONTRIB/systemd/postie-queue.timer" sys/
	cp "$BUILDDIR/contrib/systemd/user/postie-queue.service" "$CONTRIB/systemd/postie-queue.timer" user/
}

# unit_settings FILE: each setting of a unit file as SECTION.KEY=VALUE;
# fails on a line that is not a comment, a blank, [Section] or KEY=VALUE
# (continuation lines included), and on a setting outside a section.
unit_settings() {
	awk '
		/^[#;]/ || /^[ \t]*$/ { next }
		/^\[[A-Za-z]+\]$/ { sec = substr($0, 2, length($0) - 2); next }
		sec != "" && /^[A-Za-z]+=/ && !/\\$/ {
			i = index($0, "="); print sec "." substr($0, 1, i - 1) "=" substr($0, i + 1); next
		}
		{ print FILENAME ":" FNR ": not a unit setting: " $0 > "/dev/stderr"; bad = 1 }
		END { exit bad }' "$1"
}

# The settings systemd documents for each section, as far as these
# units use them (systemd.unit(5), systemd.service(5), systemd.exec(5),
# systemd.timer(5)).
KNOWN_KEYS=" Unit.Description Unit.Documentation Unit.Wants Unit.After Service.Type
	Service.ExecStart Service.NoNewPrivileges Service.ProtectSystem Service.ReadWritePaths
	Service.PrivateTmp Service.ProtectKernelTunables Service.ProtectKernelModules
	Service.ProtectKernelLogs Service.ProtectControlGroups Service.ProtectClock
	Service.ProtectHostname Service.RestrictAddressFamilies Service.RestrictNamespaces
	Service.RestrictRealtime Service.RestrictSUIDSGID Service.LockPersonality
	Service.SystemCallArchitectures Timer.OnCalendar Install.WantedBy
	Socket.ListenStream Socket.Accept Service.StandardInput Service.StandardOutput
	Service.StandardError "

# settings_of FILE: unit_settings into $settings, every key a known one
# and every boolean "yes".
settings_of() {
	local l k bad=0
	settings="$(unit_settings "$1")" || return 1
	while IFS= read -r l; do
		k="${l%%=*}"
		[[ $KNOWN_KEYS == *[[:space:]]"$k"[[:space:]]* ]] || { echo "$1: unknown setting $l"; bad=1; }
		case $k in Service.Protect[KC]* | Service.Restrict[RSN]* | Service.NoNewPrivileges | \
			Service.PrivateTmp | Service.LockPersonality | Service.ProtectHostname)
			[[ ${l#*=} == yes ]] || { echo "$1: not a yes: $l"; bad=1; } ;;
		esac
	done <<<"$settings"
	return "$bad"
}

# setting KEY VALUE: $settings holds KEY=VALUE; no_setting KEY: no KEY.
setting() { grep -qxF "$1=$2" <<<"$settings" || { echo "missing: $1=$2"; false; }; }
no_setting() { ! grep -q "^$1=" <<<"$settings" || { echo "unexpected: $1"; false; }; }
# no_placeholder FILE: configure's @VAR@ all substituted.
no_placeholder() { ! grep -n '@[A-Za-z_]*@' "$1" || { echo "in $1"; false; }; }

@test "systemd: the system service runs the installed postie --queue-run once, as root, sandboxed" {
	built_units
	settings_of sys/postie-queue.service
	setting Service.Type oneshot
	setting Service.ExecStart "$bindir/postie --queue-run"
	[ "$(grep -c '^Service.ExecStart=' <<<"$settings")" -eq 1 ]
	no_setting Service.User
	grep -q '^# It runs as root' sys/postie-queue.service
	setting Unit.After network-online.target
	setting Unit.Wants network-online.target
	setting Service.NoNewPrivileges yes
	setting Service.ProtectSystem strict
	setting Service.PrivateTmp yes
	# what sending writes stays writable: the queue, the log, root's tokens
	setting Service.ReadWritePaths "-/var/spool/postie -/var/log -/root/.local/state/postie"
	setting Service.RestrictAddressFamilies "AF_UNIX AF_INET AF_INET6 AF_NETLINK"
	no_placeholder sys/postie-queue.service
}

@test "systemd: the user service runs the same command, without what a user's manager lacks" {
	built_units
	settings_of user/postie-queue.service
	setting Service.Type oneshot
	setting Service.ExecStart "$bindir/postie --queue-run"
	# a setgid postie must keep its group to read /etc/postierc
	no_setting Service.NoNewPrivileges
	no_setting Service.ProtectSystem
	no_setting Service.ReadWritePaths
	no_setting Unit.After
	no_placeholder user/postie-queue.service
}

@test "systemd: the timer starts postie-queue.service every 5 minutes and is enabled by timers.target" {
	settings_of "$CONTRIB/systemd/postie-queue.timer"
	setting Timer.OnCalendar '*:0/5'
	setting Install.WantedBy timers.target
	no_setting Timer.Unit
	[ "$(grep -c '^Timer\.' <<<"$settings")" -eq 1 ]
	# the check itself: a mistyped key, a broken line
	printf '[Timer]\nOnCalender=*:0/5\n' >bad.timer
	run settings_of bad.timer
	[ "$status" -ne 0 ]
	[[ $output == *"unknown setting Timer.OnCalender="* ]]
	printf '[Timer]\nOnCalendar *:0/5\n' >bad.timer
	run settings_of bad.timer
	[ "$status" -ne 0 ]
	[[ $output == *"bad.timer:2: not a unit setting"* ]]
}

# analyze_works: systemd-analyze is installed and verifies a trivial
# unit here (in some containers it cannot start its manager).
analyze_works() {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	printf '[Service]\nType=oneshot\nExecStart=%s --version\n' "$POSTIE_ABS" >probe.service
	run systemd-analyze "$@" verify --man=no probe.service
	[[ $status -eq 0 && -z $output ]] || skip "systemd-analyze verify does not work here: $output"
}

# verify_units DIR [OPTIONS]: systemd-analyze verify of DIR's service
# (naming the built postie, as the installed one may not exist) and timer,
# without a word of warning.
verify_units() {
	local d="$1"
	shift
	sed -i "s|^ExecStart=$bindir/postie |ExecStart=$POSTIE_ABS |" "$d/postie-queue.service"
	grep -qxF "ExecStart=$POSTIE_ABS --queue-run" "$d/postie-queue.service"
	run systemd-analyze "$@" verify --man=no "$d/postie-queue.service" "$d/postie-queue.timer"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "systemd-analyze verify: the system units, without a warning; it reports a mistyped key" {
	analyze_works
	built_units
	verify_units sys
	echo "ProtectSytem=strict" >>sys/postie-queue.service
	run systemd-analyze verify --man=no sys/postie-queue.service sys/postie-queue.timer
	[[ $output == *"Unknown key 'ProtectSytem'"* ]]
}

@test "systemd-analyze --user verify: the user units, without a warning" {
	mkdir -m 700 run
	export XDG_RUNTIME_DIR="$PWD/run"
	analyze_works --user
	built_units
	verify_units user --user
}

@test "systemd-analyze calendar: the timer's OnCalendar is every 5 minutes on the clock" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	run systemd-analyze calendar '*:0/5'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"Normalized form: *-*-* *:00/5:00"* ]]
}

@test "cron: one line, every 5 minutes, root, the installed postie --queue-run" {
	local f="$BUILDDIR/contrib/cron/postie-queue" m h dom mon dow user cmd
	# shellcheck disable=SC2016 # make expands $(...), not the shell
	make_vars 'bindir=$(bindir)'
	run grep -v -e '^#' -e '^[[:space:]]*$' "$f"
	[ "${#lines[@]}" -eq 1 ]
	read -r m h dom mon dow user cmd <<<"${lines[0]}"
	[ "$m $h $dom $mon $dow" = "*/5 * * * *" ]
	[ "$user" = root ]
	[ "$cmd" = "$bindir/postie --queue-run" ]
	[ -z "$(tail -c 1 "$f")" ]   # cron ignores a last line without its newline
	# run-parts and cron skip /etc/cron.d files whose names have a dot
	[[ ${f##*/} =~ ^[A-Za-z0-9_-]+$ ]]
}

@test "the timer's and cron's command: quiet while a message waits, sends it once it is due" {
	local args q="$BATS_TEST_TMPDIR/q" env
	built_units
	args="$(sed -n "s|^ExecStart=$bindir/postie ||p" sys/postie-queue.service)"
	[ "$args" = "--queue-run" ]
	grep -q "root $bindir/postie $args\$" "$BUILDDIR/contrib/cron/postie-queue"
	sink_start && sink_stop   # a port with nothing listening
	write_config "queue tempfail" "queue_dir $q"
	run "$POSTIE" r@example.org <<<"Subject: timer"
	[ "$status" -eq 0 ]
	env=("$q"/*.env)
	[ -f "${env[0]}" ]
	sink_start --port "$SINK_PORT"
	# shellcheck disable=SC2086 # the unit's arguments, split as systemd does
	run "$POSTIE" $args   # not due yet: nothing sent, nothing said
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(sink_count)" -eq 0 ]
	sed -i "s/^next-try: .*/next-try: $(($(date +%s) - 1))/" "${env[0]}"
	# shellcheck disable=SC2086
	run "$POSTIE" $args
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(sink_count)" -eq 1 ]
	[ ! -e "${env[0]}" ]
}

# ------------------------------------- the SMTP socket and postie -bs service

# smtpd_units: $bindir as configured; in smtpd/, the built
# postie-smtpd@.service and the socket beside it, as installed; and the
# queue runner's built units in sys/ (built_units).
smtpd_units() {
	built_units || return 1
	mkdir -p smtpd
	cp "$BUILDDIR/contrib/systemd/postie-smtpd@.service" "$CONTRIB/systemd/postie-smtpd.socket" smtpd/
}

# sandbox FILE: the sandboxing lines of a service file.
sandbox() {
	grep -E '^(NoNewPrivileges|Protect[A-Za-z]+|ReadWritePaths|PrivateTmp|Restrict[A-Za-z]+|LockPersonality|SystemCallArchitectures)=' "$1"
}

@test "systemd: the SMTP socket listens on 127.0.0.1:2525 only, one service per connection, and warns" {
	local f="$CONTRIB/systemd/postie-smtpd.socket"
	settings_of "$f"
	setting Socket.ListenStream 127.0.0.1:2525
	[ "$(grep -c '^Socket\.ListenStream=' <<<"$settings")" -eq 1 ]
	setting Socket.Accept yes
	setting Install.WantedBy sockets.target
	# what it is for, and who can send through it
	grep -q '^# only send mail to an SMTP server (host and port), not run a sendmail$' "$f"
	grep -q '^# Anything that can connect to this port can send mail through that$' "$f"
	grep -q 'Keep it on the loopback$' "$f"
}

@test "systemd: postie-smtpd@.service runs the installed postie -bs on the connection, sandboxed as the queue runner" {
	smtpd_units
	settings_of smtpd/postie-smtpd@.service
	setting Service.ExecStart "$bindir/postie -bs"
	[ "$(grep -c '^Service.ExecStart=' <<<"$settings")" -eq 1 ]
	setting Service.StandardInput socket
	setting Service.StandardOutput socket
	setting Service.StandardError journal
	no_setting Service.User
	no_setting Service.Type
	no_setting Install.WantedBy   # the socket starts it, nothing else
	# root's configuration and queue, in postie-queue.service's sandbox
	grep -q '^# It runs as root' smtpd/postie-smtpd@.service
	diff <(sandbox sys/postie-queue.service) <(sandbox smtpd/postie-smtpd@.service)
	setting Service.ProtectSystem strict
	grep -q 'keep the socket on the loopback address' smtpd/postie-smtpd@.service
	no_placeholder smtpd/postie-smtpd@.service
}

@test "systemd-analyze verify: the SMTP socket and its service, without a warning; the socket needs the service" {
	analyze_works
	smtpd_units
	sed -i "s|^ExecStart=$bindir/postie |ExecStart=$POSTIE_ABS |" smtpd/postie-smtpd@.service
	grep -qxF "ExecStart=$POSTIE_ABS -bs" smtpd/postie-smtpd@.service
	run systemd-analyze verify --man=no smtpd/postie-smtpd.socket smtpd/postie-smtpd@.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# the check itself: without its service beside it, the socket fails
	rm smtpd/postie-smtpd@.service
	run systemd-analyze verify --man=no smtpd/postie-smtpd.socket
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"postie-smtpd@"*"not loaded"* ]]
}

# exits_logged N: the accept loop logged N exits of the command it spawned.
exits_logged() { [ "$(grep -c '^exit ' spawned 2>/dev/null)" -eq "$1" ]; }

@test "the SMTP socket's service as systemd's Accept=yes runs it: SMTP clients send through postie -bs" {
	local cmd
	smtpd_units
	# the service's command, with the built postie for the installed one
	cmd="$(sed -n "s|^ExecStart=$bindir/postie |$POSTIE_ABS |p" smtpd/postie-smtpd@.service)"
	[ "$cmd" = "$POSTIE_ABS -bs" ]
	sink_start
	write_config "logfile $HOME/postie.log"
	# systemd's Accept=yes with StandardInput=socket, StandardOutput=socket:
	# one process per connection, the connection as fd 0 and 1
	cat >accept.py <<'EOF'
import os, shlex, socket, subprocess, sys, threading
argv, port_file, log = shlex.split(sys.argv[1]), sys.argv[2], open(sys.argv[3], 'a', buffering=1)
srv = socket.create_server(('127.0.0.1', 0))
with open(port_file + '.tmp', 'w') as f:
    f.write(str(srv.getsockname()[1]))
os.rename(port_file + '.tmp', port_file)
def reap(p):
    log.write('exit %d\n' % p.wait())
while True:
    conn, _ = srv.accept()
    p = subprocess.Popen(argv, stdin=conn, stdout=conn)
    conn.close()
    log.write('spawned %d\n' % p.pid)
    threading.Thread(target=reap, args=(p,), daemon=True).start()
EOF
	/usr/bin/python3 accept.py "$cmd" port spawned 2>accept.err 3>&- &
	ACCEPT_PID=$!
	wait_file port "$ACCEPT_PID"
	run /usr/bin/python3 - "$(<port)" <<'EOF'
import smtplib, sys
for n in (1, 2):
    with smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=10) as s:
        s.ehlo('app.example')
        refused = s.sendmail('sender@example.org', [f'r{n}@example.org'],
                             f'Subject: via the socket {n}\r\n\r\nbody {n}\r\n')
        assert refused == {}, refused
print('sent')
EOF
	echo "$output"
	cat accept.err
	[ "$output" = sent ]
	[ "$(sink_count)" -eq 2 ]
	grep -qx 'RCPT TO:<r1@example.org>' "$(sink_env 1)"
	grep -qx 'RCPT TO:<r2@example.org>' "$(sink_env 2)"
	[ "$(sink_header 2 Subject)" = "via the socket 2" ]
	# one postie per connection, each gone with exit 0 after QUIT
	wait_until 10 exits_logged 2
	cat spawned
	[ "$(grep -c '^spawned ' spawned)" -eq 2 ]
	[ "$(grep -c '^exit 0$' spawned)" -eq 2 ]
	[ "$(wc -l <"$HOME/postie.log")" -eq 2 ]
}
