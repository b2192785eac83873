/* Sealing secrets at rest under the key file's key (see seal.h). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "crypto/b64url.h"
#include "crypto/seal.h"

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PREFIX_LEN (sizeof(TS_SEAL_PREFIX) - 1)
#define SEAL_MAX 4096                /* largest plaintext we seal (a PEM) */

void
ts_kek_from_bytes(const unsigned char raw[TS_KEK_LEN], ts_kek *k)
{
	unsigned char idk[crypto_kdf_BYTES_MIN];

	memcpy(k->root, raw, TS_KEK_LEN);
	/* Subkeys, never the root itself: the AEAD key, the id (published in
	 * every blob, so it must not be the key) and others (ts_kek_subkey). */
	crypto_kdf_derive_from_key(k->seal, sizeof(k->seal), 1, "tsseal01", k->root);
	crypto_kdf_derive_from_key(idk, sizeof(idk), 2, "tskekid1", k->root);
	sodium_bin2hex(k->id, sizeof(k->id), idk, TS_KEK_ID_LEN / 2);
}

void
ts_kek_subkey(const ts_kek *k, uint64_t id, const char ctx[8], unsigned char out[TS_KEK_LEN])
{
	crypto_kdf_derive_from_key(out, TS_KEK_LEN, id, ctx, k->root);
}

void
ts_kek_wipe(ts_kek *k)
{
	sodium_memzero(k, sizeof(*k));
}

static ts_err
kek_create(const char *path, ts_kek *k, char *err, size_t errsz)
{
	unsigned char raw[TS_KEK_LEN];
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ts_err r = TS_E_INTERNAL;

	if (fd < 0) {
		snprintf(err, errsz, "cannot create key file %s: %s", path, strerror(errno));
		return TS_E_INTERNAL;
	}
	randombytes_buf(raw, sizeof(raw));
	if (write(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw) || fsync(fd) != 0) {
		snprintf(err, errsz, "cannot write key file %s: %s", path, strerror(errno));
		(void)unlink(path);
		goto out;
	}
	ts_kek_from_bytes(raw, k);
	r = TS_OK;
out:
	close(fd);
	sodium_memzero(raw, sizeof(raw));
	return r;
}

ts_err
ts_kek_load(const char *path, int create, ts_kek *k, int *created, char *err, size_t errsz)
{
	unsigned char buf[80], raw[TS_KEK_LEN];
	size_t bin = 0;
	ssize_t n;
	int fd;
	ts_err r = TS_E_INVALID;

	memset(k, 0, sizeof(*k));
	if (created)
		*created = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && create) {
			if ((r = kek_create(path, k, err, errsz)) == TS_OK && created)
				*created = 1;
			return r;
		}
		snprintf(err, errsz, "cannot read key file %s: %s", path, strerror(errno));
		return errno == ENOENT ? TS_E_NOT_FOUND : TS_E_INTERNAL;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == TS_KEK_LEN) {
		memcpy(raw, buf, TS_KEK_LEN);
		r = TS_OK;
	} else if ((n == 64 || (n == 65 && buf[64] == '\n')) &&
	           sodium_hex2bin(raw, sizeof(raw), (const char *)buf, 64, NULL, &bin, NULL) == 0 &&
	           bin == TS_KEK_LEN) {
		r = TS_OK;
	}
	if (r == TS_OK)
		ts_kek_from_bytes(raw, k);
	else
		snprintf(err, errsz, "key file %s must hold 32 bytes (or 64 hex digits), "
		         "found %zd bytes", path, n);
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(raw, sizeof(raw));
	return r;
}

int
ts_sealed_kek_id(const char *text, char id[TS_KEK_ID_LEN + 1])
{
	if (!ts_is_sealed(text))
		return 0;
	memcpy(id, text + PREFIX_LEN, TS_KEK_ID_LEN);
	id[TS_KEK_ID_LEN] = '\0';
	return 1;
}

int
ts_is_sealed(const char *text)
{
	if (!text || strncmp(text, TS_SEAL_PREFIX, PREFIX_LEN) != 0 ||
	    strlen(text) < PREFIX_LEN + TS_KEK_ID_LEN + 1)
		return 0;
	for (size_t i = 0; i < TS_KEK_ID_LEN; i++)
		if (!strchr("0123456789abcdef", text[PREFIX_LEN + i]))
			return 0;
	return text[PREFIX_LEN + TS_KEK_ID_LEN] == '.';
}

ts_err
ts_seal(const ts_kek *k, const char *ad, const void *pt, size_t n, char *out, size_t cap)
{
	unsigned char box[NONCE_LEN + SEAL_MAX + TAG_LEN];
	unsigned long long clen = 0;
	size_t head = PREFIX_LEN + TS_KEK_ID_LEN + 1;

	if (n > SEAL_MAX || cap < head + ts_b64url_enclen(NONCE_LEN + n + TAG_LEN) + 1)
		return TS_E_NOMEM;
	/* A random 192-bit nonce: no counter to keep across nodes. */
	randombytes_buf(box, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE_LEN, &clen, pt, n,
	                                           (const unsigned char *)ad, strlen(ad), NULL,
	                                           box, k->seal);
	snprintf(out, cap, "%s%s.", TS_SEAL_PREFIX, k->id);
	ts_b64url_encode(box, NONCE_LEN + (size_t)clen, out + head);
	return TS_OK;
}

ts_err
ts_unseal(const ts_kek *k, const char *ad, const char *sealed, void *pt, size_t cap, size_t *n)
{
	unsigned char box[NONCE_LEN + SEAL_MAX + TAG_LEN];
	unsigned long long plen = 0;
	size_t head = PREFIX_LEN + TS_KEK_ID_LEN + 1;
	long blen;

	*n = 0;
	if (!ts_is_sealed(sealed))
		return TS_E_INVALID;
	if (memcmp(sealed + PREFIX_LEN, k->id, TS_KEK_ID_LEN) != 0)
		return TS_E_SEAL;     /* sealed under another key file */
	blen = ts_b64url_decode(sealed + head, strlen(sealed + head), box, sizeof(box));
	if (blen < (long)(NONCE_LEN + TAG_LEN))
		return TS_E_SEAL;
	if ((size_t)blen - NONCE_LEN - TAG_LEN > cap)
		return TS_E_NOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &plen, NULL, box + NONCE_LEN,
	                                               (size_t)blen - NONCE_LEN,
	                                               (const unsigned char *)ad, strlen(ad),
	                                               box, k->seal) != 0) {
		sodium_memzero(pt, cap);
		return TS_E_SEAL;
	}
	*n = (size_t)plen;
	if (*n < cap)
		((unsigned char *)pt)[*n] = '\0';
	return TS_OK;
}
