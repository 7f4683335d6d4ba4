#!/bin/sh
# Quick start on a fresh Debian 12 machine: install what building postie
# and running its demo need, build postie, and send one demo message to
# the test SMTP server (tests/smtpsink.py), showing the SMTP transcript
# and what the server received.
#
# It installs no mail server, mail program or anything that depends on
# one, so the machine's MTA (msmtp-mta, exim4, nullmailer, postfix...) and
# /usr/sbin/sendmail stay as they are: apt-get runs with --no-remove and
# --no-upgrade. The test suite's dependencies come from contrib/testdeps.sh.
#
# QUICKSTART_STEPS: the steps to run, of "install build demo" (default:
# all three, in that order).
set -eu
cd "$(dirname "$0")/.."

# gcc to libjansson-dev: the build (README, "Building by hand"); binutils:
# objdump, with which configure finds the libraries' sonames;
# ca-certificates: the system trust store; python3-aiosmtpd: the demo's
# test server.
packages="gcc make autoconf automake pkg-config libc6-dev libgnutls28-dev
	libidn2-dev libgsasl-dev libcurl4-gnutls-dev libjansson-dev binutils
	ca-certificates python3 python3-aiosmtpd"

steps=${QUICKSTART_STEPS:-install build demo}
for step in $steps; do
	case $step in
	install | build | demo) ;;
	*) echo "quickstart.sh: unknown step '$step' in QUICKSTART_STEPS (install, build, demo)" >&2; exit 1 ;;
	esac
done

if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
for step in $steps; do
	case $step in
	install)
		$SUDO apt-get -q -o DPkg::Lock::Timeout=300 update
		# shellcheck disable=SC2086 # a list of package names
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 \
			install -y --no-install-recommends --no-remove --no-upgrade $packages
		;;
	build)
		autoreconf -fi
		./configure
		make
		;;
	demo)
		make demo
		;;
	esac
done
