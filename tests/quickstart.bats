#!/usr/bin/env bats
# The README's Quick start leaves the machine's MTA alone: neither
# contrib/quickstart.sh nor contrib/testdeps.sh installs, removes or pulls
# in a mail transport agent, and the suite runs Postfix, Dovecot and
# bsd-mailx from the cache that testdeps.sh fills, not from the system.
#
# The first two tests run what both README commands install
# (QUICKSTART_STEPS=install sh contrib/quickstart.sh, then sh
# contrib/testdeps.sh) as root in a throwaway copy of this machine
# (tests/sysroot.bash), fetching from the Debian registry as a user's
# machine would. They share that copy: the second starts where the first
# ended. The cache's .debs are reused inside; its unpacked tree is
# removed there first, so that the script unpacks it again.
load common
load pki
load postfix
load sysroot

SRC="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"

setup_file() {
	BATS_TEST_TMPDIR="$BATS_FILE_TMPDIR" sysroot_start
	export SYSROOT SYSROOT_PID SYSROOT_HOLDER
	# No man-db index rebuild after each apt run in the copy (seconds).
	sysroot_run rm -f /var/lib/man-db/auto-update
}

teardown_file() { sysroot_stop; }

setup() { common_setup; }

teardown() { postfix_stop; }

# installed_mtas: the packages installed in the copy that provide
# mail-transport-agent, one a line.
installed_mtas() {
	# shellcheck disable=SC2016 # dpkg-query's format
	sysroot_run dpkg-query -W -f '${db:Status-Abbrev}|${Package}|${Provides}\n' |
		awk -F'|' '$1 ~ /^ii/ && $3 ~ /(^|[ ,])mail-transport-agent([ ,(]|$)/ { print $2 }'
}

# unpacked_status: the dpkg status of the packages testdeps.sh unpacks
# (dpkg-query fails for a package dpkg never had; it says so).
unpacked_status() {
	# shellcheck disable=SC2016 # dpkg-query's format
	sysroot_run dpkg-query -W -f '${Package} ${db:Status-Abbrev}\n' \
		postfix dovecot-core bsd-mailx 2>&1 || true
}

# both_commands N: the install step of the README's first command and
# the second command's script, in the copy; their output goes to
# $BATS_FILE_TMPDIR/N-quickstart.log and N-testdeps.log. Both succeed,
# neither has apt remove anything, and the packages testdeps.sh unpacks
# are not installed by either (their dpkg status is unchanged).
both_commands() {
	local log="$BATS_FILE_TMPDIR/$1" before after
	before="$(unpacked_status)"
	sysroot_run QUICKSTART_STEPS=install timeout 300 sh "$SRC/contrib/quickstart.sh" \
		</dev/null >"$log-quickstart.log" 2>&1 || { cat "$log-quickstart.log"; return 1; }
	sysroot_run POSTIE_TEST_CACHE="$POSTIE_TEST_CACHE" timeout 300 sh "$SRC/contrib/testdeps.sh" \
		</dev/null >"$log-testdeps.log" 2>&1 || { cat "$log-testdeps.log"; return 1; }
	removed_nothing "$log-quickstart.log"
	removed_nothing "$log-testdeps.log"
	after="$(unpacked_status)"
	if [[ $after != "$before" ]]; then
		printf 'dpkg status changed:\n%s\nto:\n%s\n' "$before" "$after" >&2
		return 1
	fi
}

# removed_nothing LOG: apt-get install said it removes nothing.
removed_nothing() {
	if grep -n 'will be REMOVED' "$1" ||
		! grep -Eq '^[0-9]+ upgraded, [0-9]+ newly installed, 0 to remove' "$1"; then
		echo "apt removed packages, or did not say: $1" >&2
		cat "$1" >&2
		return 1
	fi
}

# unpacked_in_copy: the copy's cache holds Postfix, Dovecot and bsd-mailx,
# unpacked at apt's candidate versions (root.versions says which).
unpacked_in_copy() {
	local r="$POSTIE_TEST_CACHE/root" want
	sysroot_run test -x "$r/usr/sbin/postfix" -a -x "$r/usr/lib/postfix/sbin/master" \
		-a -x "$r/usr/sbin/dovecot" -a -x "$r/usr/bin/bsd-mailx"
	want="$(sysroot_run sh -c 'LC_ALL=C apt-cache policy postfix dovecot-core bsd-mailx' |
		awk '/^[^ ]/ { p = $1; sub(/:$/, "", p) } /^ +Candidate: / { print p, $2 }')"
	echo "# candidates: ${want//$'\n'/, }"
	[ "$(sysroot_run cat "$POSTIE_TEST_CACHE/root.versions")" = "$want" ]
}

