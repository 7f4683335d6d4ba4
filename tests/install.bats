#!/usr/bin/env bats
# make install and make uninstall of the configured build tree at
# $BUILDDIR, into a DESTDIR: exactly postie, postie-convert, the three
# man pages, the bash and zsh completions, the logrotate rules, the queue
# timer's systemd units (system and user, naming the installed postie)
# and the system's SMTP socket with its postie -bs service, each in its
# configurable directory; plus the sendmail links when asked for (never
# mailq or newaliases), in /usr/sbin whatever the prefix. The links
# resolve to postie inside the DESTDIR and run. A sendmail that is not
# postie's link is never replaced (the error says what to do instead)
# nor removed; uninstall leaves no file and no link of postie's behind
# and restores nothing.

load buildtree

setup() {
	unset DESTDIR
	D="$BATS_TEST_TMPDIR/dest"
	SRC="$BATS_TEST_DIRNAME/.."
	# The configured directories and settings, as make expands them.
	# shellcheck disable=SC2016 # make expands $(...), not the shell
	make_vars 'prefix=$(prefix)' 'bindir=$(bindir)' 'datadir=$(datadir)' \
		'sysconfdir=$(sysconfdir)' 'man1dir=$(man1dir)' 'man5dir=$(man5dir)' \
		'VERSION=$(VERSION)' 'SENDMAIL_LINKS=$(SENDMAIL_LINKS)' 'sendmaildir=$(SENDMAIL_DIR)' \
		'LIB_SENDMAIL_DIR=$(LIB_SENDMAIL_DIR)' 'sysunitdir=$(systemdsystemunitdir)' \
		'userunitdir=$(systemduserunitdir)' 'bashdir=$(bashcompletiondir)' \
		'zshdir=$(zshcompletiondir)' 'logrotatedir=$(logrotatedir)' || return 1
	[[ "$bindir" == /* && "$sendmaildir" == /* && "$man1dir" == /* && -n "$VERSION" ]]
	# What make install always installs, the rest where configured.
	core=("$bindir/postie" "$bindir/postie-convert" "$man1dir/postie.1" "$man1dir/postie-convert.1"
		"$man5dir/postierc.5")
	base=("${core[@]}")
	[ -z "$sysunitdir" ] || base+=("$sysunitdir/postie-queue.service" "$sysunitdir/postie-queue.timer"
		"$sysunitdir/postie-smtpd.socket" "$sysunitdir/postie-smtpd@.service")
	[ -z "$userunitdir" ] || base+=("$userunitdir/postie-queue.service" "$userunitdir/postie-queue.timer")
	[ -z "$bashdir" ] || base+=("$bashdir/postie")
	[ -z "$zshdir" ] || base+=("$zshdir/_postie")
	[ -z "$logrotatedir" ] || base+=("$logrotatedir/postie")
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

# same_file INSTALLED SOURCE MODE: the installed file is the source, with MODE.
same_file() {
	cmp "$D$1" "$SRC/$2" || { echo "$1 differs from $2"; return 1; }
	[ "$(stat -c %a "$D$1")" = "$3" ] || { echo "$1: mode $(stat -c %a "$D$1"), not $3"; return 1; }
}

@test "install: postie, postie-convert, man pages, completions, logrotate rules, units; uninstall leaves nothing" {
	inst install SENDMAIL_LINKS=no
	[ "$status" -eq 0 ]
	expect_files "${base[@]}"
	[ -x "$D$bindir/postie" ]
	run "$D$bindir/postie" --version
	[ "${lines[0]}" = "postie $VERSION" ]
	same_file "$bindir/postie-convert" contrib/postie-convert 755
	# postie-convert runs from there: no arguments is its usage error
	run "$D$bindir/postie-convert"
	echo "$output"
	[ "$status" -eq 64 ]
	[[ "$output" == *"usage: postie-convert"* ]]
	[ -z "$bashdir" ] || same_file "$bashdir/postie" contrib/completion/postie.bash 644
	[ -z "$zshdir" ] || same_file "$zshdir/_postie" contrib/completion/_postie 644
	[ -z "$logrotatedir" ] || same_file "$logrotatedir/postie" contrib/logrotate/postie 644
	uninstall_clean SENDMAIL_LINKS=no
}

@test "install: the completions and logrotate rules go where bash-completion, Debian's zsh and logrotate look" {
	echo "configured: bashcompletiondir=$bashdir zshcompletiondir=$zshdir logrotatedir=$logrotatedir"
	if ! grep -q -e '--with-bashcompletiondir' "$BUILDDIR/config.status"; then
		[ "$bashdir" = "$datadir/bash-completion/completions" ]
	fi
	if ! grep -q -e '--with-zshcompletiondir' "$BUILDDIR/config.status"; then
		[ "$zshdir" = "$datadir/zsh/vendor-completions" ]
	fi
	if ! grep -q -e '--with-logrotatedir' "$BUILDDIR/config.status"; then
		[ "$logrotatedir" = "$sysconfdir/logrotate.d" ]
	fi
	# Installed there, bash completes postie's options and zsh finds its
	# completion function for postie and sendmail.
	[ -n "$bashdir" ] || skip "configured without a bash completion directory"
	inst install SENDMAIL_LINKS=no bashcompletiondir=/usr/share/bash-completion/completions
	[ "$status" -eq 0 ]
	run bash -c 'source "$1"; complete -p postie' x "$D/usr/share/bash-completion/completions/postie"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "complete "*" postie" ]]
	uninstall_clean SENDMAIL_LINKS=no bashcompletiondir=/usr/share/bash-completion/completions
}

@test "install: bashcompletiondir, zshcompletiondir and logrotatedir given to make; empty installs none" {
	local b=/opt/c/bash z=/opt/c/zsh r=/opt/etc/logrotate.d
	inst install SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir= \
		bashcompletiondir="$b" zshcompletiondir="$z" logrotatedir="$r"
	[ "$status" -eq 0 ]
	expect_files "${core[@]}" "$b/postie" "$z/_postie" "$r/postie"
	uninstall_clean SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir= \
		bashcompletiondir="$b" zshcompletiondir="$z" logrotatedir="$r"
	inst install SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir= \
		bashcompletiondir= zshcompletiondir= logrotatedir=
	[ "$status" -eq 0 ]
	expect_files "${core[@]}"
	uninstall_clean SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir= \
		bashcompletiondir= zshcompletiondir= logrotatedir=
	inst install SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir= \
		bashcompletiondir="$b" zshcompletiondir= logrotatedir="$r"
	[ "$status" -eq 0 ]
	expect_files "${core[@]}" "$b/postie" "$r/postie"
	uninstall_clean SENDMAIL_LINKS=no systemdsystemunitdir= systemduserunitdir= \
		bashcompletiondir="$b" zshcompletiondir= logrotatedir="$r"
}

# units_in DIR: DIR holds the queue timer's service, naming the installed
# postie, and the timer as shipped.
units_in() {
	local d="$D$1"
	grep -qxF "ExecStart=$bindir/postie --queue-run" "$d/postie-queue.service" ||
		{ echo "$1/postie-queue.service:"; cat "$d/postie-queue.service"; return 1; }
	cmp "$d/postie-queue.timer" "$SRC/contrib/systemd/postie-queue.timer"
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
	local sys=/opt/units/system user=/opt/units/user none=(bashcompletiondir= zshcompletiondir= logrotatedir=)
	inst install SENDMAIL_LINKS=no "${none[@]}" systemdsystemunitdir="$sys" systemduserunitdir="$user"
	[ "$status" -eq 0 ]
	expect_files "${core[@]}" \
		"$sys/postie-queue.service" "$sys/postie-queue.timer" \
		"$sys/postie-smtpd.socket" "$sys/postie-smtpd@.service" \
		"$user/postie-queue.service" "$user/postie-queue.timer"
	units_in "$sys"
	units_in "$user"
	uninstall_clean SENDMAIL_LINKS=no "${none[@]}" systemdsystemunitdir="$sys" systemduserunitdir="$user"
	inst install SENDMAIL_LINKS=no "${none[@]}" systemdsystemunitdir= systemduserunitdir="$user"
	[ "$status" -eq 0 ]
	expect_files "${core[@]}" "$user/postie-queue.service" "$user/postie-queue.timer"
	uninstall_clean SENDMAIL_LINKS=no "${none[@]}" systemdsystemunitdir= systemduserunitdir="$user"
	inst install SENDMAIL_LINKS=no "${none[@]}" systemdsystemunitdir="$sys" systemduserunitdir=
	[ "$status" -eq 0 ]
	expect_files "${core[@]}" \
		"$sys/postie-queue.service" "$sys/postie-queue.timer" \
		"$sys/postie-smtpd.socket" "$sys/postie-smtpd@.service"
	uninstall_clean SENDMAIL_LINKS=no "${none[@]}" systemdsystemunitdir="$sys" systemduserunitdir=
}

@test "install: follows the configured --enable-sendmail-links, --with-sendmail-dir and --with-lib-sendmail" {
	echo "configured: SENDMAIL_LINKS=$SENDMAIL_LINKS SENDMAIL_DIR=$sendmaildir LIB_SENDMAIL_DIR=$LIB_SENDMAIL_DIR"
	# /usr/sbin whatever the prefix, when configure was not told otherwise
	if ! grep -q -e '--with-sendmail-dir' "$BUILDDIR/config.status"; then
		[ "$sendmaildir" = /usr/sbin ]
	fi
	inst install
	[ "$status" -eq 0 ]
	case $SENDMAIL_LINKS in
	yes)
		if [ -n "$LIB_SENDMAIL_DIR" ]; then
			expect_files "${base[@]}" "$sendmaildir/sendmail" "$LIB_SENDMAIL_DIR/sendmail"
			is_postie_link "$LIB_SENDMAIL_DIR/sendmail"
		else
			expect_files "${base[@]}" "$sendmaildir/sendmail"
		fi
		is_postie_link "$sendmaildir/sendmail"
		;;
	no) expect_files "${base[@]}" ;;
	*) echo "SENDMAIL_LINKS is '$SENDMAIL_LINKS', not yes or no"; false ;;
	esac
	uninstall_clean
}

@test "install SENDMAIL_LINKS=yes: SENDMAIL_DIR/sendmail, a relative link to postie that runs; no mailq, no newaliases" {
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sendmaildir/sendmail"
	is_postie_link "$sendmaildir/sendmail"
	[[ "$(readlink "$D$sendmaildir/sendmail")" != /* ]]
	# No mailq or newaliases links (expect_files above); what they would
	# ask for, the installed sendmail answers.
	run "$D$sendmaildir/sendmail" -bp
	[ "$status" -eq 0 ]
	[ "$output" = "Mail queue is empty" ]
	run "$D$sendmaildir/sendmail" -bi
	[ "$status" -eq 0 ]
	uninstall_clean SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
}

@test "install-sendmail-links: /usr/sbin/sendmail for postie under another prefix" {
	local p=/opt/postie
	inst install-sendmail-links prefix="$p" SENDMAIL_DIR=/usr/sbin LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "$p/bin/postie" /usr/sbin/sendmail
	[ "$(readlink "$D/usr/sbin/sendmail")" = ../../opt/postie/bin/postie ]
	bindir=$p/bin is_postie_link /usr/sbin/sendmail
	uninstall_clean prefix="$p" SENDMAIL_DIR=/usr/sbin LIB_SENDMAIL_DIR=
}

@test "install-sendmail-links: the link on demand, with postie; uninstall removes it" {
	inst install-sendmail-links SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "$bindir/postie" "$sendmaildir/sendmail"
	is_postie_link "$sendmaildir/sendmail"
	# Installing again, links or not, keeps it.
	inst install SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sendmaildir/sendmail"
	inst install-sendmail-links SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sendmaildir/sendmail"
	is_postie_link "$sendmaildir/sendmail"
	uninstall_clean SENDMAIL_LINKS=no LIB_SENDMAIL_DIR=
}

@test "install LIB_SENDMAIL_DIR: lib/sendmail too, only when asked" {
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR="$prefix/lib"
	[ "$status" -eq 0 ]
	expect_files "${base[@]}" "$sendmaildir/sendmail" "$prefix/lib/sendmail"
	is_postie_link "$prefix/lib/sendmail"
	is_postie_link "$sendmaildir/sendmail"
	uninstall_clean SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR="$prefix/lib"
	inst install SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=relative/lib
	[ "$status" -ne 0 ]
	[[ "$output" == *"'relative/lib' is not an absolute directory"* ]]
	uninstall_clean SENDMAIL_LINKS=yes LIB_SENDMAIL_DIR=
}

# refused DIR: the one-line error for another sendmail at DIR/sendmail.
refused() {
	echo "error: $D$1/sendmail exists and is not a link to postie: not replaced;" \
		"install the Debian package postie-mta instead (make deb builds it)," \
		"or move the other one aside first: dpkg-divert --local --rename --add $1/sendmail"
}

@test "install: another MTA's sendmail is neither replaced nor removed; the error says what to do" {
	local s=/usr/sbin l=/usr/lib other
	other=$(printf '#!/bin/sh\necho other MTA')
	mkdir -p "$D$s" "$D$l"
	echo "$other" >"$D$s/sendmail"
	ln -s ../sbin/other-mta "$D$l/sendmail"
	inst install SENDMAIL_LINKS=yes SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR=
	[ "$status" -ne 0 ]
	[[ "$output" == *"$(refused "$s")"* ]]
	[ ! -h "$D$s/sendmail" ]
	[ "$(cat "$D$s/sendmail")" = "$other" ]
	inst install-sendmail-links SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR="$l"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$(refused "$s")"* ]]
	[ ! -h "$D$s/sendmail" ]
	# SENDMAIL_LINKS_FORCE is gone: it replaces nothing
	inst install-sendmail-links SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR= SENDMAIL_LINKS_FORCE=yes
	[ "$status" -ne 0 ]
	[ "$(cat "$D$s/sendmail")" = "$other" ]
	inst uninstall SENDMAIL_LINKS=yes SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR="$l"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$D$s/sendmail is not a link to postie: left alone"* ]]
	[[ "$output" == *"$D$l/sendmail is not a link to postie: left alone"* ]]
	expect_files "$s/sendmail" "$l/sendmail"
	[ "$(cat "$D$s/sendmail")" = "$other" ]
	[ "$(readlink "$D$l/sendmail")" = ../sbin/other-mta ]
}

@test "install: every place is checked before one link is made; a diverted MTA stays diverted after uninstall" {
	# Postfix after dpkg-divert --rename --add /usr/sbin/sendmail: its
	# sendmail moved to sendmail.distrib, its /usr/lib/sendmail link
	# (../sbin/sendmail) left in place.
	local s=/usr/sbin l=/usr/lib
	mkdir -p "$D$s" "$D$l"
	printf '#!/bin/sh\necho postfix\n' >"$D$s/sendmail.distrib"
	ln -s ../sbin/sendmail "$D$l/sendmail"
	# /usr/lib/sendmail is not postie's: refused, and /usr/sbin/sendmail,
	# free, is not made either
	inst install-sendmail-links SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR="$l"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$(refused "$l")"* ]]
	[[ "$output" != *"$(refused "$s")"* ]]
	[ ! -e "$D$s/sendmail" ] && [ ! -h "$D$s/sendmail" ]
	# Without the lib link: /usr/sbin/sendmail, which Postfix's
	# /usr/lib/sendmail now reaches too. That link is still not postie's:
	# uninstall keeps it and brings nothing back.
	inst install-sendmail-links SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR=
	[ "$status" -eq 0 ]
	is_postie_link "$s/sendmail"
	[ "$D$l/sendmail" -ef "$D$bindir/postie" ]
	inst install-sendmail-links SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR="$l"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$(refused "$l")"* ]]
	[ "$(readlink "$D$l/sendmail")" = ../sbin/sendmail ]
	inst uninstall SENDMAIL_DIR="$s" LIB_SENDMAIL_DIR="$l"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$D$l/sendmail is not a link to postie: left alone"* ]]
	expect_files "$s/sendmail.distrib" "$l/sendmail"
	[ "$(readlink "$D$l/sendmail")" = ../sbin/sendmail ]
}
