#!/usr/bin/env bats
# postie's SMTP AUTH against a real Postfix whose SASL is a real Dovecot
# (tests/postfix.bash, postfix_start_sasl).  The two AUTH listeners relay
# only for an authenticated client (127.0.0.1 is not trusted there); what
# they accept goes on to the recording sink.  Postfix's Received: header
# then says "(Authenticated sender: tester)" and "with ESMTPSA", and its
# log names the SASL mechanism and user of the session that queued the
# message.  One Postfix, Dovecot and sink serve the whole file, so every
# test marks its message and looks only for that mark and at the log lines
# after its start.
load common
load pki
load postfix

setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
	postfix_start_sasl "$PKI"
}

teardown_file() { postfix_stop; }

setup() {
	common_setup
	MARK="postfix-auth-$BATS_TEST_NUMBER-$$-$RANDOM"
	LOG_MARK="$(postfix_log_lines)"
	DOVECOT_LOG="$POSTFIX_DIR/dovecot/dovecot.log"
	DOVECOT_MARK="$(wc -l <"$DOVECOT_LOG")"
	BEFORE="$(sink_count)"
}

# Not common_teardown: the servers belong to the file, not to the test.
# On failure, bats shows this output: Postfix's and Dovecot's view.
teardown() {
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		echo "# postie: status ${status:-?}, output: ${output:-}"
		tail -n "+$((${LOG_MARK:-0} + 1))" "$POSTFIX_DIR/maillog"
		echo "--- Dovecot ---"
		tail -n "+$((${DOVECOT_MARK:-0} + 1))" "$DOVECOT_LOG"
	fi
}

# auth_config PORT [config lines...]: ~/.postierc for Postfix on PORT,
# with TLS verified against the test CA.
auth_config() {
	local port="$1" l
	shift
	{
		echo "account default"
		echo "host 127.0.0.1"
		echo "port $port"
		echo "from sender@example.org"
		echo "timeout 20"
		echo "tls on"
		echo "tls_trust_file $PKI/ca.pem"
		for l in "$@"; do echo "$l"; done
	} >"$HOME/.postierc"
	chmod 600 "$HOME/.postierc"
}

# send: postie submits a message carrying $MARK to rcpt@example.net.
send() {
	run timeout 60 "$POSTIE" rcpt@example.net \
		< <(printf 'Subject: %s\n\nbody %s\n' "$MARK" "$MARK")
}

# relayed: wait for Postfix's copy of this test's message at the sink;
# check body and envelope; set RECEIVED (Postfix's Received: header,
# unfolded) and QID (Postfix's queue id).
relayed() {
	local msg
	msg="$(postfix_wait_relayed "$MARK")"
	grep -qx "body $MARK" <(unix_text "$msg")
	grep -qx 'RCPT TO:<rcpt@example.net>' "${msg%.eml}.env"
	grep -q '^MAIL FROM:<sender@example.org>' "${msg%.eml}.env"
	# Postfix prepends its Received: header, so the first one is its.
	RECEIVED="$(unix_text "$msg" | awk '
		/^$/ { exit }
		on && /^[ \t]/ { sub(/^[ \t]+/, " "); printf "%s", $0; next }
		on { exit }
		/^Received:/ { on = 1; printf "%s", $0 }')"
	echo "# Received: ${RECEIVED#Received: }"
	[[ $RECEIVED =~ \ by\ postfix\.test\ .*\ id\ ([0-9A-Za-z]+) ]]
	QID="${BASH_REMATCH[1]}"
}

# authenticated LISTENER MECH: the message came over TLS from a client
# that authenticated as tester: Received: says so (RFC 3848 ESMTPSA), and
# Postfix's log names the listener (submission or submissions) and the
# SASL mechanism of the session that queued it.
authenticated() {
	[[ $RECEIVED == *"(using TLSv1."*" with cipher "* ]]
	[[ $RECEIVED == *"(Authenticated sender: tester)"* ]]
	[[ $RECEIVED == *" with ESMTPSA id $QID"* ]]
	local line
	line="$(postfix_wait_log "postfix-test/$1/smtpd\[[0-9]+\]: $QID: client=" "$LOG_MARK")"
	echo "# ${line#*]: }"
	[[ $line =~ \ client=[^\ ]*\[127\.0\.0\.1\],\ sasl_method=$2,\ sasl_username=tester$ ]]
}

# nothing_relayed: Postfix holds nothing and the sink got nothing new.
# The queue is checked first, so a message accepted meanwhile would show
# in the sink.
nothing_relayed() {
	postfix_queue_empty
	[ "$(sink_count)" -eq "$BEFORE" ]
	! grep -rqF "$MARK" "$SINK_DIR" || false
}

# no_password_in_output PASSWORD USER: postie's output shows neither the
# password nor its SASL PLAIN/LOGIN encodings.
no_password_in_output() {
	[[ $output != *"$1"* ]]
	[[ $output != *"$(printf '\0%s\0%s' "$2" "$1" | base64 -w0)"* ]]
	[[ $output != *"$(printf '%s' "$1" | base64 -w0)"* ]]
}

