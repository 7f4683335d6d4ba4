#!/usr/bin/env bats
# Self-tests of the fake OAuth2 server tests/fakeoauth.py and of the
# helpers in tests/oauth.bash, driven over HTTPS with python3 (oauth_http),
# not with postie: every endpoint, every plan option, the log.
load common
load pki
load oauth

DEVICE=urn:ietf:params:oauth:grant-type:device_code
# A PKCE pair (RFC 7636 appendix B).
VERIFIER=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk
CHALLENGE=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
REDIRECT=http://127.0.0.1:9/cb

setup_file() { pki_make "$BATS_FILE_TMPDIR/pki"; }

setup() {
	common_setup
	LOOP_PID=
	oauth_start
}

teardown() {
	stop_pid "$LOOP_PID"
	oauth_stop
	common_teardown
}

# expect STATUS [ERROR]: the last answer had STATUS (and that error code).
expect() {
	echo "got $HTTP_STATUS $HTTP_BODY, want $*"
	[ "$HTTP_STATUS" = "$1" ]
	[ -z "${2:-}" ] || [ "$(oauth_json error)" = "$2" ]
}

# pairs DEFAULT... -- OVERRIDE...: PAIRS, the NAME=VALUE defaults with
# each override replacing the default of its name (or added at the end).
pairs() {
	PAIRS=()
	while (($#)) && [[ $1 != -- ]]; do PAIRS+=("$1"); shift; done
	shift
	local o i
	for o in "$@"; do
		for i in "${!PAIRS[@]}"; do
			[[ ${PAIRS[i]%%=*} != "${o%%=*}" ]] || { PAIRS[i]=$o; continue 2; }
		done
		PAIRS+=("$o")
	done
}

# device_start: a device authorization; sets DC (device code) and UC.
device_start() {
	oauth_http POST /device client_id="$OAUTH_CLIENT_ID" scope="$OAUTH_SCOPE"
	expect 200
	DC="$(oauth_json device_code)" UC="$(oauth_json user_code)"
}

device_poll() {
	oauth_http POST /token grant_type="$DEVICE" device_code="$DC" client_id="$OAUTH_CLIENT_ID"
}

# authorize [NAME=VALUE...]: GET /authorize, a valid request but for the
# pairs given; sets LOCATION.
authorize() {
	pairs response_type=code client_id="$OAUTH_CLIENT_ID" redirect_uri="$REDIRECT" \
		scope="$OAUTH_SCOPE" state=st4te code_challenge="$CHALLENGE" \
		code_challenge_method=S256 -- "$@"
	oauth_http GET /authorize "${PAIRS[@]}"
	LOCATION="$(oauth_header location)" || LOCATION=
}

# code_of URL: the code parameter of a redirect.
code_of() {
	/usr/bin/python3 -c '
import sys, urllib.parse
print(urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query)["code"][0])' "$1"
}

# code_token CODE VERIFIER [NAME=VALUE...]: the token request for CODE
code_token() {
	pairs grant_type=authorization_code code="$1" redirect_uri="$REDIRECT" \
		code_verifier="$2" client_id="$OAUTH_CLIENT_ID" -- "${@:3}"
	oauth_http POST /token "${PAIRS[@]}"
}

# login [NAME=VALUE...]: tokens by the authorization code flow (the pairs
# go to code_token); sets AT and RT.
login() {
	authorize
	code_token "$(code_of "$LOCATION")" "$VERIFIER" "$@"
	expect 200
	AT="$(oauth_json access_token)" RT="$(oauth_json refresh_token)" || RT=
}

# refresh TOKEN [NAME=VALUE...]
refresh() {
	pairs grant_type=refresh_token refresh_token="$1" client_id="$OAUTH_CLIENT_ID" -- "${@:2}"
	oauth_http POST /token "${PAIRS[@]}"
}

# absent NAME: HTTP_BODY has no field NAME.
absent() {
	run oauth_json "$1"
	[ "$status" -eq 1 ]
}

# introspect TOKEN [HOW]: introspection of TOKEN, asked as Dovecot's
# introspection_mode HOW (post, get or auth) would.
introspect() {
	case "${2:-post}" in
	post) oauth_http POST /introspect -H 'Content-Type: text/plain' token="$1" ;;
	get) oauth_http GET "$OAUTH_URL/introspect?token=$1" ;;
	auth) oauth_http GET /introspect -H "Authorization: Bearer $1" ;;
	esac
	expect 200
}

