/* SQLite backend plumbing: DSN options, a pool of connections shared by all
 * threads, per-connection setup, lazily prepared statements, error mapping.
 *
 * Why a pool of NOMUTEX connections: a SQLite connection is cheap but not
 * shareable without a mutex around every call, and WAL mode lets readers on
 * separate connections run in parallel with the one writer.
 *
 * Availability: every op has one deadline, busy_timeout from now. Waiting
 * for a pooled connection, for this process's write lock and for SQLite's
 * file locks (our own busy handler) all stop at it, so a database another
 * process has locked yields TS_E_STORE_UNAVAILABLE in about busy_timeout,
 * never a hang. Because open descriptors do not notice a chmod or an unlink,
 * each op also stats the path first (see file_usable). A file that comes
 * back at the path (a backup restored) is reopened (see reopen).
 *
 * Outages are logged once per change of state: one "store_unavailable"
 * event with the reason when ops start failing (or the reason changes), one
 * "store_available" or "store_reopened" when they work again.
 *
 * Files: the database is created 0600 (its -wal and -shm files get the
 * main file's mode from SQLite), since it holds signing keys and TOTP
 * secrets; an existing file that others may read is used as it is, with a
 * warning (the operator may share it with a backup group on purpose). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/log.h"
#include "core/metrics.h"
#include "store/sqlite_internal.h"

#define SQ_BUSY_MS_DEFAULT 5000
#define SQ_BUSY_MS_MAX 600000
#define SQ_POOL_DEFAULT 16
#define SQ_POOL_MAX 64
#define SQ_IDLE_MS_DEFAULT 1000
#define SQ_IDLE_MS_MAX 3600000
#define SQ_CKPT_FRAMES 1000         /* SQLite's own autocheckpoint default */
#define SQ_CKPT_INLINE (8 * SQ_CKPT_FRAMES)  /* the thread is behind: commit does it */
#define SQ_MMAP_BYTES "268435456"    /* 256 MiB; a larger file is read past it */
#define SQ_STAT_MS_DEFAULT 100
#define SQ_STAT_MS_MAX 60000
#define SQ_GROUP_DEFAULT 64
#define SQ_GROUP_MAX 1024

static const char *const sq_sql[SQ_ST__COUNT] = {
#define SQ_ST_SQL(name, sql) [name] = sql,
	SQ_STATEMENTS(SQ_ST_SQL)
#undef SQ_ST_SQL
};

static const char *const sq_stmt_name[SQ_ST__COUNT] = {
#define SQ_ST_NAME(name, sql) [name] = #name,
	SQ_STATEMENTS(SQ_ST_NAME)
#undef SQ_ST_NAME
};

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timespec
mono_abs(int64_t us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	return ts;
}

/* ---- errors ---------------------------------------------------------- */

ts_err
sq_map(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return TS_OK;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return TS_E_CONFLICT;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return TS_E_NOT_FOUND;      /* the referenced row is missing */
	case SQLITE_CONSTRAINT_NOTNULL:
	case SQLITE_TOOBIG:
		return TS_E_INVALID;
	case SQLITE_NOMEM:
		return TS_E_NOMEM;
	}
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_PERM:
	case SQLITE_PROTOCOL:
		return TS_E_STORE_UNAVAILABLE;
	}
	return TS_E_INTERNAL;
}

/* During an outage every request fails the same way: say so once a
 * second, not once per request. */
static int
unavail_log_due(void)
{
	static _Atomic int64_t last_us;
	int64_t now = mono_us(), last = atomic_load(&last_us);

	return now - last >= 1000000 && atomic_compare_exchange_strong(&last_us, &last, now);
}

/* Records that ops fail for why (a static text): logged when the store
 * goes down or the reason changes, not per request. */
static void
mark_down(sq_store *s, const char *why)
{
	if (atomic_exchange(&s->down, why) != why)
		ts_log_event(TS_LOG_ERROR, "store_unavailable", "path", s->path, "reason", why, NULL);
}

static void
mark_up(sq_store *s)
{
	if (atomic_load(&s->down) && atomic_exchange(&s->down, NULL))
		ts_log_event(TS_LOG_INFO, "store_available", "path", s->path, NULL);
}

