/* Secrets at rest: private signing keys and TOTP secrets are stored sealed
 * (XChaCha20-Poly1305, libsodium's crypto_aead_xchacha20poly1305_ietf)
 * under a key-encryption key (KEK) read from the key file, so a database
 * dump alone cannot sign a token or compute a code.
 *
 * Sealed text: "tsk1." KEKID "." base64url(nonce || ciphertext || tag),
 * where KEKID (16 hex digits) names the KEK without revealing it: a wrong
 * key file is told apart from a tampered blob. The associated data (a
 * key's kid, a TOTP secret's user id) binds a blob to its row, so a blob
 * moved to another row does not open. */
#ifndef TS_SEAL_H
#define TS_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define TS_KEK_LEN 32
#define TS_KEK_ID_LEN 16
#define TS_SEAL_PREFIX "tsk1."
/* Sealed length of n bytes, without the NUL. */
#define TS_SEALED_LEN(n) (5 + TS_KEK_ID_LEN + 1 + (((n) + 40) * 4 + 2) / 3)

typedef struct ts_kek {
	unsigned char seal[TS_KEK_LEN];    /* AEAD subkey */
	unsigned char root[TS_KEK_LEN];    /* the key file's bytes, for other subkeys */
	char id[TS_KEK_ID_LEN + 1];
} ts_kek;

/* Sets up k from the key file's 32 bytes (subkeys by crypto_kdf). */
void ts_kek_from_bytes(const unsigned char raw[TS_KEK_LEN], ts_kek *k);
/* Reads the key file at path: 32 raw bytes, or 64 hex digits and an
 * optional newline. With create, a missing file is made (0600, O_EXCL, 32
 * random bytes) and *created set. TS_E_NOT_FOUND when missing (and not
 * created), TS_E_INVALID for a malformed file, TS_E_INTERNAL for an I/O
 * error; err gets one line naming the file. */
ts_err ts_kek_load(const char *path, int create, ts_kek *k, int *created, char *err,
                   size_t errsz);
/* A 32-byte subkey for another purpose (ctx: 8 characters). */
void ts_kek_subkey(const ts_kek *k, uint64_t id, const char ctx[8],
                   unsigned char out[TS_KEK_LEN]);
void ts_kek_wipe(ts_kek *k);

/* 1 when text has the sealed shape (not that it opens). */
int ts_is_sealed(const char *text);
/* The KEK id a sealed text names; 0 if it is not sealed. */
int ts_sealed_kek_id(const char *text, char id[TS_KEK_ID_LEN + 1]);
/* Seals pt[0..n) with ad into out (cap bytes, at least TS_SEALED_LEN(n)+1). */
ts_err ts_seal(const ts_kek *k, const char *ad, const void *pt, size_t n, char *out,
               size_t cap) __attribute__((warn_unused_result));
/* Opens a sealed text into pt (cap bytes; *n gets the length; a NUL is
 * added when it fits). TS_E_SEAL when it was sealed under another KEK, was
 * changed, or belongs to other associated data; TS_E_INVALID when it is not
 * sealed text; TS_E_NOMEM when cap is too small. pt is wiped on failure. */
ts_err ts_unseal(const ts_kek *k, const char *ad, const char *sealed, void *pt, size_t cap,
                 size_t *n) __attribute__((warn_unused_result));

#endif
