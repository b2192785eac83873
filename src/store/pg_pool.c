/* PostgreSQL backend plumbing: the DSN, a bounded pool of libpq
 * connections shared by all threads, statements prepared once per
 * connection, error mapping, and keeping the password out of messages.
 *
 * DSN: the whole "postgres://..." or "postgresql://..." URI goes to libpq
 * as it is (RFC 3986 form, libpq §34.1.1); "postgres:KEYWORDS" passes
 * libpq's keyword form ("host=/run/postgresql dbname=tessera"). Tessera
 * adds connect_timeout=5 and application_name=tessera unless given, and
 * takes its own "pool=N" (connections per process, default 16) out of a
 * URI's query before libpq sees it.
 *
 * Pool: at most PG_POOL_MAX connections, opened on demand. A thread
 * borrows one for the whole op (so a transaction stays on one connection);
 * one that broke (server restart, network) is closed instead of returned,
 * and the next op opens a fresh one. An op waits at most wait_ms for a
 * connection; every statement runs under statement_timeout and
 * lock_timeout, so a stuck server yields TS_E_STORE_UNAVAILABLE, not a
 * hang. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/pg_internal.h"

#define PG_POOL_MAX 16
#define PG_WAIT_MS 10000

static const char *const pg_sql[PG_ST__COUNT] = {
#define PG_ST_SQL(name, sql) [name] = sql,
	PG_STATEMENTS(PG_ST_SQL)
#undef PG_ST_SQL
};

static const char *const pg_stmt_name[PG_ST__COUNT] = {
#define PG_ST_NAME(name, sql) [name] = #name,
	PG_STATEMENTS(PG_ST_NAME)
#undef PG_ST_NAME
};

/* ---- arguments ------------------------------------------------------ */

void
pg_arg_text(pg_args *a, const char *v)
{
	if (a->n < PG_MAX_ARGS)
		a->v[a->n++] = v ? v : "";
}

void
pg_arg_int(pg_args *a, int64_t v)
{
	if (a->n < PG_MAX_ARGS) {
		snprintf(a->num[a->n], sizeof a->num[a->n], "%" PRId64, v);
		a->v[a->n] = a->num[a->n];
		a->n++;
	}
}

void
pg_arg_real(pg_args *a, double v)
{
	if (a->n < PG_MAX_ARGS) {
		snprintf(a->num[a->n], sizeof a->num[a->n], "%.17g", v);
		a->v[a->n] = a->num[a->n];
		a->n++;
	}
}

/* ---- messages ------------------------------------------------------- */

