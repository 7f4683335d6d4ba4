#!/usr/bin/env bats
# OAuth2 end to end through a real Postfix and Dovecot: postie signs in by
# the device flow at tests/fakeoauth.py and sends through Postfix's
# submission listener (STARTTLS, then AUTH XOAUTH2 or OAUTHBEARER), whose
# SASL is a Dovecot with the oauth2 passdb: Dovecot checks every token
# postie presents by RFC 7662 introspection at the same fake server
# (tests/postfix.bash, postfix_start_oauth).  One fake server, Postfix,
# Dovecot and sink serve the whole file; every test signs in afresh (its
# own HOME and token file), marks its message, and looks only at the log
# lines (Postfix's, Dovecot's, the fake server's) after its start.
load common
load pki
load oauth
load postfix

setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
	TMPDIR="$BATS_FILE_TMPDIR" oauth_start
	postfix_start_oauth "$PKI" "$OAUTH_URL/introspect" || { oauth_stop; return 1; }
}

teardown_file() {
	postfix_stop
	oauth_stop
}

# MARK, LOG_MARK, DOVECOT_LOG, DOVECOT_MARK: postfix_test_setup; BEFORE:
# messages at the sink; OAUTH_MARK: the fake server's log lines so far.
setup() {
	common_setup
	postfix_test_setup postfix-oauth
	BEFORE="$(sink_count)"
	OAUTH_MARK="$(wc -l <"$OAUTH_LOG")"
	TOKENS="$HOME/oauth/default.json"
	oauth_plan '{}'
}

teardown() {
	[[ -z ${LOGIN_PID:-} ]] || stop_pid "$LOGIN_PID"
	postfix_test_teardown
	if [[ -z ${BATS_TEST_COMPLETED:-} ]]; then
		echo "--- fake OAuth server ---"
		tail -n "+$((OAUTH_MARK + 1))" "$OAUTH_LOG"
	fi
}

# config [LINE...]: the default account for the submission listener
# (STARTTLS verified against the test CA), signing in as the fake
# server's user by the device flow, then the LINEs.
config() {
	local lines
	mapfile -t lines < <(oauth_config default device)
	postfix_postierc "$POSTFIX_SUB_PORT" "tls on" "tls_trust_file $PKI/ca.pem" \
		"user $OAUTH_USER" "${lines[@]}" "$@"
}

# device_login: postie --oauth-login; the user enters the printed code at
# the fake server; postie's polling then gets the tokens.
device_login() {
	local out="$BATS_TEST_TMPDIR/login.out" code
	"$POSTIE" --oauth-login </dev/null >"$out" 2>&1 3>&- &
	LOGIN_PID=$!
	wait_until 10 grep -q "enter the code" "$out"
	code="$(sed -n 's/.*enter the code \([A-Z-]*\)$/\1/p' "$out")"
	oauth_activate "$code"
	wait_until 30 pid_exited "$LOGIN_PID"
	wait "$LOGIN_PID"
	LOGIN_PID=
	grep -qx "Account 'default' is signed in; tokens stored in $TOKENS" "$out"
}

# set_token FIELD VALUE: rewrite one field of the stored token file (a
# number when VALUE is one), as time or the server would have it.
set_token() {
	/usr/bin/python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
t[sys.argv[2]] = int(sys.argv[3]) if sys.argv[3].isdigit() else sys.argv[3]
json.dump(t, open(sys.argv[1], "w"))' "$TOKENS" "$1" "$2"
}

# make_stale: the stored access token needs a refresh (expires in 60 s).
make_stale() { set_token expires_at "$(($(date +%s) + 60))"; }

# new_requests PYTHON: the fake server's requests since the test began,
# as `requests` (a list of dicts) for PYTHON.
new_requests() {
	/usr/bin/python3 -c "
import json, sys
requests = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
$1" "$OAUTH_LOG" "$OAUTH_MARK"
}

# grants: grant_type of every /token request since the test began.
grants() {
	new_requests '
for r in requests:
    if r["path"] == "/token":
        print(r["form"].get("grant_type"))'
}

# introspected: the tokens Dovecot introspected since the test began, one
# a line ("-" where the request carried none).
introspected() {
	new_requests '
for r in requests:
    if r["path"] == "/introspect":
        print(r["form"].get("token", "-"))'
}

# authenticated MECH: the message came over TLS from a client that
# authenticated as the fake server's user by MECH: Received: says so, and
# Postfix's log line of the session that queued it names MECH and user.
authenticated() {
	[[ $RECEIVED == *"(using TLSv1."*" with cipher "* ]]
	[[ $RECEIVED == *"(Authenticated sender: $OAUTH_USER)"* ]]
	[[ $RECEIVED == *" with ESMTPSA id $QID"* ]]
	local line
	line="$(postfix_wait_log "postfix-test/submission/smtpd\[[0-9]+\]: $QID: client=" "$LOG_MARK")"
	echo "# ${line#*]: }"
	[[ $line == *" client="*"[127.0.0.1], sasl_method=$1, sasl_username=$OAUTH_USER" ]]
}

# dovecot_said ERE: a line Dovecot logged since the test began matches ERE.
dovecot_said() { tail -n "+$((DOVECOT_MARK + 1))" "$DOVECOT_LOG" | grep -qE -- "$1"; }

