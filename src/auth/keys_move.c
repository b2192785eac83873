/* Signing keys moved between installations: `tessera keys export` and
 * `keys import`. The private keys stay sealed in the file (crypto/seal.h);
 * what opens them is the exporting installation's key file, which the
 * importer names, so the export can travel apart from it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_internal.h"
#include "core/util.h"

#define EXPORT_MAGIC "tessera-keys 1"
#define PEM_MAX 8192                /* a PEM private key is far smaller */
#define LINE_MAX_LEN (TS_SEALED_LEN(PEM_MAX) + 512)

typedef struct export_ctx {
	FILE *out;
	int n;
	int failed;
} export_ctx;

static int
export_one(void *arg, const ts_signing_key *k)
{
	export_ctx *x = arg;

	if (k->revoked_at)
		return 0;               /* dead: nothing to move */
	if (!ts_is_sealed(k->private_pem)) {
		x->failed = 1;          /* open_kek seals everything first */
		return 1;
	}
	if (fprintf(x->out, "key %s %s %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s\n",
	            k->kid, k->alg, k->created_at, k->retired_at, k->publish_until,
	            k->activate_at, k->private_pem) < 0) {
		x->failed = 1;
		return 1;
	}
	x->n++;
	return 0;
}

ts_err
ts_admin_keys_export(ts_store *s, FILE *out, int *n)
{
	export_ctx x = { out, 0, 0 };
	ts_err r;

	*n = 0;
	if (fprintf(out, "%s\n", EXPORT_MAGIC) < 0)
		return TS_E_INTERNAL;
	if ((r = s->ops->key_list(s, export_one, &x)) != TS_OK)
		return r;
	if (x.failed || fflush(out) != 0)
		return TS_E_INTERNAL;
	*n = x.n;
	return TS_OK;
}

/* One parsed line, resealed under the importing key file. */
typedef struct import_key {
	ts_signing_key k;
	char *sealed;                /* owned */
} import_key;

static int
kid_ok(const char *kid)
{
	size_t n = strlen(kid);

	return n > 0 && n < TS_KID_MAX && kid[0] != '-' &&
	       strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* Parses "key ..." and reseals its private key under to. */
static ts_err
import_line(char *line, const ts_kek *to, const ts_kek *from, import_key *ik)
{
	char kid[TS_KID_MAX], alg[16], id[TS_KEK_ID_LEN + 1], *sealed, *pem = NULL;
	long long c, rt, pu, ac;
	int off = 0;
	size_t cap, n = 0;
	const ts_kek *k;
	ts_err r;

	memset(ik, 0, sizeof(*ik));
	line[strcspn(line, "\r\n")] = '\0';
	if (sscanf(line, "key %63s %15s %lld %lld %lld %lld %n", kid, alg, &c, &rt, &pu, &ac, &off) != 6 ||
	    off == 0 || !kid_ok(kid) || ts_alg_parse(alg) < 0)
		return TS_E_INVALID;
	sealed = line + off;
	if (!ts_sealed_kek_id(sealed, id) || strchr(sealed, ' '))
		return TS_E_INVALID;
	k = strcmp(id, to->id) == 0 ? to : from && strcmp(id, from->id) == 0 ? from : NULL;
	if (!k)
		return TS_E_SEAL;
	if (!(pem = malloc(PEM_MAX)))
		return TS_E_NOMEM;
	if ((r = ts_unseal(k, kid, sealed, pem, PEM_MAX, &n)) != TS_OK)
		goto out;
	cap = TS_SEALED_LEN(n) + 1;
	if (!(ik->sealed = malloc(cap))) {
		r = TS_E_NOMEM;
		goto out;
	}
	if ((r = ts_seal(to, kid, pem, n, ik->sealed, cap)) != TS_OK)
		goto out;
	ts_strlcpy(ik->k.kid, kid, sizeof(ik->k.kid));
	ts_strlcpy(ik->k.alg, alg, sizeof(ik->k.alg));
	ik->k.created_at = c;
	ik->k.retired_at = rt;
	ik->k.publish_until = pu;
	ik->k.activate_at = ac;
	ik->k.private_pem = ik->sealed;
out:
	ts_wipe(pem, PEM_MAX);
	free(pem);
	if (r != TS_OK) {
		free(ik->sealed);
		ik->sealed = NULL;
	}
	return r;
}

ts_err
ts_admin_keys_import(ts_store *s, const ts_kek *to, const ts_kek *from, FILE *in,
                     int *added, int *present, int *line)
{
	import_key *keys = NULL;
	char *buf = malloc(LINE_MAX_LEN);
	int n = 0, cap = 0;
	ts_err r = TS_OK;

	*added = *present = *line = 0;
	if (!buf)
		return TS_E_NOMEM;
	/* Every line is opened before anything is added: a bad file adds
	 * nothing. */
	while (r == TS_OK && fgets(buf, LINE_MAX_LEN, in)) {
		++*line;
		if (*line == 1) {
			buf[strcspn(buf, "\r\n")] = '\0';
			r = strcmp(buf, EXPORT_MAGIC) ? TS_E_INVALID : TS_OK;
			continue;
		}
		if (n == cap) {
			int nc = cap ? cap * 2 : 8;
			import_key *more = realloc(keys, (size_t)nc * sizeof(*more));
			if (!more) {
				r = TS_E_NOMEM;
				break;
			}
			keys = more;
			cap = nc;
		}
		if ((r = import_line(buf, to, from, &keys[n])) == TS_OK)
			n++;
	}
	if (r == TS_OK && *line == 0)
		r = TS_E_INVALID;         /* empty: not an export */
	for (int i = 0; r == TS_OK && i < n; i++) {
		ts_err a = s->ops->key_add(s, &keys[i].k);
		if (a == TS_E_CONFLICT)
			++*present;
		else if (a == TS_OK)
			++*added;
		else
			r = a;
	}
	if (r == TS_OK)
		*line = 0;
	for (int i = 0; i < n; i++)
		free(keys[i].sealed);
	free(keys);
	ts_wipe(buf, LINE_MAX_LEN);
	free(buf);
	return r;
}
