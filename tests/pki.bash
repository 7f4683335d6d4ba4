# pki.bash - a throw-away test PKI made with GnuTLS's certtool (gnutls-bin).
#
#   pki_make DIR    (re)create the PKI in DIR and export PKI=DIR
#
# Intended use in a bats file:
#   load pki
#   setup_file() { pki_make "$BATS_FILE_TMPDIR/pki"; }
#
# Every key is ECDSA P-256 (fast to make).  Files written to DIR (PEM):
#   ca.pem ca-key.pem                  CA "postie test CA"
#   server.pem server-key.pem          by ca; CN localhost, SAN DNS localhost,
#                                      IP 127.0.0.1, IP ::1; TLS server;
#                                      valid from 1 day ago for 10 years
#   wrong.pem wrong-key.pem            by ca; only DNS wrong.example
#   expired.pem expired-key.pem        by ca; localhost, 127.0.0.1, ::1;
#                                      valid 2023-01-01 to 2024-01-01 UTC
#   unknown-ca.pem unknown-ca-key.pem  a second CA "unknown test CA"
#   rogue.pem rogue-key.pem            by unknown-ca; localhost, 127.0.0.1, ::1
#   client.pem client-key.pem          by ca; CN tester; TLS client
#   revoked.pem revoked-key.pem        by ca; localhost, 127.0.0.1, ::1
#   crl.pem                            CRL by ca revoking revoked.pem
#                                      (this update 1 day ago, next update
#                                      1 year from now)
#   crl-empty.pem                      CRL by ca revoking nothing
#   server.sha256 server.sha1 server.md5
#                                      fingerprints of server.pem (DER) as
#                                      "AB:CD:..." (msmtp's tls_fingerprint)
# plus *.tmpl (the certtool templates) and certtool.log.
# Each certificate has its own serial number.

# _pki_certtool LOG ARGS...: run certtool quietly, no stdin; on failure
# show its output.
_pki_certtool() {
	local log="$1"
	shift
	if ! certtool "$@" </dev/null >>"$log" 2>&1; then
		echo "pki_make: certtool $* failed:" >&2
		tail -n 20 "$log" >&2
		return 1
	fi
}

# _pki_fingerprint PEM HASH: "AB:CD:.." fingerprint of the certificate.
_pki_fingerprint() {
	local hex out="" i
	hex="$(certtool --fingerprint --hash "$2" --infile "$1" </dev/null 2>/dev/null)" || return 1
	hex="${hex//[^0-9a-fA-F]/}"
	[[ -n $hex ]] || return 1
	hex="${hex^^}"
	for ((i = 0; i < ${#hex}; i += 2)); do
		out+="${out:+:}${hex:i:2}"
	done
	echo "$out"
}

pki_make() {
	local dir="${1:?pki_make: need a directory}"
	local log now from until name
	mkdir -p "$dir" || return 1
	log="$dir/certtool.log"
	: >"$log"
	# Fresh every time: nothing from an earlier call may survive.
	for name in ca unknown-ca server wrong expired rogue client revoked; do
		rm -f "$dir/$name.pem" "$dir/$name-key.pem" "$dir/$name.tmpl"
	done
	rm -f "$dir"/crl.pem "$dir"/crl-empty.pem "$dir"/crl*.tmpl \
		"$dir"/server.sha256 "$dir"/server.sha1 "$dir"/server.md5
	now="$(date -u +%s)" || return 1
	from="$(date -u -d "@$((now - 86400))" '+%Y-%m-%d %H:%M:%S UTC')" || return 1
	until="$(date -u -d "$from + 10 years" '+%Y-%m-%d %H:%M:%S UTC')" || return 1

	for name in ca unknown-ca server wrong expired rogue client revoked; do
		_pki_certtool "$log" --generate-privkey --key-type ecdsa \
			--curve secp256r1 --no-text --outfile "$dir/$name-key.pem" || return 1
	done

	# _pki_tmpl NAME SERIAL|- LINES...: write NAME.tmpl
	_pki_tmpl() {
		local f="$dir/$1.tmpl" serial="$2"
		shift 2
		{
			[[ $serial == - ]] || echo "serial = $serial"
			printf '%s\n' "$@"
		} >"$f"
	}
	local valid=("activation_date = \"$from\"" "expiration_date = \"$until\"")
	local local_names=('dns_name = "localhost"' 'ip_address = "127.0.0.1"'
		'ip_address = "::1"')
	local server_use=(tls_www_server signing_key)

	_pki_tmpl ca 1 'cn = "postie test CA"' 'organization = "postie tests"' \
		"${valid[@]}" ca cert_signing_key crl_signing_key
	_pki_tmpl unknown-ca 2 'cn = "unknown test CA"' \
		'organization = "someone else"' \
		"${valid[@]}" ca cert_signing_key crl_signing_key
	_pki_tmpl server 3 'cn = "localhost"' "${valid[@]}" "${local_names[@]}" \
		"${server_use[@]}"
	_pki_tmpl wrong 4 'cn = "wrong.example"' "${valid[@]}" \
		'dns_name = "wrong.example"' "${server_use[@]}"
	_pki_tmpl expired 5 'cn = "localhost"' \
		'activation_date = "2023-01-01 00:00:00 UTC"' \
		'expiration_date = "2024-01-01 00:00:00 UTC"' \
		"${local_names[@]}" "${server_use[@]}"
	_pki_tmpl rogue 6 'cn = "localhost"' "${valid[@]}" "${local_names[@]}" \
		"${server_use[@]}"
	_pki_tmpl client 7 'cn = "tester"' "${valid[@]}" tls_www_client signing_key
	_pki_tmpl revoked 8 'cn = "localhost"' "${valid[@]}" "${local_names[@]}" \
		"${server_use[@]}"
	_pki_tmpl crl - 'crl_number = 1' "crl_this_update_date = \"$from\"" \
		'crl_next_update = 365' "crl_revocation_date = \"$from\""
	_pki_tmpl crl-empty - 'crl_number = 2' \
		"crl_this_update_date = \"$from\"" 'crl_next_update = 365'
	unset -f _pki_tmpl

	for name in ca unknown-ca; do
		_pki_certtool "$log" --generate-self-signed \
			--load-privkey "$dir/$name-key.pem" \
			--template "$dir/$name.tmpl" --outfile "$dir/$name.pem" || return 1
	done
	for name in server wrong expired rogue client revoked; do
		local ca=ca
		[[ $name == rogue ]] && ca=unknown-ca
		_pki_certtool "$log" --generate-certificate \
			--load-privkey "$dir/$name-key.pem" \
			--load-ca-certificate "$dir/$ca.pem" \
			--load-ca-privkey "$dir/$ca-key.pem" \
			--template "$dir/$name.tmpl" --outfile "$dir/$name.pem" || return 1
	done
	_pki_certtool "$log" --generate-crl \
		--load-ca-certificate "$dir/ca.pem" --load-ca-privkey "$dir/ca-key.pem" \
		--load-certificate "$dir/revoked.pem" \
		--template "$dir/crl.tmpl" --outfile "$dir/crl.pem" || return 1
	_pki_certtool "$log" --generate-crl \
		--load-ca-certificate "$dir/ca.pem" --load-ca-privkey "$dir/ca-key.pem" \
		--template "$dir/crl-empty.tmpl" --outfile "$dir/crl-empty.pem" || return 1

	for name in sha256 sha1 md5; do
		_pki_fingerprint "$dir/server.pem" "$name" >"$dir/server.$name" || {
			echo "pki_make: no $name fingerprint of server.pem" >&2
			return 1
		}
	done
	PKI="$dir"
	export PKI
}
