#!/usr/bin/env bats
# The Debian packages: make deb in the configured build tree at $BUILDDIR
# builds postie and postie-mta (once, in setup_file); their contents and
# relations; lintian finds no error or warning; then, in a throwaway copy
# of this machine's root (tests/sysroot.bash), apt-get installs both
# (removing whatever MTA is installed, inside the copy only), sendmail,
# mailq and newaliases work, root's mail reaches a test server, the
# debconf question postie/setgid makes postie setgid postie and back, a
# user outside group postie then sends with the system account's password
# without being able to read it, and purging both leaves nothing of
# theirs behind.
#
# Needs dpkg-dev, debhelper and lintian (besides the build dependencies
# of postie itself); the package build takes about half a minute.

load common
load sysroot

setup_file() {
	local t missing=()
	for t in dpkg-buildpackage dh lintian; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	if ((${#missing[@]})); then
		echo "deb.bats: ${missing[*]} not found: install the Debian packages dpkg-dev, debhelper and lintian" >&2
		return 1
	fi
	: "${BUILDDIR:?BUILDDIR must name the configured build tree (make check sets it)}"
	export DEBS="$BATS_FILE_TMPDIR/deb" VERSION ARCH PKG MTA
	VERSION=$("$POSTIE" --version | sed -n '1s/^postie //p')
	ARCH=$(dpkg --print-architecture)
	PKG="$DEBS/postie_${VERSION}_$ARCH.deb" MTA="$DEBS/postie-mta_${VERSION}_$ARCH.deb"
	# A plain make of the build tree, not a child of the outer make check.
	(
		unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DEB_BUILD_OPTIONS
		make -s -C "$BUILDDIR" deb DEB_DIR="$DEBS"
	) >"$BATS_FILE_TMPDIR/make-deb.log" 2>&1 3>&- || {
		echo "make deb failed; the end of its output:" >&2
		tail -n 40 "$BATS_FILE_TMPDIR/make-deb.log" >&2
		return 1
	}
	# The host as it was, to compare with at the end.
	export HOST_STATE
	HOST_STATE=$(host_state)
	BATS_TEST_TMPDIR=$BATS_FILE_TMPDIR sysroot_start
	export SYSROOT SYSROOT_PID SYSROOT_HOLDER
}

teardown_file() {
	sysroot_stop
}

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# host_state: what the tests must not change on this machine.
host_state() {
	dpkg-query -W -f '${Package} ${Status}\n' | md5sum
	md5sum /etc/group /etc/passwd
	dpkg -S /usr/sbin/sendmail 2>&1 || true
	dpkg-statoverride --list
	ls -la /usr/sbin/sendmail /usr/bin/postie 2>&1 || true
}

# inside CMD...: CMD inside the throwaway root (see tests/sysroot.bash).
inside() { sysroot_run "$@"; }

# paths DEB: the files and links (not directories) of DEB, as absolute paths.
paths() {
	dpkg-deb -c "$1" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print p }' | LC_ALL=C sort
}

# snapshot: what the throwaway root's upper layer (the tmpfs that holds
# whatever was written inside: ${SYSROOT%/root}/upper in sysroot.bash)
# has under /etc, /usr and /var, but for the package managers' own state
# and logs and for whiteouts (deletions). Unlike the merged view, it does
# not change when the host does.
snapshot() {
	local up="${SYSROOT%/root}/upper"
	nsenter -t "$SYSROOT_PID" -m sh -c 'cd "$1" && find etc usr var \
		\( -path var/lib/dpkg -o -path var/lib/apt -o -path var/cache/apt -o -path var/cache/debconf \
		-o -path var/log -o -path var/cache/man \) -prune -o ! -type c -print' sh "$up" |
		sed 's|^|/|' | LC_ALL=C sort
}

# new_inside: what snapshot lists now and did not before the install,
# but for files of the host modified inside (copied up): what the
# packages created and left.
new_inside() {
	local p
	comm -13 "$BATS_FILE_TMPDIR/before" "$BATS_FILE_TMPDIR/after" | while IFS= read -r p; do
		[[ -e $p || -h $p ]] || echo "$p"
	done
}

@test "make deb: postie and postie-mta for this version, their paths printed last" {
	local log="$BATS_FILE_TMPDIR/make-deb.log"
	tail -n 2 "$log"
	[ "$(tail -n 2 "$log")" = "$MTA"$'\n'"$PKG" ]
	[ -f "$PKG" ] && [ -f "$MTA" ] && [ -f "$DEBS/postie_${VERSION}_$ARCH.changes" ]
	# nothing else: no -dbgsym package, the unpacked tree removed
	run ls "$DEBS"
	echo "$output"
	[ "$output" = "$(printf '%s\n' "postie-mta_${VERSION}_$ARCH.deb" "postie_${VERSION}_$ARCH.buildinfo" \
		"postie_${VERSION}_$ARCH.changes" "postie_${VERSION}_$ARCH.deb")" ]
	[ "$(dpkg-deb -f "$PKG" Version)" = "$VERSION" ]
	[ "$(dpkg-deb -f "$MTA" Version)" = "$VERSION" ]
	# the suite ran once, in make check: not again in the package build
	! grep -q '^ok 1 ' "$log"
}

@test "postie.deb: the program, man pages, completions, postie-convert, logrotate rules, units, examples" {
	local want
	want=$(LC_ALL=C sort <<'EOF'
/etc/logrotate.d/postie
/lib/systemd/system/postie-queue.service
/lib/systemd/system/postie-queue.timer
/lib/systemd/system/postie-smtpd.socket
/lib/systemd/system/postie-smtpd@.service
/usr/bin/postie
/usr/bin/postie-convert
/usr/lib/systemd/user/postie-queue.service
/usr/lib/systemd/user/postie-queue.timer
/usr/share/bash-completion/completions/postie
/usr/share/doc/postie/NEWS.gz
/usr/share/doc/postie/README.Debian
/usr/share/doc/postie/README.gz
/usr/share/doc/postie/changelog.gz
/usr/share/doc/postie/copyright
/usr/share/doc/postie/examples/cron-alerts.postierc
/usr/share/doc/postie/examples/fastmail.postierc
/usr/share/doc/postie/examples/gmail-oauth.postierc
/usr/share/doc/postie/examples/local-relay.postierc
/usr/share/doc/postie/examples/office365.postierc
/usr/share/doc/postie/examples/postie-queue
/usr/share/doc/postie/examples/postierc.example
/usr/share/man/man1/postie-convert.1.gz
/usr/share/man/man1/postie.1.gz
/usr/share/man/man5/postierc.5.gz
/usr/share/zsh/vendor-completions/_postie
EOF
)
	run paths "$PKG"
	diff <(echo "$want") <(echo "$output")
	dpkg-deb -c "$PKG" | grep -E ' \./usr/bin/postie$'
	dpkg-deb -c "$PKG" | grep -qE '^-rwxr-xr-x root/root .* \./usr/bin/postie$'
	# the units and the cron line name the installed postie
	dpkg-deb --fsys-tarfile "$PKG" | tar -xOf - ./lib/systemd/system/postie-queue.service |
		grep -qx 'ExecStart=/usr/bin/postie --queue-run'
	dpkg-deb --fsys-tarfile "$PKG" | tar -xOf - ./usr/share/doc/postie/examples/postie-queue |
		grep -q ' root /usr/bin/postie --queue-run$'
	[ "$(dpkg-deb -f "$PKG" Package Architecture | tr '\n' ' ')" = "Package: postie Architecture: $ARCH " ]
	# what postie loads with dlopen is a dependency too, and so are
	# addgroup and debconf for postinst
	run dpkg-deb -f "$PKG" Depends
	echo "$output"
	for d in libgnutls libidn2- libgsasl libcurl3 libjansson adduser debconf; do
		[[ "$output" == *"$d"* ]] || { echo "Depends lacks $d"; false; }
	done
	[ "$(dpkg-deb -I "$PKG" conffiles)" = /etc/logrotate.d/postie ]
	dpkg-deb -I "$PKG" templates | grep -qx 'Template: postie/setgid'
}

@test "postie-mta.deb: the sendmail, mailq and newaliases links; an MTA that replaces the others" {
	run dpkg-deb -c "$MTA"
	echo "$output"
	local want got
	want=$(LC_ALL=C sort <<'EOF'
/usr/bin/mailq -> postie
/usr/bin/newaliases -> postie
/usr/lib/sendmail -> ../bin/postie
/usr/sbin/sendmail -> ../bin/postie
/usr/share/bash-completion/completions/sendmail -> postie
/usr/share/doc/postie-mta/changelog.gz
/usr/share/doc/postie-mta/copyright
/usr/share/lintian/overrides/postie-mta
/usr/share/man/man1/mailq.1.gz -> postie.1.gz
/usr/share/man/man1/newaliases.1.gz -> postie.1.gz
/usr/share/man/man8/sendmail.8.gz -> ../man1/postie.1.gz
EOF
)
	got=$(dpkg-deb -c "$MTA" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); $1 = $2 = $3 = $4 = $5 = ""; $6 = p; sub(/^ +/, ""); print }' |
		LC_ALL=C sort)
	diff <(echo "$want") <(echo "$got")
	[ "$(dpkg-deb -f "$MTA" Depends)" = "postie (= $VERSION)" ]
	[ "$(dpkg-deb -f "$MTA" Provides)" = mail-transport-agent ]
	[ "$(dpkg-deb -f "$MTA" Conflicts)" = mail-transport-agent ]
	[ "$(dpkg-deb -f "$MTA" Replaces)" = mail-transport-agent ]
}

