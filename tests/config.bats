#!/usr/bin/env bats
# Configuration files as a user meets them: search order, errors, security.
load common
bats_require_minimum_version 1.5.0

setup() { common_setup; sink_start; }
teardown() { common_teardown; }

send() { run "$POSTIE" "$@" <<<$'Subject: t\n\nx'; }

@test "an unknown keyword names file and line: 78" {
	printf 'account default\nhost 127.0.0.1\n\n# comment\nhots x\n' >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
	send r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: ~/.postierc:5: unknown keyword 'hots' (did you mean 'host'?)" ]
	[ "$(sink_count)" -eq 0 ]
}

@test "an unknown keyword far from every keyword gets no suggestion: 78" {
	write_config "smarthost 127.0.0.1"
	send r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: ~/.postierc:6: unknown keyword 'smarthost'" ]
}

@test "-a with an unknown account lists the files read and their accounts: 78" {
	printf 'account sys\nhost 127.0.0.1\n' >"$POSTIE_SYSTEM_CONFIG"
	write_config "account work" "host 127.0.0.1"
	send -a nosuch r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: account 'nosuch' not found in $POSTIE_SYSTEM_CONFIG, $HOME/.postierc; accounts: sys, default, work" ]
	[ "$(sink_count)" -eq 0 ]
}

@test "no account chosen and no default: the accounts there and a hint: 78" {
	printf 'account home\nhost 127.0.0.1\n' >"$HOME/.msmtprc"
	send r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: no account chosen and no account 'default' in $HOME/.msmtprc; accounts: home; use -a NAME" ]
}

# The paths postie looks at, in order, when there is no file at all.
searched() {
	local x="$HOME/.config"
	echo "$POSTIE_SYSTEM_CONFIG, $x/postie/config, $HOME/.postierc, $HOME/.msmtprc, $x/msmtp/config"
}

@test "no configuration file: the message lists the paths searched, in order: 78" {
	send r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: no configuration file found and no --host given (searched $(searched)); see postierc(5)" ]
	send -a work r@example.org
	[ "$status" -eq 78 ]
	[ "$output" = "postie: account 'work' not found: no configuration file found (searched $(searched)); see postierc(5)" ]
}