@test "Postfix offers AUTH XOAUTH2 OAUTHBEARER (from Dovecot) only after STARTTLS" {
	run timeout 20 /usr/bin/python3 -c '
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("client.example")
print("clear:", s.esmtp_features.get("auth", "-"))
s.starttls(context=ssl.create_default_context(cafile=sys.argv[2]))
s.ehlo("client.example")
print("tls:", s.esmtp_features.get("auth", "-"))
s.quit()' "$POSTFIX_SUB_PORT" "$PKI/ca.pem"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "clear: -" ]
	[[ ${lines[1]} == "tls: "* ]]
	[ "$(tr ' ' '\n' <<<"${lines[1]#tls: }" | sort | xargs)" = "OAUTHBEARER XOAUTH2" ]
}

@test "XOAUTH2: signed in by the device flow, delivered; Postfix logs XOAUTH2 and the user, Dovecot checked the token" {
	config
	device_login
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated XOAUTH2
	[ "$(introspected)" = "$(oauth_token_of "$TOKENS")" ]
	[ "$(grants)" = "urn:ietf:params:oauth:grant-type:device_code" ]
}

@test "OAUTHBEARER (auth oauthbearer): delivered; Postfix logs OAUTHBEARER and the user" {
	config "auth oauthbearer"
	device_login
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated OAUTHBEARER
	[ "$(introspected)" = "$(oauth_token_of "$TOKENS")" ]
}

@test "expiry: a token about to expire is refreshed, the mail goes with the new token" {
	config
	device_login
	local old
	old="$(oauth_token_of "$TOKENS")"
	make_stale
	postfix_send "$MARK"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	postfix_relayed "$MARK"
	authenticated XOAUTH2
	[ "$(grants | tail -n 1)" = refresh_token ]
	[ "$(grants | grep -c refresh_token)" -eq 1 ]
	local new
	new="$(oauth_token_of "$TOKENS")"
	[ "$new" != "$old" ]
	# Dovecot saw only the new token.
	[ "$(introspected)" = "$new" ]
	run "$POSTIE" --oauth-status
	[[ $output == *"access token: valid until "* ]]
}

@test "revoked consent and a stale token: 77 with the hint, no AUTH, nothing relayed" {
	config
	device_login
	make_stale
	oauth_revoke
	postfix_send "$MARK"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ $output == "postie: "*"invalid_grant"*"run postie -a default --oauth-login" ]]
	[ "$(grants | tail -n 1)" = refresh_token ]
	# The refresh failed before any AUTH: Dovecot saw no token.
	[ -z "$(introspected)" ]
	! _postfix_log_matches "auth=|sasl_" "$LOG_MARK" || false
	postfix_nothing_relayed "$MARK" "$BEFORE"
}

@test "a token Dovecot refuses: the error challenge, one refresh, delivered on a second AUTH" {
	config
	device_login
	set_token access_token "not-a-live-token-$RANDOM"
	run timeout 60 "$POSTIE" -v rcpt@example.net \
		< <(printf 'Subject: %s\n\nbody %s\n' "$MARK" "$MARK")
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"refreshing the access token and trying again"* ]]
	[[ $output != *"not-a-live-token"* ]]
	postfix_relayed "$MARK"
	authenticated XOAUTH2
	[ "$(grants | grep -c refresh_token)" -eq 1 ]
	# Dovecot introspected the refused token, then the refreshed one.
	run introspected
	[ "${#lines[@]}" -eq 2 ]
	[[ ${lines[0]} == not-a-live-token-* ]]
	[ "${lines[1]}" = "$(oauth_token_of "$TOKENS")" ]
	# Postfix saw two AUTH attempts: the first failed, the second queued it.
	postfix_wait_log "submission/smtpd\[[0-9]+\]: warning: [^ ]*\[127\.0\.0\.1\]: SASL XOAUTH2 authentication failed" "$LOG_MARK"
	postfix_wait_log "submission/smtpd\[[0-9]+\]: disconnect from .* auth=0/1 quit=1 " "$LOG_MARK"
	postfix_wait_log "submission/smtpd\[[0-9]+\]: disconnect from .* auth=1 mail=1 " "$LOG_MARK"
	dovecot_said "oauth2\($OAUTH_USER,127\.0\.0\.1\): oauth2 failed: Introspection failed: Provided token is not valid"
}

@test "a live token of another user: Dovecot refuses it, postie refreshes once, then 77; nothing relayed" {
	config "user someone@example.org"
	device_login
	postfix_send "$MARK"
	echo "$output"
	[ "$status" -eq 77 ]
	[ "$output" = "postie: authentication as someone@example.org with XOAUTH2 refused by 127.0.0.1: 535 5.7.8 Error: authentication failed: (reason unavailable) ({\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"mail\"})" ]
	[ "$(grants | grep -c refresh_token)" -eq 1 ]
	[ "$(introspected | wc -l)" -eq 2 ]
	[ "$(tail -n "+$((DOVECOT_MARK + 1))" "$DOVECOT_LOG" | grep -c "oauth2(someone@example.org,127\.0\.0\.1): oauth2 failed: Introspection failed: Username 'someone@example.org' did not match '$OAUTH_USER'")" -eq 2 ]
	postfix_nothing_relayed "$MARK" "$BEFORE"
}