@test "lintian: no error and no warning for either package" {
	run lintian --fail-on error,warning --display-info "$DEBS/postie_${VERSION}_$ARCH.changes"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -qE '^[EW]: ' <<<"$output"
}

@test "sysroot: apt-get installs both, postie-mta takes /usr/sbin/sendmail from the MTA that had it" {
	local before_mta
	before_mta=$(dpkg -S /usr/sbin/sendmail 2>/dev/null | cut -d: -f1) || true
	echo "host: /usr/sbin/sendmail from ${before_mta:-no package}"
	# no service starts inside; no manual page index update (slow)
	inside sh -c 'printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
	echo 'man-db man-db/auto-update boolean false' | inside debconf-set-selections
	snapshot >"$BATS_FILE_TMPDIR/before"
	# (the snapshot sees what was written inside)
	grep -qx /usr/sbin/policy-rc.d "$BATS_FILE_TMPDIR/before"
	sysroot_copy "$DEBS" /root/debs
	run inside apt-get install -y --no-install-recommends "/root/debs/${PKG##*/}" "/root/debs/${MTA##*/}"
	echo "$output"
	[ "$status" -eq 0 ]
	if [ -n "$before_mta" ]; then
		[[ "$output" == *"The following packages will be REMOVED:"*"$before_mta"* ]]
	fi
	run inside dpkg -S /usr/sbin/sendmail
	[ "$output" = "postie-mta: /usr/sbin/sendmail" ]
	run inside dpkg-query -W -f '${Status}' postie postie-mta
	[ "$output" = "install ok installedinstall ok installed" ]
	inside dpkg -L postie | grep -qx /usr/bin/postie
	inside dpkg -L postie-mta | grep -qx /usr/lib/sendmail
	[ "$(inside readlink -f /usr/sbin/sendmail)" = /usr/bin/postie ]
	# the group, and postie not setgid by default
	inside getent group postie
	[ "$(inside stat -c '%U %G %a' /usr/bin/postie)" = "root root 755" ]
	! inside dpkg-statoverride --list /usr/bin/postie
	# the units are there, not enabled
	inside test -f /lib/systemd/system/postie-queue.timer
	run inside find /etc/systemd -name 'postie*'
	[ -z "$output" ]
	# the host has none of it
	[ "$(host_state)" = "$HOST_STATE" ]
}

