/* curllib.h - libcurl (and the twenty libraries it brings: Kerberos,
 * LDAP, SSH, OpenSSL...), loaded when OAuth2 first makes an HTTP
 * request; see dynlib.h. Include this instead of <curl/curl.h>. */
#ifndef POSTIE_CURLLIB_H
#define POSTIE_CURLLIB_H

#define CURL_DISABLE_TYPECHECK   /* its macros would hide the names below */
#include <curl/curl.h>
#undef curl_easy_setopt    /* argument-count checks: the names are redefined below */
#undef curl_easy_getinfo
#include "dynlib.h"

#define CURLLIB_NAMES(X) \
	X(curl_global_init) \
	X(curl_easy_init) \
	X(curl_easy_setopt) \
	X(curl_easy_perform) \
	X(curl_easy_getinfo) \
	X(curl_easy_cleanup) \
	X(curl_easy_strerror) \
	X(curl_slist_append) \
	X(curl_slist_free_all)

struct curllib { CURLLIB_NAMES(DYNLIB_SLOT) };
extern struct curllib curllib;

#ifndef DYNLIB_TABLES
#define curl_global_init (*curllib.p_curl_global_init)
#define curl_easy_init (*curllib.p_curl_easy_init)
#define curl_easy_setopt (*curllib.p_curl_easy_setopt)
#define curl_easy_perform (*curllib.p_curl_easy_perform)
#define curl_easy_getinfo (*curllib.p_curl_easy_getinfo)
#define curl_easy_cleanup (*curllib.p_curl_easy_cleanup)
#define curl_easy_strerror (*curllib.p_curl_easy_strerror)
#define curl_slist_append (*curllib.p_curl_slist_append)
#define curl_slist_free_all (*curllib.p_curl_slist_free_all)
#endif

#endif