void
pg_scrub(const pg_store *s, const char *msg, char *out, size_t n)
{
	const char *pw = s ? s->password : NULL;
	size_t pl = pw ? strlen(pw) : 0, o = 0;
	const char *p = msg ? msg : "";

	if (n == 0)
		return;
	while (*p && o + 1 < n) {
		if (pl && strncmp(p, pw, pl) == 0) {
			for (const char *r = "***"; *r && o + 1 < n; r++)
				out[o++] = *r;
			p += pl;
			continue;
		}
		out[o++] = *p == '\n' ? ' ' : *p;
		p++;
	}
	/* libpq ends messages with a newline */
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static void
report(const pg_store *s, const char *what, const char *msg)
{
	char clean[512];

	pg_scrub(s, msg, clean, sizeof clean);
	ts_store_report("postgres %s: %s", what, clean);
}

/* ---- errors --------------------------------------------------------- */

/* SQLSTATE (PostgreSQL Appendix A) to ts_err. */
static ts_err
map_state(const char *st)
{
	if (!st || strlen(st) != 5)
		return TS_E_STORE_UNAVAILABLE;   /* no server answer at all */
	if (strcmp(st, "23505") == 0)
		return TS_E_CONFLICT;            /* unique_violation */
	if (strcmp(st, "23503") == 0)
		return TS_E_NOT_FOUND;           /* foreign_key_violation */
	if (strcmp(st, "23502") == 0 || strcmp(st, "22001") == 0 ||
	    strcmp(st, "22P02") == 0 || strcmp(st, "22003") == 0)
		return TS_E_INVALID;             /* not null, too long, bad number */
	if (strcmp(st, "53200") == 0)
		return TS_E_NOMEM;
	if (strncmp(st, "08", 2) == 0 ||     /* connection exception */
	    strncmp(st, "57", 2) == 0 ||     /* cancelled, admin shutdown */
	    strncmp(st, "53", 2) == 0 ||     /* insufficient resources */
	    strncmp(st, "40", 2) == 0 ||     /* serialization, deadlock */
	    strcmp(st, "55P03") == 0 ||      /* lock_not_available */
	    strcmp(st, "25006") == 0)        /* read-only transaction (a standby) */
		return TS_E_STORE_UNAVAILABLE;
	return TS_E_INTERNAL;
}

static void
mark(pg_store *s, int down, const char *why)
{
	int was;

	/* While opening, the open error says it (one line for the CLI). */
	if (!s->opened)
		return;
	pthread_mutex_lock(&s->mu);
	was = s->down;
	s->down = down;
	pthread_mutex_unlock(&s->mu);
	if (down && !was) {
		char clean[512];

		pg_scrub(s, why, clean, sizeof clean);
		ts_log_event(TS_LOG_ERROR, "store_unavailable", "location", s->location,
		             "reason", clean, NULL);
	} else if (!down && was) {
		ts_log_event(TS_LOG_INFO, "store_available", "location", s->location, NULL);
	}
}

ts_err
pg_fail(pg_call *k, const char *what)
{
	const char *st = k->res ? PQresultErrorField(k->res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = k->res ? PQresultErrorMessage(k->res) : "";
	ts_err r = map_state(st);

	if (!msg || !*msg)
		msg = PQerrorMessage(k->c->db);
	if (PQstatus(k->c->db) != CONNECTION_OK) {
		k->broken = 1;
		r = TS_E_STORE_UNAVAILABLE;
	}
	if (r == TS_E_STORE_UNAVAILABLE)
		mark(k->s, 1, msg);
	else if (r != TS_E_CONFLICT && r != TS_E_NOT_FOUND)
		report(k->s, what, msg);
	return r;
}

/* ---- connections ---------------------------------------------------- */

static void
conn_free(pg_conn *c)
{
	if (!c)
		return;
	PQfinish(c->db);
	free(c);
}

/* libpq prints notices (e.g. "relation already exists, skipping") to
 * stderr by default; they are not errors. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *
connect_db(const pg_store *s)
{
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { "5", "tessera", s->conninfo, NULL };

	/* expand_dbname: dbname holds the DSN, whose settings win over ours. */
	return PQconnectdbParams(keys, vals, 1);
}

/* Session settings every connection gets: bounded waits, UTC. */
#define PG_SESSION_SETUP                                                    \
	"SET statement_timeout = '10s'; SET lock_timeout = '5s'; "          \
	"SET idle_in_transaction_session_timeout = '60s'; SET TIME ZONE 'UTC'"

static ts_err
conn_prepare(pg_store *s, PGconn *db)
{
	PGresult *res;
	char name[16];

	res = PQexec(db, PG_SESSION_SETUP);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		report(s, "session setup", PQresultErrorMessage(res));
		PQclear(res);
		return TS_E_STORE_UNAVAILABLE;
	}
	PQclear(res);
	for (int i = 0; i < PG_ST__COUNT; i++) {
		snprintf(name, sizeof name, "ts%d", i);
		res = PQprepare(db, name, pg_sql[i], 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			ts_err r = map_state(PQresultErrorField(res, PG_DIAG_SQLSTATE));

			report(s, pg_stmt_name[i], PQresultErrorMessage(res));
			PQclear(res);
			return r == TS_E_STORE_UNAVAILABLE ? r : TS_E_INTERNAL;
		}
		PQclear(res);
	}
	return TS_OK;
}

/* A new connection with everything prepared. prepare = 0 for the first
 * one of an open, which runs before the schema may exist. */