# active TOKEN [HOW]: introspect; its "active" is true.
active() {
	introspect "$@"
	[ "$(oauth_json active)" = true ]
}

# inactive TOKEN [HOW]: introspect; the answer is exactly {"active": false}.
inactive() {
	introspect "$@"
	[ "$HTTP_BODY" = '{"active": false}' ]
}

@test "device flow: the authorization answer, pending until /activate, then tokens once" {
	device_start
	[[ $UC =~ ^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$ ]]
	[ "$(oauth_json verification_uri)" = "$OAUTH_URL/activate" ]
	[ "$(oauth_json verification_uri_complete)" = "$OAUTH_URL/activate?user_code=$UC" ]
	[ "$(oauth_json interval)" = 1 ] && [ "$(oauth_json expires_in)" = 600 ]
	[ "$(oauth_header content-type)" = application/json ]
	device_poll
	expect 400 authorization_pending
	[ "$(oauth_header cache-control)" = no-store ]
	oauth_activate "$UC"
	sleep 1
	device_poll
	expect 200
	[[ $(oauth_json access_token) == at-* && $(oauth_json refresh_token) == rt-* ]]
	[ "$(oauth_json token_type)" = Bearer ] && [ "$(oauth_json expires_in)" = 3600 ]
	[ "$(oauth_json scope)" = "$OAUTH_SCOPE" ]
	device_poll
	expect 400 invalid_grant
	oauth_http GET /activate user_code=BCDF-GHJK
	expect 404
}

@test "device flow: plan pending N approves after N authorization_pending answers" {
	oauth_plan '{"pending": 2}'
	device_start
	local i
	for i in 1 2; do
		device_poll
		expect 400 authorization_pending
		sleep 1
	done
	device_poll
	expect 200
	[ "$(oauth_log_grants | sort -u)" = "$DEVICE" ]
	[ "$(oauth_log_grants | wc -l)" = 3 ]
}

@test "device flow: polling sooner than the interval gets slow_down, and the interval grows by 5 s" {
	device_start
	device_poll
	expect 400 authorization_pending
	device_poll
	expect 400 slow_down
	[[ $(oauth_json error_description) == *"every 6 s"* ]]
	sleep 1.2
	device_poll
	expect 400 slow_down
	[[ $(oauth_json error_description) == *"every 11 s"* ]]
	oauth_plan '{"pending": 0, "enforce_interval": false}'
	device_poll
	expect 200
}

@test "device flow: plan slow_down N answers the next N polls slow_down" {
	oauth_plan '{"pending": 0, "slow_down": 1}'
	device_start
	device_poll
	expect 400 slow_down
	oauth_plan '{"pending": 0, "enforce_interval": false}'
	device_poll
	expect 200
}

@test "device flow: expired_token, access_denied by plan, denial at /activate, real expiry" {
	oauth_plan '{"pending": 0, "device_result": "expired_token"}'
	device_start
	device_poll
	expect 400 expired_token
	oauth_plan '{"pending": 0, "device_result": "access_denied"}'
	device_start
	device_poll
	expect 400 access_denied
	oauth_plan '{}'
	device_start
	oauth_http GET /activate user_code="$UC" deny=1
	expect 200
	device_poll
	expect 400 access_denied
	oauth_plan '{"device_expires_in": 0}'
	device_start
	[ "$(oauth_json expires_in)" = 0 ]
	device_poll
	expect 400 expired_token
}

@test "device authorization: unknown client 401, missing scope 400, plan interval" {
	oauth_http POST /device client_id=someone scope=x
	expect 401 invalid_client
	oauth_http POST /device client_id="$OAUTH_CLIENT_ID"
	expect 400 invalid_request
	oauth_plan '{"interval": 7}'
	device_start
	[ "$(oauth_json interval)" = 7 ]
}

@test "authorize: 302 to the loopback redirect with code and state; the code works once" {
	authorize
	expect 302
	[[ $LOCATION == "$REDIRECT?code="*"&state=st4te" ]]
	local code
	code="$(code_of "$LOCATION")"
	code_token "$code" "$VERIFIER"
	expect 200
	[[ $(oauth_json access_token) == at-* && $(oauth_json refresh_token) == rt-* ]]
	code_token "$code" "$VERIFIER"
	expect 400 invalid_grant
}

