/* Recovery codes as a factor: one row per user holding a set of 10
 * single-use codes (a new set replaces the old in one store transaction).
 * Each code is 12 characters of Crockford's base32 (60 random bits, shown
 * as xxxx-xxxx-xxxx); only an HMAC of it is kept (the key file's subkey,
 * with the row id: a database alone cannot test guesses). The row's data
 * is the ten hashes, comma-separated, a used one replaced by "x"; a use is
 * a compare-and-set of that text (factor_set_data), so two racing uses of
 * one code cannot both pass. A backup: offered only beside a primary
 * factor. A mail tells the user when a code was used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/auth_internal.h"
#include "auth/email.h"
#include "auth/factor.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/hash.h"

#define RC_COUNT 10
#define RC_CHARS 12              /* 12 x 5 bits = 60 bits */
#define RC_TEXT (RC_CHARS + 2)   /* with the two dashes */
#define RC_USED "x"
#define RC_SET_RETRIES 4         /* CAS rounds lost to other uses before giving up */

static const char rc_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* The code as typed, folded to its canonical 12 characters (dashes and
 * spaces dropped, case and Crockford's look-alikes folded). 0 when it
 * cannot be a code. */
static int
rc_normalize(const char *in, char out[RC_CHARS + 1])
{
	size_t n = 0;

	for (; in && *in; in++) {
		char c = *in;
		if (c == '-' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == 'o')
			c = '0';
		else if (c == 'i' || c == 'l')
			c = '1';
		if (n >= RC_CHARS || !strchr(rc_alphabet, c) || c == '\0')
			return 0;
		out[n++] = c;
	}
	out[n] = '\0';
	return n == RC_CHARS;
}

static void
rc_hash(ts_auth *a, const char *factor_id, const char code[RC_CHARS + 1], char out[TS_HASH_SZ])
{
	char msg[TS_ID_SZ + RC_CHARS + 2];
	unsigned char mac[TS_SHA256_LEN];
	int n = snprintf(msg, sizeof(msg), "%s:%s", factor_id, code);

	ts_hmac_sha256(a->recovery_key, sizeof(a->recovery_key), msg, (size_t)n, mac);
	for (size_t i = 0; i < sizeof(mac); i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	ts_wipe(msg, sizeof(msg));
	ts_wipe(mac, sizeof(mac));
}

static void
rc_new(char out[RC_CHARS + 1])
{
	unsigned char b[RC_CHARS];

	/* 32 symbols: the low 5 bits of a random byte are uniform. */
	ts_random(b, sizeof(b));
	for (int i = 0; i < RC_CHARS; i++)
		out[i] = rc_alphabet[b[i] & 31];
	out[RC_CHARS] = '\0';
	ts_wipe(b, sizeof(b));
}

/* Splits data into its RC_COUNT entries (pointers into buf). */
static int
rc_split(const char *data, char *buf, size_t cap, char *ent[RC_COUNT])
{
	int n = 0;
	char *save = NULL;

	ts_strlcpy(buf, data, cap);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == RC_COUNT)
			return 0;
		ent[n++] = t;
	}
	return n == RC_COUNT;
}

static int
rc_remaining(const char *data)
{
	char buf[TS_FACTOR_DATA_MAX], *ent[RC_COUNT];
	int left = 0;

	if (!rc_split(data, buf, sizeof(buf), ent))
		return 0;
	for (int i = 0; i < RC_COUNT; i++)
		left += strcmp(ent[i], RC_USED) != 0;
	return left;
}

typedef struct rc_find {
	ts_factor *row;
	int found;
} rc_find;

static int
rc_take(void *arg, const ts_factor *f)
{
	rc_find *x = arg;

	*x->row = *f;
	x->found = 1;
	return 1;
}

/* The user's set, into *row (heap: rows are large). TS_E_NOT_FOUND. */
static ts_err
rc_load(ts_auth *a, const ts_user *u, ts_factor *row)
{
	rc_find x = { row, 0 };
	ts_err r = SOPS(a)->factor_list(ST(a), u->id, TS_FACTOR_RECOVERY, rc_take, &x);

	if (r != TS_OK)
		return r;
	return x.found ? TS_OK : TS_E_NOT_FOUND;
}

static int
rc_usable(const ts_factor_ctx *c)
{
	ts_factor *row = malloc(sizeof(*row));
	int ok = 0;

	if (row && rc_load(c->a, c->user, row) == TS_OK)
		ok = rc_remaining(row->data) > 0;
	if (row)
		ts_wipe(row, sizeof(*row));
	free(row);
	return ok;
}

/* A new set, in force at once (the old one void); out->json gets
 * {"codes":[10 codes]}, shown this once. */
