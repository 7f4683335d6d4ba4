/* tlslib.h - GnuTLS, loaded when something first needs it (a TLS
 * session, DANE, a hash, --version); see dynlib.h. Include this instead
 * of GnuTLS's headers; a name missing from the list is a link error,
 * since the program does not link GnuTLS. */
#ifndef POSTIE_TLSLIB_H
#define POSTIE_TLSLIB_H

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include "dynlib.h"

#define TLSLIB_NAMES(X) \
	X(gnutls_alert_get) \
	X(gnutls_alert_get_name) \
	X(gnutls_alert_send) \
	X(gnutls_base64_decode2) \
	X(gnutls_bye) \
	X(gnutls_certificate_allocate_credentials) \
	X(gnutls_certificate_client_get_request_status) \
	X(gnutls_certificate_free_credentials) \
	X(gnutls_certificate_get_ours) \
	X(gnutls_certificate_get_peers) \
	X(gnutls_certificate_set_x509_crl_file) \
	X(gnutls_certificate_set_x509_key_file2) \
	X(gnutls_certificate_set_x509_system_trust) \
	X(gnutls_certificate_set_x509_trust_file) \
	X(gnutls_certificate_set_x509_trust_mem) \
	X(gnutls_certificate_type_get) \
	X(gnutls_certificate_verification_status_print) \
	X(gnutls_certificate_verify_peers3) \
	X(gnutls_check_version) \
	X(gnutls_ciphersuite_get) \
	X(gnutls_credentials_set) \
	X(gnutls_deinit) \
	X(gnutls_dh_get_prime_bits) \
	X(gnutls_dh_set_prime_bits) \
	X(gnutls_error_is_fatal) \
	X(gnutls_fingerprint) \
	X(gnutls_free) \
	X(gnutls_handshake) \
	X(gnutls_hash_fast) \
	X(gnutls_init) \
	X(gnutls_pem_base64_decode2) \
	X(gnutls_priority_set_direct) \
	X(gnutls_protocol_get_name) \
	X(gnutls_protocol_get_version) \
	X(gnutls_pubkey_deinit) \
	X(gnutls_pubkey_export2) \
	X(gnutls_pubkey_import_x509) \
	X(gnutls_pubkey_init) \
	X(gnutls_record_check_pending) \
	X(gnutls_record_get_direction) \
	X(gnutls_record_recv) \
	X(gnutls_record_send) \
	X(gnutls_server_name_set) \
	X(gnutls_session_channel_binding) \
	X(gnutls_session_get_desc) \
	X(gnutls_set_default_priority) \
	X(gnutls_strerror) \
	X(gnutls_transport_set_ptr) \
	X(gnutls_transport_set_pull_function) \
	X(gnutls_transport_set_pull_timeout_function) \
	X(gnutls_transport_set_push_function) \
	X(gnutls_x509_crt_check_hostname2) \
	X(gnutls_x509_crt_check_issuer) \
	X(gnutls_x509_crt_deinit) \
	X(gnutls_x509_crt_get_activation_time) \
	X(gnutls_x509_crt_get_dn3) \
	X(gnutls_x509_crt_get_dn_by_oid) \
	X(gnutls_x509_crt_get_expiration_time) \
	X(gnutls_x509_crt_get_issuer_dn3) \
	X(gnutls_x509_crt_get_subject_alt_name2) \
	X(gnutls_x509_crt_import) \
	X(gnutls_x509_crt_init) \
	X(gnutls_x509_trust_list_add_cas) \
	X(gnutls_x509_trust_list_deinit) \
	X(gnutls_x509_trust_list_init) \
	X(gnutls_x509_trust_list_verify_crt2)

struct tlslib { TLSLIB_NAMES(DYNLIB_SLOT) };
extern struct tlslib tlslib;