@test "authorization_code: the PKCE S256 check refuses a wrong verifier; redirect_uri must match" {
	authorize
	code_token "$(code_of "$LOCATION")" "${VERIFIER%?}x"
	expect 400 invalid_grant
	[[ $(oauth_json error_description) == *code_verifier* ]]
	authorize
	code_token "$(code_of "$LOCATION")" short
	expect 400 invalid_grant
	authorize
	oauth_http POST /token grant_type=authorization_code code="$(code_of "$LOCATION")" \
		redirect_uri=http://127.0.0.1:10/cb code_verifier="$VERIFIER" client_id="$OAUTH_CLIENT_ID"
	expect 400 invalid_grant
	[[ $(oauth_json error_description) == *redirect_uri* ]]
	authorize
	code_token "$(code_of "$LOCATION")" "$VERIFIER" client_id=other
	expect 401 invalid_client
}

@test "authorize: errors go to the redirect with state; a bad client or redirect_uri gets a 400 page" {
	authorize code_challenge_method=plain
	expect 302
	[[ $LOCATION == "$REDIRECT?error=invalid_request&"*"&state=st4te" ]]
	oauth_http GET /authorize response_type=token client_id="$OAUTH_CLIENT_ID" \
		redirect_uri="$REDIRECT" scope=s code_challenge="$CHALLENGE" code_challenge_method=S256
	[[ $(oauth_header location) == "$REDIRECT?error=unsupported_response_type&"* ]]
	oauth_http GET /authorize response_type=code client_id="$OAUTH_CLIENT_ID" \
		redirect_uri="$REDIRECT" scope=s
	[[ $(oauth_header location) == "$REDIRECT?error=invalid_request&"* ]]
	authorize client_id=other
	expect 400
	[ -z "$LOCATION" ] && [[ $HTTP_BODY == *invalid_client* ]]
	authorize redirect_uri=https://evil.example/cb
	expect 400
	[ -z "$LOCATION" ]
	oauth_plan '{"authorize": "deny"}'
	authorize
	[ "$LOCATION" = "$REDIRECT?error=access_denied&state=st4te" ]
}

@test "refresh: rotation gives a new refresh token and kills the old one" {
	login
	refresh "$RT"
	expect 200
	local at2 rt2
	at2="$(oauth_json access_token)" rt2="$(oauth_json refresh_token)"
	[[ $rt2 == rt-* && $rt2 != "$RT" && $at2 != "$AT" ]]
	refresh "$RT"
	expect 400 invalid_grant
	refresh "$rt2"
	expect 200
}

@test "refresh: without rotation no new refresh token, the old one lives; scope may only shrink" {
	oauth_plan '{"rotate": false}'
	login
	refresh "$RT"
	expect 200
	absent refresh_token
	refresh "$RT" scope=offline_access
	expect 200
	[ "$(oauth_json scope)" = offline_access ]
	refresh "$RT" scope="offline_access more"
	expect 400 invalid_scope
	oauth_plan '{"refresh_token": false}'
	login
	[ -z "$RT" ]
}

@test "refresh: planned failures invalid_grant, 429 with Retry-After, 500, 503, for N times" {
	login
	oauth_plan '{"refresh_fail": "invalid_grant"}'
	refresh "$RT"
	expect 400 invalid_grant
	oauth_plan '{"refresh_fail": 429, "retry_after": 7}'
	refresh "$RT"
	expect 429
	[ "$(oauth_header retry-after)" = 7 ]
	oauth_plan '{"refresh_fail": 500}'
	refresh "$RT"
	expect 500 server_error
	oauth_plan '{"refresh_fail": 503, "refresh_fail_times": 1}'
	refresh "$RT"
	expect 503 temporarily_unavailable
	refresh "$RT"
	expect 200
}

