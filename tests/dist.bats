#!/usr/bin/env bats
# The test suite is shipped whole: TEST_FILES in Makefile.am names every
# file in tests/ (the unit programs' sources aside: their _SOURCES name
# them), and make dist ships all it names. Asked of the configured build
# tree at $BUILDDIR, as make expands the variables.

load buildtree

setup() {
	# shellcheck disable=SC2016 # make expands $(...), not the shell
	make_vars 'srcdir=$(abs_top_srcdir)' 'listed=$(TEST_FILES)' 'sources=$(DIST_SOURCES)' \
		'shipped=$(DISTFILES)' 'built=$(check_PROGRAMS) $(FUZZ_BIN) $(FUZZ_WORK)' \
		'selected=$(SANITIZE_BATS)' || return 1
	[[ -d "$srcdir/tests" && -n "$listed" && -n "$sources" && -n "$shipped" ]]
}

# unlisted ROOT: the files under ROOT/tests (as ROOT-relative paths) that
# $listed and $sources do not name, nor a directory $listed names holds.
# Build products are not test files: $built (files or directories),
# objects, dot files and directories, __pycache__.
unlisted() {
	local root="$1" f p
	local -A named=()
	local -a prefixes=()
	for p in $listed $sources; do named[$p]=1; done
	for p in $listed; do [[ ! -d $root/$p ]] || prefixes+=("$p/"); done
	for p in $built; do prefixes+=("$p/"); named[$p]=1; done
	while IFS= read -r f; do
		f="${f#"$root"/}"
		[[ -z ${named[$f]:-} ]] || continue
		for p in "${prefixes[@]}"; do [[ $f != "$p"* ]] || continue 2; done
		echo "$f"
	done < <(find "$root/tests" \( -name '.*' -o -name __pycache__ \) -prune -o \
		-type f ! -name '*.o' -print | LC_ALL=C sort)
}

@test "every file in tests/ is named in TEST_FILES, or is a unit program's source" {
	run unlisted "$srcdir"
	echo "in $srcdir/tests but missing from TEST_FILES in Makefile.am:"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "make dist ships every file TEST_FILES names" {
	local p bad=()
	for p in $listed; do
		[[ -e $srcdir/$p ]] || bad+=("$p: no such file")
		[[ " $shipped " == *" $p "* ]] || bad+=("$p: not in DISTFILES")
	done
	printf '%s\n' "${bad[@]}"
	[ "${#bad[@]}" -eq 0 ]
}

@test "the files make sanitize-check runs are in TEST_FILES" {
	local p bad=()
	for p in $selected; do
		[[ " $listed " == *" $p "* ]] || bad+=("$p")
	done
	printf 'SANITIZE_BATS names, TEST_FILES does not: %s\n' "${bad[@]}"
	[ -n "$selected" ] && [ "${#bad[@]}" -eq 0 ]
}

@test "the check names a test file missing from the list, and no build product" {
	local root="$BATS_TEST_TMPDIR/tree" f
	for f in tests/a.bats tests/new.bash tests/unit/t-x.c tests/unit/t-x tests/unit/t-x.o \
		tests/unit/.deps/t-x.Po tests/unit/.dirstamp tests/fuzz/corpus/msg/seed \
		tests/fuzz/bin/fuzz-msg tests/__pycache__/smtpclient.pyc tests/golden/one.in; do
		mkdir -p "$root/${f%/*}"
		: >"$root/$f"
	done
	listed="tests/a.bats tests/fuzz/corpus" sources="tests/unit/t-x.c src/x.c"
	built="tests/unit/t-x tests/fuzz/bin tests/fuzz/work"
	run unlisted "$root"
	echo "$output"
	[ "$output" = $'tests/golden/one.in\ntests/new.bash' ]
}
