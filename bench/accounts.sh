#!/bin/sh
# Time and peak memory for loading many chained accounts: "account a1",
# "account a2 : a1", ... each inheriting the previous one, then
# "postie --pretend -a aN". Usage: bench/accounts.sh [N] (default 40000).
# Run from a built tree; POSTIE=path selects another binary.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
n=${1:-40000}

awk -v n="$n" 'BEGIN {
	print "defaults\nhost 127.0.0.1\nport 2525"
	print "account a1\nfrom a1@example.org"
	for (i = 2; i <= n; i++)
		printf "account a%d : a%d\nfrom a%d@example.org\n", i, i - 1, i
}' >"$dir/rc"
chmod 600 "$dir/rc"

/usr/bin/time -v -o "$dir/time" env POSTIE_SYSTEM_CONFIG=/dev/null \
	"$POSTIE" -C "$dir/rc" --pretend -a "a$n" >"$dir/out"
grep -q "^from = a$n@example.org$" "$dir/out" || { echo "unexpected output:" >&2; cat "$dir/out" >&2; exit 1; }
kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$dir/time")
wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time")
user=$(sed -n 's/^[[:space:]]*User time (seconds): //p' "$dir/time")
echo "accounts: $n chained ($(wc -c <"$dir/rc") bytes of configuration)"
echo "peak RSS: ${kb} KiB   wall time: ${wall}   user CPU: ${user} s"
