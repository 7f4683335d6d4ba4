/* aliases.h - msmtp-format aliases file: "local: addr, addr", "default:". */
#ifndef POSTIE_ALIASES_H
#define POSTIE_ALIASES_H

#include "addr.h"
#include "status.h"

struct aliases;

/* Load path (tilde expanded by the caller). EX_NOINPUT if it cannot be
 * opened, EX_CONFIG with "file:line: ..." on a syntax error. */
int aliases_load(const char *path, struct aliases **out, struct perr *e);
/* Parse from memory (pure; used by tests). */
int aliases_parse(const char *fname, const char *buf, size_t len, struct aliases **out, struct perr *e);

/* Replace every address in l that has no domain with its alias expansion
 * (recursively: an expansion that is itself local is looked up again;
 * "default" applies, once along a chain, when a local name is not found).
 * Addresses with a domain are left alone; duplicates are removed, the
 * first occurrence kept. Each alias is expanded once, however often it
 * is named. EX_CONFIG, naming the file, for a loop ("alias loop: a -> b
 * -> a"), aliases nested deeper than 1000, or more than 10000 recipients
 * from the aliases; l is then unchanged. */
int aliases_expand(const struct aliases *al, struct addrlist *l, struct perr *e);

void aliases_free(struct aliases *al);

#endif
