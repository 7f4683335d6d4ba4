# oauth.bash - bats helpers for the fake OAuth2 server tests/fakeoauth.py
# (its docstring describes the endpoints, the plan and the log).
#
#   oauth_start [fakeoauth.py options...]
#                            start it (PKI from pki_make unless $PKI has
#                            one); sets OAUTH_DIR OAUTH_PORT OAUTH_URL
#                            OAUTH_CA OAUTH_LOG OAUTH_PID, and uses (default)
#                            OAUTH_CLIENT_ID (postie-test-client),
#                            OAUTH_CLIENT_SECRET (none), OAUTH_USER
#                            (tester@example.org), OAUTH_SCOPE, and
#                            OAUTH_MAX_SECONDS (900: the server's lifetime
#                            cap, should a test leave it behind)
#   oauth_stop               stop it (teardown; safe to repeat)
#   oauth_http METHOD PATH|URL [-H 'Name: value']... [--basic ID:SECRET]
#              [--json TEXT] [NAME=VALUE]...
#                            one HTTP(S) request (python3, trusting
#                            OAUTH_CA; a PATH is under OAUTH_URL); the
#                            NAME=VALUE pairs are the urlencoded form (POST)
#                            or query (GET). Sets HTTP_STATUS, HTTP_BODY and
#                            HTTP_HEADERS ("name: value" lines, names in
#                            lower case); false when no answer came.
#                            --basic sends ID:SECRET as given (RFC 6749
#                            2.3.1 wants both form-urlencoded first)
#   oauth_json NAME          top-level field NAME of HTTP_BODY (a string as
#                            is, else JSON); false when absent
#   oauth_header NAME        value of header NAME of the last answer
#   oauth_plan JSON          replace the server's plan
#   oauth_revoke             kill every token (consent revoked)
#   oauth_log_grants         grant_type of every /token request, in order
#   oauth_log_field PATH NAME
#                            form field NAME of every request to PATH, one
#                            a line, "(none)" where it was not sent
#   oauth_browser URL        what a browser does with an authorization URL:
#                            GET it, follow the 302 to the loopback
#                            redirect, print that page
#   oauth_activate USER_CODE approve a device code, as the user would
#   oauth_config ACCOUNT FLOW
#                            postierc lines for a custom-provider account
#                            using the server (no "account" line)
#   oauth_token_of FILE      the access token stored in a token file
#
# Load common (for wait_until and stop_pid) and pki first, e.g.
#   load common
#   load pki
#   load oauth
#   teardown() { oauth_stop; common_teardown; }
# and use oauth_config's lines with write_config:
#   mapfile -t lines < <(oauth_config default device); write_config "${lines[@]}"

OAUTH_SERVER="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fakeoauth.py"
OAUTH_PID="${OAUTH_PID:-}"
: "${OAUTH_CLIENT_ID:=postie-test-client}"
: "${OAUTH_CLIENT_SECRET:=}"
: "${OAUTH_USER:=tester@example.org}"
: "${OAUTH_SCOPE:=https://mail.example.org/smtp offline_access}"

# The client behind oauth_http: python3 http.client, no redirects
# followed. argv: OUTDIR CA METHOD URL then options as oauth_http takes
# them; writes OUTDIR/status, OUTDIR/headers, OUTDIR/body.
_OAUTH_HTTP_PY='
import base64, http.client, json, os, ssl, sys, urllib.parse
out, ca, method, url = sys.argv[1:5]
headers, pairs, body, args = {}, [], None, iter(sys.argv[5:])
for a in args:
    if a == "-H":
        name, value = next(args).split(":", 1)
        headers[name.strip()] = value.strip()
    elif a == "--basic":
        headers["Authorization"] = "Basic " + base64.b64encode(next(args).encode()).decode()
    elif a == "--json":
        body = next(args).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        pairs.append(tuple(a.split("=", 1)))
u = urllib.parse.urlsplit(url)
target = u.path or "/"
query = u.query
if pairs and method == "GET":
    query = "&".join(q for q in (query, urllib.parse.urlencode(pairs)) if q)
elif pairs:
    body = urllib.parse.urlencode(pairs).encode()
    headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
if query:
    target += "?" + query
if u.scheme == "https":
    conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=10,
                                       context=ssl.create_default_context(cafile=ca))
