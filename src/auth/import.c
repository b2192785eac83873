/* The import engine (import.h): validate everything, then insert in
 * batches. Duplicates inside the input are found with a sorted array of
 * address digests (24 bytes a line: 24 MB for a million users), never by
 * holding the records themselves. */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auth/auth_internal.h"
#include "auth/import.h"
#include "core/log.h"
#include "core/util.h"
#include "crypto/password.h"

typedef struct seen {
	unsigned char d[16];         /* BLAKE2b-128 of email_norm */
	long line;
} seen;

typedef struct pass1 {
	seen *v;
	size_t n, cap;
	long *bad;                   /* bad line numbers, ascending */
	size_t nbad, capbad;
} pass1;

void
ts_import_report_free(ts_import_report *r)
{
	if (!r)
		return;
	free(r->errors);
	memset(r, 0, sizeof(*r));
}

static ts_err
grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return TS_OK;
	size_t nc = *cap ? *cap * 2 : 1024;
	while (nc < need)
		nc *= 2;
	void *q = realloc(*p, nc * size);
	if (!q)
		return TS_E_NOMEM;
	*p = q;
	*cap = nc;
	return TS_OK;
}

/* Records a refused line (in order of lines within each pass). */
static ts_err
refuse(ts_import_report *out, pass1 *p, long line, const char *reason, long other)
{
	ts_err r;

	out->bad++;
	if (p) {
		if ((r = grow((void **)&p->bad, &p->capbad, p->nbad + 1, sizeof(long))) != TS_OK)
			return r;
		p->bad[p->nbad++] = line;
	}
	if (out->n_errors >= TS_IMPORT_ERRORS_MAX)
		return TS_OK;
	if (!out->errors &&
	    !(out->errors = calloc(TS_IMPORT_ERRORS_MAX, sizeof(*out->errors))))
		return TS_E_NOMEM;
	out->errors[out->n_errors++] = (ts_import_err){ line, reason, other };
	return TS_OK;
}

