#!/usr/bin/env bats
# make check itself, run again in the configured build tree at $BUILDDIR
# on small bats files of the test's own: the summary line that ends it,
# its exit status, BATS_JOBS files at once through GNU parallel, and the
# serial run without parallel.

bats_require_minimum_version 1.5.0
load buildtree

setup() {
	: "${BUILDDIR:?BUILDDIR must name the configured build tree (make check sets it)}"
	command -v parallel >/dev/null || {
		echo "GNU parallel not found: install the Debian package parallel (contrib/testdeps.sh does)" >&2
		return 1
	}
	T=$BATS_TEST_TMPDIR
}

# check ARGS...: make check-local in the build tree, its log in $T/log;
# the status in $status, the output in $output and $lines, the errors in
# $stderr.
check() {
	run --separate-stderr tree_make check-local BATS_LOG="$T/log" "$@"
	echo "make check-local $*: status $status"
	echo "$output"
	echo "stderr: $stderr"
}

# The bats files below are written with printf: a line of this file that
# begins with @test, in a here-document too, is a test of this file.

# pair NAME OTHER: a bats file $T/NAME.bats whose one test marks NAME
# started, then waits up to $WAIT seconds (default 20) for OTHER to be
# started too.
pair() {
	printf '%s\n' "@test \"$1 runs while $2 does\" {" \
		"	touch '$T/$1.started'" \
		'	for ((i = 0; i < ${WAIT:-20} * 10; i++)); do' \
		"		[[ ! -e '$T/$2.started' ]] || return 0" \
		'		sleep 0.1' \
		'	done' \
		"	echo '$2 did not start'" \
		'	return 1' \
		'}' >"$T/$1.bats"
}

@test "make check ends with a summary line: tests, failures, skips; a failure fails it" {
	printf '%s\n' '@test "passes" { true; }' '@test "is skipped" { skip "not here"; }' \
		'@test "fails" { false; }' >"$T/mixed.bats"
	check BATS_TESTS="$T/mixed.bats"
	[ "$status" -ne 0 ]
	[ "${lines[-1]}" = "3 tests, 1 failures, 1 skipped; bats exit status 1" ]
	grep -qx 'not ok 3 fails' "$T/log"
	grep -qx 'ok 2 is skipped # skip not here' "$T/log"

	printf '@test "one" { true; }\n@test "two" { true; }\n' >"$T/good.bats"
	check BATS_TESTS="$T/good.bats"
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "2 tests, 0 failures, 0 skipped; bats exit status 0" ]
	grep -qx 'ok 2 two' "$T/log"
}

@test "make check runs BATS_JOBS test files at once; BATS_JOBS=1 one after another" {
	pair a b
	pair b a
	check BATS_JOBS=2 BATS_TESTS="$T/a.bats $T/b.bats"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == *" --jobs 2 --no-parallelize-within-files "* ]]
	[ "${lines[-1]}" = "2 tests, 0 failures, 0 skipped; bats exit status 0" ]

	rm -f "$T"/*.started
	WAIT=2 check BATS_JOBS=1 BATS_TESTS="$T/a.bats $T/b.bats"
	[ "$status" -ne 0 ]
	[[ ${lines[0]} != *--jobs* ]]
	grep -qx 'not ok 1 a runs while b does' "$T/log"
	[ "${lines[-1]}" = "2 tests, 1 failures, 0 skipped; bats exit status 1" ]
}

@test "make check without GNU parallel runs the files one at a time and says so" {
	# A PATH holding all of /usr/bin but parallel.
	mkdir "$T/bin"
	for f in /usr/bin/*; do
		[[ ${f##*/} == parallel ]] || ln -s "$f" "$T/bin/"
	done
	printf '@test "one" { true; }\n' >"$T/one.bats"
	PATH="$T/bin" check BATS_JOBS=3 BATS_TESTS="$T/one.bats"
	[ "$status" -eq 0 ]
	[[ $output == *"GNU parallel not found: the test files run one at a time (contrib/testdeps.sh installs parallel)"* ]]
	[ "${lines[-1]}" = "1 tests, 0 failures, 0 skipped; bats exit status 0" ]
}

@test "make check refuses a BATS_JOBS that is not a number" {
	printf '@test "one" { true; }\n' >"$T/one.bats"
	check BATS_JOBS=two BATS_TESTS="$T/one.bats"
	[ "$status" -ne 0 ]
	[[ $stderr == *"BATS_JOBS must be a number, not 'two'"* ]]
	[ ! -e "$T/log" ]
}
