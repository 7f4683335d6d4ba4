#!/usr/bin/env bats
# postie --configure ADDRESS: the account for an address from its domain's
# SRV records (RFC 6186, RFC 8314), end to end against tests/fakedns.py as
# the resolver of the test's own network namespace (tests/mx.bash): which
# record is chosen (_submissions before _submission, priority, weight,
# target "."), the account printed (and read back by --pretend), the OAuth
# hint for MX hosts at Google and Microsoft, IDN, and the failures: no
# record 68, DNS failure 75, bad address 64. Needs root and iproute2.
# shellcheck disable=SC2154 # stderr: from run --separate-stderr
load common
load netns
load mx
bats_require_minimum_version 1.5.0

setup() {
	common_setup
	netns_add postie-cf || return 1
	mx_net_up
}

teardown() {
	mx_teardown
	common_teardown
}

# configure ADDRESS [postie args...]: postie --configure in the namespace;
# stdout in $output, stderr in $stderr.
configure() {
	local addr="$1"
	shift
	run --separate-stderr ip netns exec "$NS" "$POSTIE" --configure "$addr" "$@"
	# shown when the test fails
	echo "status $status; stdout: $output; stderr: $stderr"
}

# account: the lines of $output that are not comments.
account() { grep -v '^#' <<<"$output"; }

# pretend NAME: the account printed by the last configure, saved as a
# configuration file and read back by postie -a NAME --pretend; its
# output in $output.
pretend() {
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/postierc"
	run --separate-stderr "$POSTIE" -C "$BATS_TEST_TMPDIR/postierc" -a "$1" --pretend
	echo "pretend: status $status; stdout: $output; stderr: $stderr"
	[ "$status" -eq 0 ]
}

# zone_start LINE...: serve these zone lines.
zone_start() {
	mx_zone "$@"
	mx_dns_start "$MX_ZONE"
}

@test "_submissions: implicit TLS on the record's port; --pretend reads the account back" {
	zone_start '_submissions._tcp.example.test. SRV 0 1 465 smtp.example.test.'
	configure user@example.test
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(account)" = "account user@example.test
host smtp.example.test
port 465
tls on
tls_starttls off
auth on
user user@example.test
from user@example.test" ]
	# where the values came from
	grep -qx '#   _submissions._tcp.example.test. SRV 0 1 465 smtp.example.test.' <<<"$output"
	grep -q '^# Submission over implicit TLS (RFC 8314)' <<<"$output"
	# the target is in the domain: no warning; no provider hint
	! grep -q 'provider' <<<"$output" || false
	! grep -q 'oauth' <<<"$output" || false
	# _submission was not asked once _submissions answered
	[ "$(mx_dns_queries 33 _submissions._tcp.example.test.)" -eq 1 ]
	[ "$(mx_dns_queries 33 _submission._tcp.example.test.)" -eq 0 ]
	pretend user@example.test
	grep -qx 'host = smtp.example.test' <<<"$output"
	grep -qx 'port = 465' <<<"$output"
	grep -qx 'tls = on' <<<"$output"
	grep -qx 'tls_starttls = off' <<<"$output"
	grep -qx 'auth = on' <<<"$output"
	grep -qx 'user = user@example.test' <<<"$output"
	grep -qx 'from = user@example.test' <<<"$output"
}

