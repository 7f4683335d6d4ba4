# Questions to the configured build tree at $BUILDDIR (install.bats,
# dist.bats): make_vars NAME=EXPR... sets each shell variable NAME to
# EXPR as make expands it there (EXPR uses make's $(VAR) syntax).

make_vars() {
	[ -n "${BUILDDIR:-}" ] || { echo "BUILDDIR must name the configured build tree (make check sets it)" >&2; return 1; }
	[ -f "$BUILDDIR/Makefile" ] || { echo "no Makefile in $BUILDDIR: configure it first" >&2; return 1; }
	# A plain make of the build tree, not a child of the outer make check.
	unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
	local mk="$BATS_TEST_TMPDIR/vars.mk" pair k v
	echo 'postie-test-vars:' >"$mk"
	for pair in "$@"; do
		printf '\t@echo "%s"\n' "$pair" >>"$mk"
	done
	while IFS='=' read -r k v; do
		printf -v "$k" '%s' "$v"
	done < <(make -s -C "$BUILDDIR" -f Makefile -f "$mk" postie-test-vars)
}

# tree_make ARGS...: make -s ARGS in the build tree, a plain make of its
# own rather than a child of the outer make check, and without the
# variables and exported functions of the bats run (and GNU parallel)
# around the test, which a bats run inside would take for its own.
tree_make() {
	[ -n "${BUILDDIR:-}" ] || { echo "BUILDDIR must name the configured build tree (make check sets it)" >&2; return 1; }
	(
		unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
		# bats puts its libexec directory first on PATH: a bats found
		# there is its internal one.
		if [[ -n ${BATS_LIBEXEC:-} ]]; then
			PATH=$(tr : '\n' <<<"$PATH" | grep -vxF "$BATS_LIBEXEC" | paste -sd:)
		fi
		for v in $(compgen -e); do
			case $v in BATS_* | PARALLEL_*) unset "$v" ;; esac
		done
		for v in $(compgen -A function bats_); do unset -f "$v"; done
		make -s --no-print-directory -C "$BUILDDIR" "$@"
	)
}
