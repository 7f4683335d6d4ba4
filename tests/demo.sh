#!/bin/sh
# make demo: start the test server, send one message through postie with the
# transcript shown, then print the message exactly as the server stored it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
POSTIE=${POSTIE:-postie}
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT INT TERM

/usr/bin/python3 "$here/smtpsink.py" --dir "$dir/sink" --port-file "$dir/port" 2>"$dir/sink.err" &
pid=$!
i=0
while [ ! -s "$dir/port" ]; do
	i=$((i + 1))
	if [ "$i" -gt 200 ]; then echo "demo: test server did not start:" >&2; cat "$dir/sink.err" >&2; exit 1; fi
	sleep 0.05
done
port=$(cat "$dir/port")

cat >"$dir/postierc" <<EOC
account default
host 127.0.0.1
port $port
domain demo.example
from demo@example.org
EOC
chmod 600 "$dir/postierc"

echo "== sending with: postie -C postierc -v -t"
printf 'To: Admin <admin@example.org>\nSubject: disk full\n\n/var is at 99%%\n.\nThe line above is a lone dot; it does not end the message.\n' |
	POSTIE_SYSTEM_CONFIG=/dev/null "$POSTIE" -C "$dir/postierc" -v -t
echo "== postie exited with status $?"
echo "== the server received (envelope, then message):"
cat "$dir/sink/msg-1.env"
echo
cat "$dir/sink/msg-1.eml" | tr -d '\r'
