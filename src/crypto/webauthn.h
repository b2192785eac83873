/* WebAuthn's data structures, parsed and verified (WebAuthn Level 3 §5.8.1
 * client data, §6.1 authenticator data, §6.5 attestation object, COSE keys
 * per RFC 9052/9053) and the signature checks, done by libfido2
 * (fido_cred_verify, fido_cred_verify_self, fido_assert_verify). The
 * ceremonies themselves (§7.1, §7.2: what is compared with what, challenges,
 * counters, policy) are the engine's, in src/auth/factor_webauthn.c.
 *
 * Step numbers cite WebAuthn Level 3 as in the editor's draft (w3c/webauthn
 * index.bs, 2026-07-30). Every length is capped where it is read; CBOR is checked for
 * well-formedness, definite lengths and nesting depth by our own scanner
 * before libcbor builds anything, so neither a deep nesting nor a huge
 * claimed length costs more than the (capped) input.
 * Parsed structures point into the caller's buffer: nothing needs freeing
 * unless a function says so. Thread-safe: no state. */
#ifndef TS_WEBAUTHN_H
#define TS_WEBAUTHN_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

/* Caps. A credential id is at most 1023 bytes (§7.1 step 25). */
#define TS_WA_CRED_ID_MAX 1023
#define TS_WA_CLIENT_DATA_MAX 4096     /* clientDataJSON */
#define TS_WA_AUTHDATA_MAX 2048        /* authenticatorData */
#define TS_WA_ATTOBJ_MAX 16384         /* attestationObject, x5c included */
#define TS_WA_COSE_MAX 1024            /* a credential public key (RSA-4096 fits) */
#define TS_WA_SIG_MAX 1024             /* an assertion or attestation signature */
#define TS_WA_CBOR_DEPTH 6             /* nesting of arrays and maps */
#define TS_WA_CHALLENGE_MAX 64         /* raw challenge bytes we accept back */
#define TS_WA_ORIGIN_MAX 300
#define TS_WA_FMT_MAX 32

/* COSE algorithm identifiers (IANA COSE Algorithms registry). */
typedef enum {
	TS_WA_ALG_NONE = 0,
	TS_WA_ES256 = -7,
	TS_WA_EDDSA = -8,
	TS_WA_RS256 = -257,
} ts_wa_alg;

/* Authenticator data flags (§6.1). */
#define TS_WA_FLAG_UP 0x01
#define TS_WA_FLAG_UV 0x04
#define TS_WA_FLAG_BE 0x08
#define TS_WA_FLAG_BS 0x10
#define TS_WA_FLAG_AT 0x40
#define TS_WA_FLAG_ED 0x80

/* A well-formed CBOR data item at p[0..n): definite lengths only (CTAP2
 * canonical encoding has no other), no tags, nesting at most max_depth,
 * every claimed length within the input. *used gets the item's length
 * (trailing bytes are the caller's business). TS_OK or TS_E_INVALID. */
ts_err ts_cbor_scan(const unsigned char *p, size_t n, int max_depth, size_t *used);

/* ---- client data (§5.8.1) ---- */

typedef enum { TS_WA_CREATE, TS_WA_GET } ts_wa_ceremony;

typedef struct ts_wa_client_data {
	ts_wa_ceremony type;         /* "webauthn.create" | "webauthn.get" */
	unsigned char challenge[TS_WA_CHALLENGE_MAX];
	size_t challenge_len;
	char origin[TS_WA_ORIGIN_MAX + 1];
	int cross_origin;            /* crossOrigin: true */
	int has_top_origin;          /* topOrigin present (§7.1 step 11, §7.2 step 14) */
} ts_wa_client_data;

/* Parses clientDataJSON: UTF-8 JSON, an object, at most
 * TS_WA_CLIENT_DATA_MAX bytes, duplicate keys refused; type, challenge
 * (base64url) and origin required, unknown members ignored (§5.8.1.2).
 * TS_OK or TS_E_INVALID. */
ts_err ts_wa_client_data_parse(const unsigned char *json, size_t n, ts_wa_client_data *out);

/* ---- credential public keys (COSE_Key) ---- */

typedef struct ts_wa_pubkey {
	ts_wa_alg alg;
	unsigned char x[32], y[32];  /* ES256: P-256 point; EdDSA: x only (Ed25519) */
	unsigned char n[512];        /* RS256 modulus, big-endian, no leading zeros */
	size_t n_len;
	unsigned char e[8];
	size_t e_len;
} ts_wa_pubkey;

/* Parses a COSE_Key (RFC 9052 §7, RFC 9053 §2.1, §7.1, RFC 8230 §4): kty,
 * alg and the key parameters must agree (EC2/P-256 for ES256, OKP/Ed25519
 * for EdDSA, RSA for RS256). TS_OK or TS_E_INVALID (another algorithm
 * too). */
ts_err ts_wa_cose_parse(const unsigned char *p, size_t n, ts_wa_pubkey *out);

/* ---- authenticator data (§6.1) ---- */

typedef struct ts_wa_authdata {
	const unsigned char *raw;    /* the whole of it, for the signature */
	size_t raw_len;
	const unsigned char *rp_id_hash;   /* 32 bytes */
	uint8_t flags;
	uint32_t sign_count;
	/* Attested credential data (§6.5.2), when flags has AT: */
	unsigned char aaguid[16];
	const unsigned char *cred_id;
	size_t cred_id_len;
	const unsigned char *cose_key;
	size_t cose_key_len;
	ts_wa_pubkey key;
	/* Extensions (§9), when flags has ED: a CBOR map, checked for form only. */
	const unsigned char *ext;
	size_t ext_len;
} ts_wa_authdata;

