# Questions to the configured build tree at $BUILDDIR (install.bats,
# dist.bats): make_vars NAME=EXPR... sets each shell variable NAME to
# EXPR as make expands it there (EXPR uses make's $(VAR) syntax).
# tree_make ARGS... (check.bats) runs make -s ARGS there.

# tree_make ARGS...: make -s ARGS in the build tree, a plain make of its
# own rather than a child of the outer make check.
tree_make() {
	[ -n "${BUILDDIR:-}" ] || { echo "BUILDDIR must name the configured build tree (make check sets it)" >&2; return 1; }
	(
		unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
		make -s --no-print-directory -C "$BUILDDIR" "$@"
	)
}

make_vars() {
	[ -n "${BUILDDIR:-}" ] || { echo "BUILDDIR must name the configured build tree (make check sets it)" >&2; return 1; }
	[ -f "$BUILDDIR/Makefile" ] || { echo "no Makefile in $BUILDDIR: configure it first" >&2; return 1; }
	# The callers' own makes of the build tree (install.bats) are plain
	# ones too.
	unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
	local mk="$BATS_TEST_TMPDIR/vars.mk" pair k v
	echo 'postie-test-vars:' >"$mk"
	for pair in "$@"; do
		printf '\t@echo "%s"\n' "$pair" >>"$mk"
	done
	while IFS='=' read -r k v; do
		printf -v "$k" '%s' "$v"
	done < <(tree_make -f Makefile -f "$mk" postie-test-vars)
}
