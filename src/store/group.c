/* Group commit by leader and followers (group.h). */
#include "store/group.h"

int
ts_group_init(ts_group *g, size_t max)
{
	g->head = NULL;
	g->tail = &g->head;
	g->max = max ? max : 1;
	g->leading = 0;
	g->batches = g->items = 0;
	if (pthread_mutex_init(&g->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&g->cv, NULL) != 0) {
		pthread_mutex_destroy(&g->mu);
		return -1;
	}
	return 0;
}

void
ts_group_destroy(ts_group *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* Detaches up to g->max items from the queue's head; *n gets how many. */
static ts_group_item *
take_batch(ts_group *g, size_t *n)
{
	ts_group_item *first = g->head, *last = first;
	size_t k = 1;

	while (k < g->max && last->next) {
		last = last->next;
		k++;
	}
	g->head = last->next;
	if (!g->head)
		g->tail = &g->head;
	last->next = NULL;
	*n = k;
	return first;
}

void
ts_group_run(ts_group *g, ts_group_item *it, ts_group_run_fn run, void *ctx)
{
	it->next = NULL;
	it->done = 0;
	pthread_mutex_lock(&g->mu);
	*g->tail = it;
	g->tail = &it->next;
	while (!it->done) {
		ts_group_item *batch, *x;
		size_t n;

		if (g->leading) {
			pthread_cond_wait(&g->cv, &g->mu);
			continue;
		}
		/* Lead. The queue is not empty: our item is done or in it. */
		g->leading = 1;
		batch = take_batch(g, &n);
		pthread_mutex_unlock(&g->mu);
		run(ctx, batch, n);
		pthread_mutex_lock(&g->mu);
		/* Under mu: no owner can see done and return before the loop ends. */
		for (x = batch; x; x = x->next)
			x->done = 1;
		g->batches++;
		g->items += n;
		g->leading = 0;
		pthread_cond_broadcast(&g->cv);
	}
	pthread_mutex_unlock(&g->mu);
}
