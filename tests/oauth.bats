#!/usr/bin/env bats
# OAuth2 built in, end to end: postie signs in against tests/fakeoauth.py
# by each flow, stores and refreshes its tokens, and sends with XOAUTH2
# and OAUTHBEARER to the test sink, which checks each token by RFC 7662
# introspection at the same authorization server.
load common
load pki
load oauth
bats_require_minimum_version 1.5.0

setup_file() {
	pki_make "$BATS_FILE_TMPDIR/pki"
}

setup() {
	common_setup
	OAUTH_CLIENT_SECRET=
	oauth_start
	sink_oauth
	TOKENS="$HOME/oauth/default.json"
}

# with_secret SECRET: the servers again, the client now confidential.
with_secret() {
	sink_stop
	oauth_stop
	OAUTH_CLIENT_SECRET="$1"
	oauth_start
	sink_oauth
}

teardown() {
	[[ -z ${LOGIN_PID:-} ]] || stop_pid "$LOGIN_PID"
	oauth_stop
	common_teardown
}

# sink_oauth [options]: the sink over TLS, AUTH XOAUTH2 OAUTHBEARER, the
# token checked at the fake server.
sink_oauth() {
	sink_start --cert "$PKI/server.pem" --key "$PKI/server-key.pem" --starttls \
		--auth "XOAUTH2 OAUTHBEARER" --auth-user "$OAUTH_USER" --auth-required \
		--auth-introspect "$OAUTH_URL/introspect" --auth-introspect-ca "$OAUTH_CA" "$@"
}

# config FLOW [extra lines]: the default account for the sink and the
# fake server, signing in by FLOW.
config() {
	local flow="$1" lines
	shift
	mapfile -t lines < <(oauth_config default "$flow")
	write_config "tls on" "tls_trust_file $PKI/ca.pem" "user $OAUTH_USER" "${lines[@]}" "$@"
}

msg() { printf 'Subject: oauth\n\nbody\n'; }

# login_bg: postie --oauth-login in the background, stdin from a FIFO
# this shell holds open (fd 7), output in $BATS_TEST_TMPDIR/login.out.
login_bg() {
	rm -f "$BATS_TEST_TMPDIR/in"
	mkfifo "$BATS_TEST_TMPDIR/in"
	"$POSTIE" --oauth-login <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/login.out" \
		2>"$BATS_TEST_TMPDIR/login.err" 3>&- &
	LOGIN_PID=$!
	exec 7>"$BATS_TEST_TMPDIR/in"
}

login_said() { grep -q -- "$1" "$BATS_TEST_TMPDIR/login.out"; }

# login_wait: wait for the background login (not under run: it must be
# this shell's child); status and output as run sets them.
login_wait() {
	wait_until 30 pid_exited "$LOGIN_PID" || true
	status=0
	wait "$LOGIN_PID" || status=$?
	LOGIN_PID=
	exec 7>&-
	output=$(cat "$BATS_TEST_TMPDIR/login.out" "$BATS_TEST_TMPDIR/login.err")
	echo "$output"
}

# device_login: sign in by the device flow, approving the code as a user would.
device_login() {
	local code
	login_bg
	wait_until 10 login_said "enter the code"
	code=$(sed -n 's/.*enter the code \([A-Z-]*\)$/\1/p' "$BATS_TEST_TMPDIR/login.out")
	oauth_activate "$code"
	login_wait
	return "$status"
}

mode_of() { stat -c %a "$1"; }

# make_stale: the stored access token needs a refresh (expires in 60 s).
make_stale() {
	/usr/bin/python3 -c '
import json, sys, time
t = json.load(open(sys.argv[1])); t["expires_at"] = int(time.time()) + 60
json.dump(t, open(sys.argv[1], "w"))' "$TOKENS"
}