@test "auth plain over STARTTLS: delivered, Received says Authenticated sender, Postfix logs PLAIN" {
	auth_config "$POSTFIX_SUB_PORT" "auth plain" "user tester" "password s3cret-Pa55"
	send
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	relayed
	authenticated submission PLAIN
	postfix_wait_log "submission/smtpd\[[0-9]+\]: .*TLS connection established from" "$LOG_MARK"
}

@test "auth login over STARTTLS: delivered, Postfix logs LOGIN" {
	auth_config "$POSTFIX_SUB_PORT" "auth login" "user tester" "password s3cret-Pa55"
	send
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	relayed
	authenticated submission LOGIN
}

@test "implicit TLS with auth on: delivered; postie chose SCRAM-SHA-256 over PLAIN" {
	auth_config "$POSTFIX_SUBS_PORT" "tls_starttls off" "auth on" \
		"user tester" "password s3cret-Pa55"
	send
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	relayed
	authenticated submissions SCRAM-SHA-256
	# TLS came first: the client never sent STARTTLS.
	run postfix_wait_log "submissions/smtpd\[[0-9]+\]: disconnect from .* commands=" "$LOG_MARK"
	[ "$status" -eq 0 ]
	[[ $output != *starttls=* ]]
	[[ $output == *" auth=1 "* ]]
}

@test "auth scram-sha-256 forced: delivered, Postfix logs SCRAM-SHA-256" {
	auth_config "$POSTFIX_SUB_PORT" "auth scram-sha-256" "user tester" "password s3cret-Pa55"
	send
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	relayed
	authenticated submission SCRAM-SHA-256
}

@test "passwordeval supplies the password" {
	auth_config "$POSTFIX_SUB_PORT" "auth on" "user tester" \
		'passwordeval "echo s3cret-Pa55"'
	send
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	relayed
	authenticated submission '[A-Z0-9-]+'
}

@test "wrong password: exit 77 with the server's 535, nothing relayed, password not shown" {
	local wrong="Wr0ng-Pa55-$RANDOM"
	auth_config "$POSTFIX_SUB_PORT" "auth plain" "user tester" "password $wrong"
	send
	[ "$status" -eq 77 ]
	[[ $output == *"535 5.7.8 Error: authentication failed"* ]]
	no_password_in_output "$wrong" tester
	postfix_wait_log "submission/smtpd\[[0-9]+\]: warning: .*: SASL PLAIN authentication failed: .*, sasl_username=tester\$" "$LOG_MARK"
	# Dovecot did check the password.
	tail -n "+$((DOVECOT_MARK + 1))" "$DOVECOT_LOG" | grep -q 'passwd-file(tester,127\.0\.0\.1): Password mismatch'
	nothing_relayed
}

@test "locked account (Dovecot refuses it), right password, auth on: exit 77, nothing relayed" {
	auth_config "$POSTFIX_SUBS_PORT" "tls_starttls off" "auth on" \
		"user locked" "password s3cret-Pa55"
	send
	[ "$status" -eq 77 ]
	[[ $output == *"535 5.7.8 Error: authentication failed"* ]]
	no_password_in_output s3cret-Pa55 locked
	postfix_wait_log "submissions/smtpd\[[0-9]+\]: warning: .*: SASL [A-Z0-9-]+ authentication failed: .*, sasl_username=locked\$" "$LOG_MARK"
	tail -n "+$((DOVECOT_MARK + 1))" "$DOVECOT_LOG" | grep -q 'User found from deny passdb'
	nothing_relayed
}

@test "no auth configured: Postfix refuses to relay at RCPT, postie fails with its reply" {
	auth_config "$POSTFIX_SUB_PORT"
	send
	[ "$status" -ne 0 ]
	[[ $output == *"554 5.7.1 <rcpt@example.net>: Recipient address rejected: Access denied"* ]]
	postfix_wait_log "submission/smtpd\[[0-9]+\]: NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.1\]: 554 5.7.1 <rcpt@example.net>: Recipient address rejected: Access denied; from=<sender@example.org> to=<rcpt@example.net>" "$LOG_MARK"
	nothing_relayed
}

@test "auth on but TLS off: Postfix offers no AUTH in clear, postie fails and sends no AUTH" {
	auth_config "$POSTFIX_SUB_PORT" "tls off" "auth on" "user tester" "password s3cret-Pa55"
	send
	[ "$status" -ne 0 ]
	no_password_in_output s3cret-Pa55 tester
	# The session ended without an AUTH command (smtpd would count it as
	# "auth=N/M") and without a message.
	run postfix_wait_log "submission/smtpd\[[0-9]+\]: disconnect from .* commands=" "$LOG_MARK"
	[ "$status" -eq 0 ]
	[[ $output != *auth=* ]]
	[[ $output != *data=* ]]
	nothing_relayed
}
