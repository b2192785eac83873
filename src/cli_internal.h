/* Shared by the command line's files: cli.c (serve, tenants, users, keys,
 * db) and cli_admin.c (the admin API's mirror: tenant set|delete, user
 * list|delete|sessions-revoke, audit, apikey). */
#ifndef TS_CLI_INTERNAL_H
#define TS_CLI_INTERNAL_H

#include <stddef.h>
#include "config.h"
#include "core/err.h"
#include "crypto/password.h"
#include "store/store.h"

#define MAX_LIST 16
#define CLI_XFLAGS 16

typedef struct cli_opts {
	ts_config cfg;
	const char *pos[MAX_LIST];   /* positional arguments after the command */
	int npos;
	const char *domains[MAX_LIST];
	int ndomains;
	const char *origins[MAX_LIST];   /* --cors-origin */
	int norigins;
	const char *tenant;
	const char *email;
	const char *ttl;             /* user enroll-link --ttl SECS */
	int demo, verified, admin, mfa_required;
	ts_store_mode mode;          /* the command's: may it create the store? */
	/* cli_admin.c's own flags (cli_admin_flag): name and value ("" for
	 * a switch) */
	const char *xname[CLI_XFLAGS];
	const char *xval[CLI_XFLAGS];
	int nx;
} cli_opts;

typedef struct cli_cmd {
	const char *name;
	const char *sub;             /* NULL for a command without subcommands */
	int (*fn)(cli_opts *o);
	const char *usage;
	const char *flags;           /* its own flags, for --help */
	unsigned uses;               /* TS_USE_*: the settings --help lists */
	ts_store_mode mode;          /* TS_STORE_CREATE only for serve, tenant add */
} cli_cmd;

/* cli.c */
int cli_open_store(const cli_opts *o, ts_store **s);
ts_pw_cost cli_pw_cost(const ts_config *c);
int cli_read_password(char *buf, size_t cap, size_t *len);

/* cli_admin.c */
extern const cli_cmd cli_admin_commands[];
extern const size_t cli_admin_ncommands;
/* 0: not one of cli_admin.c's flags; 1: a switch; 2: takes a value. */
int cli_admin_flag(const char *name);
/* user verify|disable|enable and user unlock through the engine
 * (--tenant and --email checked by the caller). */
int cli_admin_user_flags(cli_opts *o, int verify, int disable, int enable);
int cli_admin_user_unlock(cli_opts *o);
/* tenant add: the tenant pos[0] with --domain and --mfa-required on store
 * s through the engine. TS_E_INVALID with *bad the index of the bad
 * domain, or -1 for the slug; TS_E_CONFLICT (also for a domain given
 * twice). */
ts_err cli_admin_tenant_new(cli_opts *o, ts_store *s, ts_tenant *out, int *bad);
/* Records a flag (v NULL for a switch); non-zero (reported) when full. */
int cli_admin_flag_set(cli_opts *o, const char *name, const char *v);

#endif