@test "device flow: the URL and code printed, polled until approved, tokens stored 0600 in a 0700 directory" {
	config device
	run device_login
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^"To sign in to account 'default', open $OAUTH_URL/activate and enter the code "[A-Z]{4}-[A-Z]{4}$ ]]
	[[ "$output" == *"Account 'default' is signed in; tokens stored in $TOKENS"* ]]
	[ "$(mode_of "$TOKENS")" = 600 ]
	[ "$(mode_of "$HOME/oauth")" = 700 ]
	[ "$(oauth_log_grants | sort -u)" = "urn:ietf:params:oauth:grant-type:device_code" ]
	[ "$(oauth_log_field /device client_id)" = "$OAUTH_CLIENT_ID" ]
	[ "$(oauth_log_field /device scope)" = "$OAUTH_SCOPE" ]
	run "$POSTIE" --oauth-status
	[ "$status" -eq 0 ]
	[[ "$output" == *"access token: valid until "*" UTC"* ]]
	[[ "$output" == *"refresh token: stored"* ]]
	[[ "$output" != *"$(oauth_token_of "$TOKENS")"* ]]
}

@test "device flow: authorization_pending and slow_down are honoured (the interval grows by 5 s)" {
	config device
	oauth_plan '{"pending": 1, "slow_down": 1}'
	login_bg
	wait_until 10 login_said "enter the code"
	login_wait
	[ "$status" -eq 0 ]
	# polls: slow_down, then (5 s later) pending, then tokens
	run oauth_log_grants
	[ "${#lines[@]}" -eq 3 ]
	run /usr/bin/python3 -c '
import json, sys
t = [json.loads(l)["time"] for l in open(sys.argv[1]) if json.loads(l)["path"] == "/token"]
print(round(t[1] - t[0]))' "$OAUTH_LOG"
	[ "$output" -ge 6 ]
}

@test "device flow: an expired code or a refusal is 77 with the hint; nothing stored" {
	config device
	oauth_plan '{"pending": 0, "device_result": "expired_token"}'
	run -77 "$POSTIE" --oauth-login
	[[ "$output" == *"expired_token"*"run postie -a default --oauth-login" ]]
	oauth_plan '{"pending": 0, "device_result": "access_denied"}'
	run -77 "$POSTIE" --oauth-login
	[[ "$output" == *"access_denied"* ]]
	[ ! -e "$TOKENS" ]
}

@test "authorization code: the browser's redirect reaches the loopback listener; PKCE S256 and state checked" {
	config authcode
	login_bg
	wait_until 10 login_said "Waiting for the browser"
	local url
	url=$(sed -n 2p "$BATS_TEST_TMPDIR/login.out")
	[[ "$url" == "$OAUTH_URL/authorize?response_type=code&client_id=$OAUTH_CLIENT_ID&"*"&code_challenge_method=S256" ]]
	run oauth_browser "$url"
	[[ "$output" == *"you may close this window"* ]]
	login_wait
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Account 'default' is signed in"* ]]
	[ "$(oauth_log_grants)" = authorization_code ]
	[ "$(oauth_log_field /token code_verifier | wc -c)" -ge 44 ]
}

@test "authorization code: the redirect address pasted on stdin works too, a wrong state is refused" {
	config authcode
	login_bg
	wait_until 10 login_said "Waiting for the browser"
	local url location
	url=$(sed -n 2p "$BATS_TEST_TMPDIR/login.out")
	oauth_http GET "$url"
	[ "$HTTP_STATUS" = 302 ]
	location=$(oauth_header location)
	echo "${location/state=/state=x}" >&7
	login_wait
	[ "$status" -eq 77 ]
	[[ "$output" == *"the answer's state does not match the request"* ]]
	login_bg
	wait_until 10 login_said "Waiting for the browser"
	url=$(sed -n 2p "$BATS_TEST_TMPDIR/login.out")
	oauth_http GET "$url"
	echo "$(oauth_header location)" >&7
	login_wait
	[ "$status" -eq 0 ]
}

@test "client credentials: no interaction; --oauth-token prints a token; a new one when it runs out" {
	with_secret s3cret-client
	config client_credentials
	run "$POSTIE" --oauth-login
	[ "$status" -eq 0 ]
	run "$POSTIE" --oauth-token
	[ "$status" -eq 0 ]
	[ "$output" = "$(oauth_token_of "$TOKENS")" ]
	make_stale
	run "$POSTIE" --oauth-token
	[ "$status" -eq 0 ]
	[ "$output" = "$(oauth_token_of "$TOKENS")" ]
	[ "$(oauth_log_grants | tr '\n' ' ')" = "client_credentials client_credentials " ]
	[ "$(oauth_log_field /token client_secret | sort -u)" = s3cret-client ]
}