static ts_err
conn_open(pg_store *s, int prepare, pg_conn **out)
{
	pg_conn *c;
	ts_err r;

	if (!(c = calloc(1, sizeof *c)))
		return TS_E_NOMEM;
	c->db = connect_db(s);
	if (!c->db) {
		free(c);
		return TS_E_NOMEM;
	}
	if (PQstatus(c->db) != CONNECTION_OK) {
		/* Once open, an outage is logged by mark(), once per change. */
		if (s->opened)
			mark(s, 1, PQerrorMessage(c->db));
		else
			report(s, "connect", PQerrorMessage(c->db));
		conn_free(c);
		return TS_E_STORE_UNAVAILABLE;
	}
	PQsetNoticeProcessor(c->db, quiet, NULL);
	if (prepare && (r = conn_prepare(s, c->db)) != TS_OK) {
		conn_free(c);
		return r;
	}
	*out = c;
	return TS_OK;
}

static struct timespec
deadline_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}

ts_err
pg_begin(ts_store *base, pg_call *k)
{
	pg_store *s = (pg_store *)base;
	struct timespec until = deadline_in(s->wait_ms);
	pg_conn *c = NULL;
	ts_err r;

	memset(k, 0, sizeof *k);
	k->s = s;
	k->t0_us = ts_mono_us();
	pthread_mutex_lock(&s->mu);
	while (!s->idle && s->nconns >= s->max_conns) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->mu);
			ts_metrics_store_op(TS_M_STORE_POSTGRES, ts_mono_us() - k->t0_us,
			                    TS_E_STORE_UNAVAILABLE);
			return TS_E_STORE_UNAVAILABLE;
		}
	}
	if ((c = s->idle) != NULL)
		s->idle = c->next;
	else
		s->nconns++;                /* reserve the slot, connect unlocked */
	pthread_mutex_unlock(&s->mu);
	if (!c && (r = conn_open(s, 1, &c)) != TS_OK) {
		pthread_mutex_lock(&s->mu);
		s->nconns--;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		ts_metrics_store_op(TS_M_STORE_POSTGRES, ts_mono_us() - k->t0_us, r);
		return r;
	}
	k->c = c;
	return TS_OK;
}