@test "_submission only: STARTTLS on the record's port; a host outside the domain is flagged" {
	zone_start '_submission._tcp.example.test. SRV 0 1 2587 mail.provider.test.'
	configure user@example.test
	[ "$status" -eq 0 ]
	[ "$(account)" = "account user@example.test
host mail.provider.test
port 2587
tls on
tls_starttls on
auth on
user user@example.test
from user@example.test" ]
	grep -q '^# Submission with STARTTLS (RFC 6409)' <<<"$output"
	grep -qx "# Check that the host is your provider's before you give it a password:" <<<"$output"
	grep -qx '# it is not in example.test, and the DNS answer was not validated (DNSSEC).' <<<"$output"
	# _submissions first, then _submission
	[ "$(mx_dns_queries 33 _submissions._tcp.example.test.)" -eq 1 ]
	[ "$(mx_dns_queries 33 _submission._tcp.example.test.)" -eq 1 ]
	pretend user@example.test
	grep -qx 'host = mail.provider.test' <<<"$output"
	grep -qx 'port = 2587' <<<"$output"
	grep -qx 'tls = on' <<<"$output"
	grep -qx 'tls_starttls = on' <<<"$output"
}

@test "_submissions is preferred over _submission, whatever their priorities" {
	zone_start \
		'_submission._tcp.example.test. SRV 0 100 587 starttls.example.test.' \
		'_submissions._tcp.example.test. SRV 50 1 465 implicit.example.test.'
	configure user@example.test
	[ "$status" -eq 0 ]
	grep -qx 'host implicit.example.test' <<<"$output"
	grep -qx 'port 465' <<<"$output"
	grep -qx 'tls_starttls off' <<<"$output"
}

@test "priority, then weight, then the target's name decide" {
	zone_start \
		'_submissions._tcp.prio.test. SRV 10 100 465 high-prio-number.prio.test.' \
		'_submissions._tcp.prio.test. SRV 5 1 4651 light.prio.test.' \
		'_submissions._tcp.prio.test. SRV 5 60 4652 heavy.prio.test.' \
		'_submissions._tcp.prio.test. SRV 5 20 4653 middle.prio.test.' \
		'_submission._tcp.tie.test. SRV 1 5 5871 b.tie.test.' \
		'_submission._tcp.tie.test. SRV 1 5 5872 a.tie.test.' \
		'_submission._tcp.tie.test. SRV 2 9 5873 aa.tie.test.'
	configure user@prio.test
	[ "$status" -eq 0 ]
	grep -qx 'host heavy.prio.test' <<<"$output"
	grep -qx 'port 4652' <<<"$output"
	grep -qx '# (of 4 records: the lowest priority, then the highest weight)' <<<"$output"
	configure user@tie.test
	[ "$status" -eq 0 ]
	grep -qx 'host a.tie.test' <<<"$output"
	grep -qx 'port 5872' <<<"$output"
	grep -qx 'tls_starttls on' <<<"$output"
}

@test "target \".\" at _submissions: not offered, _submission is used; at both: 68" {
	zone_start \
		'_submissions._tcp.dot.test. SRV 0 0 0 .' \
		'_submission._tcp.dot.test. SRV 0 0 587 smtp.dot.test.' \
		'_submissions._tcp.none.test. SRV 0 0 0 .' \
		'_submission._tcp.none.test. SRV 0 0 0 .'
	configure user@dot.test
	[ "$status" -eq 0 ]
	grep -qx 'host smtp.dot.test' <<<"$output"
	grep -qx 'port 587' <<<"$output"
	grep -qx 'tls_starttls on' <<<"$output"
	configure user@none.test
	[ "$status" -eq 68 ]
	[ -z "$output" ]
	[ "$stderr" = "postie: no SRV record for _submissions._tcp.none.test or _submission._tcp.none.test: the domain declares that it offers no submission service (target \".\"); set up the account for user@none.test by hand (see postierc(5))" ]
}

@test "no SRV record at all: 68, one line naming both names, nothing on stdout" {
	zone_start 'example.test. MX 10 mx.example.test.'
	configure user@example.test
	[ "$status" -eq 68 ]
	[ -z "$output" ]
	[ "$stderr" = "postie: no SRV record for _submissions._tcp.example.test or _submission._tcp.example.test: the domain names no submission server (RFC 6186); set up the account for user@example.test by hand (see postierc(5))" ]
	[ "$(mx_dns_queries 33 _submissions._tcp.example.test.)" -eq 1 ]
	[ "$(mx_dns_queries 33 _submission._tcp.example.test.)" -eq 1 ]
	# a domain that does not exist: the same
	configure user@nosuch.test
	[ "$status" -eq 68 ]
	[[ $stderr == "postie: no SRV record for _submissions._tcp.nosuch.test or _submission._tcp.nosuch.test: "* ]]
}

@test "SERVFAIL or no answer: 75, saying what failed; no account printed" {
	zone_start \
		'servfail _submissions._tcp.sf.test.' \
		'_submission._tcp.sf.test. SRV 0 0 587 smtp.sf.test.' \
		'_submissions._tcp.late.test. SRV 0 0 465 smtp.late.test.' \
		'drop _submission._tcp.late.test.' \
		'_submission._tcp.late2.test. SRV 0 0 587 smtp.late2.test.' \
		'drop _submissions._tcp.late2.test.'
	configure user@sf.test
	[ "$status" -eq 75 ]
	[ -z "$output" ]
	[ "$stderr" = "postie: cannot configure user@sf.test: SRV lookup for _submissions._tcp.sf.test: no answer from the name servers (server failure or timeout); try again later" ]
	# a _submissions answer is enough: the dropped _submission is never asked
	configure user@late.test
	[ "$status" -eq 0 ]
	grep -qx 'host smtp.late.test' <<<"$output"
	configure user@late2.test
	[ "$status" -eq 75 ]
	[ "$stderr" = "postie: cannot configure user@late2.test: SRV lookup for _submissions._tcp.late2.test: no answer from the name servers (server failure or timeout); try again later" ]
}

@test "MX hosts at Google or Microsoft: the oauth_provider hint, usable once uncommented" {
	zone_start \
		'_submission._tcp.g.test. SRV 0 0 587 smtp.g.test.' \
		'g.test. MX 1 aspmx.l.google.com.' \
		'g.test. MX 5 alt1.aspmx.l.google.com.' \
		'_submission._tcp.gm.test. SRV 0 0 587 smtp.gm.test.' \
		'gm.test. MX 10 gmr-smtp-in.l.GoogleMail.com.' \
		'_submission._tcp.ms.test. SRV 0 0 587 smtp.ms.test.' \
		'ms.test. MX 0 ms-test.mail.protection.outlook.com.' \
		'_submission._tcp.ol.test. SRV 0 0 587 smtp.ol.test.' \
		'ol.test. MX 0 outlook-com.olc.outlook.com.' \
		'_submission._tcp.other.test. SRV 0 0 587 smtp.other.test.' \
		'other.test. MX 0 mx.notgoogle.com.' \
		'other.test. MX 5 google.com.' \
		'_submission._tcp.mxfail.test. SRV 0 0 587 smtp.mxfail.test.' \
		'servfail mxfail.test. MX'
	configure user@g.test
	[ "$status" -eq 0 ]
	grep -qx '# The mail of g.test goes to Google (MX host aspmx.l.google.com).' <<<"$output"
	grep -qx '#   postie -a user@g.test --oauth-login' <<<"$output"
	[ "$(tail -n 2 <<<"$output")" = $'#oauth_provider google\n#oauth_client_id CLIENT-ID' ]
	# uncommented, the lines make an OAuth account
	output=$(sed 's/^#oauth_/oauth_/' <<<"$output")
	pretend user@g.test
	grep -qx 'oauth_provider = google' <<<"$output"
	grep -qx 'auth = xoauth2' <<<"$output"
	configure user@gm.test
	grep -qx '#oauth_provider google' <<<"$output"
	configure user@ms.test
	[ "$status" -eq 0 ]
	grep -qx '# The mail of ms.test goes to Microsoft (MX host ms-test.mail.protection.outlook.com).' <<<"$output"
	grep -qx '#oauth_provider microsoft' <<<"$output"
	configure user@ol.test
	grep -qx '#oauth_provider microsoft' <<<"$output"
	# a name that only ends like a provider's, or the provider's domain
	# itself, is not one of its mail hosts
	configure user@other.test
	[ "$status" -eq 0 ]
	! grep -q 'oauth' <<<"$output" || false
	# an MX lookup that fails only leaves the hint out
	configure user@mxfail.test
	[ "$status" -eq 0 ]
	grep -qx 'host smtp.mxfail.test' <<<"$output"
	! grep -q 'oauth' <<<"$output" || false
}

@test "IDN: the A-label form is looked up; the account keeps the address as given" {
	zone_start '_submissions._tcp.xn--bcher-kva.test. SRV 0 0 465 smtp.xn--bcher-kva.test.'
	configure 'jörg@bücher.test'
	[ "$status" -eq 0 ]
	[ "$(mx_dns_queries 33 _submissions._tcp.xn--bcher-kva.test.)" -eq 1 ]
	grep -qx 'account jörg@bücher.test' <<<"$output"
	grep -qx 'host smtp.xn--bcher-kva.test' <<<"$output"
	grep -qx 'user jörg@bücher.test' <<<"$output"
	grep -qx 'from jörg@bücher.test' <<<"$output"
	# the target is in the domain (compared in A-labels): no warning
	! grep -q 'Check that' <<<"$output" || false
	pretend 'jörg@bücher.test'
	grep -qx 'host = smtp.xn--bcher-kva.test' <<<"$output"
}

@test "bad address: 64 before any DNS question; a recipient as well: 64" {
	zone_start '_submissions._tcp.example.test. SRV 0 0 465 smtp.example.test.'
	local a
	for a in nodomain 'user@' '@example.test' 'a@example.test, b@example.test' 'x@[192.0.2.1]' ''; do
		configure "$a"
		[ "$status" -eq 64 ]
		[ -z "$output" ]
		[[ $stderr == "postie: --configure: '$a' is not a mail address of the form local@domain"* ]]
	done
	[ ! -s "$MX_DNS_LOG" ]
	# the forms with a display name or angle brackets are addresses
	configure '<user@example.test>'
	[ "$status" -eq 0 ]
	grep -qx 'account user@example.test' <<<"$output"
	configure user@example.test other@example.test
	[ "$status" -eq 64 ]
	[ "$stderr" = "postie: --configure takes no recipients ('other@example.test' given; see postie --help)" ]
}
