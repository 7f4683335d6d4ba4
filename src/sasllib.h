/* sasllib.h - GNU SASL, loaded when a session first authenticates with
 * a SASL mechanism, or for --version; see dynlib.h. Include this instead
 * of <gsasl.h>. */
#ifndef POSTIE_SASLLIB_H
#define POSTIE_SASLLIB_H

#include <gsasl.h>
#include "dynlib.h"

#define SASLLIB_NAMES(X) \
	X(gsasl_base64_from) \
	X(gsasl_base64_to) \
	X(gsasl_callback_hook_get) \
	X(gsasl_callback_hook_set) \
	X(gsasl_callback_set) \
	X(gsasl_check_version) \
	X(gsasl_client_start) \
	X(gsasl_client_support_p) \
	X(gsasl_done) \
	X(gsasl_finish) \
	X(gsasl_free) \
	X(gsasl_init) \
	X(gsasl_property_set) \
	X(gsasl_step64) \
	X(gsasl_strerror)

struct sasllib { SASLLIB_NAMES(DYNLIB_SLOT) };
extern struct sasllib sasllib;

#ifndef DYNLIB_TABLES
#define gsasl_base64_from (*sasllib.p_gsasl_base64_from)
#define gsasl_base64_to (*sasllib.p_gsasl_base64_to)
#define gsasl_callback_hook_get (*sasllib.p_gsasl_callback_hook_get)
#define gsasl_callback_hook_set (*sasllib.p_gsasl_callback_hook_set)
#define gsasl_callback_set (*sasllib.p_gsasl_callback_set)
#define gsasl_check_version (*sasllib.p_gsasl_check_version)
#define gsasl_client_start (*sasllib.p_gsasl_client_start)
#define gsasl_client_support_p (*sasllib.p_gsasl_client_support_p)
#define gsasl_done (*sasllib.p_gsasl_done)
#define gsasl_finish (*sasllib.p_gsasl_finish)
#define gsasl_free (*sasllib.p_gsasl_free)
#define gsasl_init (*sasllib.p_gsasl_init)
#define gsasl_property_set (*sasllib.p_gsasl_property_set)
#define gsasl_step64 (*sasllib.p_gsasl_step64)
#define gsasl_strerror (*sasllib.p_gsasl_strerror)
#endif

#endif
