#!/usr/bin/env bats
# The table-driven unit tests of the pure parsers, one program per module.

run_unit() {
	run "$UNITDIR/t-$@"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"not ok"* ]]
	[[ "$output" == *"ok 1 "* ]]
}

@test "unit: configuration parser" { run_unit conf; }
@test "unit: address lists and IDN" { run_unit addr; }
@test "unit: aliases file" { run_unit aliases; }
@test "unit: message parser, header edits, wire form (in memory)" { run_unit msg; }
@test "unit: named-file stores of the message" { run_unit store "$BATS_TEST_TMPDIR"; }
# GOLDEN_DIR: the source tree's tests/golden (read only under make distcheck).
@test "unit: golden files, input to wire form" { GOLDEN_DIR=$BATS_TEST_DIRNAME/golden run_unit golden; }
@test "unit: SMTP reply and capability parsers" { run_unit smtp; }
@test "unit: TLS sessions against an in-process GnuTLS server" { run_unit tls; }
@test "unit: SASL mechanism choice, netrc, password sources" { run_unit auth; }
@test "unit: SMTP reply to exit status" { run_unit status; }
@test "unit: OAuth2 requests, answers, token file, PKCE" { run_unit oauth; }
@test "unit: the queue's envelope, backoff and directory" { run_unit queue "$BATS_TEST_TMPDIR"; }
# tests/golden/dns: the answer packets its mkpackets.py made.
@test "unit: DNS answer parser, MX order, MX/address/TLSA lookups on golden answers" { run_unit dns "$BATS_TEST_DIRNAME/golden/dns"; }
@test "unit: DANE matching and the TLS hook" { run_unit dane; }
@test "unit: the -bs command parser" { run_unit smtpcmd; }
