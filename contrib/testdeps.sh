#!/bin/sh
# Install what the test suite needs (make check, make distcheck), on
# Debian 12, without touching the machine's mail transport agent.
#
# 1. apt-get installs the tools and programs that neither conflict with
#    nor depend on an MTA (the list below). --no-remove: apt stops rather
#    than remove anything, an installed MTA included; --no-upgrade: what
#    is installed already stays as it is.
# 2. Postfix, Dovecot and bsd-mailx are not installed: postfix conflicts
#    with every other MTA, bsd-mailx depends on one, and dovecot-core
#    would start a system IMAP server. apt-get download fetches their
#    packages into $POSTIE_TEST_CACHE/debs and dpkg -x unpacks them into
#    $POSTIE_TEST_CACHE/root, where the tests run them (tests/postfix.bash,
#    tests/callers-mua.bats). Nothing there is registered with dpkg and no
#    package script runs, so no daemon starts and /usr/sbin/sendmail
#    stays whatever it was. They are fetched and unpacked again only when
#    apt's candidate versions differ from the unpacked ones. Step 1
#    installs the libraries they need.
# 3. The system users and groups the unpacked servers run as (postfix,
#    postdrop, dovecot, dovenull) are created when missing, as the
#    packages' own scripts would.
#
# POSTIE_TEST_CACHE: the cache directory (default /var/cache/postie-tests;
# no ":" or "," in it: the tests name it in an overlay mount). Run it as
# root, or it runs itself through sudo.
set -eu

cache=${POSTIE_TEST_CACHE:-/var/cache/postie-tests}
case $cache in
/*) ;;
*) echo "testdeps.sh: POSTIE_TEST_CACHE must be an absolute path, not '$cache'" >&2; exit 1 ;;
esac
case $cache in
*[:,]*) echo "testdeps.sh: POSTIE_TEST_CACHE may not contain ':' or ',': '$cache'" >&2; exit 1 ;;
esac
if [ "$(id -u)" != 0 ]; then
	exec sudo POSTIE_TEST_CACHE="$cache" sh "$0" "$@"
fi

# Installed with apt-get: no MTA among them or among their dependencies.
# python3-aiosmtpd, iproute2, gnutls-bin, openssl: the test servers, the
# network namespaces, the test certificates and OCSP responses; s-nail to
# php-symfony-mailer: the real callers; zsh, logrotate: contrib/'s files;
# strace: tests/crash.bats; clang to llvm: make fuzz and symbolised
# sanitizer reports; debhelper, dpkg-dev, lintian: the Debian packages;
# procps, adduser: pgrep and step 3; parallel: make check runs several
# test files at once (bats --jobs).
packages="bats parallel python3 python3-aiosmtpd time mandoc iproute2 gnutls-bin openssl
	s-nail mutt git git-email libmailtools-perl php-cli php-symfony-mailer
	zsh logrotate strace clang libclang-rt-14-dev llvm
	debhelper dpkg-dev lintian procps adduser"
# Downloaded and unpacked, never installed.
unpacked="postfix dovecot-core bsd-mailx"

export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -q -o DPkg::Lock::Timeout=300 "$@"; }

# wanted: one "PACKAGE VERSION" line per unpacked package, the version apt
# would install (its candidate).
wanted() {
	# shellcheck disable=SC2086 # a list of package names
	w=$(LC_ALL=C apt-cache policy $unpacked | awk '
		/^[^ ]/ { p = $1; sub(/:$/, "", p) }
		/^ +Candidate: / && $2 != "(none)" { print p, $2 }')
	for p in $unpacked; do
		if ! echo "$w" | grep -q "^$p "; then
			echo "testdeps.sh: apt has no candidate version of $p (apt-get update?)" >&2
			return 1
		fi
	done
	echo "$w"
}

# deb_of PACKAGE VERSION: the file in debs/ holding that version, if any.
deb_of() {
	for f in "$cache/debs/$1"_*.deb; do
		[ -f "$f" ] || continue
		if [ "$(dpkg-deb -f "$f" Package Version | tr '\n' ' ')" = "Package: $1 Version: $2 " ]; then
			echo "$f"
			return 0
		fi
	done
	return 1
}

# fetch: each wanted package's .deb in debs/, downloaded when missing;
# other versions removed.
fetch() {
	mkdir -p "$cache/debs"
	tmp=$(mktemp -d "$cache/download.XXXXXX")
	# apt downloads as user _apt where it can write.
	! getent passwd _apt >/dev/null || chown _apt "$tmp"
	echo "$want" | while read -r p v; do
		deb_of "$p" "$v" >/dev/null || (cd "$tmp" && apt_get download "$p=$v")
	done
	for f in "$tmp"/*.deb; do
		[ -f "$f" ] || continue
		p=$(dpkg-deb -f "$f" Package)
		rm -f "$cache/debs/$p"_*.deb
		mv "$f" "$cache/debs/"
	done
	rmdir "$tmp"
}

# libraries: the run-time libraries the unpacked packages depend on (the
# first choice of each dependency whose name starts with lib, and zlib1g).
libraries() {
	echo "$want" | while read -r p v; do
		dpkg-deb -f "$(deb_of "$p" "$v")" Depends
	done | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/[[:space:]]//g' |
		grep -E '^(lib|zlib)' | sort -u
}

# unpack: root/ holds exactly the wanted packages' files; root.versions
# says which (it is written last, so a failed unpack is redone).
unpack() {
	if [ -d "$cache/root" ] && [ "$(cat "$cache/root.versions" 2>/dev/null)" = "$want" ]; then
		echo "testdeps.sh: $cache/root is up to date: $(echo "$want" | tr '\n' ' ')"
		return 0
	fi
	rm -rf "$cache/root.new" "$cache/root.versions"
	mkdir "$cache/root.new"
	echo "$want" | while read -r p v; do
		echo "testdeps.sh: dpkg -x $(deb_of "$p" "$v")"
		dpkg -x "$(deb_of "$p" "$v")" "$cache/root.new"
	done
	# postfix's postinst writes dynamicmaps.cf (no map plugins here).
	if [ ! -e "$cache/root.new/etc/postfix/dynamicmaps.cf" ]; then
		echo '# dict-type	so-name (pathname)	dict-function	mkmap-function' \
			>"$cache/root.new/etc/postfix/dynamicmaps.cf"
	fi
	rm -rf "$cache/root"
	mv "$cache/root.new" "$cache/root"
	echo "$want" >"$cache/root.versions"
}

# system_user NAME HOME: a system user NAME with group NAME, unless it exists.
system_user() {
	getent passwd "$1" >/dev/null && return 0
	if getent group "$1" >/dev/null; then
		adduser --quiet --system --ingroup "$1" --home "$2" --no-create-home "$1"
	else
		adduser --quiet --system --group --home "$2" --no-create-home "$1"
	fi
}

apt_get update
want=$(wanted)
mkdir -p "$cache"
fetch
# shellcheck disable=SC2046,SC2086 # lists of package names
apt_get install -y --no-install-recommends --no-remove --no-upgrade $packages $(libraries)
getent group postdrop >/dev/null || addgroup --quiet --system postdrop
system_user postfix /var/spool/postfix
system_user dovecot /usr/lib/dovecot
system_user dovenull /nonexistent
unpack
echo "testdeps.sh: done; Postfix, Dovecot and bsd-mailx are unpacked in $cache/root, not installed"
