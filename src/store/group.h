/* Group commit: concurrent callers of one write op share a transaction.
 * Shared by both backends (issue 13: a refresh rotation is a write
 * transaction, and on SQLite its commit, a WAL append of every changed
 * page plus the -shm locks, costs more than the rotation itself).
 *
 * Leader and followers, no thread of its own: a caller queues its item;
 * if no batch is under way it leads: it takes every item queued so far
 * (its own included, at most max), runs them through run() and wakes
 * their callers. Otherwise it sleeps until a leader has run its item, or
 * leads the next batch itself. So a lone caller runs at once, with no
 * added wait, and callers that arrive during a commit share the next.
 * Each caller returns only after the batch holding its item has finished:
 * an answer is never sent before its commit. */
#ifndef TS_STORE_GROUP_H
#define TS_STORE_GROUP_H

#include <pthread.h>
#include <stddef.h>

/* The head of a caller's item; the backend's own item embeds it first.
 * It lives on the caller's stack: the caller waits until it is run. */
typedef struct ts_group_item {
	struct ts_group_item *next;  /* the batch's order: the queue's */
	int done;                    /* set under the group's mutex */
} ts_group_item;

/* Runs a batch of n >= 1 items, first the oldest, on the leader's thread
 * and outside the group's mutex; it must give each item its result. */
typedef void (*ts_group_run_fn)(void *ctx, ts_group_item *batch, size_t n);

typedef struct ts_group {
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* a batch finished */
	ts_group_item *head, **tail;
	size_t max;                  /* most items in one batch */
	int leading;                 /* a batch is being run */
	unsigned long batches, items;  /* run so far, under mu (the tests read them) */
} ts_group;

/* 0, or -1 when the mutex or condvar cannot be made. max >= 1. */
int ts_group_init(ts_group *g, size_t max);
void ts_group_destroy(ts_group *g);
/* Queues it and returns once run() has given it its result. */
void ts_group_run(ts_group *g, ts_group_item *it, ts_group_run_fn run, void *ctx);

#endif
