# netns.bash - a private network namespace for one test (root, iproute2).
#
#   netns_add PREFIX   create namespace "PREFIX-<pid>-<test number>" with
#                      its loopback up; sets NS. Fails with a message when
#                      not root or without iproute2 (never skips).
#   netns_del          delete NS and its /etc/netns/NS files; safe to repeat
#
# Files put in /etc/netns/$NS (resolv.conf, hosts) replace the machine's
# for commands run with `ip netns exec "$NS"`.

netns_add() {
	NS=
	if [[ $EUID -ne 0 ]] || ! command -v ip >/dev/null; then
		echo "these tests need root and iproute2 (network namespaces); contrib/testdeps.sh installs iproute2" >&2
		return 1
	fi
	NS="$1-$$-$BATS_TEST_NUMBER"
	ip netns add "$NS" && ip -n "$NS" link set lo up
}

netns_del() {
	[[ -n ${NS:-} ]] || return 0
	ip netns del "$NS" 2>/dev/null || true
	if [[ -d /etc/netns/$NS ]]; then
		rm -rf "/etc/netns/$NS"
		rmdir /etc/netns 2>/dev/null || true
	fi
	NS=
}