static ts_err
rc_enrol_begin(const ts_factor_ctx *c, ts_factor_blob *out)
{
	char codes[RC_COUNT][RC_CHARS + 1], h[TS_HASH_SZ];
	size_t cap = 16 + RC_COUNT * (RC_TEXT + 3), len;
	ts_factor *row;
	ts_err r = TS_E_NOMEM;

	if (!(row = calloc(1, sizeof(*row))))
		return TS_E_NOMEM;
	ts_uuid4(row->id);
	ts_strlcpy(row->tenant_id, c->user->tenant_id, sizeof(row->tenant_id));
	ts_strlcpy(row->user_id, c->user->id, sizeof(row->user_id));
	row->kind = TS_FACTOR_RECOVERY;
	row->confirmed = 1;
	row->created_at = c->now;
	for (int i = 0; i < RC_COUNT; i++) {
		rc_new(codes[i]);
		rc_hash(c->a, row->id, codes[i], h);
		len = strlen(row->data);
		snprintf(row->data + len, sizeof(row->data) - len, "%s%s", i ? "," : "", h);
	}
	if (!(out->json = malloc(cap)))
		goto out;
	len = (size_t)snprintf(out->json, cap, "{\"codes\":[");
	for (int i = 0; i < RC_COUNT; i++)
		len += (size_t)snprintf(out->json + len, cap - len, "%s\"%.4s-%.4s-%.4s\"", i ? "," : "",
		                        codes[i], codes[i] + 4, codes[i] + 8);
	snprintf(out->json + len, cap - len, "]}");
	if ((r = SOPS(c->a)->factor_replace(ST(c->a), row)) != TS_OK) {
		ts_wipe(out->json, cap);
		free(out->json);
		out->json = NULL;
	}
out:
	ts_wipe(codes, sizeof(codes));
	ts_wipe(row, sizeof(*row));
	free(row);
	return r;
}

/* Tells the user a code was spent (someone who has their password and a
 * code signed in: they should know). A failure is logged, not fatal. */
static void
rc_mail(ts_auth *a, const ts_user *u, int left)
{
	char text[512];

	if (!a->mailer)
		return;
	snprintf(text, sizeof(text),
	         "A recovery code was just used to sign in to your account.\n"
	         "%d of your recovery codes %s left.\n"
	         "\n"
	         "If this was not you, someone has your password and a recovery code:\n"
	         "change your password and make a new set of codes.\n",
	         left, left == 1 ? "is" : "are");
	if (ts_mailer_send(a->mailer, u->email, "A recovery code was used", text) != TS_OK)
		ts_log_event(TS_LOG_WARN, "recovery_mail_failed", "user", u->id, NULL);
}

/* Strikes out code i of row (compare-and-set on the whole text). */
static ts_err
rc_strike(const ts_factor_ctx *c, ts_factor *row, const char *code, int *left)
{
	char buf[TS_FACTOR_DATA_MAX], h[TS_HASH_SZ], *ent[RC_COUNT];
	char *next = NULL;
	int hit = -1;
	ts_err r;

	if (!rc_split(row->data, buf, sizeof(buf), ent))
		return TS_E_MFA_INVALID;
	rc_hash(c->a, row->id, code, h);
	/* Every entry is compared, in constant time, whichever matches. */
	for (int i = 0; i < RC_COUNT; i++)
		if (strlen(ent[i]) == TS_SECRET_HASH_LEN && ts_ct_eq(ent[i], h, TS_SECRET_HASH_LEN))
			hit = i;
	ts_wipe(h, sizeof(h));
	if (hit < 0)
		return TS_E_MFA_INVALID;
	if (!(next = calloc(1, TS_FACTOR_DATA_MAX)))
		return TS_E_NOMEM;
	*left = 0;
	for (int i = 0; i < RC_COUNT; i++) {
		size_t len = strlen(next);
		const char *e = i == hit ? RC_USED : ent[i];
		snprintf(next + len, TS_FACTOR_DATA_MAX - len, "%s%s", i ? "," : "", e);
		*left += strcmp(e, RC_USED) != 0;
	}
	r = SOPS(c->a)->factor_set_data(ST(c->a), row->id, row->data, next, c->now);
	free(next);
	return r;
}

static ts_err
rc_verify(const ts_factor_ctx *c, const ts_factor_answer *ans, ts_factor *used)
{
	char code[RC_CHARS + 1];
	ts_factor *row;
	int left = 0;
	ts_err r = TS_E_MFA_INVALID;

	if (!ans->code || !rc_normalize(ans->code, code))
		return TS_E_MFA_INVALID;
	if (!(row = malloc(sizeof(*row))))
		return TS_E_NOMEM;
	/* Lost compare-and-sets are other codes used meanwhile: re-read and
	 * judge again (a code used meanwhile is struck by then). */
	for (int round = 0; round < RC_SET_RETRIES; round++) {
		if ((r = rc_load(c->a, c->user, row)) != TS_OK) {
			r = r == TS_E_NOT_FOUND ? TS_E_MFA_INVALID : r;
			break;
		}
		if ((r = rc_strike(c, row, code, &left)) != TS_E_NOT_FOUND)
			break;
		r = TS_E_MFA_INVALID;
	}
	if (r == TS_OK) {
		ts_audit(c->a, "recovery_code_used", "user", c->user->id, TS_LOG_INT("left", left),
		         NULL);
		rc_mail(c->a, c->user, left);
		if (used)
			*used = *row;
	}
	ts_wipe(code, sizeof(code));
	ts_wipe(row, sizeof(*row));
	free(row);
	return r;
}

static void
rc_describe(const ts_factor *row, ts_factor_info *out)
{
	if (!row->name[0])
		ts_strlcpy(out->name, "Recovery codes", sizeof(out->name));
	out->remaining = rc_remaining(row->data);
}

const ts_factor_ops ts_factor_recovery = {
	.kind = TS_FACTOR_RECOVERY,
	/* RFC 8176 has no value for a look-up secret (NIST SP 800-63B
	 * §5.1.2); a single-use code from a list is a one-time password. */
	.name = "recovery_code",
	.amr = "otp",
	.flags = TS_FACTOR_F_BACKUP | TS_FACTOR_F_SLOW,   /* it mails the owner */
	.usable = rc_usable,
	.enrol_begin = rc_enrol_begin,
	.verify = rc_verify,
	.describe = rc_describe,
};
