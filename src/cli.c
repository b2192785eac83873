/* The `tessera` command line: serve, and the administration commands. Every
 * command takes every setting (flags, TESSERA_* variables, --config FILE). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/api.h"
#include "auth/auth.h"
#include "cli.h"
#include "config.h"
#include "core/log.h"
#include "core/pool.h"
#include "crypto/hash.h"
#include "http/http.h"
#include "store/store.h"

#define MAX_LIST 16

typedef struct cli_opts {
	ts_config cfg;
	const char *pos[MAX_LIST];   /* positional arguments after the command */
	int npos;
	const char *domains[MAX_LIST];
	int ndomains;
	const char *tenant;
	const char *email;
	int demo, verified, admin, mfa_required;
} cli_opts;

typedef struct cli_cmd {
	const char *name;
	const char *sub;             /* NULL for a command without subcommands */
	int (*fn)(cli_opts *o);
	const char *usage;
	const char *flags;           /* its own flags, for --help */
} cli_cmd;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One clear line on stderr and a non-zero exit code. */
static int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("tessera: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int
open_store(const cli_opts *o, ts_store **s)
{
	ts_err r = ts_store_open(o->cfg.db, s);

	if (r != TS_OK)
		return fail("cannot open store %s: %s", o->cfg.db, ts_store_open_error());
	return 0;
}

static ts_pw_cost
pw_cost(const ts_config *c)
{
	return (ts_pw_cost){ (uint64_t)c->pw_opslimit, (size_t)c->pw_memlimit_kib * 1024u };
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

/* Reads one line from stdin (echo off on a terminal). The password never
 * comes from argv, where any user can read it in /proc. Caller wipes buf. */
static int
read_password(char *buf, size_t cap, size_t *len)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO), ok;

	if (tty) {
		fputs("Password: ", stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ok = fgets(buf, (int)cap, stdin) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (!ok)
		return fail("no password on standard input");
	*len = strcspn(buf, "\r\n");
	if (buf[*len] == '\0' && *len == cap - 1)
		return fail("password longer than %d bytes", TS_PASSWORD_MAX);
	buf[*len] = '\0';
	return 0;
}

/* ---- tenant ---- */

static int
cmd_tenant_add(cli_opts *o)
{
	ts_store *s = NULL;
	ts_tenant t;
	ts_err r;
	int rc = 1;

	if (o->npos != 1)
		return fail("usage: tessera tenant add SLUG [--domain HOST]...");
	if (open_store(o, &s))
		return 1;
	if ((r = ts_admin_tenant_add(s, o->pos[0], o->mfa_required, &t)) != TS_OK) {
		if (r == TS_E_INVALID)
			fail("'%s' is not a slug: use 1-63 of a-z, 0-9 and '-'", o->pos[0]);
		else
			fail("cannot add tenant %s: %s", o->pos[0], ts_strerror(r));
		goto out;
	}
	for (int i = 0; i < o->ndomains; i++) {
		if ((r = ts_admin_tenant_domain(s, &t, o->domains[i])) != TS_OK) {
			fail("cannot add domain %s: %s", o->domains[i], ts_strerror(r));
			goto out;
		}
	}
	printf("%s\n", t.id);
	rc = 0;
out:
	ts_store_close(s);
	return rc;
}

static int
print_domain(void *arg, const char *host)
{
	(void)arg;
	printf(" %s", host);
	return 0;
}

/* "SLUG ID [mfa-required] [domain...]" */
static int
print_tenant(void *arg, const ts_tenant *t)
{
	ts_store *s = arg;

	printf("%s %s%s", t->slug, t->id, t->mfa_required ? " mfa-required" : "");
	(void)s->ops->tenant_domains(s, t->id, print_domain, NULL);
	putchar('\n');
	return 0;
}

static int
cmd_tenant_list(cli_opts *o)
{
	ts_store *s = NULL;
	ts_err r;

	if (open_store(o, &s))
		return 1;
	r = s->ops->tenant_list(s, print_tenant, s);
	ts_store_close(s);
	return r == TS_OK ? 0 : fail("cannot list tenants: %s", ts_strerror(r));
}

/* ---- user ---- */

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
	char pw[TS_PASSWORD_MAX + 2];
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
		printf("%s\n", u.id);
		rc = 0;
		break;
	case TS_E_INVALID:
		fail("'%s' is not a valid email address", o->email);
		break;
	case TS_E_PASSWORD_POLICY:
		fail("the password must be %d to %d bytes of UTF-8", TS_PASSWORD_MIN, TS_PASSWORD_MAX);
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

/* Finds the user named by --tenant/--email and applies set(). */
static int
user_update(cli_opts *o, const char *cmd, int verify, int disable, int enable)
{
	ts_store *s = NULL;
	ts_user u;
	ts_err r;
	int rc = 1;

	if (need_user_flags(o, cmd) || open_store(o, &s))
		goto out;
	if ((r = ts_admin_user_find(s, o->tenant, o->email, &u)) != TS_OK) {
		fail("no user %s in tenant %s", o->email, o->tenant);
		goto out;
	}
	if (verify)
		u.is_verified = 1;
	if (disable)
		u.is_disabled = 1;
	if (enable)
		u.is_disabled = 0;
	r = s->ops->user_set_flags(s, u.id, u.is_verified, u.is_admin, u.is_disabled);
	if (r == TS_OK && disable) {
		int n = 0;
		r = s->ops->user_sessions_revoke(s, u.id, ts_now(), &n);
	}
	if (r != TS_OK) {
		fail("cannot update %s: %s", o->email, ts_strerror(r));
		goto out;
	}
	rc = 0;
out:
	ts_store_close(s);
	return rc;
}

static int cmd_user_verify(cli_opts *o) { return user_update(o, "verify", 1, 0, 0); }
static int cmd_user_disable(cli_opts *o) { return user_update(o, "disable", 0, 1, 0); }
static int cmd_user_enable(cli_opts *o) { return user_update(o, "enable", 0, 0, 1); }

static int
cmd_user_password(cli_opts *o)
{
	char pw[TS_PASSWORD_MAX + 2];
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
		fail("cannot set the password: %s", ts_strerror(r));
		goto out;
	}
	rc = 0;
out:
	ts_wipe(pw, sizeof(pw));
	ts_store_close(s);
	return rc;
}

static int
cmd_user_unlock(cli_opts *o)
{
	ts_store *s = NULL;
	ts_err r;

	if (need_user_flags(o, "unlock") || open_store(o, &s))
		return 1;
	r = ts_admin_unlock(s, o->tenant, o->email);
	ts_store_close(s);
	if (r == TS_E_TENANT_UNKNOWN)
		return fail("no tenant '%s'", o->tenant);
	return r == TS_OK ? 0 : fail("cannot unlock: %s", ts_strerror(r));
}

static int
print_lock(void *arg, const ts_lock *l)
{
	char until[32] = "-";
	int64_t now = *(const int64_t *)arg;

	if (l->locked_until > now)
		ts_rfc3339(l->locked_until, until);
	printf("%s %s failures=%d locked_until=%s\n", l->tenant_id[0] ? l->tenant_id : "-",
	       l->email, l->failures, until);
	return 0;
}

static int
cmd_user_locks(cli_opts *o)
{
	ts_store *s = NULL;
	int64_t now = ts_now();
	ts_err r;

	if (open_store(o, &s))
		return 1;
	r = s->ops->lock_list(s, print_lock, &now);
	ts_store_close(s);
	return r == TS_OK ? 0 : fail("cannot list locks: %s", ts_strerror(r));
}

/* ---- keys ---- */

static int
cmd_keys_rotate(cli_opts *o)
{
	ts_store *s = NULL;
	char kid[TS_KID_MAX];
	ts_alg alg = TS_ALG_ES256;
	ts_err r;

	if (alg_of(&o->cfg, &alg) || open_store(o, &s))
		return 1;
	r = ts_admin_keys_rotate(s, alg, o->cfg.access_ttl, kid);
	ts_store_close(s);
	if (r != TS_OK)
		return fail("cannot rotate keys: %s", ts_strerror(r));
	printf("%s\n", kid);
	return 0;
}

/* ---- serve ---- */

#define DEMO_TENANT "demo"
#define DEMO_EMAIL "demo@example.com"

/* Makes sure the demo tenant and user exist, with a fresh password that is
 * printed (demo mode only: a real deployment never prints a password). */
static int
demo_setup(ts_store *s, cli_opts *o)
{
	ts_tenant t;
	ts_user u;
	char pw[TS_SECRET_TEXT_LEN + 1];
	ts_pw_cost c = pw_cost(&o->cfg);
	ts_err r;

	r = ts_admin_tenant_add(s, DEMO_TENANT, 0, &t);
	if (r != TS_OK && r != TS_E_CONFLICT)
		return fail("cannot create the demo tenant: %s", ts_strerror(r));
	ts_secret_new(pw);
	pw[16] = '\0';   /* 96 random bits is plenty for a demo */
	r = ts_admin_user_find(s, DEMO_TENANT, DEMO_EMAIL, &u);
	if (r == TS_OK)
		r = ts_admin_user_set_password(s, &c, &u, pw, strlen(pw));
	else if (r == TS_E_NOT_FOUND)
		r = ts_admin_user_add(s, &c, DEMO_TENANT, DEMO_EMAIL, pw, strlen(pw), 1, 1, &u);
	if (r != TS_OK)
		return fail("cannot create the demo user: %s", ts_strerror(r));
	if (!*o->cfg.default_tenant) {
		free(o->cfg.default_tenant);
		o->cfg.default_tenant = strdup(DEMO_TENANT);
	}
	printf("Demo tenant: %s\nDemo user:   %s\nPassword:    %s\n", DEMO_TENANT, DEMO_EMAIL, pw);
	printf("Try:         curl -s http://HOST:PORT/v1/auth/login -H 'Content-Type: application/json' "
	       "-d '{\"email\":\"%s\",\"password\":\"%s\"}'  (HOST:PORT as in the \"listening\" line below)\n",
	       DEMO_EMAIL, pw);
	fflush(stdout);
	ts_wipe(pw, sizeof(pw));
	return 0;
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
	static const char *names[] = { "debug", "info", "warn", "error" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*lvl = (ts_log_level)i;
			return 0;
		}
	return fail("log-level: '%s' is not debug, info, warn or error", s);
}

/* Blocks until SIGINT or SIGTERM. The signals were blocked in every thread
 * before any started, so they are taken here, not in a worker. */
static void
wait_for_stop(const sigset_t *set)
{
	int sig = 0;

	while (sigwait(set, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
		;
	ts_log_event(TS_LOG_INFO, "stopping", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM", NULL);
}

static int
cmd_serve(cli_opts *o)
{
	ts_store *s = NULL;
	ts_auth *auth = NULL;
	ts_api *api = NULL;
	ts_pool *pool = NULL;
	ts_http *http = NULL;
	ts_log_level lvl = TS_LOG_INFO;
	ts_alg alg = TS_ALG_ES256;
	sigset_t set;
	unsigned port = 0;
	ts_err r;
	int rc = 1;

	if (parse_log_level(o->cfg.log_level, &lvl) || alg_of(&o->cfg, &alg))
		return 1;
	ts_log_set_level(lvl);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (open_store(o, &s))
		return 1;
	if (o->demo && demo_setup(s, o))
		goto out;

	ts_auth_config ac = {
		.issuer = o->cfg.issuer,
		.audience = o->cfg.audience,
		.default_tenant = o->cfg.default_tenant,
		.alg = alg,
		.access_ttl = o->cfg.access_ttl,
		.refresh_ttl = o->cfg.refresh_ttl,
		.session_ttl = o->cfg.session_ttl,
		.challenge_ttl = o->cfg.challenge_ttl,
		.pw_cost = pw_cost(&o->cfg),
		.lock_after = (int)o->cfg.lock_after,
		.lock_secs = o->cfg.lock_secs,
		.totp_issuer = "Tessera",
		.rl_ip_rate = (double)o->cfg.rl_ip_per_min / 60.0,
		.rl_ip_burst = (double)o->cfg.rl_ip_burst,
		.rl_account_rate = (double)o->cfg.rl_account_per_min / 60.0,
		.rl_account_burst = (double)o->cfg.rl_account_burst,
		.smtp_url = o->cfg.smtp_url,
		.smtp_from = o->cfg.smtp_from,
		.smtp_timeout = o->cfg.smtp_timeout,
	};
	if ((r = ts_auth_new(&ac, s, &auth)) != TS_OK) {
		fail("cannot start the login engine: %s", ts_strerror(r));
		goto out;
	}
	ts_api_config pc = {
		.prefix_native = o->cfg.prefix_native,
		.prefix_admin = o->cfg.prefix_admin,
		.prefix_iam = o->cfg.prefix_iam,
		.prefix_px0 = o->cfg.prefix_px0,
	};
	if ((r = ts_api_new(&pc, auth, &api)) != TS_OK) {
		fail("cannot set up the API: %s", ts_strerror(r));
		goto out;
	}
	unsigned workers = o->cfg.hash_workers ? (unsigned)o->cfg.hash_workers : cores();
	if ((r = ts_pool_new(workers, (unsigned)o->cfg.hash_queue, &pool)) != TS_OK) {
		fail("cannot start hashing threads: %s", ts_strerror(r));
		goto out;
	}
	ts_http_config hc = {
		.listen = o->cfg.listen,
		.threads = (unsigned)o->cfg.http_threads,
		.conn_limit = (unsigned)o->cfg.conn_limit,
		.conn_limit_per_ip = (unsigned)o->cfg.conn_limit_per_ip,
		.conn_timeout = (unsigned)o->cfg.conn_timeout,
		.trusted_proxies = o->cfg.trusted_proxies,
		.pool = pool,
		.dispatch = ts_api_dispatch,
		.app = api,
	};
	if ((r = ts_http_start(&hc, &http, &port)) != TS_OK) {
		fail("cannot listen on %s: %s", o->cfg.listen, ts_http_start_error());
		goto out;
	}
	char addr[300], ports[16];
	const char *colon = strrchr(o->cfg.listen, ':');
	int hostlen = colon ? (int)(colon - o->cfg.listen) : 0;
	snprintf(addr, sizeof(addr), "%.*s:%u", hostlen, o->cfg.listen, port);
	snprintf(ports, sizeof(ports), "%u", port);
	ts_log_event(TS_LOG_INFO, "listening", "addr", addr, "port", ports, "db", o->cfg.db, NULL);

	wait_for_stop(&set);
	rc = 0;
out:
	/* The transport waits for in-flight requests (deferred ones run on the
	 * pool), so it stops before the pool, which stops before the engine. */
	ts_http_stop(http);
	ts_pool_free(pool);
	ts_api_free(api);
	ts_auth_free(auth);
	ts_store_close(s);
	return rc;
}

static const cli_cmd commands[] = {
	{ "serve", NULL, cmd_serve, "tessera serve [settings] [--demo]",
	  "  --demo               create a demo tenant and user, print their credentials\n" },
	{ "tenant", "add", cmd_tenant_add, "tessera tenant add SLUG [--domain HOST]... [--mfa-required]",
	  "  --domain HOST        requests with this Host header belong to the tenant (repeatable)\n"
	  "  --mfa-required       every user of the tenant must enrol a second factor\n" },
	{ "tenant", "list", cmd_tenant_list, "tessera tenant list", "" },
	{ "user", "add", cmd_user_add,
	  "tessera user add --tenant SLUG --email EMAIL [--verified] [--admin]  (password on stdin)",
	  "  --verified           the email address is already verified\n"
	  "  --admin              the user is an administrator\n" },
	{ "user", "verify", cmd_user_verify, "tessera user verify --tenant SLUG --email EMAIL", "" },
	{ "user", "disable", cmd_user_disable,
	  "tessera user disable --tenant SLUG --email EMAIL  (also ends the user's sessions)", "" },
	{ "user", "enable", cmd_user_enable, "tessera user enable --tenant SLUG --email EMAIL", "" },
	{ "user", "password", cmd_user_password,
	  "tessera user password --tenant SLUG --email EMAIL  (new password on stdin)", "" },
	{ "user", "unlock", cmd_user_unlock,
	  "tessera user unlock --tenant SLUG --email EMAIL  (clears failed logins and any lock)", "" },
	{ "user", "locks", cmd_user_locks,
	  "tessera user locks  (accounts with failed logins: tenant id, email, count, lock end)", "" },
	{ "keys", "rotate", cmd_keys_rotate, "tessera keys rotate  (new signing key; old ones stay published until their tokens expire)", "" },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage_all(FILE *f)
{
	fputs("usage:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fputs("Run 'tessera COMMAND --help' for a command's settings.\n", f);
}

static void
usage_cmd(FILE *f, const cli_cmd *c)
{
	fprintf(f, "usage: %s\n", c->usage);
	if (*c->flags)
		fputs(c->flags, f);
	fputs("settings (every command):\n", f);
	ts_config_usage(f);
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
static int
parse_flags(cli_opts *o, int argc, char **argv, int first)
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
		if (strcmp(name, "config") && strcmp(name, "domain") && strcmp(name, "tenant") &&
		    strcmp(name, "email") && !ts_config_known(name))
			return fail("unknown flag --%s (see --help)", name);
		if (!(v = flag_value(argc, argv, &i, arg)))
			return fail("%s needs a value", arg);
		if (!strcmp(name, "config"))
			continue;   /* already applied */
		if (!strcmp(name, "domain")) {
			if (add_list(o->domains, &o->ndomains, v, "domains"))
				return 1;
		} else if (!strcmp(name, "tenant")) {
			o->tenant = v;
		} else if (!strcmp(name, "email")) {
			o->email = v;
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
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const cli_cmd *c = &commands[i];
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

int
ts_cli_main(int argc, char **argv)
{
	cli_opts o;
	const cli_cmd *c;
	const char *cfgfile;
	char err[400];
	int first = 0, rc = 1;

	if (argc < 2) {
		usage_all(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage_all(stdout);
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
	ts_config_defaults(&o.cfg);
	if ((cfgfile = config_path(argc, argv)) &&
	    ts_config_load_file(&o.cfg, cfgfile, err, sizeof(err))) {
		fail("%s", err);
		goto out;
	}
	if (ts_config_load_env(&o.cfg, err, sizeof(err))) {
		fail("%s", err);
		goto out;
	}
	if (parse_flags(&o, argc, argv, first))
		goto out;
	rc = c->fn(&o);
out:
	ts_config_free(&o.cfg);
	return rc;
}