else:
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
try:
    conn.request(method, target, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
except (OSError, http.client.HTTPException) as e:
    sys.exit(f"oauth_http: {method} {url}: {e}")
open(os.path.join(out, "status"), "w").write(str(r.status))
open(os.path.join(out, "headers"), "w").write(
    "".join(f"{k.lower()}: {v}\n" for k, v in r.getheaders()))
open(os.path.join(out, "body"), "wb").write(data)
'

oauth_http() {
	local method="${1:?oauth_http: need a method}" url="${2:?oauth_http: need a URL}"
	local out="${OAUTH_DIR:-${BATS_TEST_TMPDIR:-/tmp}}/http"
	shift 2
	[[ $url == http*://* ]] || url="$OAUTH_URL$url"
	rm -rf "$out" && mkdir -p "$out" || return 1
	HTTP_STATUS='' HTTP_BODY='' HTTP_HEADERS=''
	/usr/bin/python3 -c "$_OAUTH_HTTP_PY" "$out" "${OAUTH_CA:-}" "$method" "$url" "$@" ||
		return 1
	HTTP_STATUS="$(<"$out/status")"
	HTTP_HEADERS="$(<"$out/headers")"
	HTTP_BODY="$(<"$out/body")"
}

oauth_json() {
	/usr/bin/python3 -c '
import json, sys
obj = json.loads(sys.argv[1])
if not isinstance(obj, dict) or sys.argv[2] not in obj:
    sys.exit(1)
v = obj[sys.argv[2]]
print(v if isinstance(v, str) else json.dumps(v))' "$HTTP_BODY" "${1:?oauth_json: need a name}"
}

oauth_header() {
	local name="${1,,}" line
	while IFS= read -r line; do
		if [[ ${line%%: *} == "$name" ]]; then
			echo "${line#*: }"
			return 0
		fi
	done <<<"$HTTP_HEADERS"
	return 1
}

oauth_start() {
	local dir="${BATS_TEST_TMPDIR:-${TMPDIR:-/tmp}}/oauth" secret=()
	rm -rf "$dir"
	mkdir -p "$dir" || return 1
	if [[ -z ${PKI:-} || ! -s $PKI/server.pem ]]; then
		pki_make "${BATS_FILE_TMPDIR:-$dir}/pki" || return 1
	fi
	[[ -z $OAUTH_CLIENT_SECRET ]] || secret=(--client-secret "$OAUTH_CLIENT_SECRET")
	# 3>&-: bats waits for anything still holding its fd 3.
	/usr/bin/python3 "$OAUTH_SERVER" --cert "$PKI/server.pem" --key "$PKI/server-key.pem" \
		--port-file "$dir/port" --log "$dir/log" --client-id "$OAUTH_CLIENT_ID" \
		"${secret[@]}" --user "$OAUTH_USER" --max-seconds "${OAUTH_MAX_SECONDS:-900}" \
		"$@" >"$dir/server.err" 2>&1 3>&- &
	OAUTH_PID=$!
	OAUTH_DIR="$dir" OAUTH_LOG="$dir/log" OAUTH_CA="$PKI/ca.pem" OAUTH_PORT='' OAUTH_URL=''
	export OAUTH_DIR OAUTH_LOG OAUTH_CA OAUTH_PORT OAUTH_URL OAUTH_PID
	export OAUTH_CLIENT_ID OAUTH_CLIENT_SECRET OAUTH_USER OAUTH_SCOPE
	if ! wait_file "$dir/port" "$OAUTH_PID"; then
		echo "oauth_start: fakeoauth.py $* did not come up; its stderr:" >&2
		cat "$dir/server.err" >&2
		oauth_stop
		return 1
	fi
	OAUTH_PORT="$(<"$dir/port")"
	OAUTH_URL="https://127.0.0.1:$OAUTH_PORT"
}

oauth_stop() {
	local pid="${OAUTH_PID:-}"
	OAUTH_PID=
	stop_pid "$pid"
}

# _oauth_control PATH JSON: POST to a control endpoint; the server's
# answer is shown only when it refuses.
_oauth_control() {
	oauth_http POST "$1" --json "$2" || return 1
	if [[ $HTTP_STATUS != 200 ]]; then
		echo "POST $1 $2: $HTTP_STATUS $HTTP_BODY" >&2
		return 1
	fi
}

oauth_plan() { _oauth_control /_plan "${1:?oauth_plan: need a JSON object}"; }

oauth_revoke() { _oauth_control /_revoke '{}'; }

# _oauth_log_query PYTHON [ARG...]: run PYTHON with `requests` bound to
# the log's entries (a list of dicts) and `args` to the ARGs.
_oauth_log_query() {
	local code="$1"
	shift
	/usr/bin/python3 -c "
import json, sys
requests = [json.loads(line) for line in open(sys.argv[1])]
args = sys.argv[2:]
$code" "$OAUTH_LOG" "$@"
}

oauth_log_grants() {
	_oauth_log_query '
for r in requests:
    if r["path"] == "/token":
        print(r["form"].get("grant_type", "(none)"))'
}

oauth_log_field() {
	_oauth_log_query '
for r in requests:
    if r["path"] == args[0]:
        print(r["form"].get(args[1], "(none)"))' "${1:?need a path}" "${2:?need a name}"
}

oauth_browser() {
	local url="${1:?oauth_browser: need the authorization URL}" location
	oauth_http GET "$url" || return 1
	if [[ $HTTP_STATUS != 302 ]] || ! location="$(oauth_header location)"; then
		echo "oauth_browser: $url answered $HTTP_STATUS, not a redirect: $HTTP_BODY" >&2
		return 1
	fi
	oauth_http GET "$location" || return 1
	printf '%s\n' "$HTTP_BODY"
}

oauth_activate() {
	oauth_http GET /activate "user_code=${1:?oauth_activate: need a user code}" || return 1
	if [[ $HTTP_STATUS != 200 ]]; then
		echo "oauth_activate $1: $HTTP_STATUS $HTTP_BODY" >&2
		return 1
	fi
}

oauth_config() {
	local account="${1:?oauth_config: need an account}" flow="${2:?oauth_config: need a flow}"
	echo "oauth_provider custom"
	echo "oauth_client_id $OAUTH_CLIENT_ID"
	[[ -z $OAUTH_CLIENT_SECRET ]] || echo "oauth_client_secret $OAUTH_CLIENT_SECRET"
	echo "oauth_flow $flow"
	case "$flow" in
	device) echo "oauth_device_url $OAUTH_URL/device" ;;
	authcode) echo "oauth_auth_url $OAUTH_URL/authorize" ;;
	client_credentials) ;;
	*)
		echo "oauth_config: unknown flow $flow" >&2
		return 1
		;;
	esac
	echo "oauth_token_url $OAUTH_URL/token"
	echo "oauth_scope $OAUTH_SCOPE"
	echo "oauth_trust_file $OAUTH_CA"
	echo "oauth_token_file $HOME/oauth/$account.json"
}

oauth_token_of() {
	/usr/bin/python3 -c '
import json, sys
print(json.load(open(sys.argv[1]))["access_token"])' "${1:?oauth_token_of: need a file}"
}