@test "--pretend without a configuration file prints the paths searched: 78, as msmtp" {
	run --separate-stderr "$POSTIE" --pretend
	[ "$status" -eq 78 ]
	local x="$HOME/.config" m=": No such file or directory"
	[ "$output" = "ignoring system configuration file $POSTIE_SYSTEM_CONFIG$m
ignoring user configuration file $x/postie/config$m
ignoring user configuration file $HOME/.postierc$m
ignoring user configuration file $HOME/.msmtprc$m
ignoring user configuration file $x/msmtp/config$m" ]
	[ "$stderr" = "postie: no configuration file found and no --host given (searched $(searched)); see postierc(5)" ]
	run --separate-stderr "$POSTIE" --pretend --host=x
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nhost = x\n'* ]]
	[ -z "$stderr" ]
}

@test "--pretend names the files looked at before the one read" {
	write_config
	mv "$HOME/.postierc" "$HOME/.msmtprc"
	run --separate-stderr "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *"ignoring user configuration file $HOME/.postierc: No such file or directory
loaded user configuration file $HOME/.msmtprc
account = default"* ]]
}

@test "a bad value names file and line: 78" {
	printf 'account default\nhost 127.0.0.1\nport 99999\n' >"$HOME/.postierc"
	send r@example.org
	[ "$status" -eq 78 ]
	[[ "$output" == "postie: ~/.postierc:3: "*"port"* ]]
}

@test "a password in a file others can read is refused, even for root: 78" {
	write_config "password secret"
	chmod 644 "$HOME/.postierc"
	send r@example.org
	[ "$status" -eq 78 ]
	[[ "$output" == *".postierc"*"chmod 600"* ]]
	[[ "$output" != *secret* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "~/.msmtprc is used when postie has no file of its own" {
	write_config
	mv "$HOME/.postierc" "$HOME/.msmtprc"
	send r@example.org
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "\$XDG_CONFIG_HOME/postie/config comes before ~/.postierc" {
	write_config
	mkdir -p "$HOME/xdg/postie"
	sed 's/^from .*/from xdg@example.org/' "$HOME/.postierc" >"$HOME/xdg/postie/config"
	chmod 600 "$HOME/xdg/postie/config"
	XDG_CONFIG_HOME="$HOME/xdg" "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	grep -q '^MAIL FROM:<xdg@example.org>' "$(sink_env 1)"
}

@test "-C FILE is used instead, and a missing one is an error" {
	write_config
	mv "$HOME/.postierc" "$HOME/other"
	"$POSTIE" -C "$HOME/other" r@example.org <<<$'Subject: t\n\nx'
	[ "$(sink_count)" -eq 1 ]
	run "$POSTIE" -C "$HOME/missing" r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 78 ]
	[[ "$output" == *missing* ]]
}

@test "system file accounts are merged; a user account of the same name wins" {
	printf 'account default\nhost 192.0.2.1\nfrom system@example.org\naccount sys\nhost 127.0.0.1\nport %s\nfrom sys@example.org\n' "$SINK_PORT" >"$POSTIE_SYSTEM_CONFIG"
	write_config
	send r@example.org
	grep -q '^MAIL FROM:<sender@example.org>' "$(sink_env 1)"
	send -a sys r@example.org
	grep -q '^MAIL FROM:<sys@example.org>' "$(sink_env 2)"
}

@test "defaults, inheritance and 'account default : NAME'" {
	cat >"$HOME/.postierc" <<EOC
defaults
port $SINK_PORT
domain inherited.example

account base
host 127.0.0.1
from base@example.org

account child : base
from child@example.org

account default : child
EOC
	chmod 600 "$HOME/.postierc"
	send r@example.org
	grep -q '^MAIL FROM:<child@example.org>' "$(sink_env 1)"
	grep -q '^C: EHLO inherited.example' "$SINK_DIR/session.log"
}

@test "-f chooses the account whose from matches (wildcards and +detail)" {
	cat >"$HOME/.postierc" <<EOC
defaults
host 127.0.0.1
port $SINK_PORT
account default
from default@example.org
domain default.example
account lists
from *@lists.example.org
domain lists.example
account me
from me@example.org
domain me.example
EOC
	chmod 600 "$HOME/.postierc"
	send -f x@lists.example.org r@example.org
	grep -q '^C: EHLO lists.example' "$SINK_DIR/session.log"
	send -f me+tag@example.org r@example.org
	grep -q '^C: EHLO me.example' "$SINK_DIR/session.log"
	grep -q '^MAIL FROM:<me+tag@example.org>' "$(sink_env 2)"
}

@test "allow_from_override off ignores -f" {
	write_config "allow_from_override off"
	send -f other@example.org r@example.org
	grep -q '^MAIL FROM:<sender@example.org>' "$(sink_env 1)"
}

@test "--read-envelope-from takes the sender from the From header" {
	write_config
	run "$POSTIE" --read-envelope-from r@example.org <<<$'From: Ann <ann@example.org>\nSubject: t\n\nx'
	grep -q '^MAIL FROM:<ann@example.org>' "$(sink_env 1)"
}

@test "from substitutions %U and %H" {
	write_config "from %U@%H.example.org"
	HOSTNAME=box "$POSTIE" r@example.org <<<$'Subject: t\n\nx'
	grep -q '^MAIL FROM:<tester@box.example.org>' "$(sink_env 1)"
}

@test "eval replaces a line with a command's output, which never sees the message" {
	write_config 'eval echo from evaluated@example.org' 'eval cat > /dev/null; echo "domain $(echo eval-read-nothing)"'
	printf 'Subject: t\n\nthe whole body\n' | "$POSTIE" r@example.org
	grep -q '^MAIL FROM:<evaluated@example.org>' "$(sink_env 1)"
	grep -q $'^the whole body\r$' "$(sink_msg 1)"
}

@test "a very long value (100 KB) is read whole" {
	long=$(head -c 100000 /dev/zero | tr '\0' 'a')
	write_config "domain $long.example"
	run "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *"$long.example"* ]]
}

@test "--pretend prints the account with the password masked" {
	write_config "password hunter2" "user joe"
	run "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *"host = 127.0.0.1"* ]]
	[[ "$output" == *"password = *"* ]]
	[[ "$output" != *hunter2* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "--host uses only command-line settings and reads no file" {
	printf 'garbage line\n' >"$HOME/.postierc"
	"$POSTIE" --host 127.0.0.1 --port "$SINK_PORT" -f cli@example.org r@example.org <<<$'Subject: t\n\nx'
	grep -q '^MAIL FROM:<cli@example.org>' "$(sink_env 1)"
}

@test "command-line options override single settings of the account" {
	write_config "port 1"
	"$POSTIE" --port "$SINK_PORT" --domain cli.example r@example.org <<<$'Subject: t\n\nx'
	grep -q '^C: EHLO cli.example' "$SINK_DIR/session.log"
}

@test "auth on is refused (not yet supported)" {
	write_config "auth on" "user joe"
	send r@example.org
	[ "$status" -eq 69 ]
	[[ "$output" == *authentication* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "quoted arguments are read as msmtp reads them: backslashes kept" {
	sink_stop
	sink_start --auth PLAIN --auth-password 's3cret pw'
	# msmtp passes the command on unchanged, so the shell sees \\n
	write_config "auth plain" "user tester" "auth_without_tls on" \
		"passwordeval \"printf %s\\\\n 's3cret pw'\""
	grep -qxF "passwordeval \"printf %s\\\\n 's3cret pw'\"" "$HOME/.postierc"
	send r@example.org
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	grep -qx "PLAIN tester" "$SINK_DIR/msg-1.auth"
}

@test "--pretend shows a quoted value with its backslashes and inner quotes" {
	write_config 'from_full_name "Joe \"J\" \\ Smith"' 'user "a\"b'
	run "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nfrom_full_name = Joe \\"J\\" \\\\ Smith\n'* ]]
	[[ "$output" == *$'\nuser = "a\\"b\n'* ]]
}

@test "port 465 with tls on and no tls_starttls line means implicit TLS (--pretend)" {
	write_config "port 465" "tls on"
	run --separate-stderr "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nport = 465\n'* ]]
	[[ "$output" == *$'\ntls_starttls = off\n'* ]]
	# the same with the port from the command line and the rest inherited
	write_config "tls on" "account other : default"
	run --separate-stderr "$POSTIE" --pretend -a other --port 465
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\ntls_starttls = off\n'* ]]
}

@test "an explicit tls_starttls on, another port, or tls off keep STARTTLS (--pretend)" {
	write_config "port 465" "tls on" "tls_starttls on"
	run "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\ntls_starttls = on\n'* ]]
	write_config "tls on"
	run "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nport = '"$SINK_PORT"$'\n'* ]]
	[[ "$output" == *$'\ntls_starttls = on\n'* ]]
	write_config "port 465" "tls off"
	run "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\ntls_starttls = on\n'* ]]
}

@test "proxy_host: --pretend shows it (0); sending is refused after naming the account (69)" {
	write_config "proxy_host 127.0.0.1" "logfile $HOME/postie.log"
	run --separate-stderr "$POSTIE" --pretend
	[ "$status" -eq 0 ]
	[[ "$output" == *$'\nproxy_host = 127.0.0.1\n'* ]]
	[ -z "$stderr" ]
	run --separate-stderr "$POSTIE" -v r@example.org <<<$'Subject: t\n\nx'
	[ "$status" -eq 69 ]
	[ "$stderr" = "postie: using account 'default' from $HOME/.postierc
postie: account 'default' ($HOME/.postierc) asks for a SOCKS proxy, which this version of postie cannot use yet; refusing to connect directly" ]
	grep -q 'exitcode=EX_UNAVAILABLE' "$HOME/postie.log"
	run "$POSTIE" --serverinfo
	[ "$status" -eq 69 ]
	[[ "$output" == *"asks for a SOCKS proxy"* ]]
	[ "$(sink_count)" -eq 0 ]
	! grep -q '^\* connect' "$SINK_DIR/session.log" 2>/dev/null || false
}
