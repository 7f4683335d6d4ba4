#!/usr/bin/env bats
# The table-driven unit tests of the pure parsers, one program per module.

run_unit() {
	run "$UNITDIR/t-$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"not ok"* ]]
	[[ "$output" == *"ok 1 "* ]]
}

@test "unit: configuration parser" { run_unit conf; }
@test "unit: address lists and IDN" { run_unit addr; }
@test "unit: aliases file" { run_unit aliases; }
@test "unit: message spool, header edits, wire form" { run_unit msg; }
@test "unit: SMTP reply and capability parsers" { run_unit smtp; }
@test "unit: TLS sessions against an in-process GnuTLS server" { run_unit tls; }
@test "unit: SASL mechanism choice, netrc, password sources" { run_unit auth; }
@test "unit: SMTP reply to exit status" { run_unit status; }