@test "client_credentials: needs the client secret, in the body or by HTTP Basic; no refresh token" {
	oauth_stop
	export OAUTH_CLIENT_SECRET='s3cr et'
	oauth_start
	local cc=(grant_type=client_credentials scope=https://x.example/.default)
	oauth_http POST /token "${cc[@]}" client_id="$OAUTH_CLIENT_ID"
	expect 401 invalid_client
	oauth_http POST /token "${cc[@]}" client_id="$OAUTH_CLIENT_ID" client_secret=wrong
	expect 401 invalid_client
	oauth_http POST /token "${cc[@]}" client_id="$OAUTH_CLIENT_ID" client_secret='s3cr et'
	expect 200
	[ "$(oauth_json scope)" = https://x.example/.default ]
	absent refresh_token
	oauth_http POST /token "${cc[@]}" --basic "$OAUTH_CLIENT_ID:s3cr+et"
	expect 200
	oauth_http POST /token "${cc[@]}" --basic "$OAUTH_CLIENT_ID:nope"
	expect 401 invalid_client
	[ "$(oauth_header www-authenticate)" = 'Basic realm="fakeoauth"' ]
}

@test "client secret: without --client-secret client_credentials is refused; with it authcode needs it, device does not" {
	oauth_http POST /token grant_type=client_credentials scope=s client_id="$OAUTH_CLIENT_ID" \
		client_secret=x
	expect 401 invalid_client
	oauth_stop
	export OAUTH_CLIENT_SECRET=sec
	oauth_start
	authorize
	code_token "$(code_of "$LOCATION")" "$VERIFIER"
	expect 401 invalid_client
	authorize
	code_token "$(code_of "$LOCATION")" "$VERIFIER" client_secret=sec
	expect 200
	refresh "$(oauth_json refresh_token)"
	expect 401 invalid_client
	oauth_plan '{"pending": 0}'
	device_start
	device_poll
	expect 200
}

@test "introspection: live token active with the user, by POST, GET ?token= and Bearer; else inactive" {
	login
	local how
	for how in post get auth; do
		active "$AT" "$how"
		[ "$(oauth_json username)" = "$OAUTH_USER" ]
		[ "$(oauth_json email)" = "$OAUTH_USER" ]
		[ "$(oauth_json scope)" = "$OAUTH_SCOPE" ]
		(($(oauth_json exp) > $(date +%s) + 3500))
		inactive at-unknown "$how"
	done
	inactive "$RT"
	oauth_plan '{"expires_in": 0}'
	login
	[ "$(oauth_json expires_in)" = 0 ]
	inactive "$AT"
}

@test "revoke: every access and refresh token dies" {
	login
	active "$AT"
	oauth_revoke
	inactive "$AT"
	refresh "$RT"
	expect 400 invalid_grant
}

@test "tokens: random and unique; expires_in, scope and token_delay from the plan" {
	oauth_plan '{"expires_in": 120, "scope": "granted"}'
	local seen=() i
	for i in 1 2 3; do
		login
		[ "$(oauth_json expires_in)" = 120 ] && [ "$(oauth_json scope)" = granted ]
		seen+=("$AT" "$RT")
	done
	[ "$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)" = 6 ]
	oauth_plan '{"token_delay": 1}'
	local t0=${EPOCHREALTIME/[.,]/}
	refresh "$RT"
	expect 200
	((${EPOCHREALTIME/[.,]/} - t0 >= 1000000))
}

@test "token endpoint: unsupported grant, wrong body type, repeated field, unknown client, bad method and path" {
	oauth_http POST /token grant_type=password client_id="$OAUTH_CLIENT_ID"
	expect 400 unsupported_grant_type
	oauth_http POST /token --json '{"grant_type": "client_credentials"}'
	expect 400 invalid_request
	oauth_http POST /token grant_type=refresh_token refresh_token=a refresh_token=b \
		client_id="$OAUTH_CLIENT_ID"
	expect 400 invalid_request
	[[ $(oauth_json error_description) == *refresh_token* ]]
	refresh rt-x client_id=someone
	expect 401 invalid_client
	oauth_http GET /token
	expect 405
	oauth_http GET /nothing
	expect 404
}

@test "plan: unknown keys and bad values are refused; --plan FILE is the first plan" {
	run oauth_plan '{"pendng": 1}'
	[ "$status" -eq 1 ]
	[[ $output == *"unknown plan keys: pendng"* ]]
	run oauth_plan '{"refresh_fail": 404}'
	[ "$status" -eq 1 ]
	run oauth_plan '[1]'
	[ "$status" -eq 1 ]
	oauth_stop
	echo '{"interval": 3}' >"$BATS_TEST_TMPDIR/plan.json"
	oauth_start --plan "$BATS_TEST_TMPDIR/plan.json"
	device_start
	[ "$(oauth_json interval)" = 3 ]
}

@test "log: one JSON line per request with the form, secrets included; grants in order" {
	oauth_stop
	export OAUTH_CLIENT_SECRET=hush
	oauth_start
	login client_secret=hush
	code_token nope "$VERIFIER"
	refresh "$RT" client_secret=hush
	oauth_http POST /token grant_type=client_credentials scope=s client_id="$OAUTH_CLIENT_ID" \
		client_secret=hush
	oauth_http POST /introspect token="$AT"
	printf '%s\n' authorization_code authorization_code refresh_token client_credentials >"$BATS_TEST_TMPDIR/want"
	oauth_log_grants | diff "$BATS_TEST_TMPDIR/want" -
	[ "$(oauth_log_field /token client_secret)" = hush$'\n'"(none)"$'\n'hush$'\n'hush ]
	[ "$(oauth_log_field /token code_verifier | head -1)" = "$VERIFIER" ]
	[ "$(oauth_log_field /introspect token)" = "$AT" ]
	run /usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["method"], r["path"], r["status"], type(r["time"]).__name__, r["query"].get("state"))' "$OAUTH_LOG"
	echo "$output"
	[ "${lines[0]}" = "GET /authorize 302 float st4te" ]
	[ "${lines[1]}" = "POST /token 200 float None" ]
	[ "${lines[2]}" = "POST /token 401 float None" ]
	[ "${lines[3]}" = "POST /token 200 float None" ]
	[ "${lines[5]}" = "POST /introspect 200 float None" ]
}

# loopback_start: a one-shot http listener on 127.0.0.1 (what postie runs
# for the authcode flow) that answers "got QUERY"; sets LOOP_PORT.
loopback_start() {
	/usr/bin/python3 -c '
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("got " + self.path.partition("?")[2]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
s.timeout = 20
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.handle_request()' "$BATS_TEST_TMPDIR/loop.port" 3>&- &
	LOOP_PID=$!
	wait_file "$BATS_TEST_TMPDIR/loop.port" "$LOOP_PID"
	LOOP_PORT="$(<"$BATS_TEST_TMPDIR/loop.port")"
}

@test "oauth_browser: follows the 302 to the loopback listener and prints its page" {
	loopback_start
	REDIRECT="http://127.0.0.1:$LOOP_PORT/"
	local url="$OAUTH_URL/authorize?response_type=code&client_id=$OAUTH_CLIENT_ID&redirect_uri=$REDIRECT&scope=s&state=xyz&code_challenge=$CHALLENGE&code_challenge_method=S256"
	run oauth_browser "$url"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output =~ ^got\ code=[A-Za-z0-9_-]+\&state=xyz$ ]]
	run oauth_browser "$OAUTH_URL/authorize?client_id=other"
	[ "$status" -eq 1 ]
	[[ $output == *"answered 400, not a redirect"* ]]
}

