/* dlopen-probe.c - linked with the libraries postie loads with dlopen
 * (src/dynlib.c) and calling one function of each, so that
 * dpkg-shlibdeps names their packages for postie's Depends (debian/rules,
 * override_dh_shlibdeps). Built and removed during the package build;
 * never installed. */
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <gsasl.h>
#include <idn2.h>
#include <jansson.h>

int main(void)
{
	return curl_version() == 0 || gnutls_check_version(0) == 0 ||
	    gsasl_check_version(0) == 0 || idn2_check_version(0) == 0 ||
	    json_object() == 0;
}
