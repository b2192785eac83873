/* Operations commands: `config check`, `db backup` / `db restore`,
 * `keys export` / `keys import` (docs/OPERATIONS.md). Each goes through
 * the store's and the engine's functions; this file only reads arguments
 * and says what happened. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_internal.h"
#include "core/log.h"
#include "core/util.h"

/* RFC 3986 §2.1: percent-encodes s for a URI query value. */
static char *
pct_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

char *
ts_cli_dsn(const ts_config *c)
{
	char *dsn = NULL, *enc;
	int pg = !strncmp(c->db, "postgres://", 11) || !strncmp(c->db, "postgresql://", 13);

	if (!*c->db_password)
		return strdup(c->db);
	if (!pg) {
		fail("--db-password applies to a postgres:// --db only");
		return NULL;
	}
	/* libpq reads a URI's query parameters as keywords (password=). */
	if (!(enc = pct_encode(c->db_password)))
		return NULL;
	if (asprintf(&dsn, "%s%spassword=%s", c->db, strchr(c->db, '?') ? "&" : "?", enc) < 0)
		dsn = NULL;
	ts_wipe(enc, strlen(enc));
	free(enc);
	return dsn;
}

/* ---- config check ---- */

/* Settings whose check needs more than one value. */
static int
check_combined(const ts_config *c, const char *file)
{
	int bad = 0;

	if (*c->db_password && strncmp(c->db, "postgres://", 11) && strncmp(c->db, "postgresql://", 13)) {
		fprintf(stderr, "tessera: %s: db_password is set but db is not a postgres:// URL\n",
		        file ? file : "settings");
		bad++;
	}
	if (*c->smtp_password && !*c->smtp_url) {
		fprintf(stderr, "tessera: %s: smtp_password is set but smtp_url is empty (no mail)\n",
		        file ? file : "settings");
		bad++;
	}
	return bad;
}

/* The file (every line, every error), then the environment and the flags
 * as any command reads them; then the effective settings on stdout. */
int
ts_cmd_config_check(cli_opts *o)
{
	char err[400];
	int nerr = 0;

	if (o->npos != 0)
		return fail("usage: tessera config check [--config FILE]");
	if (o->config_file) {
		fflush(stdout);
		/* Each error as "FILE:LINE: reason", prefixed like every other. */
		char *buf = NULL;
		size_t len = 0;
		FILE *errs = open_memstream(&buf, &len);
		if (!errs)
			return fail("out of memory");
		nerr = ts_config_check_file(&o->cfg, o->config_file, errs);
		fclose(errs);
		for (char *line = buf, *nl; line && *line; line = nl + 1) {
			if (!(nl = strchr(line, '\n')))
				break;
			fprintf(stderr, "tessera: %.*s\n", (int)(nl - line), line);
		}
		free(buf);
		if (nerr < 0)
			return 1;
	}
	if (ts_config_load_env(&o->cfg, err, sizeof(err))) {
		fprintf(stderr, "tessera: %s\n", err);
		nerr++;
	} else if (ts_cli_parse_flags(o, o->argc, o->argv, o->first)) {
		nerr++;
	}
	if (o->npos != 0)
		return fail("usage: tessera config check [--config FILE]");
	nerr += check_combined(&o->cfg, o->config_file);
	if (nerr > 0)
		return fail("%d error%s%s%s", nerr, nerr == 1 ? "" : "s", o->config_file ? " in " : "",
		            o->config_file ? o->config_file : "");
	printf("# effective settings (%s%s, environment, flags); secrets redacted\n",
	       o->config_file ? "file " : "no file", o->config_file ? o->config_file : "");
	ts_config_print(stdout, &o->cfg);
	return 0;
}

/* ---- db backup / restore ---- */

static int
no_file_store(const ts_store *s, const char *what)
{
	return fail("db %s: a %s store is not a file; use %s (docs/OPERATIONS.md, "
	            "\"Backup and restore\")", what, s->ops->scheme,
	            strcmp(what, "backup") == 0 ? "pg_dump -Fc" : "pg_restore");
}

/* Where the key file would be: a backup is useless without it. */
static void
key_file_note(const cli_opts *o, ts_store *s)
{
	if (*o->cfg.key_file)
		fprintf(stderr, "tessera: keep the key file %s with the backup (apart from it): "
		        "without it the signing keys and TOTP secrets do not open\n", o->cfg.key_file);
	else
		fprintf(stderr, "tessera: keep the key file %s.key with the backup (apart from it): "
		        "without it the signing keys and TOTP secrets do not open\n",
		        s->ops->location(s));
}

int
ts_cmd_db_backup(cli_opts *o)
{
	ts_store *s = NULL;
	char why[512] = "";
	ts_err r;

	if (o->npos != 1)
		return fail("usage: tessera db backup FILE");
	if (open_store(o, &s))
		return 1;
	if (!s->ops->backup) {
		no_file_store(s, "backup");
		ts_store_close(s);
		return 1;
	}
	r = s->ops->backup(s, o->pos[0], why, sizeof(why));
	if (r == TS_OK) {
		printf("backed up %s to %s\n", s->ops->location(s), o->pos[0]);
		key_file_note(o, s);
	}
	ts_store_close(s);
	return r == TS_OK ? 0 : fail("db backup: %s", why);
}