# broken_lib WHAT: a directory holding a file named as the soname that
# --version names on its "WHAT library for OAuth2:" line, a file that is
# no library, first in LD_LIBRARY_PATH; prints the soname.
broken_lib() {
	local so
	so=$("$POSTIE" --version | sed -n "s/^$1 library for OAuth2: \\([^ ]*\\)\$/\\1/p")
	[ -n "$so" ] || return 1
	mkdir -p "$BATS_TEST_TMPDIR/badlib"
	echo "not a library" >"$BATS_TEST_TMPDIR/badlib/$so"
	echo "$so"
}

@test "libcurl is loaded only for OAuth2: a plain send starts without it; OAuth without it is 71, named" {
	local so
	so=$(broken_lib HTTP)
	write_config "host 127.0.0.1" "port $SINK_PORT" "tls on" "tls_trust_file $PKI/ca.pem"
	LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/badlib" run "$POSTIE" rcpt@example.org < <(msg)
	[ "$status" -ne 127 ]   # it started: no libcurl at start-up
	config device
	LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/badlib" run "$POSTIE" --oauth-login </dev/null
	echo "$output"
	[ "$status" -eq 71 ]
	[[ $output == "postie: cannot load $so, needed for OAuth2: "* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "jansson is loaded only for OAuth2: a plain send works without it; reading the token file without it is 71, named" {
	local so
	so=$(broken_lib JSON)
	sink_stop
	sink_start
	write_config "host 127.0.0.1" "port $SINK_PORT"
	LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/badlib" run "$POSTIE" rcpt@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	sink_stop
	sink_oauth
	config device
	device_login
	LD_LIBRARY_PATH="$BATS_TEST_TMPDIR/badlib" run "$POSTIE" rcpt@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 71 ]
	[[ $output == "postie: cannot load $so, the JSON library, needed for OAuth2: "* ]]
	[ "$(sink_count)" -eq 0 ]
	# with it, the same send goes
	run "$POSTIE" rcpt@example.org < <(msg)
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "send: XOAUTH2 with the stored token, no refresh while it is fresh" {
	config device
	device_login
	run "$POSTIE" rcpt@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(oauth_log_grants | grep -c refresh_token)" -eq 0 ]
}

@test "send: OAUTHBEARER; an expiring token is refreshed first and the rotated refresh token stored" {
	config device "auth oauthbearer"
	device_login
	local rt1 rt2
	rt1=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["refresh_token"])' "$TOKENS")
	make_stale
	run "$POSTIE" rcpt@example.org < <(msg)
	[ "$status" -eq 0 ]
	rt2=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["refresh_token"])' "$TOKENS")
	[ "$rt1" != "$rt2" ]
	[ "$(oauth_log_field /token refresh_token | grep -v -x '(none)')" = "$rt1" ]
	make_stale
	run "$POSTIE" rcpt@example.org < <(msg)
	[ "$status" -eq 0 ]
	[ "$(oauth_log_field /token refresh_token | tail -n 1)" = "$rt2" ]
	[ "$(sink_count)" -eq 2 ]
}

@test "send: a token the server refuses (error challenge) is refreshed once and the mail goes on a new connection" {
	config device
	device_login
	/usr/bin/python3 -c '
import json, sys
t = json.load(open(sys.argv[1])); t["access_token"] = "not-a-live-token"
json.dump(t, open(sys.argv[1], "w"))' "$TOKENS"
	run "$POSTIE" -v rcpt@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"refreshing the access token and trying again"* ]]
	[ "$(sink_count)" -eq 1 ]
	[ "$(oauth_log_grants | grep -c refresh_token)" -eq 1 ]
	[[ "$output" != *"not-a-live-token"* ]]
}