@test "sysroot: sendmail -bp and mailq list the empty queue, newaliases exits 0" {
	run inside /usr/sbin/sendmail -bp
	[ "$status" -eq 0 ]
	[ "$output" = "Mail queue is empty" ]
	run inside mailq
	[ "$status" -eq 0 ]
	[ "$output" = "Mail queue is empty" ]
	run inside newaliases
	echo "newaliases: $output"
	[ "$status" -eq 0 ]
	[ "$output" = "postie: no alias database to rebuild: the aliases file is read directly for each message" ]
}

@test "sysroot: root's mail through /usr/sbin/sendmail and /etc/postierc (root:postie 0640) reaches the server" {
	sink_start
	printf '%s\n' 'account default' 'host 127.0.0.1' "port $SINK_PORT" 'domain deb.example' \
		'from root@deb.example' | inside sh -c 'cat >/etc/postierc && chown root:postie /etc/postierc && chmod 0640 /etc/postierc'
	run inside sh -c 'printf "Subject: from the package\n\nsent by cron\n" | /usr/sbin/sendmail admin@example.org'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	grep -qx 'RCPT TO:<admin@example.org>' "$(sink_env 1)"
	[ "$(sink_header 1 Subject)" = "from the package" ]
	grep -q '^sent by cron' "$(sink_msg 1)"
	inside rm /etc/postierc
}