/* Why an op failed with an rc that sq_map makes TS_E_STORE_UNAVAILABLE. */
static const char *
down_reason(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "database locked past busy_timeout (another process?)";
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return "database file not writable";
	case SQLITE_FULL:
		return "disk full";
	case SQLITE_CANTOPEN:
		return "database file cannot be opened";
	}
	return "I/O error on the database file";
}

/* An op's failure: an outage changes the store's state, anything else is
 * logged as it comes. While opening, everything goes to the open error
 * (one line for a command-line tool). */
static void
op_failed(sq_store *s, sqlite3 *db, int rc, const char *what)
{
	if (s && s->created && sq_map(rc) == TS_E_STORE_UNAVAILABLE)
		mark_down(s, down_reason(rc));
	else
		sq_log(db, rc, what);
}

void
sq_log(sqlite3 *db, int rc, const char *what)
{
	if (sq_map(rc) == TS_E_STORE_UNAVAILABLE && !unavail_log_due())
		return;
	ts_store_report("%s: %s (%d)", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
}

/* ---- DSN ------------------------------------------------------------- */

/* Parses a decimal in [lo, hi] into *out; 0 on success. */
static int
parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 9)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* Applies one "name=value" option of the DSN's query part. */
static int
parse_option(sq_store *s, const char *opt, size_t n)
{
	const char *eq = memchr(opt, '=', n);
	size_t klen, vlen;

	if (!eq)
		return -1;
	klen = (size_t)(eq - opt);
	vlen = n - klen - 1;
#define SQ_IS(name) (klen == sizeof(name) - 1 && memcmp(opt, name, klen) == 0)
	if (SQ_IS("busy_timeout"))
		return parse_int(eq + 1, vlen, 0, SQ_BUSY_MS_MAX, &s->busy_ms);
	if (SQ_IS("pool"))
		return parse_int(eq + 1, vlen, 1, SQ_POOL_MAX, &s->max_conns);
	if (SQ_IS("idle_ms"))
		return parse_int(eq + 1, vlen, 0, SQ_IDLE_MS_MAX, &s->idle_ms);
	if (SQ_IS("stat_ms"))
		return parse_int(eq + 1, vlen, 0, SQ_STAT_MS_MAX, &s->stat_ms);
	if (SQ_IS("group_commit"))
		return parse_int(eq + 1, vlen, 1, SQ_GROUP_MAX, &s->group_max);
#undef SQ_IS
	return -1;
}

/* A copy of path[0..n) (caller frees), made absolute: connections are
 * opened and the file is checked long after start-up, when a daemon may
 * have changed directory. */
static char *
absolute_path(const char *path, size_t n)
{
	char *cwd, *abs = NULL;

	if (path[0] == '/' || (n == 8 && memcmp(path, ":memory:", 8) == 0))
		return strndup(path, n);
	if (!(cwd = getcwd(NULL, 0)))
		return NULL;
	if (asprintf(&abs, "%s/%.*s", cwd, (int)n, path) < 0)
		abs = NULL;
	free(cwd);
	return abs;
}

/* "PATH[?name=value&...]". Sets s->path (owned) and the options. */
static ts_err
parse_dsn(sq_store *s, const char *dsn)
{
	const char *q = strchr(dsn, '?'), *opt, *end;
	size_t plen = q ? (size_t)(q - dsn) : strlen(dsn);

	if (plen == 0) {
		ts_store_report("empty sqlite path");
		return TS_E_INVALID;
	}
	if (!(s->path = absolute_path(dsn, plen)))
		return TS_E_NOMEM;
	for (opt = q ? q + 1 : NULL; opt && *opt; opt = *end ? end + 1 : NULL) {
		end = strchrnul(opt, '&');
		if (parse_option(s, opt, (size_t)(end - opt)) != 0) {
			ts_store_report("bad sqlite option \"%.*s\" (known: "
			        "busy_timeout=MS, pool=N, idle_ms=MS, stat_ms=MS)",
			        (int)(end - opt), opt);
			return TS_E_INVALID;
		}
	}
	s->memory = strcmp(s->path, ":memory:") == 0;
	if (s->memory) {
		/* Each connection would get its own empty database. */
		s->max_conns = 1;
		s->idle_ms = 0;
	}
	return TS_OK;
}

/* ---- connections ----------------------------------------------------- */

