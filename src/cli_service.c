/* What `tessera serve` does while it runs: systemd's notifications
 * (sd_notify(3): READY=1 once the socket accepts, STOPPING=1 on SIGTERM
 * or SIGINT, WATCHDOG=1 at half of WATCHDOG_USEC), and SIGHUP, which
 * reads the settings again and applies those that can change at run time.
 * Without NOTIFY_SOCKET (not under systemd) sd_notify does nothing. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "cli_internal.h"
#include "core/log.h"
#include "core/util.h"

/* Settings SIGHUP applies (ts_auth_reload, the log level); any other
 * change waits for a restart and is said so. */
static const char *const live_settings[] = {
	"log_level", "lock_after", "lock_secs", "mfa_lock_after", "mfa_lock_secs",
	"rl_ip_per_min", "rl_ip_burst", "rl_account_per_min", "rl_account_burst",
	"smtp_url", "smtp_from", "smtp_password", "smtp_timeout",
};

static int
is_live(const char *name)
{
	for (size_t i = 0; i < sizeof(live_settings) / sizeof(live_settings[0]); i++)
		if (strcmp(live_settings[i], name) == 0)
			return 1;
	return 0;
}

void
ts_service_ready(const char *addr)
{
	sd_notifyf(0, "READY=1\nSTATUS=listening on %s", addr);
}

/* Appends name to a comma list in buf (cap bytes). */
static void
list_add(char *buf, size_t cap, const char *name)
{
	size_t n = strlen(buf);

	snprintf(buf + n, cap - n, "%s%s", n ? "," : "", name);
}

/* The settings as they would be read now: defaults, the file, the
 * environment, the flags of the command line, in that order. 0, or -1
 * with the reason in err. */
static int
read_again(const cli_opts *o, ts_config *next, char *err, size_t errsz)
{
	cli_opts tmp;

	ts_config_defaults(next);
	if (o->config_file && ts_config_load_file(next, o->config_file, err, errsz))
		return -1;
	if (ts_config_load_env(next, err, errsz))
		return -1;
	memset(&tmp, 0, sizeof(tmp));
	tmp.cfg = *next;
	if (ts_cli_parse_flags(&tmp, o->argc, o->argv, o->first)) {
		*next = tmp.cfg;
		snprintf(err, errsz, "the command line's flags no longer apply");
		return -1;
	}
	*next = tmp.cfg;
	/* Values serve derived at start when none was set (the issuer from
	 * --listen, --demo's default tenant) are not changes. */
	if (!*next->issuer) {
		free(next->issuer);
		next->issuer = strdup(o->cfg.issuer);
	}
	if (o->demo && !*next->default_tenant) {
		free(next->default_tenant);
		next->default_tenant = strdup(o->cfg.default_tenant);
	}
	if (!next->issuer || !next->default_tenant) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

void
ts_service_reload(cli_opts *o, ts_auth *auth)
{
	char err[512] = "", changed[1024] = "", restart[1024] = "";
	ts_log_level lvl = TS_LOG_INFO, was = TS_LOG_INFO;
	ts_config next;
	ts_err r;

	sd_notify(0, "RELOADING=1");
	if (read_again(o, &next, err, sizeof(err)) != 0)
		goto failed;
	for (size_t i = 0; i < ts_config_count(); i++) {
		if (ts_config_same(&o->cfg, &next, i))
			continue;
		list_add(is_live(ts_config_name(i)) ? changed : restart,
		         is_live(ts_config_name(i)) ? sizeof(changed) : sizeof(restart),
		         ts_config_name(i));
	}
	/* config.c checked every value; the level is one of the four. */
	(void)ts_log_level_parse(next.log_level, &lvl);
	(void)ts_log_level_parse(o->cfg.log_level, &was);
	ts_auth_live live = {
		.lock_after = (int)next.lock_after,
		.lock_secs = next.lock_secs,
		.mfa_lock_after = (int)next.mfa_lock_after,
		.mfa_lock_secs = next.mfa_lock_secs,
		.rl_ip_rate = (double)next.rl_ip_per_min / 60.0,
		.rl_ip_burst = (double)next.rl_ip_burst,
		.rl_account_rate = (double)next.rl_account_per_min / 60.0,
		.rl_account_burst = (double)next.rl_account_burst,
		.smtp_url = next.smtp_url,
		.smtp_from = next.smtp_from,
		.smtp_password = next.smtp_password,
		.smtp_timeout = next.smtp_timeout,
	};
	if (*changed && (r = ts_auth_reload(auth, &live)) != TS_OK) {
		snprintf(err, sizeof(err), "the mail settings do not make a mailer (%s)",
		         ts_strerror(r));
		goto failed;
	}
	/* What is running now is the old settings with the live ones
	 * replaced: a setting that needs a restart is told again next time. */
	for (size_t i = 0; i < ts_config_count(); i++)
		if (is_live(ts_config_name(i)))
			ts_config_swap(&o->cfg, &next, i);
	/* The line is written at the lower of the two levels, so a reload
	 * that turns info on or off is still seen. */
	ts_log_set_level(lvl < was ? lvl : was);
	ts_log_event(TS_LOG_INFO, "config_reloaded", "file", o->config_file, "changed", changed,
	             "restart_needed", restart, NULL);
	ts_log_set_level(lvl);
	ts_config_free(&next);
	sd_notify(0, "READY=1");
	return;
failed:
	ts_log_event(TS_LOG_ERROR, "config_reload_failed", "file", o->config_file, "error", err,
	             "effect", "nothing changed", NULL);
	ts_config_free(&next);
	sd_notify(0, "READY=1");
}

uint64_t
ts_service_watchdog_us(void)
{
	uint64_t usec = 0;

	/* WATCHDOG_USEC (and WATCHDOG_PID, when set, naming us): ping at
	 * half the period, as sd_watchdog_enabled(3) advises. */
	return sd_watchdog_enabled(0, &usec) > 0 ? usec / 2 : 0;
}

int
ts_service_sigwait(const sigset_t *set, uint64_t ping_us)
{
	int sig = 0;

	if (!ping_us)
		return sigwait(set, &sig) == 0 ? sig : 0;
	struct timespec ts = { (time_t)(ping_us / 1000000), (long)(ping_us % 1000000) * 1000 };
	if ((sig = sigtimedwait(set, NULL, &ts)) > 0)
		return sig;
	if (errno == EAGAIN)
		sd_notify(0, "WATCHDOG=1");
	return 0;
}

void
ts_service_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}
