/* secret.h - where a password (or OAuth token) comes from, in this order:
 * the password keyword, passwordeval, ~/.netrc then /etc/netrc, a prompt
 * on /dev/tty. Secrets are wiped before their memory is freed and never
 * appear in messages. */
#ifndef POSTIE_SECRET_H
#define POSTIE_SECRET_H

#include "route.h"
#include "status.h"

/* The password for the policy's user at the hop's host (netrc is
 * looked up by that host). *out is allocated;
 * free it with secret_free(). *source names where it came from
 * ("password", "passwordeval", "~/.netrc", "/etc/netrc", "terminal").
 * EX_CONFIG when passwordeval fails or prints nothing (its stderr is
 * shown), or when there is no source at all (the message says which
 * keyword to set). */
int secret_get(const struct hop *h, const struct policy *p, char **out, const char **source,
               struct perr *e);
void secret_free(char *s);

/* Run cmd (passwordeval, oauth_client_secret_eval: keyword) and take the
 * first line it prints as the secret (what: "password"). FC_CONFIG when
 * it cannot run, fails or prints nothing; its stderr's first line is
 * quoted. */
int secret_eval(const char *account, const char *keyword, const char *what, const char *cmd,
                char **out, struct perr *e);

/* Look host (case-insensitively) and user (NULL: any) up in the text of
 * a netrc file: the first "machine" entry that matches, else "default".
 * Returns 1 and sets *password (allocated) when found, else 0. */
int netrc_lookup(const char *text, const char *host, const char *user, char **password);

#endif
