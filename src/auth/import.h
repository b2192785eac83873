/* Importing users from other systems with their existing password hashes
 * (docs/ADMIN.md "Import and export"). The engine validates every line
 * first and inserts only then, so an import is all or nothing unless the
 * caller asks to skip bad lines. It knows no file format: a source gives
 * it one record per line (the JSON Lines codec is src/api/jsonl.c). */
#ifndef TS_AUTH_IMPORT_H
#define TS_AUTH_IMPORT_H

#include <stdint.h>
#include "core/err.h"
#include "store/store.h"

typedef struct ts_import_rec {
	const char *email;           /* as given */
	const char *password_hash;   /* NULL: the user has no password yet */
	int is_verified;
	int is_admin;
	int64_t created_at;          /* 0: the time of the import */
} ts_import_rec;

/* A source of records read twice (validate, then insert). next returns 1
 * with *line (1-based, of the source) and *rec set (valid until the next
 * call), 0 at the end, -1 for a line that is no record (*line and *why, a
 * static string, set; the import goes on), -2 on a read error (the import
 * stops: TS_E_INTERNAL). rewind returns 0, or -1 when the source cannot be
 * read again. */
typedef struct ts_import_src {
	int (*next)(void *arg, long *line, ts_import_rec *rec, const char **why);
	int (*rewind)(void *arg);
	void *arg;
} ts_import_src;

/* One refused line. reason: a static word (below); other: for
 * "duplicate_email", the earlier line with the same address, else 0. */
typedef struct ts_import_err {
	long line;
	const char *reason;
	long other;
} ts_import_err;

/* Reasons: the source's ("invalid_json", "not_an_object", "unknown_field",
 * "invalid_field", "line_too_long"...), and "invalid_email",
 * "duplicate_email" (twice in the input), "email_exists" (in the tenant
 * already), "unknown_hash_format", "malformed_hash", "hash_cost_too_high". */
#define TS_IMPORT_ERRORS_MAX 1000    /* kept in detail; all are counted */

typedef struct ts_import_report {
	long lines;                  /* records and bad lines seen */
	long imported;               /* users created */
	long bad;                    /* lines refused */
	ts_import_err *errors;       /* the first TS_IMPORT_ERRORS_MAX, by line;
	                              * free with ts_import_report_free */
	int n_errors;
} ts_import_report;

/* Called after each batch of the insert pass (and once before it, done 0)
 * with the records inserted or skipped so far and the total to insert. */
typedef void (*ts_import_progress)(void *arg, long done, long total);

/* Imports src into tenant t. Pass 1 checks every record (address, hash
 * format and cost bounds, duplicates in the input and in the tenant);
 * with a bad line and !skip_bad it stops there: TS_E_INVALID, nothing
 * imported, every bad line in out. Pass 2 inserts the good records in
 * batches of TS_USER_BATCH_MAX, one transaction each (user_create_many);
 * an address taken meanwhile is reported as "email_exists". TS_OK (with
 * skip_bad, bad lines are in out and were skipped); TS_E_INTERNAL when
 * the source failed; store errors (then out->imported tells how many
 * batches went in). progress may be NULL. */
ts_err ts_import_users(ts_store *s, const ts_tenant *t, const ts_import_src *src, int skip_bad,
                       ts_import_progress progress, void *parg, ts_import_report *out);
void ts_import_report_free(ts_import_report *r);
/* The same on the engine's store (for the admin face, which holds a
 * ts_auth, not a store). */
typedef struct ts_auth ts_auth;
ts_err ts_auth_import_users(ts_auth *a, const ts_tenant *t, const ts_import_src *src,
                            int skip_bad, ts_import_report *out);

/* Each user of tenant t in email_norm order, pages of TS_USER_BATCH_MAX;
 * cb's non-zero return stops (TS_OK). The hash passed is the stored one. */
ts_err ts_export_users(ts_store *s, const ts_tenant *t,
                       int (*cb)(void *arg, const ts_user *u), void *arg);

#endif