/* Parses authenticatorData p[0..n). The layout must be exact: attested
 * credential data present exactly when AT is set, extensions exactly when
 * ED is set, nothing after them. TS_OK or TS_E_INVALID (a credential
 * algorithm that is none of ours too). */
ts_err ts_wa_authdata_parse(const unsigned char *p, size_t n, ts_wa_authdata *out);

/* ---- attestation object (§6.5.4) ---- */

typedef struct ts_wa_attestation {
	char fmt[TS_WA_FMT_MAX + 1];
	ts_wa_authdata auth;         /* points into the input */
	const unsigned char *att_stmt;    /* the attStmt map, encoded */
	size_t att_stmt_len;
	ts_wa_alg stmt_alg;          /* packed: attStmt.alg; TS_WA_ALG_NONE otherwise */
	int has_x5c;                 /* packed: an attestation certificate is present */
} ts_wa_attestation;

/* Parses an attestationObject: a CBOR map of exactly fmt (text), attStmt
 * (map) and authData (bytes), at most TS_WA_ATTOBJ_MAX bytes; authData as
 * ts_wa_authdata_parse, and it must carry attested credential data.
 * TS_OK or TS_E_INVALID. */
ts_err ts_wa_attestation_parse(const unsigned char *p, size_t n, ts_wa_attestation *out);

/* What an attestation statement proved (§6.5.3). */
typedef enum {
	TS_WA_ATT_NONE,              /* fmt "none": nothing */
	TS_WA_ATT_SELF,              /* packed, signed by the credential key */
	TS_WA_ATT_BASIC,             /* packed with x5c: signed by the attestation key;
	                              * the chain is not judged here (no anchors) */
} ts_wa_att_type;

/* Verifies the attestation statement (§7.1 step 22) for the client data
 * hash cdh: "none" must have an empty attStmt; "packed" (§8.2) is checked
 * by libfido2 (fido_cred_verify for x5c, fido_cred_verify_self for self
 * attestation, whose alg must be the credential's), together with the
 * rpIdHash against rp_id and UP (UV too when require_uv).
 * TS_OK with *type, or TS_E_INVALID (another fmt too). */
ts_err ts_wa_attestation_verify(const ts_wa_attestation *att, const unsigned char cdh[32],
                                const char *rp_id, int require_uv, ts_wa_att_type *type);

/* Verifies an assertion (§7.2 steps 15, 16, 17 and 21: what the bytes alone can tell): with
 * libfido2's fido_assert_verify, the rpIdHash of authenticatorData
 * against rp_id, the flags of need_flags (TS_WA_FLAG_UP, TS_WA_FLAG_UV:
 * the ceremony always asks for UP; 0 only for published vectors made
 * without it), and sig over authenticatorData || cdh with key. TS_OK or
 * TS_E_INVALID. */
ts_err ts_wa_assertion_verify(const ts_wa_pubkey *key, const unsigned char *authdata,
                              size_t authdata_len, const unsigned char cdh[32],
                              const unsigned char *sig, size_t sig_len, const char *rp_id,
                              uint8_t need_flags);

/* ---- the JSON forms of the browser API (WebAuthn L3 §5.1.8 toJSON(),
 * §5.1.9 parseCreationOptionsFromJSON, §5.1.10 parseRequestOptionsFromJSON;
 * binary members are base64url) ---- */

/* PublicKeyCredential.toJSON() of a registration (create) or an
 * assertion (get), decoded. Every buffer is malloc'd (free with
 * ts_wa_credential_free); members the ceremony does not have are NULL. */
typedef struct ts_wa_credential {
	unsigned char *raw_id;
	size_t raw_id_len;
	unsigned char *client_data;
	size_t client_data_len;
	unsigned char *attestation_object;   /* create */
	size_t attestation_object_len;
	unsigned char *authenticator_data;   /* get */
	size_t authenticator_data_len;
	unsigned char *signature;            /* get */
	size_t signature_len;
	unsigned char *user_handle;          /* get; NULL when absent or null */
	size_t user_handle_len;
	char transports[96];                 /* create: known ones, comma-separated */
} ts_wa_credential;

/* Parses json[0..n) as the toJSON() form of kind: type "public-key", id
 * equal to rawId, response with the members the ceremony has, every one
 * capped (TS_WA_* above). TS_OK, TS_E_INVALID, TS_E_NOMEM. */
ts_err ts_wa_credential_parse(const char *json, size_t n, ts_wa_ceremony kind,
                              ts_wa_credential *out);
void ts_wa_credential_free(ts_wa_credential *c);

/* A credential named in allowCredentials / excludeCredentials. */
typedef struct ts_wa_cred_ref {
	const char *id_b64;          /* base64url credential id */
	const char *transports;      /* comma list, "" for none */
} ts_wa_cred_ref;

typedef struct ts_wa_options {
	const char *rp_id;
	const char *rp_name;         /* creation */
	const unsigned char *challenge;
	size_t challenge_len;
	const unsigned char *user_id;        /* creation: user handle */
	size_t user_id_len;
	const char *user_name;       /* creation */
	int resident_key;            /* creation: residentKey "required" (else "discouraged") */
	int uv_required;             /* userVerification "required" (else "discouraged") */
	const ts_wa_cred_ref *creds;
	size_t n_creds;
	int64_t timeout_ms;
} ts_wa_options;

/* The JSON text of PublicKeyCredentialCreationOptions /
 * PublicKeyCredentialRequestOptions (what the parse*FromJSON() calls
 * read). pubKeyCredParams: ES256, EdDSA, RS256; attestation "none".
 * malloc'd; NULL when out of memory. */
char *ts_wa_creation_options_json(const ts_wa_options *o);
char *ts_wa_request_options_json(const ts_wa_options *o);

#endif