ts_err
pg_end(pg_call *k, ts_err r)
{
	pg_store *s = k->s;
	pg_conn *c = k->c, *stale = NULL;

	PQclear(k->res);
	k->res = NULL;
	if (!c)
		return r;
	ts_metrics_store_op(TS_M_STORE_POSTGRES, ts_mono_us() - k->t0_us, r);
	if (!k->broken && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
		PGresult *res = PQexec(c->db, "ROLLBACK");

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			k->broken = 1;
		PQclear(res);
	}
	if (PQstatus(c->db) != CONNECTION_OK)
		k->broken = 1;
	if (r != TS_E_STORE_UNAVAILABLE && !k->broken)
		mark(s, 0, NULL);
	pthread_mutex_lock(&s->mu);
	if (k->broken) {
		/* A server restart or failover breaks every connection at once:
		 * the idle ones go too, so the next ops connect afresh instead of
		 * each failing once on a dead socket. */
		stale = s->idle;
		s->idle = NULL;
		for (pg_conn *x = stale; x; x = x->next)
			s->nconns--;
		s->nconns--;
	} else {
		c->next = s->idle;
		s->idle = c;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (k->broken) {
		conn_free(c);
		while ((c = stale) != NULL) {
			stale = c->next;
			conn_free(c);
		}
	}
	k->c = NULL;
	return r;
}

static ts_err
check(pg_call *k, const char *what)
{
	ExecStatusType st = PQresultStatus(k->res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return TS_OK;
	return pg_fail(k, what);
}

/* PostgreSQL refuses text that is not UTF-8 (22021) where SQLite would
 * just compare bytes. Such a value matches no stored row (everything
 * stored went through PostgreSQL), so a read or change finds nothing, the
 * same answer as SQLite's; an insert is refused as invalid. */
static ts_err
not_text(pg_stmt st, const pg_args *a)
{
	for (int i = 0; a && i < a->n; i++)
		if (!ts_utf8_valid(a->v[i], strlen(a->v[i])))
			return strncmp(pg_sql[st], "INSERT", 6) == 0 ? TS_E_INVALID : TS_E_NOT_FOUND;
	return TS_OK;
}

ts_err
pg_run(pg_call *k, pg_stmt st, const pg_args *a)
{
	char name[16];
	ts_err r;

	if ((r = not_text(st, a)) != TS_OK)
		return r;

	PQclear(k->res);
	snprintf(name, sizeof name, "ts%d", (int)st);
	k->res = PQexecPrepared(k->c->db, name, a ? a->n : 0, a ? a->v : NULL, NULL, NULL, 0);
	return check(k, pg_stmt_name[st]);
}

ts_err
pg_cmd(pg_call *k, const char *sql)
{
	PQclear(k->res);
	k->res = PQexec(k->c->db, sql);
	return check(k, sql);
}

int
pg_rows(const pg_call *k)
{
	return k->res ? PQntuples(k->res) : 0;
}

int
pg_changed(const pg_call *k)
{
	return k->res ? atoi(PQcmdTuples(k->res)) : 0;
}

void
pg_col_text(const PGresult *res, int row, int col, char *dst, size_t n)
{
	const char *v = PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col);
	size_t len = strlen(v);

	if (n == 0)
		return;
	if (len >= n)
		len = n - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

int64_t
pg_col_int(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* ---- open and close ------------------------------------------------- */

/* Takes Tessera's own "pool=N" (1..PG_POOL_MAX) out of a URI's query,
 * since libpq refuses parameters it does not know. 0, or -1 for a bad N. */
static int
take_pool_option(pg_store *s)
{
	char *q = strchr(s->conninfo, '?'), *p, *end;

	if (!q || !strstr(s->conninfo, "://"))
		return 0;
	for (p = q + 1; p && *p; p = *end ? end + 1 : NULL) {
		end = strchrnul(p, '&');
		if (strncmp(p, "pool=", 5) == 0) {
			char *num_end = NULL;
			long v = strtol(p + 5, &num_end, 10);

			if (num_end != end || v < 1 || v > PG_POOL_MAX)
				return -1;
			s->max_conns = (int)v;
			/* cut "pool=N" and one separator */
			if (*end)
				memmove(p, end + 1, strlen(end + 1) + 1);
			else
				p[-1] = '\0';        /* the '?' or '&' before it */
			return 0;
		}
	}
	return 0;
}

/* Fills s->password and s->location from the parsed DSN. */
static ts_err
parse_dsn(pg_store *s)
{
	PQconninfoOption *opts, *o;
	const char *user = "", *host = "", *port = "", *db = "";
	char *err = NULL;

	if (!(opts = PQconninfoParse(s->conninfo, &err))) {
		/* libpq's parse error may quote the DSN: scrub what we can. */
		if (err) {
			char *at = strchr(s->conninfo, '@'), *colon;

			/* The password is not parsed yet: cut user:PASS@ by hand. */
			if (at && (colon = memchr(s->conninfo, ':', (size_t)(at - s->conninfo))) &&
			    (colon = strchr(colon + 1, ':')) && colon < at)
				s->password = strndup(colon + 1, (size_t)(at - colon - 1));
			report(s, "DSN", err);
			PQfreemem(err);
		} else {
			ts_store_report("postgres DSN: cannot parse");
		}
		return TS_E_INVALID;
	}
	for (o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "password") == 0 && o->val[0] &&
		    !(s->password = strdup(o->val))) {
			PQconninfoFree(opts);
			return TS_E_NOMEM;
		}
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	snprintf(s->location, sizeof s->location, "postgres://%s%s%s%s%s/%s", user, *user ? "@" : "",
	         host, *port ? ":" : "", port, db);
	PQconninfoFree(opts);
	return TS_OK;
}

/* The first connection: checks (and with TS_STORE_CREATE or an existing
 * schema, migrates) the schema. TS_STORE_INSPECT only looks. */
static ts_err
first_connection(pg_store *s, ts_store_mode mode)
{
	pg_conn *c = NULL;
	ts_err r;
	int v = 0;

	if ((r = conn_open(s, 0, &c)) != TS_OK)
		return r;
	if ((r = pg_schema_version(s, c->db, &v)) != TS_OK)
		goto out;
	if (mode == TS_STORE_INSPECT) {
		/* db status reads the version on a pooled connection; nothing
		 * else may run on a schema that was not checked. */
		r = TS_OK;
		goto keep;
	}
	if (v > pg_migration_count) {
		ts_store_report("database schema version %d is newer than this build's %d; "
		                "refusing to use it", v, pg_migration_count);
		r = TS_E_INTERNAL;
		goto out;
	}
	if (v == 0 && mode == TS_STORE_EXISTING) {
		ts_store_report("no Tessera schema in %s", s->location);
		r = TS_E_NOT_FOUND;
		goto out;
	}
	if ((r = pg_migrate(s, c->db)) != TS_OK)
		goto out;
	r = conn_prepare(s, c->db);
out:
	if (r == TS_OK) {
keep:
		pthread_mutex_lock(&s->mu);
		c->next = s->idle;
		s->idle = c;
		s->nconns++;
		pthread_mutex_unlock(&s->mu);
	} else {
		conn_free(c);
	}
	return r;
}

ts_err
pg_store_open(const char *dsn, ts_store_mode mode, ts_store **out)
{
	pthread_condattr_t ca;
	pg_store *s;
	ts_err r;
	int bad;

	*out = NULL;
	if (!PQisthreadsafe()) {
		ts_store_report("libpq was built without thread support");
		return TS_E_INTERNAL;
	}
	if (!(s = calloc(1, sizeof *s)))
		return TS_E_NOMEM;
	s->base.ops = &ts_store_postgres;
	s->max_conns = PG_POOL_MAX;
	s->wait_ms = PG_WAIT_MS;
	ts_hostneg_init(&s->hostneg);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	bad = pthread_mutex_init(&s->mu, NULL) || pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (bad) {
		ts_hostneg_destroy(&s->hostneg);
		free(s);
		return TS_E_INTERNAL;
	}
	/* "postgres:KEYWORDS" gives libpq the keywords; a URI goes whole. */
	if (strncmp(dsn, "postgres:", 9) == 0 && strncmp(dsn, "postgres://", 11) != 0)
		dsn += 9;
	else if (strncmp(dsn, "postgresql:", 11) == 0 && strncmp(dsn, "postgresql://", 13) != 0)
		dsn += 11;
	if (!(s->conninfo = strdup(dsn))) {
		r = TS_E_NOMEM;
		goto fail;
	}
	if (take_pool_option(s) != 0) {
		ts_store_report("postgres DSN: pool= must be 1..%d", PG_POOL_MAX);
		r = TS_E_INVALID;
		goto fail;
	}
	if ((r = parse_dsn(s)) != TS_OK)
		goto fail;
	if ((r = first_connection(s, mode)) != TS_OK)
		goto fail;
	s->opened = 1;
	*out = &s->base;
	return TS_OK;
fail:
	pg_store_close(&s->base);
	return r;
}

void
pg_store_close(ts_store *base)
{
	pg_store *s = (pg_store *)base;
	pg_conn *c;

	if (!s)
		return;
	while ((c = s->idle) != NULL) {
		s->idle = c->next;
		s->nconns--;
		conn_free(c);
	}
	if (s->nconns != 0)
		ts_store_report("closed with %d connection(s) still in use", s->nconns);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	ts_hostneg_destroy(&s->hostneg);
	if (s->conninfo) {
		ts_wipe(s->conninfo, strlen(s->conninfo));
		free(s->conninfo);
	}
	if (s->password) {
		ts_wipe(s->password, strlen(s->password));
		free(s->password);
	}
	free(s);
}
