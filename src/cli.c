/* The `tessera` command line: serve, and the administration commands. Every
 * command accepts every setting (flags, TESSERA_* variables, --config FILE,
 * so one file serves all); its --help lists the ones it uses. Settings are
 * checked as they are read, before any command opens a store or a socket.
 * A command that succeeds says what it did in one line on stdout (those
 * that create something print just the new id, for scripts). */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "api/api.h"
#include "api/jsonl.h"
#include "auth/account.h"
#include "auth/auth.h"
#include "auth/import.h"
#include "auth/policy.h"
#include "auth/factor.h"
#include "cli.h"
#include "cli_internal.h"
#include "config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "crypto/hash.h"
#include "http/http.h"
#include "store/store.h"

#ifndef TS_VERSION
#define TS_VERSION "unknown"
#endif


/* One clear line on stderr and a non-zero exit code. */
int
ts_cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("tessera: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Opens --db in the command's mode. A missing database is an error for
 * every command but serve and tenant add: a mistyped path must not turn
 * into an empty store (the message names the resolved path). */
int
ts_cli_open_store(const cli_opts *o, ts_store **s)
{
	char db[1024], *dsn = ts_cli_dsn(&o->cfg);
	ts_err r;

	if (!dsn)
		return 1;
	r = ts_store_open_mode(dsn, o->mode, s);
	ts_wipe(dsn, strlen(dsn));
	free(dsn);

	/* The DSN may hold a password: never echoed. */
	ts_store_redact(o->cfg.db, db, sizeof db);
	if (r == TS_E_NOT_FOUND && o->mode != TS_STORE_CREATE)
		return fail("%s (--db %s); only 'tessera serve', 'tessera tenant add' and "
		            "'tessera db migrate' create one", ts_store_open_error(), db);
	if (r != TS_OK)
		return fail("cannot open store %s: %s", db, ts_store_open_error());
	return 0;
}

/* The key file's key (crypto/seal.h): --key-file, or beside a SQLite
 * database. A missing file is made (0600, 32 random bytes) only while no
 * signing key is sealed yet: a lost or mistyped key file must not be
 * replaced by a new one that opens nothing. */
int
ts_cli_open_kek(const cli_opts *o, ts_store *s, ts_kek *k)
{
	char path[4096], err[512], found[TS_KEK_ID_LEN + 1] = "";
	int created = 0;
	ts_err r;

	if (*o->cfg.key_file) {
		ts_strlcpy(path, o->cfg.key_file, sizeof(path));
	} else if (strcmp(s->ops->scheme, "sqlite") == 0) {
		if (snprintf(path, sizeof(path), "%s.key", s->ops->location(s)) >= (int)sizeof(path))
			return fail("database path too long for a key file beside it; set --key-file");
	} else {
		return fail("--key-file is required with a %s store (it seals the signing keys "
		            "and TOTP secrets; make one with: head -c 32 /dev/urandom > FILE; "
		            "chmod 600 FILE)", s->ops->scheme);
	}
	r = ts_kek_load(path, 0, k, NULL, err, sizeof(err));
	if (r == TS_E_NOT_FOUND) {
		if ((r = ts_admin_sealed_kek_id(s, found)) != TS_OK)
			return fail("cannot read signing keys: %s", ts_strerror(r));
		if (*found)
			return fail("key file %s is missing, and this database's signing keys are "
			            "sealed under key id %s: start with the key file they were sealed "
			            "with (--key-file)", path, found);
		r = ts_kek_load(path, 1, k, &created, err, sizeof(err));
	}
	if (r != TS_OK)
		return fail("%s", err);
	if (created)
		ts_log_event(TS_LOG_INFO, "key_file_created", "path", path, "key_id", k->id, NULL);
	/* Like the database (sqlite_pool.c): the operator's file, told, not
	 * chmodded. */
	struct stat st;
	if (!created && stat(path, &st) == 0 && (st.st_mode & 077)) {
		char mode[8];
		snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
		ts_log_event(TS_LOG_WARN, "key_file_permissions", "path", path, "mode", mode,
		             "hint", "the key file opens every signing key: chmod 600 it", NULL);
	}
	if ((r = ts_admin_seal_at_rest(s, k, found)) == TS_E_SEAL) {
		char id[TS_KEK_ID_LEN + 1];
		ts_strlcpy(id, k->id, sizeof(id));
		ts_kek_wipe(k);
		if (strcmp(found, id) == 0 || !*found)
			return fail("key file %s does not open this database's signing keys "
			            "(a sealed key was changed); refusing to start", path);
		return fail("key file %s (key id %s) is not the one this database's secrets are "
		            "sealed with (key id %s); refusing to start: use the right --key-file",
		            path, id, found);
	}
	if (r != TS_OK) {
		ts_kek_wipe(k);
		return fail("cannot seal secrets at rest: %s", ts_strerror(r));
	}
	return 0;
}

static ts_pw_cost
pw_cost(const ts_config *c)
{
	return (ts_pw_cost){ (uint64_t)c->pw_opslimit, (size_t)c->pw_memlimit_kib * 1024u };
}

static int read_password(char *buf, size_t cap, size_t *len);

/* For cli_admin.c (cli_internal.h). */
int
cli_open_store(const cli_opts *o, ts_store **s)
{
	return open_store(o, s);
}

ts_pw_cost
cli_pw_cost(const ts_config *c)
{
	return pw_cost(c);
}

int
cli_read_password(char *buf, size_t cap, size_t *len)
{
	return read_password(buf, cap, len);
}

static int
alg_of(const ts_config *c, ts_alg *alg)
{
	int a = ts_alg_parse(c->jwt_alg);

	if (a < 0)
		return fail("jwt-alg: '%s' is not ES256 or EdDSA", c->jwt_alg);
	*alg = (ts_alg)a;
	return 0;
}

/* Reads one line of at most cap - 1 bytes from f into buf (NUL bytes kept,
 * so *len counts them), stopping after a LF. 1 when it read something, 0
 * at once on end of input; -1 when the line does not fit. */
static int
read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
	int c = EOF;

	*len = 0;
	while (*len < cap - 1 && (c = getc(f)) != EOF) {
		buf[(*len)++] = (char)c;
		if (c == '\n')
			break;
	}
	if (*len == cap - 1 && c != '\n' && getc(f) != EOF)
		return -1;
	return *len > 0;
}

/* One final LF or CRLF is the line end; any other CR, LF or NUL is an
 * error rather than a place to cut, since a password silently shortened
 * ("abcdefgh\rijklmnop" stored as "abcdefgh") is not the one chosen. */
