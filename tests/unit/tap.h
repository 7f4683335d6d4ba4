/* tap.h - the TAP output of the unit test programs, one copy for all of
 * them (each tests/unit/t-*.c includes it; it is not a library):
 *
 *   report(desc, bad)        "ok N - desc", or "not ok N - desc: why" when
 *                            bad is nonzero; returns bad
 *   reportf(bad, fmt, ...)   the same with a printf-built description
 *   fail(fmt, ...)           sets the why of the running case; returns 1,
 *                            so a case can end with "return fail(...)"
 *   check(desc, ok, got, want), check_str(desc, got, want),
 *   check_int(desc, got, want)
 *                            a case that compares; why is got and want
 *   run_cases(table, n)      runs a table of { desc, fn } cases
 *   tap_done()               the summary "# N cases, M failed", and the
 *                            exit status: 1 when any case failed
 *
 * All of it is static and marked unused, so that a program that needs
 * only some of it still builds with -Wall -Wextra -Werror. */
#ifndef POSTIE_TAP_H
#define POSTIE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))
#define NELEM(a) (sizeof (a) / sizeof (a)[0])

static TAP_UNUSED char tap_why[4096];  /* why the running case failed */
static TAP_UNUSED int tap_n, tap_failed;

static TAP_UNUSED int report(const char *desc, int bad)
{
	tap_n++;
	tap_failed += bad != 0;
	printf("%sok %d - %s%s%s\n", bad ? "not " : "", tap_n, desc, bad ? ": " : "",
	       bad ? tap_why : "");
	/* flushed before any fork, and in order with what goes to stderr */
	fflush(stdout);
	tap_why[0] = '\0';
	return bad;
}

static TAP_UNUSED __attribute__((format(printf, 2, 3)))
int reportf(int bad, const char *fmt, ...)
{
	char desc[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(desc, sizeof desc, fmt, ap);
	va_end(ap);
	return report(desc, bad);
}

static TAP_UNUSED __attribute__((format(printf, 1, 2)))
int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tap_why, sizeof tap_why, fmt, ap);
	va_end(ap);
	return 1;
}

/* A NULL got or want shows as (null). */
static TAP_UNUSED int check(const char *desc, int ok, const char *got, const char *want)
{
	if (!ok)
		fail("got \"%s\", want \"%s\"", got ? got : "(null)", want ? want : "(null)");
	return report(desc, !ok);
}

/* Equal strings, or both NULL. */
static TAP_UNUSED int check_str(const char *desc, const char *got, const char *want)
{
	return check(desc, got && want ? strcmp(got, want) == 0 : got == want, got, want);
}

static TAP_UNUSED int check_int(const char *desc, long got, long want)
{
	char g[32], w[32];
	snprintf(g, sizeof g, "%ld", got);
	snprintf(w, sizeof w, "%ld", want);
	return check(desc, got == want, g, w);
}

struct tap_case {
	const char *desc;
	int (*fn)(void);  /* nonzero (see fail) when the case failed */
};

static TAP_UNUSED void run_cases(const struct tap_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		report(c[i].desc, c[i].fn());
}

static TAP_UNUSED int tap_done(void)
{
	printf("# %d cases, %d failed\n", tap_n, tap_failed);
	return tap_failed ? 1 : 0;
}

#endif