/* Waits for a lock held elsewhere, in short naps so a released lock is
 * noticed quickly, until the op's deadline. */
static int
busy_cb(void *arg, int count)
{
	sq_conn *c = arg;
	int64_t left = c->deadline_us - mono_us();
	int64_t nap = (int64_t)100 << (count < 5 ? count : 5);  /* 0.1..3.2 ms */
	struct timespec ts;

	if (left <= 0)
		return 0;
	if (nap > left)
		nap = left;
	ts = mono_abs(nap);
	nanosleep(&ts, NULL);
	return 1;
}

/* After every commit (sqlite3_wal_hook, which replaces SQLite's own
 * autocheckpoint): a WAL of SQ_CKPT_FRAMES or more wakes the checkpoint
 * thread. Only a WAL the thread has let grow far beyond that is
 * checkpointed here, inline, so the file stays bounded whatever happens. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	sq_store *s = arg;

	if (frames >= SQ_CKPT_INLINE || !s->has_ckpt) {
		if (frames >= SQ_CKPT_FRAMES)
			sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (frames >= SQ_CKPT_FRAMES) {
		pthread_mutex_lock(&s->mu);
		if (!s->ckpt_due) {
			s->ckpt_due = 1;
			pthread_cond_signal(&s->ckpt_cv);
		}
		pthread_mutex_unlock(&s->mu);
	}
	return SQLITE_OK;
}

/* Runs a PRAGMA and, when want is given, checks its one text result. */
static int
pragma(sqlite3 *db, const char *sql, const char *want, const char *alt)
{
	sqlite3_stmt *st = NULL;
	const char *got;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && want) {
		got = (const char *)sqlite3_column_text(st, 0);
		if (!got || (strcmp(got, want) != 0 && (!alt || strcmp(got, alt) != 0))) {
			ts_store_report("%s gave \"%s\"", sql, got ? got : "");
			rc = SQLITE_ERROR;
			goto out;
		}
	}
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static void
conn_free(sq_conn *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < SQ_ST__COUNT; i++)
		sqlite3_finalize(c->st[i]);
	/* close_v2 never fails for busy statements; it defers instead. */
	sqlite3_close_v2(c->db);
	free(c);
}

/* Opens and configures a new connection. On success *out is owned by the
 * caller (the pool); deadline_us bounds the lock waits of the set-up. */
static ts_err
conn_open(sq_store *s, int64_t deadline_us, sq_conn **out)
{
	/* Only a command that may create the store creates it, and once the
	 * file is made a vanished one is never silently made again, empty, by
	 * the next connection. */
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	                  (s->create && !s->created ? SQLITE_OPEN_CREATE : 0);
	sq_conn *c;
	int rc;
	ts_err r = TS_E_INTERNAL;

	if (!(c = calloc(1, sizeof *c)))
		return TS_E_NOMEM;
	c->deadline_us = deadline_us;
	if ((rc = sqlite3_open_v2(s->path, &c->db, flags, NULL)) != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_handler(c->db, busy_cb, c);
	sqlite3_wal_hook(c->db, wal_hook, s);
	/* "memory" is what an in-memory database answers. */
	if ((rc = pragma(c->db, "PRAGMA journal_mode=WAL", "wal", "memory")) != SQLITE_OK ||
	    (rc = pragma(c->db, "PRAGMA synchronous=NORMAL", NULL, NULL)) != SQLITE_OK ||
	    (rc = pragma(c->db, "PRAGMA foreign_keys=ON", NULL, NULL)) != SQLITE_OK)
		goto fail;
	/* Pages read through a shared mapping, not pread(2) into each
	 * connection's cache: every commit by another connection empties a
	 * connection's page cache, so without it a refresh re-read ~14 pages
	 * with one syscall each (issue 13: half the preads, +10 % refresh/s).
	 * Address space only; the kernel's page cache holds the pages. */
	if (!s->memory)
		(void)pragma(c->db, "PRAGMA mmap_size=" SQ_MMAP_BYTES, NULL, NULL);
	*out = c;
	return TS_OK;
fail:
	op_failed(s, c->db, rc, "open");
	r = sq_map(rc);
	conn_free(c);
	return r == TS_OK ? TS_E_INTERNAL : r;
}

/* Waits (until deadline) for an idle connection or a free slot. */
static ts_err
pool_take(sq_store *s, int64_t deadline_us, sq_conn **out)
{
	struct timespec until = mono_abs(deadline_us);
	sq_conn *c = NULL;
	ts_err r;

	pthread_mutex_lock(&s->mu);
	while (!s->idle && s->nconns >= s->max_conns) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&s->mu);
			return TS_E_STORE_UNAVAILABLE;
		}
	}
	if ((c = s->idle) != NULL)
		s->idle = c->next;
	else
		s->nconns++;            /* reserve the slot, open outside the lock */
	pthread_mutex_unlock(&s->mu);
	if (c) {
		c->deadline_us = deadline_us;
		*out = c;
		return TS_OK;
	}
	if ((r = conn_open(s, deadline_us, out)) != TS_OK) {
		pthread_mutex_lock(&s->mu);
		s->nconns--;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
	return r;
}