static int
password_line(char *buf, size_t *len)
{
	size_t n = *len;

	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r' && n < *len)
		n--;
	if (memchr(buf, '\0', n))
		return fail("the password contains a NUL byte: refused, not cut short");
	if (memchr(buf, '\r', n))
		return fail("the password contains a carriage return (CR): refused, not cut short");
	if (memchr(buf, '\n', n))
		return fail("the password is more than one line: give one line on standard input");
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* Reads the password from stdin: a pipe gives all of its input, which
 * must be one line; a terminal asks twice with echo off. The password
 * never comes from argv, where any user can read it in /proc. buf holds
 * cap >= TS_PASSWORD_MAX + 3 bytes; caller wipes it. */
static int
read_password(char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	char again[TS_PASSWORD_MAX + 3];
	size_t alen = 0;
	int tty = isatty(STDIN_FILENO), got, rc = 1;

	if (tty) {
		/* Echo off (dropping type-ahead) before the prompt, as getpass. */
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		fputs("Password: ", stderr);
	}
	got = read_line(stdin, buf, cap, len);
	if (got == 1 && !tty) {
		/* A pipe: whatever follows the first line is part of the input. */
		size_t more = 0;
		if (*len < cap - 1 && buf[*len - 1] == '\n')
			got = read_line(stdin, buf + *len, cap - *len, &more) < 0 ? -1 : 1;
		*len += more;
	}
	if (tty && got == 1) {
		fputs("\nAgain: ", stderr);
		if (read_line(stdin, again, sizeof(again), &alen) != 1) {
			fail("no password typed the second time");
			got = -2;
		} else if (password_line(again, &alen)) {
			got = -2;
		}
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (got == 0)
		fail("no password on standard input");
	else if (got == -1)
		fail("password longer than %d bytes", TS_PASSWORD_MAX);
	else if (got == 1 && password_line(buf, len) == 0) {
		if (tty && (alen != *len || !ts_ct_eq(buf, again, alen)))
			fail("the two passwords differ");
		else
			rc = 0;
	}
	ts_wipe(again, sizeof(again));
	return rc;
}

/* ---- tenant ---- */

/* Says which part of a tenant add clashed: the slug or which domain. */
static int
tenant_conflict(ts_store *s, const cli_opts *o)
{
	char h[TS_HOST_MAX + 1];
	ts_tenant t;

	if (s->ops->tenant_by_slug(s, o->pos[0], &t) == TS_OK)
		return fail("tenant %s exists already; nothing was added", o->pos[0]);
	for (int i = 0; i < o->ndomains; i++)
		if (ts_admin_host_normal(o->domains[i], h) == TS_OK &&
		    s->ops->tenant_by_domain(s, h, &t) == TS_OK)
			return fail("domain %s belongs to tenant %s; nothing was added", h, t.slug);
	return fail("a domain is given twice; nothing was added");
}

static int
cmd_tenant_add(cli_opts *o)
{
	ts_store *s = NULL;
	ts_tenant t;
	ts_err r;
	int rc = 1, bad = -1;

	if (o->npos != 1)
		return fail("usage: tessera tenant add SLUG [--domain HOST]...");
	/* Checked before anything is created, so a typo leaves no tenant. */
	for (int i = 0; i < o->norigins; i++) {
		char norm[TS_ORIGIN_MAX + 1];
		if (!ts_origin_normalize(o->origins[i], norm))
			return fail("'%s' is not an origin: use http(s)://host[:port], no path",
			            o->origins[i]);
	}
	if (open_store(o, &s))
		return 1;
	r = cli_admin_tenant_new(o, s, &t, &bad);   /* the engine's, audited */
	if (r == TS_E_INVALID && bad < 0)
		fail("'%s' is not a slug: use 1-63 of a-z, 0-9 and '-'", o->pos[0]);
	else if (r == TS_E_INVALID)
		fail("'%s' is not a host name (letters, digits, '-' and '.'; no port or path)",
		     o->domains[bad]);
	else if (r == TS_E_CONFLICT)
		tenant_conflict(s, o);
	else if (r != TS_OK)
		fail("cannot add tenant %s: %s", o->pos[0], ts_strerror(r));
	else
		rc = 0;
	/* The origins were checked above, so only the store can fail here. */
	for (int i = 0; rc == 0 && i < o->norigins; i++) {
		if ((r = ts_admin_tenant_origin(s, &t, o->origins[i], 1)) != TS_OK &&
		    r != TS_E_CONFLICT) {
			rc = fail("tenant %s added, but not its origin %s: %s", t.slug,
			          o->origins[i], ts_strerror(r));
		}
	}
	if (rc == 0)
		printf("%s\n", t.id);
	ts_store_close(s);
	return rc;
}

/* tessera tenant domain add|remove SLUG HOST */
static int
cmd_tenant_domain(cli_opts *o)
{
	char h[TS_HOST_MAX + 1];
	ts_store *s = NULL;
	ts_tenant t, owner;
	ts_err r;
	int add, rc = 1;

	if (o->npos != 3 || (strcmp(o->pos[0], "add") != 0 && strcmp(o->pos[0], "remove") != 0))
		return fail("usage: tessera tenant domain add|remove SLUG HOST");
	add = strcmp(o->pos[0], "add") == 0;
	if (ts_admin_host_normal(o->pos[2], h) != TS_OK)
		return fail("'%s' is not a host name (letters, digits, '-' and '.'; no port or path)",
		            o->pos[2]);
	if (open_store(o, &s))
		return 1;
	if ((r = s->ops->tenant_by_slug(s, o->pos[1], &t)) != TS_OK) {
		fail(r == TS_E_NOT_FOUND ? "no tenant '%s'" : "cannot read tenant %s", o->pos[1]);
		goto out;
	}
	r = add ? ts_admin_tenant_domain(s, &t, h) : ts_admin_tenant_domain_remove(s, t.slug, h);
	if (r == TS_E_CONFLICT && s->ops->tenant_by_domain(s, h, &owner) == TS_OK)
		fail("domain %s belongs to tenant %s already", h, owner.slug);
	else if (r == TS_E_NOT_FOUND && !add)
		fail("tenant %s has no domain %s", t.slug, h);
	else if (r != TS_OK)
		fail("cannot %s domain %s: %s", o->pos[0], h, ts_strerror(r));
	else {
		printf(add ? "added domain %s to tenant %s\n" : "removed domain %s from tenant %s\n",
		       h, t.slug);
		rc = 0;
	}
out:
	ts_store_close(s);
	return rc;
}

/* tessera tenant mfa SLUG required|optional [FACTOR,...|default] */
static int
cmd_tenant_mfa(cli_opts *o)
{
	ts_store *s = NULL;
	int req = o->npos >= 2 && !strcmp(o->pos[1], "required"), rc = 1;
	ts_err r;

	if (o->npos < 2 || o->npos > 3 || (!req && strcmp(o->pos[1], "optional")))
		return fail("usage: tessera tenant mfa SLUG required|optional [FACTOR,...|default]");
	if (open_store(o, &s))
		return 1;
	r = ts_admin_tenant_mfa(s, o->pos[0], req, o->npos == 3 ? o->pos[2] : NULL);
	if (r == TS_E_INVALID)
		fail("'%s' is not a list of factors a tenant %s can use (totp, webauthn_passkey, "
		     "webauthn_fido, email, recovery_code)", o->npos == 3 ? o->pos[2] : "default",
		     req ? "requiring MFA" : "");
	else if (r == TS_E_TENANT_UNKNOWN)
		fail("no tenant '%s'", o->pos[0]);
	else if (r != TS_OK)
		fail("cannot set the MFA policy: %s", ts_strerror(r));
	else
		printf("tenant %s: second factor %s, factors %s\n", o->pos[0],
		       req ? "required" : "optional", o->npos == 3 ? o->pos[2] : "default");
	rc = r != TS_OK;
	ts_store_close(s);
	return rc;
}

/* tessera tenant origin add|remove SLUG URL */
static int
cmd_tenant_origin(cli_opts *o)
{
	ts_store *s = NULL;
	ts_tenant t;
	ts_err r;
	int add = o->npos == 3 && !strcmp(o->pos[0], "add"), rc = 1;

	if (o->npos != 3 || (!add && strcmp(o->pos[0], "remove")))
		return fail("usage: tessera tenant origin add|remove SLUG URL");
	if (open_store(o, &s))
		return 1;
	if ((r = s->ops->tenant_by_slug(s, o->pos[1], &t)) != TS_OK) {
		fail("no tenant '%s'", o->pos[1]);
		goto out;
	}
	r = ts_admin_tenant_origin(s, &t, o->pos[2], add);
	if (r == TS_E_INVALID)
		fail("'%s' is not an origin: use http(s)://host[:port], no path", o->pos[2]);
	else if (r == TS_E_CONFLICT || r == TS_E_NOT_FOUND)
		fail("origin %s is %s allowed for tenant %s", o->pos[2], add ? "already" : "not",
		     o->pos[1]);
	else if (r != TS_OK)
		fail("cannot change origin %s: %s", o->pos[2], ts_strerror(r));
	else
		printf("%s origin %s for tenant %s\n", add ? "allowed" : "removed", o->pos[2], o->pos[1]);
	rc = r != TS_OK;
out:
	ts_store_close(s);
	return rc;
}


/* ---- user ---- */

/* Why the policy refused pw (policy.h), told with its reason word so
 * scripts can match it; returns 1 (the exit code). */
static int
password_refused(ts_store *s, const char *slug, const char *email, const char *pw, size_t len)
{
	ts_tenant t;
	ts_pw_reason why = TS_PW_OK;
	int have = s->ops->tenant_by_slug(s, slug, &t) == TS_OK;

	if (ts_password_check(have ? &t : NULL, email, pw, len, &why) == TS_E_INVALID)
		return fail("password refused: it is not valid UTF-8");
	switch (why) {
	case TS_PW_TOO_SHORT:
		return fail("password refused (too_short): tenant %s needs at least %d characters",
		            slug, ts_password_min_length(have ? &t : NULL));
	case TS_PW_TOO_LONG:
		return fail("password refused (too_long): at most %d bytes", TS_PW_MAX_BYTES);
	case TS_PW_COMMON:
		return fail("password refused (common): it is on the list of common and breached "
		            "passwords");
	case TS_PW_CONTEXT:
		return fail("password refused (context): it contains part of the address, the "
		            "tenant's slug or the service's name");
	case TS_PW_OK:
		break;
	}
	return fail("password refused");
}

static int
need_user_flags(const cli_opts *o, const char *cmd)
{
	if (!o->tenant || !o->email)
		return fail("usage: tessera user %s --tenant SLUG --email EMAIL", cmd);
	return 0;
}

static int
cmd_user_add(cli_opts *o)
{
	char pw[TS_PASSWORD_MAX + 3];
	size_t len = 0;
	ts_store *s = NULL;
	ts_user u;
	ts_pw_cost c = pw_cost(&o->cfg);
	ts_err r;
	int rc = 1;

	if (need_user_flags(o, "add") || read_password(pw, sizeof(pw), &len))
		goto out;
	if (open_store(o, &s))
		goto out;
	r = ts_admin_user_add(s, &c, o->tenant, o->email, pw, len, o->verified, o->admin, &u);
	switch (r) {
	case TS_OK:
		printf("%s\n", u.id);   /* the new id alone, for scripts */
		rc = 0;
		break;
	case TS_E_INVALID:
		fail("'%s' is not a valid email address", o->email);
		break;
	case TS_E_PASSWORD_POLICY:
		password_refused(s, o->tenant, o->email, pw, len);
		break;
	case TS_E_TENANT_UNKNOWN:
		fail("no tenant '%s'", o->tenant);
		break;
	case TS_E_CONFLICT:
		fail("%s already exists in tenant %s", o->email, o->tenant);
		break;
	default:
		fail("cannot add user: %s", ts_strerror(r));
		break;
	}
out:
	ts_wipe(pw, sizeof(pw));
	ts_store_close(s);
	return rc;
}

/* verify, disable, enable: the engine's user change (cli_admin.c), so
 * disabling ends the user's sessions there, for every way in. */
static int
user_update(cli_opts *o, const char *cmd, int verify, int disable, int enable)
{
	if (need_user_flags(o, cmd))
		return 1;
	return cli_admin_user_flags(o, verify, disable, enable);
}

static int cmd_user_verify(cli_opts *o) { return user_update(o, "verify", 1, 0, 0); }
static int cmd_user_disable(cli_opts *o) { return user_update(o, "disable", 0, 1, 0); }
static int cmd_user_enable(cli_opts *o) { return user_update(o, "enable", 0, 0, 1); }

static int
cmd_user_password(cli_opts *o)
{
	char pw[TS_PASSWORD_MAX + 3];
	size_t len = 0;
	ts_store *s = NULL;
	ts_user u;
	ts_pw_cost c = pw_cost(&o->cfg);
	ts_err r;
	int rc = 1;

	if (need_user_flags(o, "password") || read_password(pw, sizeof(pw), &len))
		goto out;
	if (open_store(o, &s))
		goto out;
	if ((r = ts_admin_user_find(s, o->tenant, o->email, &u)) != TS_OK) {
		fail("no user %s in tenant %s", o->email, o->tenant);
		goto out;
	}
	if ((r = ts_admin_user_set_password(s, &c, &u, pw, len)) != TS_OK) {
		if (r == TS_E_PASSWORD_POLICY)
			password_refused(s, o->tenant, u.email, pw, len);
		else
			fail("cannot set the password: %s", ts_strerror(r));
		goto out;
	}
	printf("set a new password for %s in tenant %s\n", u.email, o->tenant);
	rc = 0;
out:
	ts_wipe(pw, sizeof(pw));
	ts_store_close(s);
	return rc;
}

/* ---- user import / export (docs/ADMIN.md) ---- */

/* A bar on a terminal, redrawn in place; nothing otherwise. */
static void
import_progress(void *arg, long done, long total)
{
	int width = 40, fill = total > 0 ? (int)(done * width / total) : width;

	(void)arg;
	fprintf(stderr, "\rimporting [%.*s%*s] %3d%% %ld/%ld", fill,
	        "########################################", width - fill, "",
	        total > 0 ? (int)(done * 100 / total) : 100, done, total);
	if (done >= total)
		fputc('\n', stderr);
	fflush(stderr);
}

static void
print_bad_lines(const ts_import_report *rep)
{
	for (int i = 0; i < rep->n_errors; i++) {
		const ts_import_err *e = &rep->errors[i];
		if (e->other)
			fprintf(stderr, "line %ld: %s (as line %ld)\n", e->line, e->reason, e->other);
		else
			fprintf(stderr, "line %ld: %s\n", e->line, e->reason);
	}
	if (rep->bad > rep->n_errors)
		fprintf(stderr, "... and %ld more bad lines\n", rep->bad - rep->n_errors);
}

static int
cmd_user_import(cli_opts *o)
{
	ts_import_report rep = { 0 };
	ts_jsonl_src j;
	ts_store *s = NULL;
	ts_tenant t;
	FILE *f = NULL;
	ts_err r;
	int rc = 1, tty = isatty(STDERR_FILENO);

	if (!o->tenant || o->npos != 1)
		return fail("usage: tessera user import --tenant SLUG FILE.jsonl [--skip-bad]");
	if ((f = fopen(o->pos[0], "r")) == NULL)
		return fail("cannot read %s: %s", o->pos[0], strerror(errno));
	if (open_store(o, &s))
		goto out;
	if ((r = s->ops->tenant_by_slug(s, o->tenant, &t)) != TS_OK) {
		fail(r == TS_E_NOT_FOUND ? "no tenant '%s'" : "cannot read tenant '%s'", o->tenant);
		goto out;
	}
	ts_jsonl_src_file(&j, f);
	ts_import_src src = ts_jsonl_source(&j);
	r = ts_import_users(s, &t, &src, o->skip_bad, tty ? import_progress : NULL, NULL, &rep);
	ts_jsonl_src_done(&j);
	print_bad_lines(&rep);
	if (r == TS_E_INVALID) {
		fail("nothing imported: %ld bad line%s of %ld (fix them, or --skip-bad to import "
		     "the rest)", rep.bad, rep.bad == 1 ? "" : "s", rep.lines);
		goto out;
	}
	if (r != TS_OK) {
		fail("import failed after %ld users: %s", rep.imported,
		     r == TS_E_INTERNAL ? "cannot read the file" : ts_strerror(r));
		goto out;
	}
	printf("imported %ld user%s into tenant %s; %ld bad line%s skipped\n", rep.imported,
	       rep.imported == 1 ? "" : "s", o->tenant, rep.bad, rep.bad == 1 ? "" : "s");
	rc = 0;
out:
	ts_import_report_free(&rep);
	if (f)
		fclose(f);
	ts_store_close(s);
	return rc;
}

static int
export_one(void *arg, const ts_user *u)
{
	return ts_jsonl_write_user(arg, u) != 0;
}

static int
cmd_user_export(cli_opts *o)
{
	ts_store *s = NULL;
	ts_tenant t;
	FILE *f = stdout;
	ts_err r;
	int rc = 1, fd;

	if (!o->tenant || o->npos > 1)
		return fail("usage: tessera user export --tenant SLUG [FILE.jsonl]");
	if (open_store(o, &s))
		return 1;
	if ((r = s->ops->tenant_by_slug(s, o->tenant, &t)) != TS_OK) {
		fail(r == TS_E_NOT_FOUND ? "no tenant '%s'" : "cannot read tenant '%s'", o->tenant);
		goto out;
	}
	/* Password hashes: readable by the owner only, like the key file. */
	if (o->npos == 1 && ((fd = open(o->pos[0], O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	                     (f = fdopen(fd, "w")) == NULL)) {
		fail("cannot write %s: %s", o->pos[0], strerror(errno));
		f = NULL;
		goto out;
	}
	r = ts_export_users(s, &t, export_one, f);
	if (fflush(f) != 0 || ferror(f))
		fail("cannot write the export: %s", strerror(errno));
	else if (r != TS_OK)
		fail("export failed: %s", ts_strerror(r));
	else
		rc = 0;
out:
	if (f && f != stdout)
		fclose(f);
	ts_store_close(s);
	return rc;
}

static int
cmd_user_unlock(cli_opts *o)
{
	if (need_user_flags(o, "unlock"))
		return 1;
	return cli_admin_user_unlock(o);
}

/* Tenant id -> slug, read once before the locks (a callback must not call
 * back into the store: it runs while a connection is held). */
typedef struct {
	ts_tenant *t;                /* malloc'd, n of them */
	int n, cap;
	int64_t now;
} lock_view;

static int
collect_tenant(void *arg, const ts_tenant *t)
{
	lock_view *v = arg;

	if (v->n == v->cap) {
		int cap = v->cap ? v->cap * 2 : 16;
		ts_tenant *more = realloc(v->t, (size_t)cap * sizeof(*more));
		if (!more)
			return 1;            /* stops; slugs missing print as ids */
		v->t = more;
		v->cap = cap;
	}
	v->t[v->n++] = *t;
	return 0;
}

static int
print_domain(void *arg, const char *host)
{
	(void)arg;
	printf(" %s", host);
	return 0;
}

/* "SLUG ID [mfa-required] [domain...]". The tenants are collected first:
 * no store call is made from inside another op's callback. */
static int
cmd_tenant_list(cli_opts *o)
{
	lock_view v = { 0 };
	ts_store *s = NULL;
	ts_err r;

	if (open_store(o, &s))
		return 1;
	r = s->ops->tenant_list(s, collect_tenant, &v);
	for (int i = 0; r == TS_OK && i < v.n; i++) {
		const ts_tenant *t = &v.t[i];

		printf("%s %s%s", t->slug, t->id, t->mfa_required ? " mfa-required" : "");
		r = s->ops->tenant_domains(s, t->id, print_domain, NULL);
		putchar('\n');
	}
	ts_store_close(s);
	free(v.t);
	return r == TS_OK ? 0 : fail("cannot list tenants: %s", ts_strerror(r));
}

static const char *
slug_of(const lock_view *v, const char *tenant_id)
{
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->t[i].id, tenant_id) == 0)
			return v->t[i].slug;
	return tenant_id[0] ? tenant_id : "-";
}

/* "SLUG EMAIL failures=N locked_until=TIME|-": the slug as unlock takes it. */
static int
print_lock(void *arg, const ts_lock *l)
{
	const lock_view *v = arg;
	char until[32] = "-";

	if (l->locked_until > v->now)
		ts_rfc3339(l->locked_until, until);
	/* Second-factor counts (key "mfa|<user id>") are told apart. */
	printf("%s %s failures=%d locked_until=%s%s\n", slug_of(v, l->tenant_id), l->email,
	       l->failures, until, strncmp(l->key, "mfa|", 4) ? "" : " factor=second");
	return 0;
}

static int
cmd_user_locks(cli_opts *o)
{
	ts_store *s = NULL;
	lock_view v = { .now = ts_now() };
	ts_err r;

	if (open_store(o, &s))
		return 1;
	if ((r = s->ops->tenant_list(s, collect_tenant, &v)) == TS_OK)
		r = s->ops->lock_list(s, print_lock, &v);
	ts_store_close(s);
	free(v.t);
	return r == TS_OK ? 0 : fail("cannot list locks: %s", ts_strerror(r));
}

/* An enrolment link: the proof beyond the password that lets a user of an
 * MFA-required tenant enrol a first factor without mail (src/auth/enroll.c). */
static int
cmd_user_enroll_link(cli_opts *o)
{
	char token[TS_SECRET_TEXT_LEN + 1], until[32], *end = NULL;
	long long ttl = 86400;
	int64_t exp = 0;
	ts_store *s = NULL;
	ts_err r;

	if (need_user_flags(o, "enroll-link"))
		return 1;
	if (o->ttl) {
		errno = 0;
		ttl = strtoll(o->ttl, &end, 10);
		if (errno || !end || *end || end == o->ttl || ttl < 60 || ttl > 30 * 86400)
			return fail("--ttl must be a number of seconds from 60 to %d", 30 * 86400);
	}
	if (open_store(o, &s))
		return 1;
	/* stdout carries the token alone, for scripts: the audit line goes to
	 * stderr. */
	ts_log_set_fds(2, 2);
	r = ts_admin_enroll_link(s, o->tenant, o->email, ttl, token, &exp);
	ts_store_close(s);
	if (r == TS_E_TENANT_UNKNOWN)
		return fail("no tenant '%s'", o->tenant);
	if (r == TS_E_NOT_FOUND)
		return fail("no user %s in tenant %s", o->email, o->tenant);
	if (r != TS_OK)
		return fail("cannot issue an enrolment link: %s", ts_strerror(r));
	ts_rfc3339(exp, until);
	/* The token alone on stdout, for scripts; what it is on stderr. */
	printf("%s\n", token);
	fprintf(stderr, "tessera: enrolment link for %s in tenant %s, single use, valid until %s; "
	        "the user redeems it with POST /v1/mfa/enroll/link {\"token\": ...} "
	        "using the enrolment token their login returned\n", o->email, o->tenant, until);
	ts_wipe(token, sizeof(token));
	return 0;
}

/* ---- keys ---- */

static int
cmd_keys_rotate(cli_opts *o)
{
	ts_store *s = NULL;
	char kid[TS_KID_MAX];
	ts_alg alg = TS_ALG_ES256;
	ts_kek kek;
	ts_err r;

	if (alg_of(&o->cfg, &alg) || open_store(o, &s))
		return 1;
	if (open_kek(o, s, &kek)) {
		ts_store_close(s);
		return 1;
	}
	r = ts_admin_keys_rotate(s, &kek, alg, o->cfg.access_ttl, o->cfg.key_activation_delay, kid);
	ts_kek_wipe(&kek);
	ts_store_close(s);
	if (r != TS_OK)
		return fail("cannot rotate keys: %s", ts_strerror(r));
	printf("%s\n", kid);
	fprintf(stderr, "tessera: new key %s is published now and signs in %lld s "
	        "(--key-activation-delay)\n", kid, o->cfg.key_activation_delay);
	return 0;
}

static int
cmd_keys_revoke(cli_opts *o)
{
	ts_store *s = NULL;
	char made[TS_KID_MAX];
	ts_alg alg = TS_ALG_ES256;
	ts_kek kek;
	ts_err r;

	if (o->npos != 1)
		return fail("usage: tessera keys revoke KID");
	if (alg_of(&o->cfg, &alg) || open_store(o, &s))
		return 1;
	if (open_kek(o, s, &kek)) {
		ts_store_close(s);
		return 1;
	}
	r = ts_admin_keys_revoke(s, &kek, o->pos[0], alg, o->cfg.access_ttl, made);
	ts_kek_wipe(&kek);
	ts_store_close(s);
	if (r == TS_E_NOT_FOUND)
		return fail("no signing key %s", o->pos[0]);
	if (r != TS_OK)
		return fail("cannot revoke key %s: %s", o->pos[0], ts_strerror(r));
	printf("revoked %s\n", o->pos[0]);
	if (*made)
		fprintf(stderr, "tessera: WARNING: %s was the only key able to sign; new key %s "
		        "signs from now on, before clients that cache the JWKS (up to 60 s) "
		        "have seen it\n", o->pos[0], made);
	return 0;
}

/* ---- serve ---- */

#define DEMO_TENANT "demo"
#define DEMO_EMAIL "demo@example.com"

#define DEMO_PW_LEN 16              /* 96 random bits is plenty for a demo */

/* Makes sure the demo tenant and user exist, creating only what is
 * missing: a second run must not change the password the first printed.
 * A new user's password is printed (demo mode only: a real deployment
 * never prints one) and kept in pw for the "Try" line; pw is "" for a user
 * that existed. Says which default tenant requests will get. */
static int
demo_setup(ts_store *s, cli_opts *o, char pw[TS_SECRET_TEXT_LEN + 1])
{
	ts_tenant t;
	ts_user u;
	ts_pw_cost c = pw_cost(&o->cfg);
	ts_err r;

	pw[0] = '\0';
	/* Open for sign-up, so the self-service routes can be tried. */
	r = ts_admin_tenant_create_open(s, DEMO_TENANT, 0, 1, NULL, 0, &t, NULL);
	if (r != TS_OK && r != TS_E_CONFLICT)
		return fail("cannot create the demo tenant: %s", ts_strerror(r));
	r = ts_admin_user_find(s, DEMO_TENANT, DEMO_EMAIL, &u);
	if (r == TS_E_NOT_FOUND) {
		ts_pw_reason why;
		/* Random text may, rarely, hold a context word ("demo"): the
		 * password policy applies to the demo's password too. */
		for (int i = 0; i < 100; i++) {
			ts_secret_new(pw);
			pw[DEMO_PW_LEN] = '\0';
			if (ts_password_check(&t, DEMO_EMAIL, pw, strlen(pw), &why) == TS_OK)
				break;
		}
		r = ts_admin_user_add(s, &c, DEMO_TENANT, DEMO_EMAIL, pw, strlen(pw), 1, 1, &u);
	}
	if (r != TS_OK)
		return fail("cannot create the demo user: %s", ts_strerror(r));
	printf("Demo tenant: %s\nDemo user:   %s\n", DEMO_TENANT, DEMO_EMAIL);
	if (pw[0])
		printf("Password:    %s\n", pw);
	else
	{
		char db[1024];

		ts_store_redact(o->cfg.db, db, sizeof db);
		printf("Password:    (unchanged: it was printed when this user was created; set a new one "
		       "with: tessera user password --tenant %s --email %s --db %s)\n",
		       DEMO_TENANT, DEMO_EMAIL, db);
	}
	if (!*o->cfg.default_tenant) {
		free(o->cfg.default_tenant);
		if (!(o->cfg.default_tenant = strdup(DEMO_TENANT)))
			return fail("out of memory");
		printf("Default tenant: %s (set by --demo: requests that name no tenant get it; "
		       "--default-tenant overrides)\n", DEMO_TENANT);
	} else {
		printf("Default tenant: %s (from your settings)\n", o->cfg.default_tenant);
	}
	fflush(stdout);
	return 0;
}

/* The host of a listen setting as a URL names it: a wildcard (":PORT",
 * "0.0.0.0", "[::]") becomes 127.0.0.1, where a local client reaches it;
 * an IPv6 address keeps its brackets. */
static void
listen_url_host(const char *listen, char *out, size_t n)
{
	const char *colon = strrchr(listen, ':');
	int len = colon ? (int)(colon - listen) : 0;

	if (len == 0 || (len == 7 && !strncmp(listen, "0.0.0.0", 7)) ||
	    (len == 4 && !strncmp(listen, "[::]", 4)))
		snprintf(out, n, "127.0.0.1");
	else
		snprintf(out, n, "%.*s", len, listen);
}

/* The issuer when none is set: http(s)://HOST:PORT of --listen (no port for
 * port 0, which is only known once bound). */
static int
default_issuer(cli_opts *o)
{
	char host[128], *iss = NULL;
	const char *port = strrchr(o->cfg.listen, ':');

	if (*o->cfg.issuer)
		return 0;
	listen_url_host(o->cfg.listen, host, sizeof(host));
	if (asprintf(&iss, "%s://%s%s", *o->cfg.tls_cert ? "https" : "http", host,
	             port && strcmp(port, ":0") ? port : "") < 0)
		return fail("out of memory");
	free(o->cfg.issuer);
	o->cfg.issuer = iss;
	return 0;
}

/* 1 when a listen setting names a loopback address (127.0.0.0/8 or
 * [::1]); ":PORT" and other addresses are reachable from elsewhere. */
static int
listen_is_loopback(const char *listen)
{
	return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "[::1]:", 6) == 0;
}

/* After the listening line: a command that works as printed. */
static void
demo_try(const cli_opts *o, unsigned port, const char *pw)
{
	char host[128];

	listen_url_host(o->cfg.listen, host, sizeof(host));
	printf("Try:         curl -s %s://%s:%u/v1/auth/login -H 'Content-Type: application/json' "
	       "-d '{\"email\":\"%s\",\"password\":\"%s\"}'\n", *o->cfg.tls_cert ? "https" : "http",
	       host, port, DEMO_EMAIL,
	       pw[0] ? pw : "PASSWORD");
	fflush(stdout);
}

static unsigned
cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

static int
parse_log_level(const char *s, ts_log_level *lvl)
{
	if (ts_log_level_parse(s, lvl) == 0)
		return 0;
	return fail("log-level: '%s' is not debug, info, warn or error", s);
}

/* Blocks until SIGINT or SIGTERM. The signals were blocked in every thread
 * before any started, so they are taken here, not in a worker. SIGHUP
 * reloads the settings that can change at run time and the TLS
 * certificate; systemd's watchdog is pinged between signals when it asks
 * (cli_service.c). */
static void
wait_for_stop(const sigset_t *set, cli_opts *o, ts_auth *auth, ts_http *http)
{
	uint64_t ping_us = ts_service_watchdog_us();
	int sig = 0;

	for (;;) {
		sig = ts_service_sigwait(set, ping_us);
		if (sig == SIGHUP) {
			ts_service_reload(o, auth);
			(void)ts_http_tls_reload(http);   /* logs its outcome */
		} else if (sig == SIGINT || sig == SIGTERM) {
			break;
		}
	}
	ts_service_stopping();
	ts_log_event(TS_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
}

/* The /metrics listener, on its own address; never the API's. */
static int
start_metrics(const cli_opts *o, ts_http_metrics **m)
{
	unsigned port = 0;
	char addr[300];
	const char *colon = strrchr(o->cfg.metrics_listen, ':');
	int hostlen = colon ? (int)(colon - o->cfg.metrics_listen) : 0;

	if (strcmp(o->cfg.metrics_listen, o->cfg.listen) == 0 && !strstr(o->cfg.listen, ":0"))
		return fail("--metrics-listen %s is the API's address: give it one of its own",
		            o->cfg.metrics_listen);
	if (ts_http_metrics_start(o->cfg.metrics_listen, m, &port) != TS_OK)
		return fail("cannot listen for metrics on %s: see the line above (is the port in use?)",
		            o->cfg.metrics_listen);
	snprintf(addr, sizeof(addr), "%.*s:%u", hostlen, o->cfg.metrics_listen, port);
	ts_log_event(TS_LOG_INFO, "metrics_listening", "addr", addr, TS_LOG_INT("port", port), NULL);
	if (!listen_is_loopback(o->cfg.metrics_listen))
		ts_log_event(TS_LOG_WARN, "metrics_public", "addr", addr, "note",
		             "the metrics listener is not on a loopback address: keep it off "
		             "public networks (a firewall, or a private address)", NULL);
	return 0;
}

enum { STORE_DEFER_AUTO, STORE_DEFER_ALWAYS, STORE_DEFER_NEVER };

static int
store_defer_of(const ts_config *c, int *mode)
{
	if (strcmp(c->store_defer, "auto") == 0)
		*mode = STORE_DEFER_AUTO;
	else if (strcmp(c->store_defer, "always") == 0)
		*mode = STORE_DEFER_ALWAYS;
	else if (strcmp(c->store_defer, "never") == 0)
		*mode = STORE_DEFER_NEVER;
	else
		return fail("--store-defer must be auto, always or never, not '%s'", c->store_defer);
	return 0;
}

static int
cmd_serve(cli_opts *o)
{
	ts_store *s = NULL;
	ts_auth *auth = NULL;
	ts_api *api = NULL;
	ts_pool *pool = NULL, *store_pool = NULL;
	ts_sweeper *sweeper = NULL;
	ts_outbox *outbox = NULL;
	ts_http *http = NULL;
	ts_http_metrics *metrics = NULL;
	ts_log_level lvl = TS_LOG_INFO;
	ts_alg alg = TS_ALG_ES256;
	sigset_t set;
	unsigned port = 0;
	char demo_pw[TS_SECRET_TEXT_LEN + 1] = "";
	ts_kek kek;
	ts_err r;
	int rc = 1;

	int defer_mode = 0;
	if (parse_log_level(o->cfg.log_level, &lvl) || alg_of(&o->cfg, &alg) || default_issuer(o) ||
	    store_defer_of(&o->cfg, &defer_mode))
		return 1;
	/* Before the store: a second server on a busy port must fail without
	 * touching anything (the demo would otherwise create records). */
	if (ts_http_listen_check(o->cfg.listen) != TS_OK)
		return fail("cannot listen on %s: %s (is another server running there?)",
		            o->cfg.listen, ts_http_start_error());
	if (ts_http_tls_check(o->cfg.tls_cert, o->cfg.tls_key) != TS_OK)
		return fail("TLS: %s", ts_http_start_error());
	if (*o->cfg.metrics_listen && ts_http_listen_check(o->cfg.metrics_listen) != TS_OK)
		return fail("cannot listen for metrics on %s: %s", o->cfg.metrics_listen,
		            ts_http_start_error());
	ts_log_set_level(lvl);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);     /* reload (ts_service_reload) */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* glibc gave the top of a thread's heap back (madvise) whenever a
	 * request's frees left 128 KiB free there, about once a refresh; keep
	 * up to 1 MiB instead. Fixing the thresholds also stops glibc from
	 * raising the mmap threshold after a big free, so big buffers stay
	 * mmap'ed and go back to the kernel when freed (issue 13). */
	mallopt(M_TRIM_THRESHOLD, 1 << 20);
	mallopt(M_MMAP_THRESHOLD, 128 << 10);

	if (open_store(o, &s))
		return 1;
	if (open_kek(o, s, &kek)) {
		ts_store_close(s);
		return 1;
	}
	if (o->demo && demo_setup(s, o, demo_pw))
		goto out;

	ts_auth_config ac = {
		.issuer = o->cfg.issuer,
		.audience = o->cfg.audience,
		.default_tenant = o->cfg.default_tenant,
		.operator_tenant = o->cfg.operator_tenant,
		.alg = alg,
		.access_ttl = o->cfg.access_ttl,
		.refresh_ttl = o->cfg.refresh_ttl,
		.session_ttl = o->cfg.session_ttl,
		.challenge_ttl = o->cfg.challenge_ttl,
		.pw_cost = pw_cost(&o->cfg),
		.lock_after = (int)o->cfg.lock_after,
		.lock_secs = o->cfg.lock_secs,
		.mfa_lock_after = (int)o->cfg.mfa_lock_after,
		.mfa_lock_secs = o->cfg.mfa_lock_secs,
		.totp_issuer = "Tessera",
		.rl_ip_rate = (double)o->cfg.rl_ip_per_min / 60.0,
		.rl_ip_burst = (double)o->cfg.rl_ip_burst,
		.rl_account_rate = (double)o->cfg.rl_account_per_min / 60.0,
		.rl_account_burst = (double)o->cfg.rl_account_burst,
		.smtp_url = o->cfg.smtp_url,
		.smtp_from = o->cfg.smtp_from,
		.smtp_timeout = o->cfg.smtp_timeout,
		.smtp_password = o->cfg.smtp_password,
		.kek = &kek,
		.refresh_reuse_interval = o->cfg.refresh_reuse_interval,
		.public_url = o->cfg.public_url,
		.verify_ttl = o->cfg.verify_ttl,
		.reset_ttl = o->cfg.reset_ttl,
		.oidc_code_ttl = o->cfg.oidc_code_ttl,
		.webauthn_rp_id = o->cfg.webauthn_rp_id,
		.webauthn_origins = o->cfg.webauthn_origins,
	};
	if ((r = ts_auth_new(&ac, s, &auth)) != TS_OK) {
		fail("cannot start the login engine: %s%s", ts_strerror(r),
		     r == TS_E_INVALID ? " (check --webauthn-rp-id and --webauthn-origins)" : "");
		goto out;
	}
	/* auto: a remote store's round trips run on the store threads; a
	 * local SQLite file is called inline (docs/ARCHITECTURE.md). */
	int store_defer = defer_mode == STORE_DEFER_ALWAYS ||
	                  (defer_mode == STORE_DEFER_AUTO && ts_auth_store_remote(auth));
	/* With the store inline, the same threads still run the refreshes,
	 * whose rotations are group-committed (store/group.h): enough of
	 * them to wait together, so a batch holds more than the two an
	 * event thread pair could make. */
	if (store_defer || defer_mode == STORE_DEFER_AUTO) {
		/* 8 per core: a thread waiting on a round trip or a commit costs
		 * no CPU, and in-flight requests are at most this many (2 per
		 * core held PostgreSQL refreshes at ~3,000/s here; issue 13). */
		unsigned sw = o->cfg.store_workers ? (unsigned)o->cfg.store_workers : 8 * cores();
		if ((r = ts_pool_new(sw, (unsigned)o->cfg.store_queue, &store_pool)) != TS_OK) {
			fail("cannot start store threads: %s", ts_strerror(r));
			goto out;
		}
	}
	ts_api_config pc = {
		.prefix_native = o->cfg.prefix_native,
		.prefix_admin = o->cfg.prefix_admin,
		.prefix_iam = o->cfg.prefix_iam,
		.prefix_px0 = o->cfg.prefix_px0,
		.store_pool = store_pool,
		.store_defer = store_defer,
		.write_pool = store_defer ? NULL : store_pool,
	};
	if ((r = ts_api_new(&pc, auth, &api)) != TS_OK) {
		fail("cannot set up the API: %s", ts_strerror(r));
		goto out;
	}
	unsigned workers = o->cfg.hash_workers ? (unsigned)o->cfg.hash_workers : cores();
	if ((r = ts_pool_new_background(workers, (unsigned)o->cfg.hash_queue, &pool)) != TS_OK) {
		fail("cannot start hashing threads: %s", ts_strerror(r));
		goto out;
	}
	ts_pool_set_metrics(pool, TS_M_POOL_HASH);
	if (store_pool)
		ts_pool_set_metrics(store_pool, TS_M_POOL_STORE);
	ts_metrics_set_build(TS_VERSION);
	if (*o->cfg.metrics_listen && start_metrics(o, &metrics))
		goto out;
	ts_http_config hc = {
		.listen = o->cfg.listen,
		.threads = (unsigned)o->cfg.http_threads,
		.conn_limit = (unsigned)o->cfg.conn_limit,
		.conn_limit_per_ip = (unsigned)o->cfg.conn_limit_per_ip,
		.conn_timeout = (unsigned)o->cfg.conn_timeout,
		.header_kib = (unsigned)o->cfg.http_header_kib,
		.trusted_proxies = o->cfg.trusted_proxies,
		.tls_cert = o->cfg.tls_cert,
		.tls_key = o->cfg.tls_key,
		.pool = pool,
		.dispatch = ts_api_dispatch,
		.app = api,
	};
	if ((r = ts_http_start(&hc, &http, &port)) != TS_OK) {
		fail("cannot listen on %s: %s", o->cfg.listen, ts_http_start_error());
		goto out;
	}
	char addr[300];
	const char *colon = strrchr(o->cfg.listen, ':');
	int hostlen = colon ? (int)(colon - o->cfg.listen) : 0;
	snprintf(addr, sizeof(addr), "%.*s:%u", hostlen, o->cfg.listen, port);
	ts_log_event(TS_LOG_INFO, "listening", "addr", addr, TS_LOG_INT("port", port), "db",
	             s->ops->location(s), "scheme", ts_http_tls(http) ? "https" : "http", NULL);
	if (!ts_http_tls(http) && !listen_is_loopback(o->cfg.listen))
		ts_log_event(TS_LOG_WARN, "plaintext_listen", "addr", addr, "note",
		             "plain HTTP on a non-loopback address: passwords and tokens cross the "
		             "network in clear unless a TLS proxy is in front; or set --tls-cert "
		             "and --tls-key", NULL);
	ts_sweep_config sc = {
		.interval = (int)o->cfg.sweep_interval,
		.grace = o->cfg.sweep_grace,
		.retention = o->cfg.sweep_retention,
		.audit_retention = (int64_t)o->cfg.audit_retention_days * 86400,
	};
	if ((r = ts_sweeper_start(auth, &sc, &sweeper)) != TS_OK) {
		fail("cannot start the housekeeping thread: %s", ts_strerror(r));
		goto out;
	}
	ts_outbox_config oc = { .poll = (int)o->cfg.mail_poll, .retry = o->cfg.mail_retry };
	if ((r = ts_outbox_start(auth, &oc, &outbox)) != TS_OK) {
		fail("cannot start the mail thread: %s", ts_strerror(r));
		goto out;
	}
	if (o->demo)
		demo_try(o, port, demo_pw);
	ts_wipe(demo_pw, sizeof(demo_pw));

	ts_service_ready(addr);
	wait_for_stop(&set, o, auth, http);
	rc = 0;
out:
	/* The transport waits for in-flight requests (deferred ones run on the
	 * pool), so it stops before the pool, which stops before the engine. */
	ts_wipe(demo_pw, sizeof(demo_pw));
	ts_sweeper_stop(sweeper);
	ts_http_stop(http);
	ts_http_metrics_stop(metrics);
	ts_pool_free(pool);
	ts_pool_free(store_pool);
	/* After the last request (they queue mail and wake the sender). */
	ts_outbox_stop(outbox);
	ts_api_free(api);
	ts_auth_free(auth);
	ts_kek_wipe(&kek);
	ts_store_close(s);
	return rc;
}

/* ---- db ---- */

/* Opens the store in the command's mode and prints "current N\nlatest M":
 * the schema version in the database and the newest this build knows.
 * check_newer: a newer database is an error too. */
static int
db_report(cli_opts *o, int check_newer)
{
	ts_store *s = NULL;
	int cur = 0, latest = 0;
	ts_err r;

	if (open_store(o, &s))
		return 1;
	r = s->ops->schema_status(s, &cur, &latest);
	ts_store_close(s);
	if (r != TS_OK)
		return fail("cannot read the schema version: %s", ts_strerror(r));
	printf("current %d\nlatest %d\n", cur, latest);
	if (check_newer && cur > latest)
		return fail("the database is newer than this build (schema %d > %d)", cur, latest);
	return 0;
}

/* Opens with TS_STORE_INSPECT: changes nothing. */
static int
cmd_db_status(cli_opts *o)
{
	return db_report(o, 1);
}

/* Opening with TS_STORE_CREATE migrates (one node at a time; a newer
 * schema already fails the open); then the version is printed like db
 * status. */
static int
cmd_db_migrate(cli_opts *o)
{
	return db_report(o, 0);
}

#define U_STORE TS_USE_STORE
static const cli_cmd commands[] = {
	{ "serve", NULL, cmd_serve, "tessera serve [settings] [--demo]",
	  "  --demo               create a demo tenant and user if missing (a new user's password\n"
	  "                       is printed once) and make it the default tenant unless one is set\n",
	  TS_USE_SERVE, TS_STORE_CREATE },
	{ "tenant", "add", cmd_tenant_add, "tessera tenant add SLUG [--domain HOST]... [--cors-origin URL]... [--mfa-required] [--registration-open]",
	  "  --domain HOST        requests with this Host header belong to the tenant (repeatable)\n"
	  "  --mfa-required       every user of the tenant must enrol a second factor\n"
	  "  --registration-open  anyone may sign up (POST /v1/auth/register); default closed\n"
	  "  --cors-origin URL    browser pages of this origin may call the API (repeatable)\n",
	  U_STORE, TS_STORE_CREATE },
	{ "tenant", "domain", cmd_tenant_domain, "tessera tenant domain add|remove SLUG HOST",
	  "  HOST is matched like a Host header: lower-cased, one trailing dot dropped, no port\n",
	  U_STORE, TS_STORE_EXISTING },
	{ "tenant", "list", cmd_tenant_list, "tessera tenant list", "", U_STORE, TS_STORE_EXISTING },
	{ "tenant", "mfa", cmd_tenant_mfa,
	  "tessera tenant mfa SLUG required|optional [FACTOR,...|default]",
	  "  FACTOR               totp, webauthn_passkey, webauthn_fido, email, recovery_code;\n"
	  "                       default: every one but email\n",
	  U_STORE, TS_STORE_EXISTING },
	{ "tenant", "origin", cmd_tenant_origin,
	  "tessera tenant origin add|remove SLUG URL  (CORS: exact scheme://host[:port])", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "add", cmd_user_add,
	  "tessera user add --tenant SLUG --email EMAIL [--verified] [--admin]  (password on stdin)",
	  "  --verified           the email address is already verified\n"
	  "  --admin              the user is an administrator\n",
	  U_STORE | TS_USE_HASH, TS_STORE_EXISTING },
	{ "user", "verify", cmd_user_verify, "tessera user verify --tenant SLUG --email EMAIL", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "disable", cmd_user_disable,
	  "tessera user disable --tenant SLUG --email EMAIL  (also ends the user's sessions)", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "enable", cmd_user_enable, "tessera user enable --tenant SLUG --email EMAIL", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "password", cmd_user_password,
	  "tessera user password --tenant SLUG --email EMAIL  (new password on stdin)", "",
	  U_STORE | TS_USE_HASH, TS_STORE_EXISTING },
	{ "user", "unlock", cmd_user_unlock,
	  "tessera user unlock --tenant SLUG --email EMAIL  (clears failed logins and any lock)", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "enroll-link", cmd_user_enroll_link,
	  "tessera user enroll-link --tenant SLUG --email EMAIL [--ttl SECS]  (single-use proof for enrolling a first second factor)",
	  "  --ttl SECS           how long the link stays good (default 86400)\n",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "import", cmd_user_import,
	  "tessera user import --tenant SLUG FILE.jsonl [--skip-bad]  (users with hashes from other systems)",
	  "  FILE.jsonl           one {email, password_hash, is_verified?, is_admin?, created_at?} a line\n"
	  "  --skip-bad           import the good lines even when some are bad (default: nothing)\n",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "export", cmd_user_export,
	  "tessera user export --tenant SLUG [FILE.jsonl]  (the import's format; standard output by default)", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "locks", cmd_user_locks,
	  "tessera user locks  (accounts with failed logins: tenant slug, email, count, lock end)", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "db", "migrate", cmd_db_migrate,
	  "tessera db migrate  (creates or upgrades the schema; prints current and latest version)", "",
	  U_STORE, TS_STORE_CREATE },
	{ "db", "status", cmd_db_status,
	  "tessera db status  (prints the schema's current and this build's latest version; changes nothing)", "",
	  U_STORE, TS_STORE_INSPECT },
	{ "db", "backup", ts_cmd_db_backup,
	  "tessera db backup FILE  (SQLite: a consistent copy while the server runs; PostgreSQL: use pg_dump)", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "db", "restore", ts_cmd_db_restore,
	  "tessera db restore FILE  (SQLite: replaces the database with a backup in one transaction; servers stopped first)", "",
	  U_STORE, TS_STORE_CREATE },
	{ "config", "check", ts_cmd_config_check,
	  "tessera config check [--config FILE]  (checks every setting; prints the effective ones, secrets redacted)", "",
	  TS_USE_SERVE | U_STORE | TS_USE_HASH | TS_USE_KEYS, TS_STORE_INSPECT },
	{ "keys", "export", ts_cmd_keys_export,
	  "tessera keys export FILE  (the signing keys, still sealed under this installation's key file)", "",
	  U_STORE | TS_USE_KEYS, TS_STORE_EXISTING },
	{ "keys", "import", ts_cmd_keys_import,
	  "tessera keys import FILE [--from-key-file FILE]  (adds the keys an export holds, sealed again under this key file)",
	  "  --from-key-file FILE the key file of the installation that exported them (not needed when it is this one)\n",
	  U_STORE | TS_USE_KEYS, TS_STORE_EXISTING },
	{ "keys", "rotate", cmd_keys_rotate, "tessera keys rotate  (new signing key, published now, signing after --key-activation-delay; old ones stay published until their tokens expire)", "",
	  U_STORE | TS_USE_KEYS, TS_STORE_EXISTING },
	{ "keys", "revoke", cmd_keys_revoke, "tessera keys revoke KID  (kills a key at once on every node: unpublished, refused, cache included)", "",
	  U_STORE | TS_USE_KEYS, TS_STORE_EXISTING },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage_all(FILE *f)
{
	fputs("usage:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	for (size_t i = 0; i < cli_admin_ncommands; i++)
		fprintf(f, "  %s\n", cli_admin_commands[i].usage);
	for (size_t i = 0; i < cli_oidc_ncommands; i++)
		fprintf(f, "  %s\n", cli_oidc_commands[i].usage);
	fputs("  tessera --version\n", f);
	fputs("Run 'tessera COMMAND --help' for a command's settings.\n", f);
}

static void
usage_cmd(FILE *f, const cli_cmd *c)
{
	fprintf(f, "usage: %s\n", c->usage);
	if (*c->flags)
		fputs(c->flags, f);
	fputs("settings it uses:\n", f);
	ts_config_usage(f, c->uses);
	if (c->mode == TS_STORE_EXISTING)
		fputs("  The database must exist: only 'tessera serve', 'tessera tenant add' and "
		      "'tessera db migrate' create one.\n", f);
	else if (c->mode == TS_STORE_INSPECT)
		fputs("  Reads the database as it is: creates and migrates nothing.\n", f);
}

/* The value of a flag: "--name=value" or "--name value". */
static const char *
flag_value(int argc, char **argv, int *i, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (eq)
		return eq + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static int
add_list(const char **list, int *n, const char *v, const char *what)
{
	if (*n >= MAX_LIST)
		return fail("too many %s (at most %d)", what, MAX_LIST);
	list[(*n)++] = v;
	return 0;
}

/* Applies the command-line flags (after file and environment). */
int
ts_cli_parse_flags(cli_opts *o, int argc, char **argv, int first)
{
	char err[300], name[64];

	for (int i = first; i < argc; i++) {
		const char *arg = argv[i], *v;
		if (strncmp(arg, "--", 2) != 0) {
			if (add_list(o->pos, &o->npos, arg, "arguments"))
				return 1;
			continue;
		}
		size_t n = strcspn(arg + 2, "=");
		if (n >= sizeof(name))
			return fail("unknown flag %s", arg);
		memcpy(name, arg + 2, n);
		name[n] = '\0';
		if (!strcmp(name, "demo")) { o->demo = 1; continue; }
		if (!strcmp(name, "verified")) { o->verified = 1; continue; }
		if (!strcmp(name, "admin")) { o->admin = 1; continue; }
		if (!strcmp(name, "mfa-required")) { o->mfa_required = 1; continue; }
		if (!strcmp(name, "skip-bad")) { o->skip_bad = 1; continue; }
		if (cli_admin_flag(name) == 1) { cli_admin_flag_set(o, name, NULL); continue; }
		if (strcmp(name, "config") && strcmp(name, "domain") && strcmp(name, "tenant") &&
		    strcmp(name, "cors-origin") && strcmp(name, "from-key-file") &&
		    strcmp(name, "email") && strcmp(name, "ttl") && !ts_config_known(name) &&
		    !cli_admin_flag(name))
			return fail("unknown flag --%s (see --help)", name);
		if (!(v = flag_value(argc, argv, &i, arg)))
			return fail("%s needs a value", arg);
		if (!strcmp(name, "config"))
			continue;   /* already applied */
		if (!strcmp(name, "domain")) {
			if (add_list(o->domains, &o->ndomains, v, "domains"))
				return 1;
		} else if (!strcmp(name, "cors-origin")) {
			if (add_list(o->origins, &o->norigins, v, "origins"))
				return 1;
		} else if (!strcmp(name, "tenant")) {
			o->tenant = v;
		} else if (!strcmp(name, "email")) {
			o->email = v;
		} else if (!strcmp(name, "ttl")) {
			o->ttl = v;
		} else if (!strcmp(name, "from-key-file")) {
			o->from_key_file = v;
		} else if (cli_admin_flag(name) == 2) {
			if (cli_admin_flag_set(o, name, v))
				return 1;
		} else {
			int r = ts_config_set(&o->cfg, name, v, err, sizeof(err));
			if (r == -2)
				return fail("unknown flag --%s (see --help)", name);
			if (r)
				return fail("%s", err);
		}
	}
	return 0;
}

/* --config FILE from the flags, else TESSERA_CONFIG. */
static const char *
config_path(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return getenv("TESSERA_CONFIG");
}

static const cli_cmd *
find_command(int argc, char **argv, int *first)
{
	for (size_t i = 0; i < N_COMMANDS + cli_admin_ncommands + cli_oidc_ncommands; i++) {
		const cli_cmd *c = i < N_COMMANDS ? &commands[i]
		                   : i < N_COMMANDS + cli_admin_ncommands
		                       ? &cli_admin_commands[i - N_COMMANDS]
		                       : &cli_oidc_commands[i - N_COMMANDS - cli_admin_ncommands];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (!c->sub) {
			*first = 2;
			return c;
		}
		if (argc > 2 && strcmp(argv[2], c->sub) == 0) {
			*first = 3;
			return c;
		}
	}
	return NULL;
}

static int
wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

/* --log-format, and --audit-log opened for appending (0600 when made;
 * the audit trail names accounts). Every command: an administration
 * command's changes are audit events too. */
static int
log_setup(const ts_config *c, int *audit_fd)
{
	if (strcmp(c->log_format, "json") == 0)
		ts_log_set_format(TS_LOG_JSON);
	else if (strcmp(c->log_format, "text") == 0)
		ts_log_set_format(TS_LOG_TEXT);
	else
		return fail("log-format: '%s' is not json or text", c->log_format);
	if (!*c->audit_log)
		return 0;
	*audit_fd = open(c->audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (*audit_fd < 0)
		return fail("audit-log %s: %s", c->audit_log, strerror(errno));
	ts_log_set_audit_fd(*audit_fd);
	return 0;
}

int
ts_cli_main(int argc, char **argv)
{
	cli_opts o;
	const cli_cmd *c;
	const char *cfgfile;
	char err[400];
	int first = 0, rc = 1, audit_fd = -1;

	if (argc < 2) {
		usage_all(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage_all(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("tessera %s\n", TS_VERSION);
		return 0;
	}
	if (!(c = find_command(argc, argv, &first))) {
		if (wants_help(argc, argv)) {
			usage_all(stdout);
			return 0;
		}
		fail("unknown command '%s%s%s' (see tessera --help)", argv[1], argc > 2 ? " " : "",
		     argc > 2 ? argv[2] : "");
		return 2;
	}
	if (wants_help(argc, argv)) {
		usage_cmd(stdout, c);
		return 0;
	}
	memset(&o, 0, sizeof(o));
	o.mode = c->mode;
	o.argc = argc;
	o.argv = argv;
	o.first = first;
	o.config_file = cfgfile = config_path(argc, argv);
	ts_config_defaults(&o.cfg);
	/* config check reads the file itself, reporting every error. */
	if (c->fn == ts_cmd_config_check) {
		rc = c->fn(&o);
		goto out;
	}
	if (cfgfile && ts_config_load_file(&o.cfg, cfgfile, err, sizeof(err))) {
		fail("%s", err);
		goto out;
	}
	if (ts_config_load_env(&o.cfg, err, sizeof(err))) {
		fail("%s", err);
		goto out;
	}
	if (ts_cli_parse_flags(&o, argc, argv, first) || log_setup(&o.cfg, &audit_fd))
		goto out;
	/* An administration command's stdout is its result; its log events
	 * (warnings, audit) go to stderr with its errors. */
	if (c->fn != cmd_serve)
		ts_log_set_fds(2, 2);
	rc = c->fn(&o);
out:
	if (audit_fd >= 0) {
		ts_log_set_audit_fd(-1);
		close(audit_fd);
	}
	ts_config_free(&o.cfg);
	return rc;
}
