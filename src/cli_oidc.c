/* The command line's OpenID Connect clients (issue 11): the engine's
 * functions (auth/oidc.h) with the command line as the operator actor,
 * audited as "cli", like cli_admin.c.
 *   tessera client add --tenant SLUG --name NAME [--public] [--first-party]
 *                      [--redirect-uri URI]... [--post-logout-uri URI]...
 *                      [--grant G]... [--scope S]...
 *   tessera client list --tenant SLUG
 *   tessera client delete --tenant SLUG CLIENT_ID */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth/oidc.h"
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

/* Every value of a repeatable flag, in the given order. */
static void
xflags(const cli_opts *o, const char *name, ts_oidc_strs *out, const char **v)
{
	out->set = 0;
	out->n = 0;
	out->v = v;
	for (int i = 0; i < o->nx; i++)
		if (strcmp(o->xname[i], name) == 0) {
			out->set = 1;
			v[out->n++] = o->xval[i];
		}
}

static int
cmd_client_add(cli_opts *o)
{
	const char *v[4][CLI_XFLAGS], *bad = NULL;
	char secret[TS_SECRET_TEXT_LEN + 1];
	ts_oidc_client_patch p = { 0 };
	ts_oidc_client cl;
	cli_ctx c;
	ts_err r;
	int rc = 1;

	p.name = cli_xflag(o, "name");
	if (!o->tenant || !p.name)
		return xfail("usage: tessera client add --tenant SLUG --name NAME [--public] "
		             "[--redirect-uri URI]...");
	xflags(o, "redirect-uri", &p.redirect_uris, v[0]);
	xflags(o, "post-logout-uri", &p.post_logout_uris, v[1]);
	xflags(o, "grant", &p.grant_types, v[2]);
	xflags(o, "scope", &p.scopes, v[3]);
	p.set_first_party = p.first_party = cli_xflag(o, "first-party") != NULL;
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_client_new(c.a, &c.who, o->tenant, &p, cli_xflag(o, "public") == NULL, secret, &cl,
	                        &bad);
	if (r == TS_OK) {
		/* stdout: the id, then the secret shown this once */
		printf("%s\n", cl.id);
		if (secret[0])
			printf("%s\n", secret);
		fprintf(stderr, "%s client %s (%s) of tenant %s%s\n",
		        secret[0] ? "confidential" : "public", cl.id, cl.name, o->tenant,
		        secret[0] ? "; its secret is shown only now" : "");
		rc = 0;
	} else if (r == TS_E_TENANT_UNKNOWN) {
		xfail("no tenant '%s'", o->tenant);
	} else if (r == TS_E_INVALID) {
		xfail("%s: not accepted (docs/OIDC.md)", bad ? bad : "client");
	} else {
		xfail("cannot create a client: %s", ts_strerror(r));
	}
	ts_wipe(secret, sizeof(secret));
	cli_ctx_close(&c);
	return rc;
}

static int
print_client(void *arg, const ts_oidc_client *cl)
{
	char at[32];

	(void)arg;
	ts_rfc3339(cl->created_at, at);
	printf("%s\t%s\t%s\t%s\t%s\n", cl->id, cl->name,
	       cl->secret_hash[0] ? "confidential" : "public", at, cl->redirect_uris);
	return 0;
}

static int
cmd_client_list(cli_opts *o)
{
	cli_ctx c;
	ts_err r;

	if (!o->tenant)
		return xfail("usage: tessera client list --tenant SLUG");
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_client_list(c.a, &c.who, o->tenant, print_client, NULL);
	cli_ctx_close(&c);
	if (r == TS_E_TENANT_UNKNOWN)
		return xfail("no tenant '%s'", o->tenant);
	if (r != TS_OK)
		return xfail("cannot list clients: %s", ts_strerror(r));
	return 0;
}

static int
cmd_client_delete(cli_opts *o)
{
	cli_ctx c;
	ts_err r;

	if (!o->tenant || o->npos != 1)
		return xfail("usage: tessera client delete --tenant SLUG CLIENT_ID");
	if (cli_ctx_open(o, &c))
		return 1;
	r = ts_admin_client_remove(c.a, &c.who, o->tenant, o->pos[0]);
	cli_ctx_close(&c);
	if (r == TS_E_NOT_FOUND)
		return xfail("no client %s in tenant %s", o->pos[0], o->tenant);
	if (r != TS_OK)
		return xfail("cannot delete: %s", ts_strerror(r));
	printf("deleted client %s\n", o->pos[0]);
	return 0;
}

const cli_cmd cli_oidc_commands[] = {
	{ "client", "add", cmd_client_add,
	  "tessera client add --tenant SLUG --name NAME [--public] [--redirect-uri URI]...  "
	  "(prints the client_id, then the secret once)",
	  "  --public             no secret (a browser or native app; PKCE is required)\n"
	  "  --redirect-uri URI   an allowed redirect URI, exact match (repeatable)\n"
	  "  --post-logout-uri URI  allowed after end_session (repeatable)\n"
	  "  --grant G            authorization_code, refresh_token, client_credentials (repeatable)\n"
	  "  --scope S            openid, email, profile, offline_access (repeatable)\n"
	  "  --first-party        no consent screen\n",
	  TS_USE_STORE, TS_STORE_EXISTING },
	{ "client", "list", cmd_client_list, "tessera client list --tenant SLUG", "", TS_USE_STORE,
	  TS_STORE_EXISTING },
	{ "client", "delete", cmd_client_delete, "tessera client delete --tenant SLUG CLIENT_ID", "",
	  TS_USE_STORE, TS_STORE_EXISTING },
};
const size_t cli_oidc_ncommands = sizeof(cli_oidc_commands) / sizeof(cli_oidc_commands[0]);