static void
pool_give(sq_store *s, sq_conn *c)
{
	c->idle_since_us = mono_us();
	pthread_mutex_lock(&s->mu);
	c->next = s->idle;
	s->idle = c;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Closes connections idle longer than idle_ms, so an idle server holds no
 * file locks. (In WAL mode every open connection keeps a shared lock on the
 * database file; without this no other process could ever lock it.) */
static void *
reaper_main(void *arg)
{
	sq_store *s = arg;
	int64_t period = (int64_t)s->idle_ms * 1000 / 2;
	sq_conn *victims, **pp, *c;
	struct timespec until;

	if (period < 10000)
		period = 10000;
	pthread_mutex_lock(&s->mu);
	while (!s->closing) {
		until = mono_abs(mono_us() + period);
		pthread_cond_timedwait(&s->reaper_cv, &s->mu, &until);
		victims = NULL;
		for (pp = &s->idle; (c = *pp) != NULL;) {
			if (mono_us() - c->idle_since_us >= (int64_t)s->idle_ms * 1000) {
				*pp = c->next;
				c->next = victims;
				victims = c;
				s->nconns--;
			} else {
				pp = &c->next;
			}
		}
		if (!victims)
			continue;
		pthread_cond_broadcast(&s->cv);   /* slots freed */
		pthread_mutex_unlock(&s->mu);
		while ((c = victims) != NULL) {
			victims = c->next;
			conn_free(c);
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static ts_err pool_take(sq_store *s, int64_t deadline_us, sq_conn **out);
static void pool_give(sq_store *s, sq_conn *c);

static ts_err write_lock(sq_store *s, int64_t deadline_us);
static void write_unlock(sq_store *s);

/* The checkpoint thread: whenever a commit has left the WAL over
 * SQ_CKPT_FRAMES, a PASSIVE checkpoint (it never waits for readers) on a
 * pooled connection, under this process's write lock: with writers held
 * off it catches up with the whole WAL, so the next writer starts the WAL
 * over and the file stays small. The request whose commit crossed the
 * threshold is answered meanwhile instead of doing it. */
static void *
ckpt_main(void *arg)
{
	sq_store *s = arg;
	sq_conn *c;
	int64_t deadline;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->ckpt_due && !s->closing)
			pthread_cond_wait(&s->ckpt_cv, &s->mu);
		if (s->closing)
			break;
		s->ckpt_due = 0;
		pthread_mutex_unlock(&s->mu);
		deadline = mono_us() + (int64_t)s->busy_ms * 1000;
		if (write_lock(s, deadline) == TS_OK) {
			if (pool_take(s, deadline, &c) == TS_OK) {
				rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
				                               NULL, NULL);
				if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
					sq_log(c->db, rc, "checkpoint");
				pool_give(s, c);
			}
			write_unlock(s);
		}
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- the file ------------------------------------------------------- */

/* Warns once per file that others may read (the main file, and any -wal
 * and -shm it has now). Not chmod'ed: it is the operator's file. */
static void
check_modes(const sq_store *s)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[4096], mode[8];
	struct stat st;

	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", s->path, sfx[i]);
		if (stat(p, &st) != 0 || (st.st_mode & 077) == 0)
			continue;
		snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
		ts_log_event(TS_LOG_WARN, "db_permissions", "path", p, "mode", mode, "advice",
		             "holds signing keys and TOTP secrets: chmod 600 it", NULL);
	}
}

/* Makes a missing database file 0600 before SQLite would make it with the
 * umask's 0644; -wal and -shm then follow its mode. A file that exists is
 * checked instead. Other failures are left for SQLite's open to report. */
static void
create_private(const sq_store *s)
{
	int fd;

	if (!s->create) {          /* TS_STORE_EXISTING: the file is there */
		check_modes(s);
		return;
	}
	if ((fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0) {
		(void)fchmod(fd, 0600);   /* whatever the umask took away */
		close(fd);
		return;
	}
	if (errno == EEXIST)
		check_modes(s);
}

/* *v gets db's PRAGMA user_version; SQLite's result code. */
int
sq_user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* 1 when the file at path starts with SQLite's header (file format §1.3),
 * read without SQLite, which would write to an empty file. */
static int
looks_like_sqlite(const char *path)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, head, sizeof head);
	close(fd);
	return n == (ssize_t)sizeof head && memcmp(head, magic, sizeof head) == 0;
}

