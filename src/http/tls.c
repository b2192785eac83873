/* TLS certificate bundles with reference counts, and their atomic swap on
 * reload (tls.h). A bundle is immutable once published; only the pointer
 * to the current one changes, under mu. */
#include "http/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

/* A certificate chain or key file past this is not one. */
#define TLS_FILE_MAX (1024 * 1024)

struct http_tls_bundle {
	atomic_uint refs;           /* the holder's (http_tls) + one per connection */
	gnutls_pcert_st certs[HTTP_TLS_MAX_CHAIN];
	unsigned ncerts;
	gnutls_privkey_t key;
};

struct http_tls {
	pthread_mutex_t mu;         /* guards cur */
	http_tls_bundle *cur;       /* holds one reference */
	char *cert_path;
	char *key_path;
};

static void
bundle_free(http_tls_bundle *b)
{
	for (unsigned i = 0; i < b->ncerts; i++)
		gnutls_pcert_deinit(&b->certs[i]);
	if (b->key != NULL)
		gnutls_privkey_deinit(b->key);
	free(b);
}

/* Reads a whole file (at most TLS_FILE_MAX) into a NUL-terminated
 * malloc'd buffer; the caller wipes and frees it. 0, or -1 with err. */
static int
read_file(const char *path, const char *what, gnutls_datum_t *d, char *err, size_t errsz)
{
	struct stat st;
	unsigned char *buf = NULL;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errsz, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > TLS_FILE_MAX) {
		snprintf(err, errsz, "%s %s: not a regular file of 1 byte to 1 MiB", what, path);
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errsz, "out of memory");
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	d->data = buf;
	d->size = (unsigned)off;
	return 0;
}

static void
datum_wipe(gnutls_datum_t *d)
{
	if (d->data != NULL) {
		gnutls_memset(d->data, 0, d->size); /* not optimised away */
		free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

/* 1 when key is the private half of the certificate's public key. */
static int
key_matches(gnutls_privkey_t key, gnutls_pubkey_t cert_pub)
{
	unsigned char a[64], b[64];
	size_t na = sizeof(a), nb = sizeof(b);
	gnutls_pubkey_t pub = NULL;
	int ok = 0;

	if (gnutls_pubkey_init(&pub) < 0)
		return 0;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &na) >= 0 &&
	    gnutls_pubkey_get_key_id(cert_pub, GNUTLS_KEYID_USE_SHA256, b, &nb) >= 0)
		ok = na == nb && memcmp(a, b, na) == 0;
	gnutls_pubkey_deinit(pub);
	return ok;
}

static ts_err
bundle_load(const char *cert_path, const char *key_path, http_tls_bundle **out,
            char *err, size_t errsz)
{
	gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
	http_tls_bundle *b = calloc(1, sizeof(*b));
	ts_err r = TS_E_INVALID;
	unsigned n = HTTP_TLS_MAX_CHAIN;
	int g;

	*out = NULL;
	if (b == NULL) {
		snprintf(err, errsz, "out of memory");
		return TS_E_NOMEM;
	}
	if (read_file(cert_path, "TLS certificate", &cert, err, errsz) ||
	    read_file(key_path, "TLS key", &key, err, errsz))
		goto out;
	g = gnutls_pcert_list_import_x509_raw(b->certs, &n, &cert, GNUTLS_X509_FMT_PEM, 0);
	if (g < 0 || n == 0) {
		snprintf(err, errsz, "TLS certificate %s: %s", cert_path,
		         g < 0 ? gnutls_strerror(g) : "no certificate in the file");
		goto out;
	}
	b->ncerts = n;
	if ((g = gnutls_privkey_init(&b->key)) < 0 ||
	    (g = gnutls_privkey_import_x509_raw(b->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, errsz, "TLS key %s: %s (a PEM private key without a passphrase)",
		         key_path, gnutls_strerror(g));
		goto out;
	}
	if (!key_matches(b->key, b->certs[0].pubkey)) {
		snprintf(err, errsz, "TLS key %s is not the key of certificate %s", key_path,
		         cert_path);
		goto out;
	}
	atomic_init(&b->refs, 1);
	*out = b;
	b = NULL;
	r = TS_OK;
out:
	datum_wipe(&key);
	datum_wipe(&cert);
	if (b != NULL)
		bundle_free(b);
	return r;
}

ts_err
http_tls_new(const char *cert_path, const char *key_path, http_tls **out, char *err,
             size_t errsz)
{
	http_tls *t;
	ts_err r;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->cert_path = strdup(cert_path)) == NULL ||
	    (t->key_path = strdup(key_path)) == NULL) {
		snprintf(err, errsz, "out of memory");
		r = TS_E_NOMEM;
		goto fail;
	}
	pthread_mutex_init(&t->mu, NULL);
	if ((r = bundle_load(cert_path, key_path, &t->cur, err, errsz)) != TS_OK) {
		pthread_mutex_destroy(&t->mu);
		goto fail;
	}
	*out = t;
	return TS_OK;
fail:
	if (t != NULL) {
		free(t->cert_path);
		free(t->key_path);
		free(t);
	}
	return r;
}

ts_err
http_tls_reload(http_tls *t, char *err, size_t errsz)
{
	http_tls_bundle *b, *old;
	ts_err r;

	if ((r = bundle_load(t->cert_path, t->key_path, &b, err, errsz)) != TS_OK)
		return r;
	pthread_mutex_lock(&t->mu);
	old = t->cur;
	t->cur = b;
	pthread_mutex_unlock(&t->mu);
	http_tls_release(old);
	return TS_OK;
}

http_tls_bundle *
http_tls_acquire(http_tls *t)
{
	http_tls_bundle *b;

	/* Under mu: a reload must not free cur between the read and the
	 * increment. */
	pthread_mutex_lock(&t->mu);
	b = t->cur;
	atomic_fetch_add(&b->refs, 1);
	pthread_mutex_unlock(&t->mu);
	return b;
}

void
http_tls_release(http_tls_bundle *b)
{
	if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1)
		bundle_free(b);
}

void
http_tls_bundle_get(http_tls_bundle *b, gnutls_pcert_st **certs, unsigned *ncerts,
                    gnutls_privkey_t *key)
{
	*certs = b->certs;
	*ncerts = b->ncerts;
	*key = b->key;
}

void
http_tls_free(http_tls *t)
{
	if (t == NULL)
		return;
	http_tls_release(t->cur);
	pthread_mutex_destroy(&t->mu);
	free(t->cert_path);
	free(t->key_path);
	free(t);
}