@test "no MTA installed: neither command installs one; the servers' users are made; the cache is filled" {
	local mtas
	# Make the copy a machine without an MTA (this one may have Postfix,
	# and bsd-mailx with it), without the servers' users, without the
	# unpacked tree.
	mtas="$(installed_mtas)"
	if [[ -n $mtas ]]; then
		# shellcheck disable=SC2086 # a list of package names
		sysroot_run timeout 120 apt-get remove -y -q $mtas </dev/null >"$BATS_FILE_TMPDIR/remove.log" 2>&1 ||
			{ cat "$BATS_FILE_TMPDIR/remove.log"; false; }
	fi
	# shellcheck disable=SC2016 # the copy's shell expands them
	sysroot_run sh -c 'for u in postfix dovecot dovenull; do userdel "$u"; done
		for g in postdrop postfix dovecot dovenull; do groupdel "$g"; done; true' >/dev/null 2>&1
	sysroot_run rm -rf "$POSTIE_TEST_CACHE/root" "$POSTIE_TEST_CACHE/root.versions"
	[ -z "$(installed_mtas)" ]
	! sysroot_run getent passwd postfix || false

	both_commands 1

	[ -z "$(installed_mtas)" ]
	! sysroot_run dpkg -S /usr/sbin/sendmail || false
	sysroot_run getent passwd postfix dovecot dovenull
	sysroot_run getent group postdrop
	grep -q "dpkg -x .*/postfix_" "$BATS_FILE_TMPDIR/1-testdeps.log"
	unpacked_in_copy
}

@test "msmtp-mta installed: both commands leave it installed and owning /usr/sbin/sendmail, and remove nothing" {
	# The copy's Postfix, if any, goes: it conflicts with msmtp-mta.
	sysroot_run timeout 120 apt-get install -y -q --no-install-recommends msmtp-mta \
		</dev/null >"$BATS_FILE_TMPDIR/msmtp.log" 2>&1 || { cat "$BATS_FILE_TMPDIR/msmtp.log"; false; }
	[ "$(sysroot_run dpkg -S /usr/sbin/sendmail)" = "msmtp-mta: /usr/sbin/sendmail" ]

	both_commands 2

	# shellcheck disable=SC2016 # dpkg-query's format
	[ "$(sysroot_run dpkg-query -W -f '${db:Status-Abbrev}' msmtp-mta)" = "ii " ]
	[ "$(sysroot_run dpkg -S /usr/sbin/sendmail)" = "msmtp-mta: /usr/sbin/sendmail" ]
	[ "$(installed_mtas)" = msmtp-mta ]
	unpacked_in_copy
}

# from_cache PID: each program file PID maps from /usr/lib/postfix,
# /usr/lib/dovecot, /usr/sbin or /usr/bin that the unpacked packages
# have is the cache's file (its inode: a mapping through postfix_unpacked's
# overlay shows the overlay's device but the inode of the file under it).
# Prints how many it checked.
from_cache() {
	local r="$POSTIE_TEST_CACHE/root" ino path n=0
	while read -r ino path; do
		[[ -e $r$path ]] || continue
		if [[ $(stat -c %i "$r$path") != "$ino" ]]; then
			echo "process $1 runs $path (inode $ino), not $r$path" >&2
			return 1
		fi
		n=$((n + 1))
	done < <(awk '$6 ~ /^\/usr\/(lib\/postfix|lib\/dovecot|sbin|bin)\// { print $5, $6 }' "/proc/$1/maps" | sort -u)
	echo "$n"
}

@test "the suite's Postfix and Dovecot are the unpacked ones, not the system's" {
	local pid n checked=0 procs=0
	pki_make "$BATS_TEST_TMPDIR/pki"
	postfix_start_sasl "$PKI" "$BATS_TEST_TMPDIR/pf"
	for pid in $(_postfix_live "$POSTFIX_MASTER_PID") $(_postfix_live "$POSTFIX_DOVECOT_PID"); do
		n="$(from_cache "$pid")"
		echo "# $pid $(readlink "/proc/$pid/exe"): $n files from the cache"
		((n > 0))
		checked=$((checked + n)) procs=$((procs + 1))
	done
	# master, qmgr, pickup-less Postfix; Dovecot's master, log, config,
	# anvil and auth: every one with its program and libraries.
	((procs >= 6 && checked >= procs * 2))
}

@test "without the unpacked packages, postfix_start says to run contrib/testdeps.sh" {
	POSTIE_TEST_CACHE="$BATS_TEST_TMPDIR/no-cache"
	run postfix_start "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ $output == "postfix_start: no unpacked Postfix and Dovecot in $BATS_TEST_TMPDIR/no-cache/root (no usr/sbin/postfix): run sh contrib/testdeps.sh (POSTIE_TEST_CACHE names the cache)" ]]
	[ -z "$POSTFIX_MASTER_PID" ]
}

@test ".ci/run runs exactly the README's two Quick start commands" {
	local readme ci
	# The indented lines of the Quick start section (up to the next
	# heading's underline).
	readme="$(awk '/^-+$/ { n++; next } n == 1 && /^    [^ ]/ { sub(/^    /, ""); print }' \
		"$SRC/README")"
	ci="$(grep -v -e '^#' -e '^set ' -e '^cd ' -e '^$' "$SRC/.ci/run")"
	echo "README: $readme"
	echo ".ci/run: $ci"
	[ "$(echo "$readme" | wc -l)" -eq 2 ]
	[ "$readme" = "$ci" ]
}
