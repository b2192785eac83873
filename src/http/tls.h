/* The server's TLS certificate and key (GnuTLS), swappable while serving.
 * A bundle is what one handshake presents; each connection holds a
 * reference from its handshake until it closes, because GnuTLS keeps
 * pointing at the certificates and key it was handed for the whole
 * session (gnutls_certificate_set_retrieve_function2 does not copy them).
 * A reload loads a new bundle and swaps it in under a lock; the old one
 * is freed when its last connection closes. No libmicrohttpd types here. */
#ifndef TS_HTTP_TLS_H
#define TS_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stddef.h>

#include "core/err.h"

/* TLS 1.2 and 1.3 only; AEAD ciphers only (AES-GCM, ChaCha20-Poly1305);
 * forward-secret key exchange only (ECDHE, and TLS 1.3's groups); no
 * compression, no SHA-1 or RSA key transport. */
#define HTTP_TLS_PRIORITIES                                                   \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:"           \
	"+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"          \
	"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:-SHA1:%SERVER_PRECEDENCE"

#define HTTP_TLS_MAX_CHAIN 8

typedef struct http_tls_bundle http_tls_bundle;
typedef struct http_tls http_tls;

/* Loads cert_path (PEM: the certificate, then its chain) and key_path
 * (PEM private key, unencrypted) and checks that the key is the
 * certificate's. TS_E_INVALID with one line in err (naming the file and
 * what is wrong) when they cannot be used; TS_E_NOMEM. */
ts_err http_tls_new(const char *cert_path, const char *key_path, http_tls **out,
                    char *err, size_t errsz);
/* Loads the same two paths again. On success the new bundle serves every
 * handshake from now on; open connections keep theirs. On failure the
 * current bundle stays and err says why. */
ts_err http_tls_reload(http_tls *t, char *err, size_t errsz);
/* Frees t and its current bundle; every connection must have released
 * its reference (call after the daemon stopped). NULL is a no-op. */
void http_tls_free(http_tls *t);

/* A reference to the current bundle (never NULL once t exists). */
http_tls_bundle *http_tls_acquire(http_tls *t);
/* Drops a reference; the last one frees a bundle that was swapped out.
 * NULL is a no-op. */
void http_tls_release(http_tls_bundle *b);
/* The bundle's chain and key, for the GnuTLS retrieve callback. Valid
 * while the reference is held. */
void http_tls_bundle_get(http_tls_bundle *b, gnutls_pcert_st **certs, unsigned *ncerts,
                         gnutls_privkey_t *key);

#endif
