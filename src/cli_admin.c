/* The command line's mirror of the admin API (issue 9): the same engine
 * functions (auth/admin.h) with the command line as the operator actor,
 * audited as "cli".
 *   tessera tenant set SLUG [...]       PATCH /customers/{slug}
 *   tessera tenant delete SLUG [--force]
 *   tessera user list --tenant SLUG [--email E]
 *   tessera user delete --tenant SLUG --email E
 *   tessera user sessions-revoke --tenant SLUG --email E
 *   tessera audit [--tenant SLUG] [--user ID] [--type T] [--limit N]
 *   tessera apikey create|list|revoke */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/admin.h"
#include "cli_internal.h"
#include "core/util.h"
#include "crypto/hash.h"

static int xfail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
xfail(const char *fmt, ...)
{
	va_list ap;

	fputs("tessera: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* X(name, kind): 1 a switch, 2 takes a value. */
#define CLI_ADMIN_FLAGS(X)                                                   \
	X("name", 2) X("slug", 2) X("password-min-length", 2) X("force", 1)  \
	X("no-mfa-required", 1) X("registration-open", 1)                    \
	X("registration-closed", 1) X("no-domains", 1) X("user", 2)          \
	X("type", 2) X("limit", 2) X("after", 2)                             \
	X("redirect-uri", 2) X("post-logout-uri", 2) X("grant", 2)           \
	X("scope", 2) X("public", 1) X("first-party", 1)

int
cli_admin_flag(const char *name)
{
#define CLI_FLAG_CASE(n, k) if (strcmp(name, n) == 0) return k;
	CLI_ADMIN_FLAGS(CLI_FLAG_CASE)
#undef CLI_FLAG_CASE
	return 0;
}

/* The table's own text of a flag name (the caller's buffer is reused). */
static const char *
flag_name(const char *name)
{
#define CLI_FLAG_NAME(n, k) if (strcmp(name, n) == 0) return n;
	CLI_ADMIN_FLAGS(CLI_FLAG_NAME)
#undef CLI_FLAG_NAME
	return NULL;
}

int
cli_admin_flag_set(cli_opts *o, const char *name, const char *v)
{
	if (o->nx == CLI_XFLAGS)
		return xfail("too many flags");
	if (!(o->xname[o->nx] = flag_name(name)))
		return xfail("unknown flag --%s", name);
	o->xval[o->nx++] = v ? v : "";
	return 0;
}

/* The flag's last value, or NULL when it was not given (cli_internal.h). */
const char *
cli_xflag(const cli_opts *o, const char *name)
{
	const char *v = NULL;

	for (int i = 0; i < o->nx; i++)
		if (strcmp(o->xname[i], name) == 0)
			v = o->xval[i];
	return v;
}

int
cli_ctx_open(cli_opts *o, cli_ctx *c)
{
	ts_pw_cost cost = cli_pw_cost(&o->cfg);

	memset(c, 0, sizeof(*c));
	ts_actor_cli(&c->who);
	if (cli_open_store(o, &c->s))
		return 1;
	if (ts_auth_new_admin(c->s, &cost, o->cfg.operator_tenant, &c->a) != TS_OK) {
		ts_store_close(c->s);
		c->s = NULL;
		return xfail("out of memory");
	}
	return 0;
}

void
cli_ctx_close(cli_ctx *c)
{
	ts_auth_free(c->a);
	ts_store_close(c->s);
}

/* The user named by --tenant/--email, with the messages every user
 * command gives. */
static int
find_user(cli_ctx *c, const cli_opts *o, const char *cmd, ts_user *u)
{
	ts_err r;

	if (!o->tenant || !o->email)
		return xfail("usage: tessera user %s --tenant SLUG --email EMAIL", cmd);
	if ((r = ts_admin_user_lookup(c->a, &c->who, o->tenant, o->email, u)) == TS_OK)
		return 0;
	if (r == TS_E_TENANT_UNKNOWN)
		return xfail("no tenant '%s'", o->tenant);
	if (r == TS_E_NOT_FOUND)
		return xfail("no user %s in tenant %s", o->email, o->tenant);
	return xfail("cannot read user: %s", ts_strerror(r));
}

/* ---- tenant add | set | delete ---- */

ts_err
cli_admin_tenant_new(cli_opts *o, ts_store *s, ts_tenant *out, int *bad)
{
	char norm[MAX_LIST][TS_HOST_MAX + 1];
	ts_pw_cost cost = cli_pw_cost(&o->cfg);
	ts_tenant_patch p = { .slug = o->pos[0], .set_mfa = 1, .mfa_required = o->mfa_required,
	                      .set_registration = 1,
	                      .registration_open = cli_xflag(o, "registration-open") != NULL };
	ts_actor cli;
	ts_auth *a = NULL;
	ts_err r;

	*bad = -1;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < o->ndomains; i++) {
		if (ts_admin_host_normal(o->domains[i], norm[i]) != TS_OK) {
			*bad = i;
			return TS_E_INVALID;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(norm[i], norm[j]) == 0)
				return TS_E_CONFLICT;   /* as the store says of a taken one */
	}
	if (o->ndomains) {
		p.set_domains = 1;
		p.domains = o->domains;
		p.ndomains = o->ndomains;
	}
	if ((r = ts_auth_new_admin(s, &cost, o->cfg.operator_tenant, &a)) != TS_OK)
		return r;
	ts_actor_cli(&cli);
	r = ts_admin_tenant_new(a, &cli, &p, out, NULL);
	ts_auth_free(a);
	return r;
}

static int
cmd_tenant_set(cli_opts *o)
{
	ts_tenant_patch p = { 0 };
	const char *bad = NULL, *v;
	cli_ctx c;
	ts_tenant t;
	ts_err r;
	int rc = 1;

	if (o->npos != 1)
		return xfail("usage: tessera tenant set SLUG [--slug NEW] [--name NAME] "
		             "[--mfa-required|--no-mfa-required] "
		             "[--registration-open|--registration-closed] "
		             "[--password-min-length N] [--domain HOST]... [--no-domains]");
	p.slug = cli_xflag(o, "slug");
	p.name = cli_xflag(o, "name");
	if (o->mfa_required || cli_xflag(o, "no-mfa-required")) {
		p.set_mfa = 1;
		p.mfa_required = o->mfa_required;
	}
	if (cli_xflag(o, "registration-open") || cli_xflag(o, "registration-closed")) {
		p.set_registration = 1;
		p.registration_open = cli_xflag(o, "registration-open") != NULL;
	}
	if ((v = cli_xflag(o, "password-min-length"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < 0 || n > 100000)
			return xfail("--password-min-length: not a number: %s", v);
		p.set_pw_min = 1;
		p.password_min_length = (int)n;
	}
	if (o->ndomains || cli_xflag(o, "no-domains")) {
		p.set_domains = 1;
		p.domains = o->domains;
		p.ndomains = o->ndomains;
	}
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_tenant_set(c.a, &c.who, o->pos[0], &p, &t, &bad);
	if (r == TS_OK) {
		printf("updated tenant %s\n", t.slug);
		rc = 0;
	} else if (r == TS_E_NOT_FOUND) {
		xfail("no tenant '%s'", o->pos[0]);
	} else if (r == TS_E_INVALID) {
		xfail("invalid %s", bad ? bad : "value");
	} else if (r == TS_E_CONFLICT) {
		xfail("%s already belongs to another tenant", bad && !strcmp(bad, "domains")
		                                                  ? "a domain" : "the slug");
	} else if (r == TS_E_PERMISSION) {
		xfail("the operator tenant cannot be renamed");
	} else {
		xfail("cannot update tenant: %s", ts_strerror(r));
	}
	cli_ctx_close(&c);
	return rc;
}

static int
cmd_tenant_delete(cli_opts *o)
{
	cli_ctx c;
	ts_err r;
	int rc = 1;

	if (o->npos != 1)
		return xfail("usage: tessera tenant delete SLUG [--force]");
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_tenant_remove(c.a, &c.who, o->pos[0], cli_xflag(o, "force") != NULL);
	if (r == TS_OK) {
		printf("deleted tenant %s\n", o->pos[0]);
		rc = 0;
	} else if (r == TS_E_NOT_FOUND) {
		xfail("no tenant '%s'", o->pos[0]);
	} else if (r == TS_E_CONFLICT) {
		xfail("tenant %s has users; add --force to delete them with it", o->pos[0]);
	} else if (r == TS_E_PERMISSION) {
		xfail("the operator tenant cannot be deleted");
	} else {
		xfail("cannot delete tenant: %s", ts_strerror(r));
	}
	cli_ctx_close(&c);
	return rc;
}

/* ---- user list | delete | sessions-revoke ---- */

typedef struct list_ctx {
	char last[TS_EMAIL_MAX + 1];
	int n;
} list_ctx;

static int
print_user(void *arg, const ts_user *u)
{
	list_ctx *l = arg;

	printf("%s\t%s\t%s%s%s\n", u->id, u->email, u->is_verified ? "verified" : "unverified",
	       u->is_admin ? "\tadmin" : "", u->is_disabled ? "\tdisabled" : "");
	ts_strlcpy(l->last, u->email_norm, sizeof(l->last));
	l->n++;
	return 0;
}

static int
cmd_user_list(cli_opts *o)
{
	list_ctx l = { "", 0 };
	cli_ctx c;
	ts_err r = TS_OK;
	int more = 1;

	if (!o->tenant)
		return xfail("usage: tessera user list --tenant SLUG [--email EMAIL]");
	if (cli_ctx_open(o, &c))
		return 1;
	/* The API's pages, walked to the end. */
	while (more && r == TS_OK)
		r = ts_admin_user_page(c.a, &c.who, o->tenant, l.last, o->email, 500, print_user, &l,
		                       &more);
	cli_ctx_close(&c);
	if (r == TS_E_NOT_FOUND)
		return xfail("no tenant '%s'", o->tenant);
	if (r != TS_OK)
		return xfail("cannot list users: %s", ts_strerror(r));
	return 0;
}

static int
cmd_user_delete(cli_opts *o)
{
	cli_ctx c;
	ts_user u;
	ts_err r;
	int rc = 1;

	if (cli_ctx_open(o, &c))
		return 1;
	if (find_user(&c, o, "delete", &u) == 0) {
		if ((r = ts_admin_user_remove(c.a, &c.who, o->tenant, u.id)) == TS_OK) {
			printf("deleted %s from tenant %s\n", u.email, o->tenant);
			rc = 0;
		} else {
			xfail("cannot delete %s: %s", o->email, ts_strerror(r));
		}
	}
	cli_ctx_close(&c);
	return rc;
}

static int
cmd_user_sessions_revoke(cli_opts *o)
{
	cli_ctx c;
	ts_user u;
	ts_err r;
	int rc = 1, n = 0;

	if (cli_ctx_open(o, &c))
		return 1;
	if (find_user(&c, o, "sessions-revoke", &u) == 0) {
		if ((r = ts_admin_user_sessions_end(c.a, &c.who, o->tenant, u.id, &n)) == TS_OK) {
			printf("ended %d session%s of %s in tenant %s\n", n, n == 1 ? "" : "s", u.email,
			       o->tenant);
			rc = 0;
		} else {
			xfail("cannot end sessions of %s: %s", o->email, ts_strerror(r));
		}
	}
	cli_ctx_close(&c);
	return rc;
}

int
cli_admin_user_flags(cli_opts *o, int verify, int disable, int enable)
{
	ts_user_patch p = { 0 };
	cli_ctx c;
	ts_user u;
	ts_err r;
	int rc = 1, n = 0;

	p.set_verified = verify;
	p.is_verified = 1;
	p.set_disabled = disable || enable;
	p.is_disabled = disable;
	if (cli_ctx_open(o, &c))
		return 1;
	if (find_user(&c, o, verify ? "verify" : disable ? "disable" : "enable", &u) != 0)
		goto out;
	if ((r = ts_admin_user_set(c.a, &c.who, o->tenant, u.id, &p, &u, &n)) != TS_OK) {
		xfail("cannot update %s: %s", o->email, ts_strerror(r));
		goto out;
	}
	if (disable)
		printf("disabled %s in tenant %s; ended %d session%s\n", u.email, o->tenant, n,
		       n == 1 ? "" : "s");
	else
		printf("%s %s in tenant %s\n", verify ? "verified" : "enabled", u.email, o->tenant);
	rc = 0;
out:
	cli_ctx_close(&c);
	return rc;
}

int
cli_admin_user_unlock(cli_opts *o)
{
	cli_ctx c;
	ts_user u;
	ts_err r;
	int rc = 1;

	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_user_lookup(c.a, &c.who, o->tenant, o->email, &u);
	if (r == TS_OK)
		r = ts_admin_user_unlock(c.a, &c.who, o->tenant, u.id);
	if (r == TS_E_TENANT_UNKNOWN)
		xfail("no tenant '%s'", o->tenant);
	/* Failures are counted for unknown addresses too (by design), but an
	 * operator who mistyped one must hear that no such user exists. */
	else if (r == TS_E_NOT_FOUND)
		xfail("no user %s in tenant %s; nothing unlocked", o->email, o->tenant);
	else if (r != TS_OK)
		xfail("cannot unlock: %s", ts_strerror(r));
	else {
		printf("unlocked %s in tenant %s (failed logins cleared)\n", o->email, o->tenant);
		rc = 0;
	}
	cli_ctx_close(&c);
	return rc;
}

/* ---- audit ---- */

static int
print_audit(void *arg, const ts_audit_rec *e)
{
	char at[32];

	(void)arg;
	ts_rfc3339(e->at, at);
	printf("%s\t%s\t%s\t%s\t%s\t%s\n", at, e->event, *e->tenant ? e->tenant : "-",
	       *e->user_id ? e->user_id : "-", *e->actor ? e->actor : "-", e->data);
	return 0;
}

static int
cmd_audit(cli_opts *o)
{
	ts_audit_filter f = { .limit = 100 };
	const char *v;
	cli_ctx c;
	ts_err r;

	if ((v = cli_xflag(o, "limit"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < 1 || n > 100000)
			return xfail("--limit: a number from 1 to 100000");
		f.limit = (int)n;
	}
	if ((v = cli_xflag(o, "after"))) {
		char *end;
		long long n = strtoll(v, &end, 10);
		if (!*v || *end || n < 0)
			return xfail("--after: epoch seconds");
		f.after = n;
	}
	f.tenant = o->tenant;
	f.user_id = cli_xflag(o, "user");
	f.event = cli_xflag(o, "type");
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_audit_list(c.a, &c.who, &f, print_audit, NULL);
	cli_ctx_close(&c);
	if (r == TS_E_NOT_FOUND)
		return xfail("no tenant '%s'", o->tenant);
	if (r != TS_OK)
		return xfail("cannot read the audit log: %s", ts_strerror(r));
	return 0;
}

/* ---- apikey create | list | revoke ---- */

static int
cmd_apikey_create(cli_opts *o)
{
	char text[TS_APIKEY_TEXT_MAX];
	const char *name = cli_xflag(o, "name");
	cli_ctx c;
	ts_apikey k;
	ts_err r;
	int rc = 1;

	if (!o->tenant || !name)
		return xfail("usage: tessera apikey create --tenant SLUG --name NAME");
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_apikey_create(c.a, &c.who, o->tenant, name, text, &k);
	if (r == TS_OK) {
		/* Shown this once: only its hash is kept. */
		printf("%s\n", text);
		fprintf(stderr, "API key %s (%s) of tenant %s; it is shown only now\n", k.id, k.name,
		        o->tenant);
		rc = 0;
	} else if (r == TS_E_TENANT_UNKNOWN) {
		xfail("no tenant '%s'", o->tenant);
	} else if (r == TS_E_INVALID) {
		xfail("--name: 1 to %d printable characters", TS_APIKEY_NAME_MAX);
	} else {
		xfail("cannot create an API key: %s", ts_strerror(r));
	}
	ts_wipe(text, sizeof(text));
	cli_ctx_close(&c);
	return rc;
}

static int
print_key(void *arg, const ts_apikey *k)
{
	char at[32];

	(void)arg;
	ts_rfc3339(k->created_at, at);
	printf("%s\t%s\t%s\t%s\n", k->id, k->name, at, k->revoked_at ? "revoked" : "live");
	return 0;
}

static int
cmd_apikey_list(cli_opts *o)
{
	cli_ctx c;
	ts_err r;

	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_apikey_list(c.a, &c.who, o->tenant, print_key, NULL);
	cli_ctx_close(&c);
	if (r == TS_E_TENANT_UNKNOWN)
		return xfail("no tenant '%s'", o->tenant);
	if (r != TS_OK)
		return xfail("cannot list API keys: %s", ts_strerror(r));
	return 0;
}

static int
cmd_apikey_revoke(cli_opts *o)
{
	cli_ctx c;
	ts_err r;

	if (o->npos != 1)
		return xfail("usage: tessera apikey revoke ID");
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_apikey_revoke(c.a, &c.who, o->pos[0]);
	cli_ctx_close(&c);
	if (r == TS_E_NOT_FOUND)
		return xfail("no API key %s", o->pos[0]);
	if (r != TS_OK)
		return xfail("cannot revoke: %s", ts_strerror(r));
	printf("revoked API key %s\n", o->pos[0]);
	return 0;
}

#define U_STORE TS_USE_STORE
const cli_cmd cli_admin_commands[] = {
	{ "tenant", "set", cmd_tenant_set,
	  "tessera tenant set SLUG [--slug NEW] [--name NAME] [--mfa-required|--no-mfa-required] "
	  "[--registration-open|--registration-closed] [--password-min-length N] "
	  "[--domain HOST]... [--no-domains]",
	  "  --domain HOST        replaces the tenant's domains with these (repeatable)\n"
	  "  --no-domains         removes every domain\n"
	  "  --password-min-length N  0 = the policy's default\n",
	  U_STORE, TS_STORE_EXISTING },
	{ "tenant", "delete", cmd_tenant_delete, "tessera tenant delete SLUG [--force]",
	  "  --force              also delete its users (else refused while it has any)\n",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "list", cmd_user_list,
	  "tessera user list --tenant SLUG [--email EMAIL]  (id, email, flags; by address)", "",
	  U_STORE, TS_STORE_EXISTING },
	{ "user", "delete", cmd_user_delete,
	  "tessera user delete --tenant SLUG --email EMAIL  (with the user's sessions and factors)",
	  "", U_STORE, TS_STORE_EXISTING },
	{ "user", "sessions-revoke", cmd_user_sessions_revoke,
	  "tessera user sessions-revoke --tenant SLUG --email EMAIL", "", U_STORE,
	  TS_STORE_EXISTING },
	{ "audit", NULL, cmd_audit,
	  "tessera audit [--tenant SLUG] [--user ID] [--type EVENT] [--after EPOCH] [--limit N]  "
	  "(newest first)",
	  "", U_STORE, TS_STORE_EXISTING },
	{ "apikey", "create", cmd_apikey_create,
	  "tessera apikey create --tenant SLUG --name NAME  (prints the key once)", "", U_STORE,
	  TS_STORE_EXISTING },
	{ "apikey", "list", cmd_apikey_list, "tessera apikey list [--tenant SLUG]", "", U_STORE,
	  TS_STORE_EXISTING },
	{ "apikey", "revoke", cmd_apikey_revoke, "tessera apikey revoke ID", "", U_STORE,
	  TS_STORE_EXISTING },
};
const size_t cli_admin_ncommands = sizeof(cli_admin_commands) / sizeof(cli_admin_commands[0]);
