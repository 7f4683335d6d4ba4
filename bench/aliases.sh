#!/bin/sh
# Wall time and peak memory for alias expansion: a 100,000-line aliases
# file (loading it and looking names up), and a 7 levels x 10 aliases x 10
# members file (each alias listing the 10 of the next level: 10^7
# addresses if every alias were expanded each time it is named, 100
# distinct ones). Usage: bench/aliases.sh [LINES] (default 100000). Run
# from a built tree. Each run also names "nodomain", which no alias maps,
# so postie stops with status 67 where it would connect: the figures are
# the work before the SMTP session.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_init
lines=${1:-100000}

awk -v n="$lines" 'BEGIN { for (i = 0; i < n; i++) printf "a%d: u%d@example.org\n", i, i }' >"$dir/flat"
awk 'BEGIN {
	for (l = 0; l < 7; l++)
		for (i = 0; i < 10; i++) {
			printf "l%d_%d:", l, i
			for (k = 0; k < 10; k++)
				if (l < 6)
					printf "%s l%d_%d", k ? "," : "", l + 1, k
				else
					printf "%s u%d_%d@example.org", k ? "," : "", i, k
			printf "\n"
		}
}' >"$dir/layers"

# run NAME FILE RECIPIENTS...: one postie run, its figures on one line.
run() {
	name=$1 file=$2
	shift 2
	printf 'account default\nhost 127.0.0.1\nport 9\nfrom bench@example.org\naliases %s\n' "$file" >"$dir/rc"
	chmod 600 "$dir/rc"
	printf 'Subject: aliases\n\nbody\n' >"$dir/msg"
	bench_time 67 "$POSTIE" -C "$dir/rc" "$@" nodomain <"$dir/msg"
	printf '%-34s peak RSS: %8s KiB   wall time: %6s s\n' "$name" "$kb" "$secs"
}

run "flat: $lines lines ($(wc -c <"$dir/flat") bytes)" "$dir/flat" a0 "a$((lines / 2))" "a$((lines - 1))"
run "layers: 7x10x10 ($(wc -c <"$dir/layers") bytes)" "$dir/layers" l0_0
