/* SQLite backup and restore through the online backup API
 * (https://sqlite.org/backup.html): a copy made while the server writes is
 * one read transaction's view, and a restore is one write transaction, so
 * neither side is ever seen half done. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/sqlite_internal.h"

/* Copies all of src's main database into dst's in one step (-1: every
 * page while one read transaction holds src still). */
static int
copy_all(sqlite3 *dst, sqlite3 *src)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	int rc;

	if (!b)
		return sqlite3_errcode(dst);
	rc = sqlite3_backup_step(b, -1);
	int fin = sqlite3_backup_finish(b);
	return rc == SQLITE_DONE ? fin : rc;
}

/* fsync of a file, then of its directory (the rename must last too). */
static int
sync_path(const char *path, int dir_too)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	if (rc == 0 && dir_too) {
		char *copy = strdup(path);
		if (!copy)
			return -1;
		rc = sync_path(dirname(copy), 0);
		free(copy);
	}
	return rc;
}

ts_err
sq_op_backup(ts_store *s, const char *path, char *why, size_t whylen)
{
	sq_store *q = (sq_store *)s;
	char tmp[4096];
	sqlite3 *dst = NULL;
	sq_call k;
	ts_err r = TS_E_INTERNAL;
	int fd, rc;

	if (q->memory) {
		snprintf(why, whylen, "an in-memory database has no file to back up");
		return TS_E_INVALID;
	}
	if (access(path, F_OK) == 0) {
		snprintf(why, whylen, "%s exists: give a new file name", path);
		return TS_E_CONFLICT;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.partial", path) >= (int)sizeof(tmp)) {
		snprintf(why, whylen, "path too long");
		return TS_E_INVALID;
	}
	/* 0600 from the start: the copy holds what the database holds. */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		snprintf(why, whylen, "%s: %s%s", tmp, strerror(errno),
		         errno == EEXIST ? " (another backup under way, or one that failed: remove it)" : "");
		return errno == EEXIST ? TS_E_CONFLICT : TS_E_INTERNAL;
	}
	close(fd);
	if ((rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL)) != SQLITE_OK) {
		snprintf(why, whylen, "%s: %s", tmp, sqlite3_errstr(rc));
		goto out;
	}
	if ((r = sq_begin(s, SQ_READ, ST_BEGIN, &k)) != TS_OK) {
		snprintf(why, whylen, "the database is unavailable");
		goto out;
	}
	rc = copy_all(dst, k.c->db);
	sq_end(&k, TS_OK);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "copy failed: %s", sqlite3_errstr(rc));
		r = sq_map(rc);
		goto out;
	}
	rc = sqlite3_close(dst);
	dst = NULL;
	if (rc != SQLITE_OK || sync_path(tmp, 0) || rename(tmp, path) || sync_path(path, 1)) {
		snprintf(why, whylen, "%s: %s", path, rc != SQLITE_OK ? sqlite3_errstr(rc) : strerror(errno));
		r = TS_E_INTERNAL;
		goto out;
	}
	r = TS_OK;
out:
	if (dst)
		sqlite3_close(dst);
	if (r != TS_OK)
		unlink(tmp);
	return r;
}

/* The "in use" lock: an open file description lock (F_OFD_SETLK, Linux)
 * on one byte of the database file that SQLite never locks (its own are
 * PENDING_BYTE 0x40000000 and the 511 bytes after it), shared by every
 * open store, process or not. OFD locks, unlike POSIX ones, belong to the
 * descriptor, so SQLite closing its own descriptors of the file leaves it
 * alone, and it holds while every connection is idle-closed. */
#define HOLD_BYTE (0x40000000 + 4096)