/* Opens the file now at the path (another inode than ours: a restored
 * backup), migrates it and makes it ours. Only when no connection to the
 * old file is left in this process: the idle ones are closed first, which
 * lets SQLite remove the old -wal and -shm (never to be mixed with another
 * file's pages); while one is still in use, the next op tries again. Only
 * a Tessera database is taken (user_version >= 1): an empty file is not a
 * restore. At most one attempt per 500 ms. */
#define NOT_OURS "a file that is not a Tessera database is at the path; restart needed"

static ts_err
reopen(sq_store *s, const struct stat *seen)
{
	sq_conn *victims, *c = NULL;
	int64_t now = mono_us();
	int busy, v = 0, rc;
	struct stat st;
	ts_err r;

	pthread_mutex_lock(&s->mu);
	if (s->dev == seen->st_dev && s->ino == seen->st_ino) {
		pthread_mutex_unlock(&s->mu);
		return TS_OK;                      /* another thread did it */
	}
	if (s->reopening || now - s->reopen_us < 500000) {
		pthread_mutex_unlock(&s->mu);
		return TS_E_STORE_UNAVAILABLE;
	}
	s->reopening = 1;
	s->reopen_us = now;
	victims = s->idle;
	s->idle = NULL;
	for (c = victims; c; c = c->next)
		s->nconns--;
	busy = s->nconns;
	pthread_mutex_unlock(&s->mu);
	while ((c = victims) != NULL) {
		victims = c->next;
		conn_free(c);
	}
	r = TS_E_STORE_UNAVAILABLE;
	if (busy > 0)
		goto out;
	if (!looks_like_sqlite(s->path)) {
		mark_down(s, NOT_OURS);
		goto out;
	}
	if (pool_take(s, now + (int64_t)s->busy_ms * 1000, &c) != TS_OK)
		goto out;
	rc = sq_user_version(c->db, &v);
	if (rc != SQLITE_OK || v < 1 || sq_migrate(c->db, sq_migrations, sq_migration_count) != TS_OK ||
	    stat(s->path, &st) != 0) {
		pool_give(s, c);
		mark_down(s, rc != SQLITE_OK || v < 1 ? NOT_OURS
		          : "the database at the path cannot be migrated; restart needed");
		goto out;
	}
	pool_give(s, c);
	pthread_mutex_lock(&s->mu);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	pthread_mutex_unlock(&s->mu);
	check_modes(s);
	atomic_store(&s->down, NULL);
	ts_hostneg_clear(&s->hostneg);        /* the restored file has its own domains */
	ts_log_event(TS_LOG_WARN, "store_reopened", "path", s->path, NULL);
	r = TS_OK;
out:
	pthread_mutex_lock(&s->mu);
	s->reopening = 0;
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* The kernel checks permissions only at open(2), and root bypasses them, so
 * a database made unreachable after start-up (chmod 000, deleted, its
 * directory removed, replaced by another file) would go on working through
 * our open descriptors, or silently write to an unlinked file. One stat
 * catches all of these; a good answer holds for stat_ms (default 100 ms),
 * so a busy server stats at most ten times a second, not once per op, and
 * notices such a change within stat_ms. A bad answer is never kept. */
static ts_err
file_usable(sq_store *s)
{
	struct stat st;
	uid_t me = s->euid;
	const char *why;
	int64_t now;
	dev_t dev;
	ino_t ino;

	if (s->memory)
		return TS_OK;
	now = mono_us();
	if (s->stat_ms > 0 && now - atomic_load(&s->checked_us) < (int64_t)s->stat_ms * 1000)
		return TS_OK;
	atomic_store(&s->checked_us, 0);
	if (stat(s->path, &st) != 0) {
		why = "database file is missing (removed?); it is reopened when it is back";
		goto gone;
	}
	pthread_mutex_lock(&s->mu);
	dev = s->dev;
	ino = s->ino;
	pthread_mutex_unlock(&s->mu);
	if (st.st_dev != dev || st.st_ino != ino) {
		if (reopen(s, &st) == TS_OK)
			return TS_OK;
		/* Keep the reason already logged (a failed reopen gives its own). */
		why = atomic_load(&s->down);
		if (!why)
			why = "database file was replaced; it is reopened when no op uses the old one";
		goto gone;
	}
	if (me == 0 || me == st.st_uid) {
		if ((st.st_mode & (S_IRUSR | S_IWUSR)) != (S_IRUSR | S_IWUSR))
			goto unreadable;
	} else if (access(s->path, R_OK | W_OK) != 0) {
		goto unreadable;
	}
	atomic_store(&s->checked_us, now);
	return TS_OK;
unreadable:
	why = "database file is not readable and writable";
gone:
	mark_down(s, why);
	return TS_E_STORE_UNAVAILABLE;
}

/* ---- the write lock -------------------------------------------------- */

/* Takes the store's write lock, or gives up at deadline. */
static ts_err
write_lock(sq_store *s, int64_t deadline_us)
{
	struct timespec until = mono_abs(deadline_us);
	ts_err r = TS_OK;

	pthread_mutex_lock(&s->wmu);
	while (s->writing) {
		if (pthread_cond_timedwait(&s->wcv, &s->wmu, &until) == ETIMEDOUT &&
		    s->writing) {
			r = TS_E_STORE_UNAVAILABLE;
			break;
		}
	}
	if (r == TS_OK)
		s->writing = 1;
	pthread_mutex_unlock(&s->wmu);
	return r;
}

static void
write_unlock(sq_store *s)
{
	pthread_mutex_lock(&s->wmu);
	s->writing = 0;
	pthread_cond_signal(&s->wcv);
	pthread_mutex_unlock(&s->wmu);
}

/* ---- calls ----------------------------------------------------------- */

ts_err
sq_use(sq_call *k, sq_stmt id)
{
	sq_conn *c = k->c;
	int rc;

	if (k->st) {
		sqlite3_reset(k->st);
		sqlite3_clear_bindings(k->st);
		k->st = NULL;
	}
	if (!c->st[id]) {
		rc = sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                        &c->st[id], NULL);
		if (rc != SQLITE_OK) {
			op_failed(k->s, c->db, rc, sq_stmt_name[id]);
			return sq_map(rc) == TS_OK ? TS_E_INTERNAL : sq_map(rc);
		}
	}
	k->st = c->st[id];
	k->id = id;
	k->bind_rc = SQLITE_OK;
	return TS_OK;
}