@test "sysroot: postie/setgid true makes postie root:postie 2755, false undoes it; an override of one's own stays" {
	# reconfigure SETTING: answer postie/setgid, run postinst again
	reconfigure() {
		echo "postie postie/setgid boolean $1" | inside debconf-set-selections
		inside dpkg-reconfigure -fnoninteractive postie
	}
	# an administrator's own override is neither replaced nor removed
	inside dpkg-statoverride --update --add root adm 0750 /usr/bin/postie
	reconfigure true
	[ "$(inside dpkg-statoverride --list /usr/bin/postie)" = "root adm 750 /usr/bin/postie" ]
	reconfigure false
	[ "$(inside dpkg-statoverride --list /usr/bin/postie)" = "root adm 750 /usr/bin/postie" ]
	[ "$(inside stat -c '%U %G %a' /usr/bin/postie)" = "root adm 750" ]
	inside dpkg-statoverride --remove /usr/bin/postie
	# the package's own
	reconfigure true
	[ "$(inside stat -c '%U %G %a' /usr/bin/postie)" = "root postie 2755" ]
	[ "$(inside dpkg-statoverride --list /usr/bin/postie)" = "root postie 2755 /usr/bin/postie" ]
	reconfigure false
	[ "$(inside stat -c '%U %G %a' /usr/bin/postie)" = "root root 755" ]
	! inside dpkg-statoverride --list /usr/bin/postie
	# set again, for the purge to remove
	reconfigure true
	[ "$(inside stat -c '%U %G %a' /usr/bin/postie)" = "root postie 2755" ]
}

@test "sysroot: with postie/setgid true, a user not in group postie sends with the system account's password, which they cannot read" {
	local pw='Deb-Pa55:w0rd'
	sink_start --auth PLAIN --auth-user relay --auth-password "$pw"
	printf '%s\n' 'account default' 'host 127.0.0.1' "port $SINK_PORT" 'domain deb.example' \
		'tls off' 'auth_without_tls on' 'auth plain' 'user relay' "password $pw" 'from cron@deb.example' |
		inside sh -c 'cat >/etc/postierc && chown root:postie /etc/postierc && chmod 0640 /etc/postierc'
	[ "$(inside stat -c '%U %G %a' /usr/bin/postie)" = "root postie 2755" ]
	# nobody, in no group but nogroup, with its own HOME
	nobody() { inside HOME=/nonexistent USER=nobody setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	run nobody cat /etc/postierc
	[ "$status" -ne 0 ]
	[ "$output" = "cat: /etc/postierc: Permission denied" ]
	run nobody sh -c 'printf "Subject: from a user\n\nsent by www-data\n" | /usr/sbin/sendmail admin@example.org'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(sink_count)" -eq 1 ]
	[ "$(cat "$SINK_DIR/msg-1.auth")" = "PLAIN relay" ]
	grep -qx 'RCPT TO:<admin@example.org>' "$(sink_env 1)"
	[ "$(sink_header 1 Subject)" = "from a user" ]
	# --pretend shows the settings, not the password
	run nobody /usr/sbin/sendmail --pretend admin@example.org </dev/null
	echo "$output"
	[[ $output == *relay* ]]
	[[ $output != *"$pw"* ]]
	inside rm /etc/postierc
}

@test "sysroot: purging both leaves nothing of theirs: no file, no statoverride, no debconf answer; the group stays" {
	# a queue and a log, as a running system has them
	inside sh -c 'mkdir -p /var/spool/postie/new && : >/var/log/postie.log && : >/var/log/postie.log.1'
	# apt-get, since what needs an MTA (bsd-mailx) goes with postie-mta
	run inside apt-get purge -y postie postie-mta
	echo "$output"
	[ "$status" -eq 0 ]
	run inside dpkg-query -W -f '${Status}' postie
	[[ "$output" != *installed* ]]
	! inside dpkg -L postie
	! inside dpkg -L postie-mta
	! inside dpkg -S /usr/sbin/sendmail
	local p left=()
	for p in $(paths "$PKG") $(paths "$MTA") /var/spool/postie /var/log/postie.log /var/log/postie.log.1; do
		p=${p%% ->*}
		if inside test -e "$p" || inside test -h "$p"; then left+=("$p"); fi
	done
	echo "left behind: ${left[*]}"
	[ "${#left[@]}" -eq 0 ]
	! inside dpkg-statoverride --list /usr/bin/postie
	run inside debconf-show postie
	[ -z "$output" ]
	# nothing new under /etc, /usr or /var since before the install
	snapshot >"$BATS_FILE_TMPDIR/after"
	run new_inside
	echo "new: $output"
	[ -z "$output" ]
	# kept on purpose (README.Debian): files may still belong to it
	inside getent group postie
	[ "$(host_state)" = "$HOST_STATE" ]
}