#ifndef DYNLIB_TABLES
#define gnutls_alert_get (*tlslib.p_gnutls_alert_get)
#define gnutls_alert_get_name (*tlslib.p_gnutls_alert_get_name)
#define gnutls_alert_send (*tlslib.p_gnutls_alert_send)
#define gnutls_base64_decode2 (*tlslib.p_gnutls_base64_decode2)
#define gnutls_bye (*tlslib.p_gnutls_bye)
#define gnutls_certificate_allocate_credentials (*tlslib.p_gnutls_certificate_allocate_credentials)
#define gnutls_certificate_client_get_request_status (*tlslib.p_gnutls_certificate_client_get_request_status)
#define gnutls_certificate_free_credentials (*tlslib.p_gnutls_certificate_free_credentials)
#define gnutls_certificate_get_ours (*tlslib.p_gnutls_certificate_get_ours)
#define gnutls_certificate_get_peers (*tlslib.p_gnutls_certificate_get_peers)
#define gnutls_certificate_set_x509_crl_file (*tlslib.p_gnutls_certificate_set_x509_crl_file)
#define gnutls_certificate_set_x509_key_file2 (*tlslib.p_gnutls_certificate_set_x509_key_file2)
#define gnutls_certificate_set_x509_system_trust (*tlslib.p_gnutls_certificate_set_x509_system_trust)
#define gnutls_certificate_set_x509_trust_file (*tlslib.p_gnutls_certificate_set_x509_trust_file)
#define gnutls_certificate_set_x509_trust_mem (*tlslib.p_gnutls_certificate_set_x509_trust_mem)
#define gnutls_certificate_type_get (*tlslib.p_gnutls_certificate_type_get)
#define gnutls_certificate_verification_status_print (*tlslib.p_gnutls_certificate_verification_status_print)
#define gnutls_certificate_verify_peers3 (*tlslib.p_gnutls_certificate_verify_peers3)
#define gnutls_check_version (*tlslib.p_gnutls_check_version)
#define gnutls_ciphersuite_get (*tlslib.p_gnutls_ciphersuite_get)
#define gnutls_credentials_set (*tlslib.p_gnutls_credentials_set)
#define gnutls_deinit (*tlslib.p_gnutls_deinit)
#define gnutls_dh_get_prime_bits (*tlslib.p_gnutls_dh_get_prime_bits)
#define gnutls_dh_set_prime_bits (*tlslib.p_gnutls_dh_set_prime_bits)
#define gnutls_error_is_fatal (*tlslib.p_gnutls_error_is_fatal)
#define gnutls_fingerprint (*tlslib.p_gnutls_fingerprint)
#define gnutls_free (*tlslib.p_gnutls_free)
#define gnutls_handshake (*tlslib.p_gnutls_handshake)
#define gnutls_hash_fast (*tlslib.p_gnutls_hash_fast)
#define gnutls_init (*tlslib.p_gnutls_init)
#define gnutls_pem_base64_decode2 (*tlslib.p_gnutls_pem_base64_decode2)
#define gnutls_priority_set_direct (*tlslib.p_gnutls_priority_set_direct)
#define gnutls_protocol_get_name (*tlslib.p_gnutls_protocol_get_name)
#define gnutls_protocol_get_version (*tlslib.p_gnutls_protocol_get_version)
#define gnutls_pubkey_deinit (*tlslib.p_gnutls_pubkey_deinit)
#define gnutls_pubkey_export2 (*tlslib.p_gnutls_pubkey_export2)
#define gnutls_pubkey_import_x509 (*tlslib.p_gnutls_pubkey_import_x509)
#define gnutls_pubkey_init (*tlslib.p_gnutls_pubkey_init)
#define gnutls_record_check_pending (*tlslib.p_gnutls_record_check_pending)
#define gnutls_record_get_direction (*tlslib.p_gnutls_record_get_direction)
#define gnutls_record_recv (*tlslib.p_gnutls_record_recv)
#define gnutls_record_send (*tlslib.p_gnutls_record_send)
#define gnutls_server_name_set (*tlslib.p_gnutls_server_name_set)
#define gnutls_session_channel_binding (*tlslib.p_gnutls_session_channel_binding)
#define gnutls_session_get_desc (*tlslib.p_gnutls_session_get_desc)
#define gnutls_set_default_priority (*tlslib.p_gnutls_set_default_priority)
#define gnutls_strerror (*tlslib.p_gnutls_strerror)
#define gnutls_transport_set_ptr (*tlslib.p_gnutls_transport_set_ptr)
#define gnutls_transport_set_pull_function (*tlslib.p_gnutls_transport_set_pull_function)
#define gnutls_transport_set_pull_timeout_function (*tlslib.p_gnutls_transport_set_pull_timeout_function)
#define gnutls_transport_set_push_function (*tlslib.p_gnutls_transport_set_push_function)
#define gnutls_x509_crt_check_hostname2 (*tlslib.p_gnutls_x509_crt_check_hostname2)
#define gnutls_x509_crt_check_issuer (*tlslib.p_gnutls_x509_crt_check_issuer)
#define gnutls_x509_crt_deinit (*tlslib.p_gnutls_x509_crt_deinit)
#define gnutls_x509_crt_get_activation_time (*tlslib.p_gnutls_x509_crt_get_activation_time)
#define gnutls_x509_crt_get_dn3 (*tlslib.p_gnutls_x509_crt_get_dn3)
#define gnutls_x509_crt_get_dn_by_oid (*tlslib.p_gnutls_x509_crt_get_dn_by_oid)
#define gnutls_x509_crt_get_expiration_time (*tlslib.p_gnutls_x509_crt_get_expiration_time)
#define gnutls_x509_crt_get_issuer_dn3 (*tlslib.p_gnutls_x509_crt_get_issuer_dn3)
#define gnutls_x509_crt_get_subject_alt_name2 (*tlslib.p_gnutls_x509_crt_get_subject_alt_name2)
#define gnutls_x509_crt_import (*tlslib.p_gnutls_x509_crt_import)
#define gnutls_x509_crt_init (*tlslib.p_gnutls_x509_crt_init)
#define gnutls_x509_trust_list_add_cas (*tlslib.p_gnutls_x509_trust_list_add_cas)
#define gnutls_x509_trust_list_deinit (*tlslib.p_gnutls_x509_trust_list_deinit)
#define gnutls_x509_trust_list_init (*tlslib.p_gnutls_x509_trust_list_init)
#define gnutls_x509_trust_list_verify_crt2 (*tlslib.p_gnutls_x509_trust_list_verify_crt2)
#endif

#endif