ts_err
sq_begin(ts_store *base, int mode, sq_stmt stmt, sq_call *k)
{
	sq_store *s = (sq_store *)base;
	int64_t deadline = mono_us() + (int64_t)s->busy_ms * 1000;
	ts_err r;

	memset(k, 0, sizeof *k);
	k->s = s;
	k->t0_us = mono_us();
	if ((r = file_usable(s)) != TS_OK)
		goto fail_nolock;
	/* Write lock before connection, so queued writers hold no connection
	 * that readers could use. */
	if (mode == SQ_WRITE && (r = write_lock(s, deadline)) != TS_OK)
		goto fail_nolock;
	if ((r = pool_take(s, deadline, &k->c)) != TS_OK)
		goto fail;
	k->c->writer = mode == SQ_WRITE;
	if ((r = sq_use(k, stmt)) != TS_OK) {
		sq_end(k, r);
		return r;
	}
	return TS_OK;
fail:
	if (mode == SQ_WRITE)
		write_unlock(s);
fail_nolock:
	ts_metrics_store_op(TS_M_STORE_SQLITE, mono_us() - k->t0_us, r);
	return r;
}

ts_err
sq_end(sq_call *k, ts_err r)
{
	sq_conn *c = k->c;
	int writer;

	if (!c)
		return r;
	ts_metrics_store_op(TS_M_STORE_SQLITE, mono_us() - k->t0_us, r);
	if (r != TS_E_STORE_UNAVAILABLE)
		mark_up(k->s);
	if (k->st) {
		sqlite3_reset(k->st);
		sqlite3_clear_bindings(k->st);
	}
	/* Only after a failed op; ROLLBACK is best effort (SQLite may have
	 * rolled back already). */
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	writer = c->writer;
	c->writer = 0;
	pool_give(k->s, c);
	if (writer)
		write_unlock(k->s);
	k->c = NULL;
	k->st = NULL;
	return r;
}

