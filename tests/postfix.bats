#!/usr/bin/env bats
# postie against a real Postfix (tests/postfix.bash): STARTTLS, implicit
# TLS, a required client certificate, opportunistic STARTTLS.  Postfix
# relays what it accepts to the recording sink, and its Received: header
# (smtpd_tls_received_header=yes) and log say how the session was secured.
# One Postfix (and sink) serves the whole file, so every test marks its
# message and looks for that mark, never at a fixed msg-N.eml.
load common
load pki
load postfix

setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
	postfix_start "$PKI"
}

teardown_file() { postfix_stop; }

setup() {
	common_setup
	postfix_test_setup postfix-bats
}

# Not common_teardown: the sink belongs to the file, not to the test.
# On failure, bats shows this output: Postfix's view of the test.
teardown() { postfix_test_teardown; }

# Postfix's Received: shows the message came over TLS: ESMTPS and the
# protocol and cipher, e.g. "(using TLSv1.3 with cipher ...)".
received_over_tls() {
	[[ $RECEIVED == *"(using TLSv1."*" with cipher "* ]]
	[[ $RECEIVED == *" with ESMTPS id $QID"* ]]
}

# accepted_on LISTENER: Postfix's log names the smtpd that accepted
# this test's message: starttls, implicit or clientcert.
accepted_on() {
	postfix_wait_log "postfix-test/$1/smtpd\[[0-9]+\]: $QID: client=" "$LOG_MARK"
}

@test "control: plain SMTP (tls off) is delivered and Received shows no TLS" {
	postfix_postierc "$POSTFIX_PORT" "tls off"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	postfix_relayed "$MARK"
	[[ $RECEIVED != *"using TLS"* ]]
	[[ $RECEIVED == *" with ESMTP id $QID"* ]]
	accepted_on starttls
}

@test "STARTTLS to Postfix with the test CA: delivered, Received shows TLS" {
	postfix_postierc "$POSTFIX_PORT" "tls on" "tls_trust_file $PKI/ca.pem"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	received_over_tls
	accepted_on starttls
	postfix_wait_log "starttls/smtpd\[[0-9]+\]: .*TLS connection established from" "$LOG_MARK"
}

@test "implicit TLS (tls_starttls off) to Postfix's wrapper-mode port: delivered over TLS" {
	postfix_postierc "$POSTFIX_TLS_PORT" "tls on" "tls_starttls off" \
		"tls_trust_file $PKI/ca.pem"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	received_over_tls
	accepted_on implicit
	# The client never sent STARTTLS: TLS came first.
	run postfix_wait_log "implicit/smtpd\[[0-9]+\]: disconnect from .* commands=" "$LOG_MARK"
	[ "$status" -eq 0 ]
	[[ $output != *starttls=* ]]
}

@test "client certificate: Postfix requires one and verifies postie's (CN tester)" {
	postfix_postierc "$POSTFIX_CERT_PORT" "tls on" "tls_trust_file $PKI/ca.pem" \
		"tls_cert_file $PKI/client.pem" "tls_key_file $PKI/client-key.pem"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	received_over_tls
	[[ $RECEIVED == *'(Client CN "tester", Issuer "postie test CA" (verified OK))'* ]]
	accepted_on clientcert
	postfix_wait_log "clientcert/smtpd\[[0-9]+\]: Trusted TLS connection established from" "$LOG_MARK"
}

@test "client certificate required but not configured: postie fails, nothing relayed" {
	local before
	before="$(sink_count)"
	postfix_postierc "$POSTFIX_CERT_PORT" "tls on" "tls_trust_file $PKI/ca.pem"
	postfix_send "$MARK"
	# Postfix finishes the TLS 1.3 handshake, then answers 421: 75
	[ "$status" -eq 75 ]
	# postie passes on Postfix's reason.
	[[ $output == *"421 4.7.1 "*"No client certificate presented"* ]]
	# Postfix refused the session for the missing certificate...
	postfix_wait_log "clientcert/smtpd\[[0-9]+\]: NOQUEUE: abort: TLS from .*: No client certificate presented" "$LOG_MARK"
	# ...and queued and relayed nothing.
	postfix_nothing_relayed "$MARK" "$before"
}

@test "opportunistic: no tls line, STARTTLS offered: postie uses it, Received shows TLS" {
	postfix_postierc "$POSTFIX_PORT" "tls_trust_file $PKI/ca.pem"
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	postfix_relayed "$MARK"
	received_over_tls
	accepted_on starttls
}
