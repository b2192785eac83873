/* Private to the command line (cli*.c): the parsed options and the
 * helpers every command uses. Commands beyond the core ones live in their
 * own files (cli_ops.c: config, db backup/restore, keys export/import;
 * cli_service.c: systemd notifications and the SIGHUP reload, called
 * from serve's signal loop in cli.c). */
#ifndef TS_CLI_INTERNAL_H
#define TS_CLI_INTERNAL_H

#include <signal.h>
#include <stdint.h>
#include "auth/auth.h"
#include "config.h"
#include "crypto/seal.h"
#include "store/store.h"

#define MAX_LIST 16

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
	int registration_open;       /* tenant add --registration-open */
	ts_store_mode mode;          /* the command's: may it create the store? */
	/* The command line as given, so SIGHUP can read the settings again
	 * in the same order (file < environment < flags). */
	int argc, first;
	char **argv;
	const char *config_file;     /* --config or TESSERA_CONFIG; NULL for none */
} cli_opts;

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
