/* The negative host cache of hostneg.h: a direct-mapped table of
 * TS_HOSTNEG_SLOTS entries (FNV-1a of the host), each good for
 * TS_HOSTNEG_TTL_MS. */
#include <string.h>
#include "store/hostneg.h"

static unsigned
slot_of(const char *host)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)host; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % TS_HOSTNEG_SLOTS;
}

void
ts_hostneg_init(ts_hostneg *c)
{
	memset(c, 0, sizeof *c);
	pthread_mutex_init(&c->mu, NULL);
}

void
ts_hostneg_destroy(ts_hostneg *c)
{
	pthread_mutex_destroy(&c->mu);
}

int
ts_hostneg_has(ts_hostneg *c, const char *host, uint64_t *gen)
{
	unsigned i = slot_of(host);
	int64_t now = ts_mono_us();
	int hit;

	pthread_mutex_lock(&c->mu);
	hit = c->e[i].until_us > now && strcmp(c->e[i].host, host) == 0;
	*gen = c->gen;
	pthread_mutex_unlock(&c->mu);
	return hit;
}

void
ts_hostneg_put(ts_hostneg *c, const char *host, uint64_t gen)
{
	unsigned i = slot_of(host);
	size_t n = strlen(host);

	if (n > TS_HOST_MAX)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->gen == gen) {
		memcpy(c->e[i].host, host, n + 1);
		c->e[i].until_us = ts_mono_us() + (int64_t)TS_HOSTNEG_TTL_MS * 1000;
	}
	pthread_mutex_unlock(&c->mu);
}

void
ts_hostneg_clear(ts_hostneg *c)
{
	pthread_mutex_lock(&c->mu);
	c->gen++;
	for (unsigned i = 0; i < TS_HOSTNEG_SLOTS; i++)
		c->e[i].until_us = 0;
	pthread_mutex_unlock(&c->mu);
}

ts_err
ts_hostneg_lookup(ts_hostneg *c, ts_store *s, const char *host, ts_tenant *out,
                  ts_err (*find)(ts_store *s, const char *host, ts_tenant *out))
{
	uint64_t gen;
	ts_err r;

	if (ts_hostneg_has(c, host, &gen)) {
		memset(out, 0, sizeof *out);
		return TS_E_NOT_FOUND;
	}
	if ((r = find(s, host, out)) == TS_E_NOT_FOUND)
		ts_hostneg_put(c, host, gen);
	return r;
}
