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

# MARK, LOG_MARK, DOVECOT_LOG, DOVECOT_MARK: postfix_test_setup.
setup() {
	common_setup
	postfix_test_setup postfix-auth
	BEFORE="$(sink_count)"
}

# Not common_teardown: the servers belong to the file, not to the test.
# On failure, bats shows this output: Postfix's and Dovecot's view.
teardown() { postfix_test_teardown; }

# auth_config PORT [config lines...]: ~/.postierc for Postfix on PORT,
# with TLS verified against the test CA.
auth_config() {
	local port="$1"
	shift
	postfix_postierc "$port" "tls on" "tls_trust_file $PKI/ca.pem" "$@"
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

# no_password_in_output PASSWORD USER: postie's output shows neither the
# password nor its SASL PLAIN/LOGIN encodings.
no_password_in_output() {
	[[ $output != *"$1"* ]]
	[[ $output != *"$(printf '\0%s\0%s' "$2" "$1" | base64 -w0)"* ]]
	[[ $output != *"$(printf '%s' "$1" | base64 -w0)"* ]]
}

@test "auth plain over STARTTLS: delivered, Received says Authenticated sender, Postfix logs PLAIN" {
	auth_config "$POSTFIX_SUB_PORT" "auth plain" "user tester" "password s3cret-Pa55"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated submission PLAIN
	postfix_wait_log "submission/smtpd\[[0-9]+\]: .*TLS connection established from" "$LOG_MARK"
}

@test "auth login over STARTTLS: delivered, Postfix logs LOGIN" {
	auth_config "$POSTFIX_SUB_PORT" "auth login" "user tester" "password s3cret-Pa55"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated submission LOGIN
}

@test "implicit TLS with auth on: delivered; postie chose SCRAM-SHA-256 over PLAIN" {
	auth_config "$POSTFIX_SUBS_PORT" "tls_starttls off" "auth on" \
		"user tester" "password s3cret-Pa55"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated submissions SCRAM-SHA-256
	# TLS came first: the client never sent STARTTLS.
	run postfix_wait_log "submissions/smtpd\[[0-9]+\]: disconnect from .* commands=" "$LOG_MARK"
	[ "$status" -eq 0 ]
	[[ $output != *starttls=* ]]
	[[ $output == *" auth=1 "* ]]
}

@test "auth scram-sha-256 forced: delivered, Postfix logs SCRAM-SHA-256" {
	auth_config "$POSTFIX_SUB_PORT" "auth scram-sha-256" "user tester" "password s3cret-Pa55"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated submission SCRAM-SHA-256
}

@test "passwordeval supplies the password" {
	auth_config "$POSTFIX_SUB_PORT" "auth on" "user tester" \
		'passwordeval "echo s3cret-Pa55"'
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated submission '[A-Z0-9-]+'
}

@test "wrong password: exit 77 with the server's 535, nothing relayed, password not shown" {
	local wrong="Wr0ng-Pa55-$RANDOM"
	auth_config "$POSTFIX_SUB_PORT" "auth plain" "user tester" "password $wrong"
	postfix_send "$MARK"
	[ "$status" -eq 77 ]
	[[ $output == *"535 5.7.8 Error: authentication failed"* ]]
	no_password_in_output "$wrong" tester
	postfix_wait_log "submission/smtpd\[[0-9]+\]: warning: .*: SASL PLAIN authentication failed: .*, sasl_username=tester\$" "$LOG_MARK"
	# Dovecot did check the password.
	tail -n "+$((DOVECOT_MARK + 1))" "$DOVECOT_LOG" | grep -q 'passwd-file(tester,127\.0\.0\.1): Password mismatch'
	postfix_nothing_relayed "$MARK" "$BEFORE"
}

@test "locked account (Dovecot refuses it), right password, auth on: exit 77, nothing relayed" {
	auth_config "$POSTFIX_SUBS_PORT" "tls_starttls off" "auth on" \
		"user locked" "password s3cret-Pa55"
	postfix_send "$MARK"
	[ "$status" -eq 77 ]
	[[ $output == *"535 5.7.8 Error: authentication failed"* ]]
	no_password_in_output s3cret-Pa55 locked
	postfix_wait_log "submissions/smtpd\[[0-9]+\]: warning: .*: SASL [A-Z0-9-]+ authentication failed: .*, sasl_username=locked\$" "$LOG_MARK"
	tail -n "+$((DOVECOT_MARK + 1))" "$DOVECOT_LOG" | grep -q 'User found from deny passdb'
	postfix_nothing_relayed "$MARK" "$BEFORE"
}

@test "no auth configured: Postfix refuses to relay at RCPT, postie fails with its reply" {
	auth_config "$POSTFIX_SUB_PORT"
	postfix_send "$MARK"
	[ "$status" -ne 0 ]
	[[ $output == *"554 5.7.1 <rcpt@example.net>: Recipient address rejected: Access denied"* ]]
	postfix_wait_log "submission/smtpd\[[0-9]+\]: NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.1\]: 554 5.7.1 <rcpt@example.net>: Recipient address rejected: Access denied; from=<sender@example.org> to=<rcpt@example.net>" "$LOG_MARK"
	postfix_nothing_relayed "$MARK" "$BEFORE"
}

@test "auth on but TLS off: Postfix offers no AUTH in clear, postie fails and sends no AUTH" {
	auth_config "$POSTFIX_SUB_PORT" "tls off" "auth on" "user tester" "password s3cret-Pa55"
	postfix_send "$MARK"
	[ "$status" -ne 0 ]
	no_password_in_output s3cret-Pa55 tester
	# The session ended without an AUTH command (smtpd would count it as
	# "auth=N/M") and without a message.
	run postfix_wait_log "submission/smtpd\[[0-9]+\]: disconnect from .* commands=" "$LOG_MARK"
	[ "$status" -eq 0 ]
	[[ $output != *auth=* ]]
	[[ $output != *data=* ]]
	postfix_nothing_relayed "$MARK" "$BEFORE"
}
