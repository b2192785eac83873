/* The password policy (NIST SP 800-63B rev. 4, §3.1.1), checked wherever
 * a password is set, with the same reasons everywhere. */
#ifndef TS_AUTH_POLICY_H
#define TS_AUTH_POLICY_H

#include <stddef.h>
#include "core/err.h"
#include "store/store.h"

#define TS_PW_MAX_BYTES 1024
#define TS_PW_MIN_SINGLE 15          /* the password is the only factor */
#define TS_PW_MIN_MFA 8              /* the tenant requires a second factor */

/* X(name, word): the word is details.reason in the faces. */
#define TS_PW_REASON_TABLE(X)                                                \
	X(TS_PW_OK, "ok")                                                    \
	X(TS_PW_TOO_SHORT, "too_short")                                      \
	X(TS_PW_TOO_LONG, "too_long")                                        \
	X(TS_PW_COMMON, "common")                                            \
	X(TS_PW_CONTEXT, "context")

typedef enum {
#define TS_PW_REASON_ENUM(name, word) name,
	TS_PW_REASON_TABLE(TS_PW_REASON_ENUM)
#undef TS_PW_REASON_ENUM
} ts_pw_reason;

const char *ts_pw_reason_word(ts_pw_reason r);

/* The shortest password tenant t accepts, in characters. */
int ts_password_min_length(const ts_tenant *t);

/* TS_OK, or TS_E_PASSWORD_POLICY with *why set; TS_E_INVALID when pw is
 * not UTF-8 (*why TS_PW_OK); TS_E_NOMEM. email: the account's address (its
 * local part, the pieces of it and the labels of its domain are context
 * words, from 4 characters on), may be NULL; t may be NULL (the strictest
 * defaults; its slug and the slug's pieces are context words too). pw is
 * pw_len bytes of UTF-8 as the user typed it; lengths count code points of
 * its NFKC form, the list and the words compare case-folded (policy.c). */
ts_err ts_password_check(const ts_tenant *t, const char *email, const char *pw, size_t pw_len,
                         ts_pw_reason *why);

#endif
