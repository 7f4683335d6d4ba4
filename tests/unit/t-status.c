/* t-status.c - the reply-to-exit-status table of status.c, case by case. */
#include <stdio.h>

#include "status.h"
#include "tap.h"

static const struct {
	enum smtp_phase ph;
	int code;
	const char *enh;
	int ex;
} cases[] = {
	/* success and temporary, whatever the enhanced code */
	{ PH_RCPT, 250, "2.1.5", EX_OK },
	{ PH_DATA, 354, "", EX_OK },
	{ PH_RCPT, 450, "4.2.2", EX_TEMPFAIL },
	{ PH_MAIL, 451, "4.1.8", EX_TEMPFAIL },
	{ PH_GREETING, 421, "", EX_TEMPFAIL },
	{ PH_RCPT, 600, "", EX_PROTOCOL },
	/* the phase decides before MAIL */
	{ PH_GREETING, 554, "5.7.1", EX_UNAVAILABLE },
	{ PH_EHLO, 550, "5.1.1", EX_UNAVAILABLE },
	{ PH_STARTTLS, 554, "", EX_UNAVAILABLE },
	{ PH_AUTH, 535, "5.7.8", EX_NOPERM },
	{ PH_AUTH, 554, "5.7.0", EX_NOPERM },
	{ PH_QUIT, 554, "", EX_OK },
	/* X.1.x: addressing */
	{ PH_RCPT, 550, "5.1.1", EX_NOUSER },
	{ PH_MAIL, 553, "5.1.8", EX_NOUSER },
	{ PH_DATA_END, 550, "5.1.1", EX_NOUSER },
	/* X.2.x: the mailbox, except 5.2.3 (message length) */
	{ PH_DATA_END, 552, "5.2.2", EX_NOUSER },
	{ PH_LMTP_RCPT, 552, "5.2.2", EX_NOUSER },
	{ PH_RCPT, 552, "5.2.2", EX_NOUSER },
	{ PH_RCPT, 550, "5.2.1", EX_NOUSER },
	{ PH_DATA_END, 552, "5.2.3", EX_DATAERR },
	/* X.3.4 and X.6.x: the message; other X.3.x: the mail system */
	{ PH_MAIL, 552, "5.3.4", EX_DATAERR },
	{ PH_RCPT, 552, "5.3.4", EX_DATAERR },
	{ PH_DATA_END, 554, "5.6.0", EX_DATAERR },
	{ PH_DATA_END, 550, "5.6.3", EX_DATAERR },
	{ PH_DATA_END, 554, "5.3.0", EX_UNAVAILABLE },
	{ PH_RCPT, 552, "5.3.1", EX_UNAVAILABLE },
	/* X.7.x: policy 69, authentication 77 */
	{ PH_RCPT, 554, "5.7.1", EX_UNAVAILABLE },
	{ PH_DATA_END, 550, "5.7.1", EX_UNAVAILABLE },
	{ PH_MAIL, 530, "5.7.0", EX_NOPERM },
	{ PH_MAIL, 530, "", EX_NOPERM },
	{ PH_MAIL, 550, "5.7.30", EX_NOPERM },
	{ PH_RCPT, 554, "5.7.8", EX_NOPERM },
	/* no enhanced code, or one that says nothing more: the phase */
	{ PH_RCPT, 550, "", EX_NOUSER },
	{ PH_RCPT, 550, NULL, EX_NOUSER },
	{ PH_RCPT, 552, "", EX_TEMPFAIL },
	{ PH_RCPT, 552, "5.5.3", EX_TEMPFAIL },
	{ PH_RCPT, 550, "5.5.1", EX_NOUSER },
	{ PH_MAIL, 550, "", EX_UNAVAILABLE },
	{ PH_MAIL, 552, "", EX_DATAERR },
	{ PH_DATA, 554, "5.5.1", EX_UNAVAILABLE },
	{ PH_DATA_END, 552, "", EX_DATAERR },
	{ PH_DATA_END, 554, "5.0.0", EX_UNAVAILABLE },
	{ PH_DATA_END, 550, "5.4.6", EX_UNAVAILABLE },
	{ PH_LMTP_RCPT, 552, "", EX_DATAERR },
	{ PH_LMTP_RCPT, 550, "", EX_NOUSER },
};

int main(void)
{
	static const char *phases[] = { "greeting", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT",
	                                "DATA", "after data", "LMTP RCPT", "QUIT" };
	for (size_t i = 0; i < NELEM(cases); i++) {
		int got = status_from_reply(cases[i].ph, cases[i].code, cases[i].enh);
		if (got != cases[i].ex)
			fail("got %s, want %s", status_name(got), status_name(cases[i].ex));
		reportf(got != cases[i].ex, "%s %d %s -> %s", phases[cases[i].ph], cases[i].code,
		        cases[i].enh ? cases[i].enh : "(null)", status_name(cases[i].ex));
	}
	return tap_done();
}
