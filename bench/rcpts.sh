#!/bin/sh
# Wall time and peak memory for a message with many header recipients sent
# with -t (parsing To/Cc, removing duplicates, converting to ASCII).
# Usage: bench/rcpts.sh [N] (default 65000; the header section must stay
# under 1 MiB, about 75000 at most). Run from a built tree.
# One recipient in ten is repeated with its domain in capitals (removed as
# a duplicate). The last recipient, "nodomain", has no domain, so postie
# stops with status 67 where it would connect: the figures are the work
# before the SMTP session. SINK=1 adds it as a full address and delivers to
# the local test server (tests/smtpsink.py) instead.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
n=${1:-65000}

port=9 last=nodomain want=67
if [ "${SINK:-0}" = 1 ]; then
	bench_sink
	last=last@x.io want=0
fi
awk -v n="$n" -v last="$last" 'BEGIN {
	printf "Subject: many recipients\n"
	printf "To: r0@x.io"
	for (i = 1; i < n; i++) {
		if (i % 10 == 0)
			printf ",\n r%d@X.IO", i - 5
		else
			printf ",\n r%d@x.io", i
	}
	printf ",\n %s\n\nbody\n", last
}' >"$dir/msg"
printf 'account default\nhost 127.0.0.1\nport %s\nfrom bench@example.org\n' "$port" >"$dir/rc"
chmod 600 "$dir/rc"

bench_time "$want" "$POSTIE" -C "$dir/rc" -t <"$dir/msg"
echo "header recipients: $((n + 1)), $(( (n - 1) / 10 )) of them duplicates (-t); exit status $want; SINK=${SINK:-0}"
[ "${SINK:-0}" = 1 ] && echo "server received: $(grep -c '^RCPT' "$dir/sink/msg-1.env") RCPT"
echo "peak RSS: ${kb} KiB   wall time: ${secs} s"