void
sq_text(sq_call *k, int i, const char *v)
{
	int rc = sqlite3_bind_text(k->st, i, v, -1, SQLITE_STATIC);

	if (rc != SQLITE_OK && k->bind_rc == SQLITE_OK)
		k->bind_rc = rc;
}

void
sq_int(sq_call *k, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(k->st, i, v);

	if (rc != SQLITE_OK && k->bind_rc == SQLITE_OK)
		k->bind_rc = rc;
}

void
sq_real(sq_call *k, int i, double v)
{
	int rc = sqlite3_bind_double(k->st, i, v);

	if (rc != SQLITE_OK && k->bind_rc == SQLITE_OK)
		k->bind_rc = rc;
}

/* Steps the current statement once; returns the SQLite code. */
static int
step(sq_call *k)
{
	int rc;

	if (k->bind_rc != SQLITE_OK)
		rc = k->bind_rc;
	else
		rc = sqlite3_step(k->st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE && sq_map(rc) != TS_E_CONFLICT &&
	    sq_map(rc) != TS_E_NOT_FOUND)
		op_failed(k->s, k->c->db, rc, sq_stmt_name[k->id]);
	return rc;
}

ts_err
sq_row(sq_call *k)
{
	int rc = step(k);

	if (rc == SQLITE_ROW)
		return TS_OK;
	if (rc == SQLITE_DONE)
		return TS_E_NOT_FOUND;
	return sq_map(rc);
}

ts_err
sq_exec(sq_call *k)
{
	int rc;

	while ((rc = step(k)) == SQLITE_ROW)
		;
	return sq_map(rc);
}

ts_err
sq_changed(sq_call *k)
{
	ts_err r = sq_exec(k);

	if (r == TS_OK && sqlite3_changes(k->c->db) == 0)
		return TS_E_NOT_FOUND;
	return r;
}

void
sq_col_text(sqlite3_stmt *st, int i, char *dst, size_t n)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	size_t len = v ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n == 0)
		return;
	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(dst, v, len);
	dst[len] = '\0';
}

/* ---- open and close -------------------------------------------------- */

static ts_err
store_init(sq_store *s)
{
	pthread_condattr_t ca;
	int bad;

	s->base.ops = &ts_store_sqlite;
	s->busy_ms = SQ_BUSY_MS_DEFAULT;
	s->max_conns = SQ_POOL_DEFAULT;
	s->idle_ms = SQ_IDLE_MS_DEFAULT;
	s->stat_ms = SQ_STAT_MS_DEFAULT;
	s->group_max = SQ_GROUP_DEFAULT;
	ts_hostneg_init(&s->hostneg);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	bad = pthread_mutex_init(&s->mu, NULL) || pthread_mutex_init(&s->wmu, NULL) ||
	      pthread_cond_init(&s->cv, &ca) || pthread_cond_init(&s->reaper_cv, &ca) ||
	      pthread_cond_init(&s->ckpt_cv, &ca) ||
	      pthread_cond_init(&s->wcv, &ca) || ts_group_init(&s->rotations, 1) != 0;
	pthread_condattr_destroy(&ca);
	return bad ? TS_E_INTERNAL : TS_OK;
}

/* Runs the migrations on a first connection, which then seeds the pool,
 * and records which file we migrated. */