int
ts_cmd_db_restore(cli_opts *o)
{
	ts_store *s = NULL;
	char why[512] = "";
	long holder = 0;
	int cur = 0, latest = 0;
	ts_err r;

	if (o->npos != 1)
		return fail("usage: tessera db restore FILE");
	if (access(o->pos[0], R_OK) != 0)
		return fail("db restore: %s: %s", o->pos[0], strerror(errno));
	if (open_store(o, &s))
		return 1;
	if (!s->ops->restore) {
		no_file_store(s, "restore");
		ts_store_close(s);
		return 1;
	}
	r = s->ops->restore(s, o->pos[0], &holder, why, sizeof(why));
	ts_store_close(s);
	s = NULL;
	if (r != TS_OK)
		return fail("db restore: %s", why);
	/* Opened again to migrate a copy from an older build. */
	o->mode = TS_STORE_EXISTING;
	if (open_store(o, &s))
		return 1;
	r = s->ops->schema_status(s, &cur, &latest);
	printf("restored %s from %s (schema %d)\n", s->ops->location(s), o->pos[0], cur);
	/* The copy's secrets open only with the key file they were sealed
	 * with: name it by its id, which the next start checks. */
	char kek_id[TS_KEK_ID_LEN + 1] = "";
	if (r == TS_OK && ts_admin_sealed_kek_id(s, kek_id) == TS_OK && *kek_id)
		fprintf(stderr, "tessera: its signing keys are sealed under key id %s: start with "
		        "that key file\n", kek_id);
	ts_store_close(s);
	return r == TS_OK ? 0 : fail("cannot read the schema version: %s", ts_strerror(r));
}

/* ---- keys export / import ---- */

int
ts_cmd_keys_export(cli_opts *o)
{
	ts_store *s = NULL;
	ts_kek kek;
	FILE *f = NULL;
	int fd = -1, n = 0, rc = 1;
	ts_err r;

	if (o->npos != 1)
		return fail("usage: tessera keys export FILE");
	if (open_store(o, &s))
		return 1;
	/* The key file is opened (and checked against the database) so what
	 * is exported is known to open with it. */
	if (open_kek(o, s, &kek))
		goto out;
	ts_kek_wipe(&kek);
	if ((fd = open(o->pos[0], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    !(f = fdopen(fd, "w"))) {
		fail("keys export: %s: %s", o->pos[0], strerror(errno));
		goto out;
	}
	fd = -1;
	r = ts_admin_keys_export(s, f, &n);
	if (fclose(f) != 0 && r == TS_OK)
		r = TS_E_INTERNAL;
	f = NULL;
	if (r != TS_OK) {
		unlink(o->pos[0]);
		fail("keys export: %s", ts_strerror(r));
		goto out;
	}
	printf("exported %d signing key%s to %s\n", n, n == 1 ? "" : "s", o->pos[0]);
	fprintf(stderr, "tessera: the keys stay sealed: importing them needs this installation's "
	        "key file too (keys import --from-key-file)\n");
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	ts_store_close(s);
	return rc;
}

int
ts_cmd_keys_import(cli_opts *o)
{
	ts_store *s = NULL;
	ts_kek to, from;
	char err[512];
	FILE *f = NULL;
	int added = 0, present = 0, line = 0, rc = 1, have_from = 0;
	ts_err r;

	if (o->npos != 1)
		return fail("usage: tessera keys import FILE [--from-key-file FILE]");
	if (!(f = fopen(o->pos[0], "r")))
		return fail("keys import: %s: %s", o->pos[0], strerror(errno));
	if (o->from_key_file) {
		if (ts_kek_load(o->from_key_file, 0, &from, NULL, err, sizeof(err)) != TS_OK) {
			fclose(f);
			return fail("--from-key-file: %s", err);
		}
		have_from = 1;
	}
	if (open_store(o, &s))
		goto out;
	if (open_kek(o, s, &to))
		goto out;
	r = ts_admin_keys_import(s, &to, have_from ? &from : NULL, f, &added, &present, &line);
	ts_kek_wipe(&to);
	if (r == TS_E_SEAL)
		fail("keys import: %s:%d: the key is sealed under another key file: give the exporting "
		     "installation's with --from-key-file (or that one does not open it); nothing imported",
		     o->pos[0], line);
	else if (r == TS_E_INVALID)
		fail("keys import: %s:%d: not a line of a tessera keys export; nothing imported",
		     o->pos[0], line);
	else if (r != TS_OK)
		fail("keys import: %s", ts_strerror(r));
	else {
		printf("imported %d signing key%s (%d present already)\n", added, added == 1 ? "" : "s",
		       present);
		rc = 0;
	}
out:
	if (have_from)
		ts_kek_wipe(&from);
	fclose(f);
	ts_store_close(s);
	return rc;
}
