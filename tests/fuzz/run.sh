#!/bin/sh
# run.sh BINDIR CORPUSDIR WORKDIR SECONDS TARGET... - run each libFuzzer
# program BINDIR/fuzz-TARGET for SECONDS on a scratch copy of its seed
# corpus CORPUSDIR/TARGET (in WORKDIR/TARGET/corpus, so the source tree
# is never written), one after the other. Prints one line per target
# (runs, runs per second, corpus size); a crash, leak, sanitizer report
# or timeout prints the report and the saved input, and makes the exit
# status 1 once every target has run. Called by make fuzz.
set -u
bin=$1 corpus=$2 work=$3 seconds=$4
shift 4

# Leak detection on: a leak in a parser is a real bug. UBSan findings are
# fatal (the programs are built with -fno-sanitize-recover=undefined).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }

status=0 passed=0 failed=0
for t; do
	d=$work/$t
	rm -rf "$d"
	mkdir -p "$d/corpus" "$d/crashes" "$d/tmp" || exit 1
	cp "$corpus/$t"/* "$d/corpus/" || exit 1
	seeds=$(ls "$d/corpus" | wc -l)
	# msg_read spools into TMPDIR
	TMPDIR=$d/tmp "$bin/fuzz-$t" -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-8192}" -print_final_stats=1 \
		-artifact_prefix="$d/crashes/" "$d/corpus" >"$d/log" 2>&1
	rc=$?
	runs=$(stat number_of_executed_units "$d/log")
	rate=$(stat average_exec_per_sec "$d/log")
	files=$(ls "$d/corpus" | wc -l)
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "fuzz-$t: ok, ${runs:-?} runs in $seconds s (${rate:-?}/s), corpus $seeds -> $files inputs"
	else
		status=1 failed=$((failed + 1))
		echo "fuzz-$t: FAILED (exit status $rc) after ${runs:-?} runs; the report ($d/log):"
		grep -E -A40 '^==[0-9]+==ERROR|runtime error|^==[0-9]+== ERROR|ERROR: libFuzzer|deadly signal' "$d/log" | head -60
		for f in "$d/crashes"/*; do
			[ -f "$f" ] && echo "fuzz-$t: input saved as $f (replay: $bin/fuzz-$t $f)"
		done
	fi
done
# the closing line, in the form CI's summary reader knows
echo "fuzz: $passed passed, $failed failed"
exit $status
