# sysroot.bash - a throwaway copy of this machine's root file system for
# tests that install packages, add users and groups or write /etc and /usr
# (root, util-linux's unshare and nsenter, a kernel with overlayfs).
#
#   sysroot_start      an overlay whose lower layer is / and whose upper
#                      layer is a tmpfs, mounted with /dev and a fresh
#                      /proc in a private mount and PID namespace held by
#                      a background process. Sets SYSROOT (the overlay's
#                      path, valid inside the namespace) and SYSROOT_PID.
#   sysroot_run CMD... CMD chrooted into the overlay, in the namespace, as
#                      root with a clean environment (PATH, HOME=/root,
#                      LANG=C.UTF-8, DEBIAN_FRONTEND=noninteractive, and
#                      any NAME=VALUE given before CMD); stdin is passed on
#   sysroot_copy SRC DEST  copy a host file or directory (cp -a) to DEST,
#                      an absolute path inside the overlay
#   sysroot_stop       end the namespace: every process started in it dies
#                      with its PID 1, and its mounts go with it. Safe to
#                      call twice.
#
# The host sees none of it: what is written inside lands in the tmpfs.
# Paths on the root file system (the build tree, $BATS_TEST_TMPDIR) are
# visible inside through the lower layer; copy what a test changes later
# rather than relying on a change to the lower layer showing through.

sysroot_start() {
	SYSROOT= SYSROOT_PID=
	if [[ $EUID -ne 0 ]] || ! command -v nsenter >/dev/null; then
		echo "sysroot: needs root, unshare and nsenter (util-linux)" >&2
		return 1
	fi
	local base ready pid
	base="$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/sysroot.XXXXXX")" || return 1
	ready="$base/ready"
	# The upper layer may not be inside the lower one's file system tree,
	# so it lives on a tmpfs mounted (privately) over $base.
	unshare --mount --pid --fork --propagation private sh -c '
		set -e
		m=$1
		mount -t tmpfs -o mode=0755 sysroot "$m"
		mkdir "$m/upper" "$m/work" "$m/root"
		mount -t overlay sysroot -o "lowerdir=/,upperdir=$m/upper,workdir=$m/work" "$m/root"
		mount --rbind /dev "$m/root/dev"
		mount -t proc proc "$m/root/proc"
		: >"$2"
		exec sleep 3600
	' sysroot "$base" "$base.ready" </dev/null >"$base.log" 2>&1 3>&- &
	pid=$!
	# nsenter needs a process inside the namespaces: unshare's child.
	# (The children file has no final newline.)
	sysroot_ready() { [[ -e $base.ready ]] && SYSROOT_PID=$(<"/proc/$pid/task/$pid/children") && [[ -n $SYSROOT_PID ]]; }
	if ! wait_until 10 sysroot_ready; then
		cat "$base.log" >&2
		kill "$pid" 2>/dev/null
		return 1
	fi
	SYSROOT_PID=${SYSROOT_PID%% *}
	SYSROOT_HOLDER=$pid
	SYSROOT="$base/root"
}

sysroot_run() {
	local envs=()
	while [[ $# -gt 0 && $1 == [A-Za-z_]*=* ]]; do
		envs+=("$1")
		shift
	done
	nsenter -t "$SYSROOT_PID" -m -p chroot "$SYSROOT" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${envs[@]}" "$@"
}

sysroot_copy() {
	nsenter -t "$SYSROOT_PID" -m cp -a "$1" "$SYSROOT$2"
}

sysroot_stop() {
	[[ -n ${SYSROOT_HOLDER:-} ]] || return 0
	# PID 1 of the namespace is sleep (exec'd): its death kills the rest.
	kill -KILL "$SYSROOT_PID" 2>/dev/null || true
	wait "$SYSROOT_HOLDER" 2>/dev/null || true
	SYSROOT_HOLDER= SYSROOT_PID= SYSROOT=
}