static ts_err
store_prepare(sq_store *s)
{
	sq_conn *c = NULL;
	struct stat st;
	ts_err r;

	if (!s->memory)
		create_private(s);
	if ((r = pool_take(s, mono_us() + (int64_t)s->busy_ms * 1000, &c)) != TS_OK)
		return r;
	/* INSPECT (db status) looks at the file as it is. */
	r = s->inspect ? TS_OK : sq_migrate(c->db, sq_migrations, sq_migration_count);
	pool_give(s, c);
	if (r != TS_OK || s->memory)
		return r;
	if (stat(s->path, &st) != 0) {
		ts_store_report("%s vanished while opening", s->path);
		return TS_E_STORE_UNAVAILABLE;
	}
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->euid = geteuid();
	s->created = 1;
	return TS_OK;
}

/* Prefixes the open error with the resolved path, unless it names it. */
static void
name_path(const sq_store *s)
{
	char why[256];

	snprintf(why, sizeof why, "%s", ts_store_open_error());
	if (!strstr(why, s->path))
		ts_store_report("%s: %s", s->path, why[0] ? why : "cannot open");
}

/* TS_STORE_EXISTING: no file, no store. The resolved path is named, so a
 * relative --db is seen for what it became. */
static ts_err
must_exist(const sq_store *s)
{
	struct stat st;

	if (s->memory || stat(s->path, &st) == 0)
		return TS_OK;
	if (errno == ENOENT || errno == ENOTDIR) {
		ts_store_report("no database at %s", s->path);
		return TS_E_NOT_FOUND;
	}
	ts_store_report("%s: %s", s->path, strerror(errno));
	return TS_E_STORE_UNAVAILABLE;
}

ts_err
sq_store_open(const char *dsn, ts_store_mode mode, ts_store **out)
{
	sq_store *s;
	ts_err r;

	*out = NULL;
	if (!sqlite3_threadsafe()) {
		ts_store_report("libsqlite3 was built without thread support");
		return TS_E_INTERNAL;
	}
	if (!(s = calloc(1, sizeof *s)))
		return TS_E_NOMEM;
	s->hold_fd = -1;
	if ((r = store_init(s)) != TS_OK)
		goto fail;
	s->create = mode == TS_STORE_CREATE;
	if ((r = parse_dsn(s, dsn)) != TS_OK)
		goto fail;
	s->rotations.max = (size_t)s->group_max;
	s->create |= s->memory;
	s->inspect = mode == TS_STORE_INSPECT;
	if (mode != TS_STORE_CREATE && (r = must_exist(s)) != TS_OK)
		goto fail;
	if ((r = store_prepare(s)) != TS_OK) {
		name_path(s);
		goto fail;
	}
	sq_hold(s);
	if (s->idle_ms > 0) {
		if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
			r = TS_E_INTERNAL;
			goto fail;
		}
		s->has_reaper = 1;
	}
	if (!s->memory && !s->inspect) {
		if (pthread_create(&s->ckpt, NULL, ckpt_main, s) != 0) {
			r = TS_E_INTERNAL;
			goto fail;
		}
		s->has_ckpt = 1;
	}
	*out = &s->base;
	return TS_OK;
fail:
	sq_store_close(&s->base);
	return r;
}

/* No op may be in flight: the caller stops its threads first. */
void
sq_store_close(ts_store *base)
{
	sq_store *s = (sq_store *)base;
	sq_conn *c;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = 1;
	pthread_cond_signal(&s->reaper_cv);
	pthread_cond_signal(&s->ckpt_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->has_reaper)
		pthread_join(s->reaper, NULL);
	if (s->has_ckpt)
		pthread_join(s->ckpt, NULL);
	while ((c = s->idle) != NULL) {
		s->idle = c->next;
		s->nconns--;
		conn_free(c);
	}
	if (s->nconns != 0)
		ts_store_report("closed with %d connection(s) still in use",
		        s->nconns);
	ts_group_destroy(&s->rotations);
	pthread_cond_destroy(&s->wcv);
	pthread_cond_destroy(&s->ckpt_cv);
	pthread_cond_destroy(&s->reaper_cv);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->wmu);
	pthread_mutex_destroy(&s->mu);
	sq_release(s);
	ts_hostneg_destroy(&s->hostneg);
	free(s->path);
	free(s);
}
