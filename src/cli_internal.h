/* Private to the command line (cli*.c): the parsed options and the
 * helpers every command uses. Commands beyond the core ones live in their
 * own files (cli_ops.c: config, db backup/restore, keys export/import;
 * cli_service.c: systemd notifications and the SIGHUP reload, called
 * from serve's signal loop in cli.c). */
#ifndef TS_CLI_INTERNAL_H
#define TS_CLI_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "auth/auth.h"
#include "auth/admin.h"
#include "config.h"
#include "core/err.h"
#include "crypto/password.h"
#include "crypto/seal.h"
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
	const char *from_key_file;   /* keys import --from-key-file FILE */
	int demo, verified, admin, mfa_required;
	int skip_bad;                /* user import --skip-bad */
	ts_store_mode mode;          /* the command's: may it create the store? */
	/* The command line as given, so SIGHUP can read the settings again
	 * in the same order (file < environment < flags). */
	int argc, first;
	char **argv;
	const char *config_file;     /* --config or TESSERA_CONFIG; NULL for none */
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

/* One clear line on stderr ("tessera: ..."); returns 1, the exit code. */
int ts_cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define fail ts_cli_fail
/* Opens --db in the command's mode, or says why not (returns 1). */
int ts_cli_open_store(const cli_opts *o, ts_store **s);
#define open_store ts_cli_open_store
/* Opens the key file that seals s's secrets (cli.c says the rules). */
int ts_cli_open_kek(const cli_opts *o, ts_store *s, ts_kek *k);
#define open_kek ts_cli_open_kek
/* Applies the command-line flags from argv[first] on (after file and
 * environment); 1 on a bad flag, said. */
int ts_cli_parse_flags(cli_opts *o, int argc, char **argv, int first);
/* --db with --db-password added (a postgres:// URL's password=
 * parameter); caller frees. NULL with the reason said. */
char *ts_cli_dsn(const ts_config *c);

/* cli.c, for cli_admin.c */
int cli_open_store(const cli_opts *o, ts_store **s);
ts_pw_cost cli_pw_cost(const ts_config *c);
int cli_read_password(char *buf, size_t cap, size_t *len);

/* cli_admin.c */
extern const cli_cmd cli_admin_commands[];
extern const size_t cli_admin_ncommands;
/* cli_oidc.c: tessera client add|list|delete (its flags are in
 * cli_admin.c's table) */
extern const cli_cmd cli_oidc_commands[];
extern const size_t cli_oidc_ncommands;
/* 0: not one of cli_admin.c's flags; 1: a switch; 2: takes a value. */
int cli_admin_flag(const char *name);
/* user verify|disable|enable and user unlock through the engine
 * (--tenant and --email checked by the caller). */
int cli_admin_user_flags(cli_opts *o, int verify, int disable, int enable);
int cli_admin_user_unlock(cli_opts *o);
/* tenant add: the tenant pos[0] with --domain, --mfa-required and
 * --registration-open on store s through the engine. TS_E_INVALID with
 * *bad the index of the bad domain, or -1 for the slug; TS_E_CONFLICT
 * (also for a domain given twice). */
ts_err cli_admin_tenant_new(cli_opts *o, ts_store *s, ts_tenant *out, int *bad);
/* Records a flag (v NULL for a switch); non-zero (reported) when full. */
int cli_admin_flag_set(cli_opts *o, const char *name, const char *v);
/* The last value of a flag recorded by cli_admin_flag_set, or NULL. */
const char *cli_xflag(const cli_opts *o, const char *name);
/* The store and an engine for it, with the command line's actor: what
 * the admin and client commands run on (cli_admin.c). */
typedef struct cli_ctx {
	ts_store *s;
	ts_auth *a;
	ts_actor who;
} cli_ctx;
/* 1 (said) on failure; close with cli_ctx_close. */
int cli_ctx_open(cli_opts *o, cli_ctx *c);
void cli_ctx_close(cli_ctx *c);

/* cli_ops.c */
int ts_cmd_config_check(cli_opts *o);
int ts_cmd_db_backup(cli_opts *o);
int ts_cmd_db_restore(cli_opts *o);
int ts_cmd_keys_export(cli_opts *o);
int ts_cmd_keys_import(cli_opts *o);

/* cli_service.c: what `serve` does between start and stop. */
/* "READY=1" once the socket accepts, with a STATUS line (sd_notify). */
void ts_service_ready(const char *addr);
/* Half of WATCHDOG_USEC when systemd's watchdog is on for us, else 0. */
uint64_t ts_service_watchdog_us(void);
/* The next of the blocked signals in set; with ping_us > 0, sends
 * WATCHDOG=1 each ping_us without one (and returns 0 then). */
int ts_service_sigwait(const sigset_t *set, uint64_t ping_us);
/* STOPPING=1: a SIGTERM or SIGINT was taken. */
void ts_service_stopping(void);
/* SIGHUP: reads the settings again and applies those that can change at
 * run time; logs one "config_reloaded" line naming what changed and what
 * needs a restart (or "config_reload_failed" with the reason: nothing
 * changed then). */
void ts_service_reload(cli_opts *o, ts_auth *auth);

#endif
