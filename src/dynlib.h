/* dynlib.h - libraries loaded by their soname when postie first needs
 * them, not at start-up: GnuTLS (tlslib.h), libidn2 (idnlib.h), GNU SASL
 * (sasllib.h), libcurl (curllib.h) and jansson (jsonlib.h). Loading a library and the ones
 * under it is most of the CPU a plain-text send costs, so a run pays
 * only for what it uses. Each of those headers lists the names postie
 * uses in an X-macro and, for every module but dynlib.c, turns each name
 * into a call through the library's table of pointers, which its _load
 * function fills. */
#ifndef POSTIE_DYNLIB_H
#define POSTIE_DYNLIB_H

#include "status.h"

/* Declare the table of a library: a pointer of each name's own type. */
#define DYNLIB_SLOT(name) __typeof__(name) *p_##name;

int tlslib_load(struct perr *e);   /* GnuTLS */
int idnlib_load(struct perr *e);   /* libidn2 */
int sasllib_load(struct perr *e);  /* GNU SASL */
int curllib_load(struct perr *e);  /* libcurl */
int jsonlib_load(struct perr *e);  /* jansson */

#endif
