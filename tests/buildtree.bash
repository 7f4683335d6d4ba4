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
