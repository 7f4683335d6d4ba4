#!/usr/bin/env bats
# make install and make uninstall of the configured build tree at
# $BUILDDIR, into a DESTDIR: exactly postie, its two man pages, the
# queue timer's systemd units (system and user, in configurable
# directories, naming the installed postie) and the system's SMTP socket
# with its postie -bs service, plus the sendmail links when
# asked for (never mailq or newaliases); the links resolve to postie
# inside the DESTDIR and run; uninstall leaves no file and no link behind,
# and leaves a sendmail that is not postie's alone.

load buildtree

setup() {
	unset DESTDIR
	D="$BATS_TEST_TMPDIR/dest"
	# The configured directories and settings, as make expands them.
	# shellcheck disable=SC2016 # make expands $(...), not the shell
	make_vars 'prefix=$(prefix)' 'bindir=$(bindir)' 'sbindir=$(sbindir)' 'man1dir=$(man1dir)' \
		'man5dir=$(man5dir)' 'VERSION=$(VERSION)' 'SENDMAIL_LINKS=$(SENDMAIL_LINKS)' \
		'LIB_SENDMAIL_DIR=$(LIB_SENDMAIL_DIR)' 'sysunitdir=$(systemdsystemunitdir)' \
		'userunitdir=$(systemduserunitdir)' || return 1
	[[ "$bindir" == /* && "$sbindir" == /* && "$man1dir" == /* && -n "$VERSION" ]]
	# What make install always installs, the units where configured.
	base=("$bindir/postie" "$man1dir/postie.1" "$man5dir/postierc.5")
	[ -z "$sysunitdir" ] || base+=("$sysunitdir/postie-queue.service" "$sysunitdir/postie-queue.timer"
		"$sysunitdir/postie-smtpd.socket" "$sysunitdir/postie-smtpd@.service")
	[ -z "$userunitdir" ] || base+=("$userunitdir/postie-queue.service" "$userunitdir/postie-queue.timer")
}

# inst ARGS...: make -s in the build tree with DESTDIR=$D.
inst() {
	run make -s -C "$BUILDDIR" DESTDIR="$D" "$@"
	echo "make $*: status $status"
	echo "$output"
}

# files: everything but directories under $D, as installed paths, sorted.
files() {
	[ -d "$D" ] || return 0
	(cd "$D" && find . ! -type d) | sed 's|^\.||' | LC_ALL=C sort
}

# expect_files PATH...: exactly these are installed, nothing else.
expect_files() {
	local want got
	want=$(printf '%s\n' "$@" | LC_ALL=C sort)
	got=$(files)
	if [ "$got" != "$want" ]; then
		printf 'installed:\n%s\nexpected:\n%s\n' "$got" "$want"
		return 1
	fi
}

# is_postie_link PATH: a symlink that resolves, inside $D, to the installed
# postie, and runs as postie.
is_postie_link() {
	local l="$D$1"
	[ -h "$l" ] || { echo "$1 is not a symlink"; return 1; }
	echo "$1 -> $(readlink "$l")"
	[ "$l" -ef "$D$bindir/postie" ] || { echo "$1 does not resolve to $bindir/postie inside DESTDIR"; return 1; }
	run "$l" --version
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "postie $VERSION" ]
}

# uninstall_clean ARGS...: make uninstall leaves no file or link behind.
uninstall_clean() {
	inst uninstall "$@"
	[ "$status" -eq 0 ]
	expect_files
}

@test "install: postie and its two man pages, no sendmail, then uninstall leaves nothing" {
	inst install SENDMAIL_LINKS=no
	[ "$status" -eq 0 ]
	expect_files "${base[@]}"
	[ -x "$D$bindir/postie" ]
	run "$D$bindir/postie" --version
	[ "${lines[0]}" = "postie $VERSION" ]
	uninstall_clean SENDMAIL_LINKS=no
}

# units_in DIR: DIR holds the queue timer's service, naming the installed
# postie, and the timer as shipped.
units_in() {
	local d="$D$1"
	grep -qxF "ExecStart=$bindir/postie --queue-run" "$d/postie-queue.service" ||
		{ echo "$1/postie-queue.service:"; cat "$d/postie-queue.service"; return 1; }
	cmp "$d/postie-queue.timer" "$BATS_TEST_DIRNAME/../contrib/systemd/postie-queue.timer"
	[ "$(stat -c %a "$d/postie-queue.service") $(stat -c %a "$d/postie-queue.timer")" = "644 644" ]
}

@test "install: the systemd units into the configured directories, by default under the prefix" {
	echo "configured: systemdsystemunitdir=$sysunitdir systemduserunitdir=$userunitdir"
	inst install SENDMAIL_LINKS=no
	[ "$status" -eq 0 ]
	expect_files "${base[@]}"
	[ -z "$sysunitdir" ] || units_in "$sysunitdir"
	[ -z "$userunitdir" ] || units_in "$userunitdir"
	# the system and the user service differ: the sandbox is the system's
	if [ -n "$sysunitdir" ] && [ -n "$userunitdir" ]; then
		grep -q '^ProtectSystem=strict$' "$D$sysunitdir/postie-queue.service"
		run grep -c '^ProtectSystem=' "$D$userunitdir/postie-queue.service"
		[ "$output" = 0 ]
	fi
	uninstall_clean SENDMAIL_LINKS=no
	# configure's defaults, when it was given none
	if ! grep -q -e '--with-systemd[a-z]*unitdir' "$BUILDDIR/config.status"; then
		[ "$sysunitdir" = "$prefix/lib/systemd/system" ]
		[ "$userunitdir" = "$prefix/lib/systemd/user" ]
	fi
}

@test "install: systemdsystemunitdir and systemduserunitdir given to make; empty installs none" {
	local sys=/opt/units/system user=/opt/units/user
	inst install SENDMAIL_LINKS=no systemdsystemunitdir="$sys" systemduserunitdir="$user"
	[ "$status" -eq 0 ]
	expect_files "$bindir/postie" "$man1dir/postie.1" "$man5dir/postierc.5" \
		"$sys/postie-queue.service" "$sys/postie-queue.timer" \
		"$sys/postie-smtpd.socket" "$sys/postie-smtpd@.service" \
		"$user/postie-queue.service" "$user/postie-queue.timer"
	units_in "$sys"
	units_in "$user"
	uninstall_clean SENDMAIL_LINKS=no systemdsystemunitdir="$sys" systemduserunitdir="$user"
	inst install SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir="$user"
	[ "$status" -eq 0 ]
	expect_files "$bindir/postie" "$man1dir/postie.1" "$man5dir/postierc.5" \
		"$user/postie-queue.service" "$user/postie-queue.timer"
	uninstall_clean SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir="$user"
	inst install SENDMAIL_LINKS=no systemdsystemunitdir="$sys" systemduserunitdir=
	[ "$status" -eq 0 ]
	expect_files "$bindir/postie" "$man1dir/postie.1" "$man5dir/postierc.5" \
		"$sys/postie-queue.service" "$sys/postie-queue.timer" \
		"$sys/postie-smtpd.socket" "$sys/postie-smtpd@.service"
	uninstall_clean SENDMAIL_LINKS=no systemdsystemunitdir="$sys" systemduserunitdir=
}

@test "install: follows the configured --enable-sendmail-links and --with-lib-sendmail" {
	echo "configured: SENDMAIL_LINKS=$SENDMAIL_LINKS LIB_SENDMAIL_DIR=$LIB_SENDMAIL_DIR"
	inst install
	[ "$status" -eq 0 ]
	case $SENDMAIL_LINKS in
	yes)
		if [ -n "$LIB_SENDMAIL_DIR" ]; then
			expect_files "${base[@]}" "$sbindir/sendmail" "$LIB_SENDMAIL_DIR/sendmail"
			is_postie_link "$LIB_SENDMAIL_DIR/sendmail"
		else
			expect_files "${base[@]}" "$sbindir/sendmail"
		fi
		is_postie_link "$sbindir/sendmail"
		;;
	no) expect_files "${base[@]}" ;;
	*) echo "SENDMAIL_LINKS is '$SENDMAIL_LINKS', not yes or no"; false ;;
	esac
	uninstall_clean
}

@test "install SENDMAIL_LINKS=yes: sbin/sendmail, a relative link to postie that runs; no mailq, no newaliases" {
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sbindir/sendmail"
	is_postie_link "$sbindir/sendmail"
	[[ "$(readlink "$D$sbindir/sendmail")" != /* ]]
	if [ "${sbindir%/*}" = "${bindir%/*}" ]; then
		[ "$(readlink "$D$sbindir/sendmail")" = "../${bindir##*/}/postie" ]
	fi
	# No mailq or newaliases links (expect_files above); what they would
	# ask for, the installed sendmail answers.
	run "$D$sbindir/sendmail" -bp
	[ "$status" -eq 0 ]
	[ "$output" = "Mail queue is empty" ]
	run "$D$sbindir/sendmail" -bi
	[ "$status" -eq 0 ]
	uninstall_clean SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
}

@test "install-sendmail-links: the link on demand, with postie; uninstall removes it" {
	inst install-sendmail-links SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "$bindir/postie" "$sbindir/sendmail"
	is_postie_link "$sbindir/sendmail"
	# Installing again, links or not, keeps it.
	inst install SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sbindir/sendmail"
	inst install-sendmail-links SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sbindir/sendmail"
	is_postie_link "$sbindir/sendmail"
	uninstall_clean SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
}

@test "install LIB_SENDMAIL_DIR: lib/sendmail too, only when asked" {
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR="$prefix/lib"
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sbindir/sendmail" "$prefix/lib/sendmail"
	is_postie_link "$prefix/lib/sendmail"
	is_postie_link "$sbindir/sendmail"
	uninstall_clean SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR="$prefix/lib"
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=relative/lib
	[ "$status" -ne 0 ]
	[[ "$output" == *"'relative/lib' is not an absolute directory"* ]]
	uninstall_clean SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
}

@test "install: another sendmail is neither replaced nor removed, unless SENDMAIL_LINKS_FORCE=yes" {
	mkdir -p "$D$sbindir" "$D$prefix/lib"
	printf '#!/bin/sh\necho other MTA\n' >"$D$sbindir/sendmail"
	ln -s ../sbin/other-mta "$D$prefix/lib/sendmail"
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
	[ "$status" -ne 0 ]
	[[ "$output" == *"$D$sbindir/sendmail exists and is not a link to postie: not replaced"* ]]
	[ ! -h "$D$sbindir/sendmail" ]
	[ "$(cat "$D$sbindir/sendmail")" = "$(printf '#!/bin/sh\necho other MTA')" ]
	inst install-sendmail-links LIB_SENDMAIL_DIR="$prefix/lib"
	[ "$status" -ne 0 ]
	[ ! -h "$D$sbindir/sendmail" ]
	inst uninstall SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR="$prefix/lib"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$D$sbindir/sendmail is not a link to postie: left alone"* ]]
	[[ "$output" == *"$D$prefix/lib/sendmail is not a link to postie: left alone"* ]]
	expect_files "$sbindir/sendmail" "$prefix/lib/sendmail"
	[ "$(readlink "$D$prefix/lib/sendmail")" = ../sbin/other-mta ]
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR= SENDMAIL_LINKS_FORCE=yes
	[ "$status" -eq 0 ]
	[[ "$output" == *"$D$sbindir/sendmail is not a link to postie: replacing it"* ]]
	is_postie_link "$sbindir/sendmail"
	rm "$D$prefix/lib/sendmail"
	uninstall_clean SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
}