@test "two sends refreshing at once: both delivered, the rotated token survives" {
	config device
	device_login
	make_stale
	"$POSTIE" a@example.org < <(msg) 3>&- & local p1=$!
	"$POSTIE" b@example.org < <(msg) 3>&- & local p2=$!
	wait "$p1"
	wait "$p2"
	[ "$(sink_count)" -eq 2 ]
	make_stale
	run "$POSTIE" --oauth-token
	[ "$status" -eq 0 ]
}

@test "revoked consent: 77 with the hint, nothing sent; the endpoint down, 429 or 503: 75" {
	config device
	device_login
	make_stale
	oauth_plan '{"refresh_fail": 503}'
	run "$POSTIE" rcpt@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 75 ]
	[[ "$output" == "postie: account default: the token endpoint $OAUTH_URL/token answered HTTP 503; try again later" ]]
	oauth_plan '{"refresh_fail": 429}'
	run -75 "$POSTIE" rcpt@example.org < <(msg)
	oauth_plan '{}'
	oauth_revoke
	run -77 "$POSTIE" rcpt@example.org < <(msg)
	[[ "$output" == *"invalid_grant"*"run postie -a default --oauth-login" ]]
	oauth_stop
	run -75 "$POSTIE" rcpt@example.org < <(msg)
	[[ "$output" == "postie: account default: cannot reach $OAUTH_URL/token: "* ]]
	[ "$(sink_count)" -eq 0 ]
}

@test "the token file: others may not read it (78), no file is 77, logout deletes it" {
	config device
	run -77 "$POSTIE" --oauth-status
	[ "$output" = "postie: account default: no OAuth tokens stored ($TOKENS); run postie -a default --oauth-login" ]
	device_login
	chmod 644 "$TOKENS"
	run -78 "$POSTIE" --oauth-token
	[ "$output" = "postie: token file $TOKENS is accessible by others (chmod 600 $TOKENS)" ]
	run "$POSTIE" --oauth-logout
	[ "$status" -eq 0 ]
	[ "$output" = "Tokens of account 'default' deleted ($TOKENS)" ]
	[ ! -e "$TOKENS" ]
	run "$POSTIE" --oauth-logout
	[ "$output" = "No tokens stored for account 'default'" ]
}

@test "secrets appear nowhere: not in -v, --pretend, the log file or --oauth-status" {
	with_secret s3cret-client
	config device "logfile $HOME/postie.log"
	device_login
	make_stale
	run "$POSTIE" -v rcpt@example.org < <(msg)
	[ "$status" -eq 0 ]
	local all at rt
	at=$(oauth_token_of "$TOKENS")
	rt=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["refresh_token"])' "$TOKENS")
	all="$output$("$POSTIE" --pretend)$("$POSTIE" --oauth-status)$(cat "$HOME/postie.log")"
	[[ "$all" != *"$at"* && "$all" != *"$rt"* && "$all" != *s3cret-client* ]]
	[[ "$all" == *"oauth_client_secret = *"* ]]
}

@test "--oauth-token serves as another account's passwordeval" {
	config device
	device_login
	cat >>"$HOME/.postierc" <<EOF

account helper-user
host 127.0.0.1
port $SINK_PORT
tls on
tls_trust_file $PKI/ca.pem
from sender@example.org
user $OAUTH_USER
auth xoauth2
passwordeval "$POSTIE -a default --oauth-token"
EOF
	run "$POSTIE" -a helper-user rcpt@example.org < <(msg)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
}

@test "configuration: no client ID, an account without OAuth, recipients given: 78, 78, 64" {
	write_config "oauth_provider microsoft"
	run -78 "$POSTIE" --oauth-login
	[[ "$output" == "postie: account default: oauth_provider microsoft needs oauth_client_id"* ]]
	write_config
	run -78 "$POSTIE" --oauth-login
	[ "$output" = "postie: account 'default' does not use OAuth2: set oauth_provider and oauth_client_id (see postierc(5))" ]
	run -64 "$POSTIE" --oauth-token someone@example.org
	[[ "$output" == "postie: --oauth-token takes no recipients"* ]]
}