@test "oauth_config prints each flow's keywords; oauth_token_of reads a token file" {
	run oauth_config work device
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "oauth_provider custom" ]
	[ "${lines[1]}" = "oauth_client_id $OAUTH_CLIENT_ID" ]
	[ "${lines[2]}" = "oauth_flow device" ]
	[ "${lines[3]}" = "oauth_device_url $OAUTH_URL/device" ]
	[ "${lines[4]}" = "oauth_token_url $OAUTH_URL/token" ]
	[ "${lines[5]}" = "oauth_scope $OAUTH_SCOPE" ]
	[ "${lines[6]}" = "oauth_trust_file $OAUTH_CA" ]
	[ "${lines[7]}" = "oauth_token_file $HOME/oauth/work.json" ]
	run oauth_config work authcode
	[ "${lines[3]}" = "oauth_auth_url $OAUTH_URL/authorize" ]
	OAUTH_CLIENT_SECRET=cs run oauth_config work client_credentials
	[ "${lines[2]}" = "oauth_client_secret cs" ]
	[ "${lines[4]}" = "oauth_token_url $OAUTH_URL/token" ]
	run oauth_config work telepathy
	[ "$status" -eq 1 ]
	echo '{"version":1,"access_token":"at-abc","token_type":"Bearer"}' >"$HOME/t.json"
	[ "$(oauth_token_of "$HOME/t.json")" = at-abc ]
}

@test "the server: TLS with the test CA only, port file, SIGTERM ends it with 0" {
	oauth_http GET /nothing
	expect 404
	[ "$(<"$OAUTH_DIR/port")" = "$OAUTH_PORT" ]
	OAUTH_CA="$PKI/unknown-ca.pem" run oauth_http GET /nothing
	[ "$status" -eq 1 ]
	[[ $output == *CERTIFICATE_VERIFY_FAILED* ]]
	local pid=$OAUTH_PID
	OAUTH_PID=
	kill -TERM "$pid"
	wait_until 5 pid_exited "$pid"
	local st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
}
