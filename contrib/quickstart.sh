#!/bin/sh
# Quick start on a fresh Debian 12 machine: install the build and test
# dependencies, build postie, and send one demo message to a local test
# server, showing the SMTP transcript and what the server received.
# (clang, libclang-rt-14-dev and llvm are for make fuzz: libFuzzer and
# symbolized sanitizer reports.)
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	gcc make autoconf automake pkg-config libc6-dev libgnutls28-dev libidn2-dev libgsasl-dev \
	libcurl4-gnutls-dev libjansson-dev \
	ca-certificates bats python3 python3-aiosmtpd time mandoc iproute2 gnutls-bin openssl \
	postfix dovecot-core bsd-mailx s-nail mutt git git-email libmailtools-perl php-cli \
	php-symfony-mailer \
	zsh logrotate strace clang libclang-rt-14-dev llvm

autoreconf -fi
./configure
make
make demo