static int
seen_cmp(const void *a, const void *b)
{
	const seen *x = a, *y = b;
	int c = memcmp(x->d, y->d, sizeof(x->d));

	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int
err_cmp(const void *a, const void *b)
{
	const ts_import_err *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

static int
long_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

/* The checks of one record that need no other line. */
static const char *
check_rec(const ts_import_rec *rec, char norm[TS_EMAIL_MAX + 1])
{
	const char *why;

	if (!rec->email || !ts_email_valid(rec->email) || !ts_email_norm(rec->email, norm))
		return "invalid_email";
	if (rec->password_hash && *rec->password_hash &&
	    ts_pw_hash_check(rec->password_hash, &why) != TS_OK)
		return why;
	if (rec->created_at < 0)
		return "invalid_field";
	return NULL;
}

/* Pass 1: every line checked; *good gets the records that pass. */
static ts_err
validate(ts_store *s, const ts_tenant *t, const ts_import_src *src, pass1 *p,
         ts_import_report *out, long *good)
{
	char norm[TS_EMAIL_MAX + 1];
	ts_import_rec rec;
	const char *why;
	long line = 0;
	ts_user u;
	ts_err r;
	int got;

	*good = 0;
	while ((got = src->next(src->arg, &line, &rec, &why)) != 0) {
		if (got == -2)
			return TS_E_INTERNAL;
		out->lines++;
		if (got < 0 || (why = check_rec(&rec, norm)) != NULL) {
			if ((r = refuse(out, p, line, why, 0)) != TS_OK)
				return r;
			continue;
		}
		r = s->ops->user_by_email(s, t->id, norm, &u);
		ts_wipe(u.password_hash, sizeof(u.password_hash));
		if (r == TS_OK) {
			if ((r = refuse(out, p, line, "email_exists", 0)) != TS_OK)
				return r;
			continue;
		}
		if (r != TS_E_NOT_FOUND)
			return r;
		if ((r = grow((void **)&p->v, &p->cap, p->n + 1, sizeof(seen))) != TS_OK)
			return r;
		crypto_generichash(p->v[p->n].d, sizeof(p->v[p->n].d), (const unsigned char *)norm,
		                   strlen(norm), NULL, 0);
		p->v[p->n++].line = line;
		(*good)++;
	}
	/* Equal digests sort together, earliest line first: each later one
	 * is a duplicate of the first. */
	if (p->n > 1)
		qsort(p->v, p->n, sizeof(seen), seen_cmp);
	for (size_t i = 1; i < p->n; i++) {
		size_t first = i - 1;
		while (i < p->n && memcmp(p->v[i].d, p->v[first].d, sizeof(p->v[i].d)) == 0) {
			if ((r = refuse(out, p, p->v[i].line, "duplicate_email", p->v[first].line)) != TS_OK)
				return r;
			(*good)--;
			i++;
		}
	}
	if (p->nbad > 1)
		qsort(p->bad, p->nbad, sizeof(long), long_cmp);
	if (out->errors)
		qsort(out->errors, (size_t)out->n_errors, sizeof(*out->errors), err_cmp);
	return TS_OK;
}

static int
is_bad(const pass1 *p, long line)
{
	return p->nbad > 0 && bsearch(&line, p->bad, p->nbad, sizeof(long), long_cmp) != NULL;
}

/* One batch in; rows taken since pass 1 become "email_exists". */
static ts_err
flush(ts_store *s, ts_user *batch, const long *lines, int n, ts_import_report *out)
{
	unsigned char taken[TS_USER_BATCH_MAX];
	int created = 0;
	ts_err r = s->ops->user_create_many(s, batch, n, taken, &created);

	for (int i = 0; i < n; i++)
		ts_wipe(batch[i].password_hash, sizeof(batch[i].password_hash));
	if (r != TS_OK)
		return r;
	out->imported += created;
	for (int i = 0; i < n; i++)
		if (taken[i] && (r = refuse(out, NULL, lines[i], "email_exists", 0)) != TS_OK)
			return r;
	return TS_OK;
}

/* Pass 2: the good records, in batches. */
static ts_err
insert(ts_store *s, const ts_tenant *t, const ts_import_src *src, const pass1 *p, long total,
       ts_import_progress progress, void *parg, ts_import_report *out)
{
	ts_user *batch = calloc(TS_USER_BATCH_MAX, sizeof(*batch));
	long lines[TS_USER_BATCH_MAX], line = 0, done = 0;
	int64_t now = ts_now();
	ts_import_rec rec;
	const char *why;
	int n = 0, got;
	ts_err r = TS_OK;

	if (!batch)
		return TS_E_NOMEM;
	if (progress)
		progress(parg, 0, total);
	while ((got = src->next(src->arg, &line, &rec, &why)) != 0) {
		if (got == -2) {
			r = TS_E_INTERNAL;
			goto out;
		}
		if (got < 0 || is_bad(p, line))
			continue;
		ts_user *u = &batch[n];
		memset(u, 0, sizeof(*u));
		ts_uuid4(u->id);
		ts_strlcpy(u->tenant_id, t->id, sizeof(u->tenant_id));
		ts_strlcpy(u->email, rec.email, sizeof(u->email));
		(void)ts_email_norm(rec.email, u->email_norm);
		ts_strlcpy(u->password_hash, rec.password_hash ? rec.password_hash : "",
		           sizeof(u->password_hash));
		u->is_verified = rec.is_verified != 0;
		u->is_admin = rec.is_admin != 0;
		u->created_at = rec.created_at ? rec.created_at : now;
		lines[n++] = line;
		if (n == TS_USER_BATCH_MAX) {
			if ((r = flush(s, batch, lines, n, out)) != TS_OK)
				goto out;
			done += n;
			n = 0;
			if (progress)
				progress(parg, done, total);
		}
	}
	if (n > 0 && (r = flush(s, batch, lines, n, out)) == TS_OK) {
		done += n;
		if (progress)
			progress(parg, done, total);
	}
out:
	free(batch);
	return r;
}

ts_err
ts_import_users(ts_store *s, const ts_tenant *t, const ts_import_src *src, int skip_bad,
                ts_import_progress progress, void *parg, ts_import_report *out)
{
	pass1 p = { 0 };
	long good = 0;
	int n_before;
	ts_err r;

	memset(out, 0, sizeof(*out));
	if ((r = validate(s, t, src, &p, out, &good)) != TS_OK)
		goto out;
	if (out->bad > 0 && !skip_bad) {
		r = TS_E_INVALID;
		goto out;
	}
	if (src->rewind(src->arg) != 0) {
		r = TS_E_INTERNAL;
		goto out;
	}
	n_before = out->n_errors;
	r = insert(s, t, src, &p, good, progress, parg, out);
	/* Lines lost to a race come after pass 1's, in line order too. */
	if (out->n_errors > n_before)
		qsort(out->errors, (size_t)out->n_errors, sizeof(*out->errors), err_cmp);
	{
		char n_text[24], bad_text[24];
		snprintf(n_text, sizeof(n_text), "%ld", out->imported);
		snprintf(bad_text, sizeof(bad_text), "%ld", out->bad);
		ts_log_event(TS_LOG_INFO, "users_imported", "tenant", t->slug, "imported", n_text,
		             "bad_lines", bad_text, NULL);
	}
out:
	free(p.v);
	free(p.bad);
	return r;
}

ts_err
ts_auth_import_users(ts_auth *a, const ts_tenant *t, const ts_import_src *src, int skip_bad,
                     ts_import_report *out)
{
	return ts_import_users(ST(a), t, src, skip_bad, NULL, NULL, out);
}

ts_err
ts_export_users(ts_store *s, const ts_tenant *t, int (*cb)(void *arg, const ts_user *u),
                void *arg)
{
	ts_user *page = calloc(TS_USER_BATCH_MAX, sizeof(*page));
	char after[TS_EMAIL_MAX + 1] = "";
	ts_err r = TS_OK;
	int n, stop = 0;

	if (!page)
		return TS_E_NOMEM;
	do {
		if ((r = s->ops->user_page(s, t->id, after, page, TS_USER_BATCH_MAX, &n)) != TS_OK)
			break;
		for (int i = 0; i < n && !stop; i++)
			stop = cb(arg, &page[i]);
		if (n > 0)
			ts_strlcpy(after, page[n - 1].email_norm, sizeof(after));
	} while (!stop && n == TS_USER_BATCH_MAX);
	for (int i = 0; i < TS_USER_BATCH_MAX; i++)
		ts_wipe(page[i].password_hash, sizeof(page[i].password_hash));
	free(page);
	return r;
}