void
sq_hold(sq_store *s)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = HOLD_BYTE, .l_len = 1 };

	if (s->memory || s->hold_fd >= 0)
		return;
	if ((s->hold_fd = open(s->path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	if (fcntl(s->hold_fd, F_OFD_SETLK, &fl) != 0) {
		close(s->hold_fd);
		s->hold_fd = -1;
	}
}

void
sq_release(sq_store *s)
{
	if (s->hold_fd >= 0)
		close(s->hold_fd);
	s->hold_fd = -1;
}

/* 1 when another open store (this process's own dropped first) holds
 * the "in use" lock of path. */
static int
held_elsewhere(const char *path)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = HOLD_BYTE, .l_len = 1 };
	int fd = open(path, O_RDONLY | O_CLOEXEC), held = 0;

	if (fd < 0)
		return 0;
	if (fcntl(fd, F_OFD_GETLK, &fl) == 0)
		held = fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

/* The pid of another process that has the database open, else 0. In WAL
 * mode every connection holds a read lock on the -shm file's "DMS" byte
 * (SQLite's os_unix.c: UNIX_SHM_DMS, byte 128) as long as it is open;
 * F_GETLK names a holder, never this process (whose own connections are
 * the store's). No -shm file: nobody has the database open. */
static long
shm_holder(const char *db)
{
	char shm[4096];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1 };
	int fd;

	if (snprintf(shm, sizeof(shm), "%s-shm", db) >= (int)sizeof(shm))
		return 0;
	if ((fd = open(shm, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) != 0)
		fl.l_type = F_UNLCK;
	close(fd);
	return fl.l_type == F_UNLCK ? 0 : (long)fl.l_pid;
}

/* A copy this build can restore: readable, quick_check clean, a schema
 * version from 1 to ours. */
static ts_err
check_copy(sqlite3 *src, const char *path, char *why, size_t whylen)
{
	sqlite3_stmt *st = NULL;
	int v = 0, ok = 0;

	if (sq_user_version(src, &v) != SQLITE_OK || v < 1) {
		snprintf(why, whylen, "%s is not a Tessera database (no schema)", path);
		return TS_E_INVALID;
	}
	if (v > sq_migration_count) {
		snprintf(why, whylen, "%s has schema %d, newer than this build's %d", path, v,
		         sq_migration_count);
		return TS_E_INVALID;
	}
	if (sqlite3_prepare_v2(src, "PRAGMA quick_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		ok = t && strcmp((const char *)t, "ok") == 0;
	}
	sqlite3_finalize(st);
	if (!ok) {
		snprintf(why, whylen, "%s fails SQLite's quick_check (damaged)", path);
		return TS_E_INVALID;
	}
	return TS_OK;
}

ts_err
sq_op_restore(ts_store *s, const char *path, long *holder, char *why, size_t whylen)
{
	sq_store *q = (sq_store *)s;
	sqlite3 *src = NULL;
	sq_call k;
	ts_err r;
	int rc;

	*holder = 0;
	if (q->memory) {
		snprintf(why, whylen, "an in-memory database cannot be restored");
		return TS_E_INVALID;
	}
	if ((rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL)) != SQLITE_OK) {
		snprintf(why, whylen, "%s: %s", path, src ? sqlite3_errmsg(src) : sqlite3_errstr(rc));
		r = access(path, F_OK) ? TS_E_NOT_FOUND : TS_E_INVALID;
		goto out;
	}
	if ((r = check_copy(src, path, why, whylen)) != TS_OK)
		goto out;
	/* Our own hold is dropped for the look and taken again after. */
	sq_release(q);
	int held = held_elsewhere(q->path);
	*holder = shm_holder(q->path);
	sq_hold(q);
	if (held || *holder) {
		if (*holder)
			snprintf(why, whylen, "the database is open in another process (pid %ld; a "
			         "running server?): stop it first", *holder);
		else
			snprintf(why, whylen, "the database is open in another process (a running "
			         "server?): stop it first");
		if (!*holder)
			*holder = -1;
		r = TS_E_CONFLICT;
		goto out;
	}
	if ((r = sq_begin(s, SQ_WRITE, ST_BEGIN, &k)) != TS_OK) {
		snprintf(why, whylen, "the database is unavailable");
		goto out;
	}
	rc = copy_all(k.c->db, src);
	sq_end(&k, TS_OK);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "restore failed, the database is unchanged: %s", sqlite3_errstr(rc));
		r = sq_map(rc);
	}
out:
	sqlite3_close(src);
	return r;
}
