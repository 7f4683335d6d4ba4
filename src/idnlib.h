/* idnlib.h - libidn2, loaded when a domain first needs converting
 * (one with non-ASCII octets or an A-label), or for --version; see
 * dynlib.h. Include this instead of <idn2.h>. */
#ifndef POSTIE_IDNLIB_H
#define POSTIE_IDNLIB_H

#include <idn2.h>
#include "dynlib.h"

#define IDNLIB_NAMES(X) \
	X(idn2_check_version) \
	X(idn2_free) \
	X(idn2_strerror) \
	X(idn2_to_ascii_8z) \
	X(idn2_to_unicode_8z8z)

struct idnlib { IDNLIB_NAMES(DYNLIB_SLOT) };
extern struct idnlib idnlib;

#ifndef DYNLIB_TABLES
#define idn2_check_version (*idnlib.p_idn2_check_version)
#define idn2_free (*idnlib.p_idn2_free)
#define idn2_strerror (*idnlib.p_idn2_strerror)
#define idn2_to_ascii_8z (*idnlib.p_idn2_to_ascii_8z)
#define idn2_to_unicode_8z8z (*idnlib.p_idn2_to_unicode_8z8z)
#endif

#endif
