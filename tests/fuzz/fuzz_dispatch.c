/* Drives ts_api_dispatch end to end, as the transport would, on an
 * in-memory SQLite store holding a few tenants and users. The input is a
 * small HTTP-like text:
 *
 *     METHOD SP PATH[?QUERY] LF
 *     Name: value LF            (headers, up to FUZZ_HDR_MAX)
 *     LF
 *     body
 *
 * Placeholders anywhere in it are replaced by fresh live secrets, so the
 * fuzzer reaches past the token checks: @TOKEN@ (a full access JWT of
 * alice), @REFRESH@ (its refresh token), @OPAQUE@ (an opaque access token),
 * @ETOKEN@ (an enrolment-only token of carol), @CHALLENGE@ (an MFA challenge
 * of bob) and @OTP@ (bob's current TOTP code). "X-Fuzz-Overload: 1" makes
 * ts_http_defer answer as a full queue does.
 *
 * Deferred jobs (password checks) run right after dispatch returns, as a
 * pool worker would. Invariants: dispatch keeps the defer contract, no 5xx
 * (but the 503 of a refused deferral), every body is JSON, and every native
 * error is {code, message, ...}; an OpenID Connect one (/t...) {error,
 * error_description}. */
#include <ctype.h>
#include <jansson.h>
#include <strings.h>

#include "api/api.h"
#include "auth/auth.h"
#include "core/log.h"
#include "crypto/base32.h"
#include "crypto/hash.h"
#include "crypto/totp.h"
#include "fuzz.h"
#include "http_stub.h"

#define PW_ALICE "correct horse battery staple"

static ts_store *store;
static ts_auth *auth;
static ts_api *api;
static ts_user alice, bob, carol;
static unsigned char bob_secret[64];
static size_t bob_secret_len;

static void
need(ts_err r, const char *what)
{
	if (r != TS_OK) {
		fprintf(stderr, "fuzz_dispatch setup: %s: %s\n", what, ts_strerror(r));
		abort();
	}
}

static ts_user
add_user(const char *tenant, const char *email, int verified)
{
	static const ts_pw_cost cost = { 1, 8192 };
	ts_user u;

	need(ts_admin_user_add(store, &cost, tenant, email, PW_ALICE, strlen(PW_ALICE), verified,
	                       0, &u), email);
	return u;
}

/* Enrols TOTP for bob through the engine, as the API would. */
static void
enrol_bob(void)
{
	ts_tokens t;
	ts_principal p;
	char b32[64], code[8];
	char *uri = NULL;
	long n;
	int wait;

	need(ts_auth_start_session(auth, &bob, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT, &t), "bob session");
	need(ts_auth_check_token(auth, t.access, NULL, &p), "bob token");
	need(ts_auth_totp_begin(auth, &p, b32, &uri), "totp begin");
	free(uri);
	if ((n = ts_base32_decode(b32, bob_secret, sizeof(bob_secret))) <= 0)
		abort();
	bob_secret_len = (size_t)n;
	need(ts_totp_code(bob_secret, bob_secret_len, ts_now(), 6, code), "totp code");
	need(ts_auth_totp_confirm(auth, &p, code, &wait), "totp confirm");
}

/* Builds the world: an in-memory store with its tenants and users, the
 * engine and the API. */
static void
world_new(void)
{
	ts_tenant acme, strict;
	static ts_kek kek;
	static const unsigned char raw[TS_KEK_LEN] = { 1 };

	ts_kek_from_bytes(raw, &kek);
	need(ts_store_open("sqlite::memory:", &store), "store");
	need(ts_admin_tenant_add(store, "acme", 0, &acme), "tenant acme");
	need(ts_admin_tenant_domain(store, &acme, "acme.test"), "domain");
	need(ts_admin_tenant_add(store, "strict", 1, &strict), "tenant strict");
	alice = add_user("acme", "alice@example.com", 1);
	bob = add_user("acme", "bob@example.com", 1);
	carol = add_user("strict", "carol@example.com", 1);
	(void)add_user("acme", "dave@example.com", 0);
	(void)add_user("strict", "alice@example.com", 1);

	ts_auth_config ac = {
		.issuer = "http://127.0.0.1",
		.audience = "tessera",
		.default_tenant = "acme",
		.alg = TS_ALG_ES256,
		.access_ttl = 900,
		.refresh_ttl = 3600,
		.session_ttl = 86400,
		.challenge_ttl = 300,
		.pw_cost = { 1, 8192 },
		.lock_after = 1000000,
		.lock_secs = 1,
		.totp_issuer = "Tessera",
		.rl_ip_rate = 1e9,
		.rl_ip_burst = 1e9,
		.rl_account_rate = 1e9,
		.rl_account_burst = 1e9,
		.kek = &kek,
		.public_url = "https://id.example",   /* the OpenID Connect issuers */
	};
	need(ts_auth_new(&ac, store, &auth), "auth");
	ts_api_config pc = { 0 };
	need(ts_api_new(&pc, auth, &api), "api");
	enrol_bob();
}

static void
world_free(void)
{
	ts_api_free(api);
	ts_auth_free(auth);
	ts_store_close(store);
	api = NULL;
	auth = NULL;
	store = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ts_log_set_level(TS_LOG_ERROR);
	world_new();
	return 0;
}

/* Every session, token and challenge the inputs make stays in the store;
 * a fresh world now and then keeps long runs inside -rss_limit_mb. */
#define WORLD_RUNS 20000

/* ---- placeholders ---- */

typedef struct minted {
	ts_tokens full, opaque, enrol;
	int have_full, have_opaque, have_enrol;
	char challenge[TS_ID_SZ];
	char otp[8];
} minted;

static const char *
mint(minted *m, const char *name)
{
	if (!strcmp(name, "TOKEN") || !strcmp(name, "REFRESH")) {
		if (!m->have_full) {
			need(ts_auth_start_session(auth, &alice, TS_SESSION_FULL, "pwd", TS_ACCESS_JWT,
			                           &m->full), "mint full");
			m->have_full = 1;
		}
		return name[0] == 'T' ? m->full.access : m->full.refresh;
	}
	if (!strcmp(name, "OPAQUE")) {
		if (!m->have_opaque) {
			need(ts_auth_start_session(auth, &alice, TS_SESSION_FULL, "pwd", TS_ACCESS_OPAQUE,
			                           &m->opaque), "mint opaque");
			m->have_opaque = 1;
		}
		return m->opaque.access;
	}
	if (!strcmp(name, "ETOKEN")) {
		if (!m->have_enrol) {
			need(ts_auth_start_session(auth, &carol, TS_SESSION_ENROLL, "pwd", TS_ACCESS_JWT,
			                           &m->enrol), "mint enrol");
			m->have_enrol = 1;
		}
		return m->enrol.access;
	}
	if (!strcmp(name, "CHALLENGE")) {
		if (!*m->challenge)
			need(ts_auth_challenge_open(auth, &bob, m->challenge), "mint challenge");
		return m->challenge;
	}
	if (!strcmp(name, "OTP")) {
		if (!*m->otp)
			need(ts_totp_code(bob_secret, bob_secret_len, ts_now(), 6, m->otp), "mint otp");
		return m->otp;
	}
	return NULL;
}

/* The input with every @NAME@ replaced; *len gets the new length. */
static char *
expand(const uint8_t *data, size_t size, minted *m, size_t *len)
{
	size_t cap = size + 1, n = 0;
	char *out = malloc(cap);

	if (!out)
		abort();
	for (size_t i = 0; i < size; i++) {
		const char *v = NULL;
		size_t skip = 0;

		if (data[i] == '@') {
			const uint8_t *end = memchr(data + i + 1, '@', size - i - 1 < 12 ? size - i - 1 : 12);
			if (end) {
				char name[16];
				size_t nl = (size_t)(end - data - i - 1);
				memcpy(name, data + i + 1, nl);
				name[nl] = '\0';
				if ((v = mint(m, name)))
					skip = nl + 1;
			}
		}
		size_t add = v ? strlen(v) : 1;
		if (n + add + 1 > cap) {
			cap = (n + add + 1) * 2;
			if (!(out = realloc(out, cap)))
				abort();
		}
		if (v) {
			memcpy(out + n, v, add);
			i += skip;
		} else {
			out[n] = (char)data[i];
		}
		n += add;
	}
	out[n] = '\0';
	*len = n;
	return out;
}

/* ---- the request ---- */

/* Cuts the line at *pos (LF or CRLF) out of buf[0..len) in place; NULL at
 * the end. */
static char *
next_line(char *buf, size_t len, size_t *pos)
{
	char *s, *lf;

	if (*pos >= len)
		return NULL;
	s = buf + *pos;
	lf = memchr(s, '\n', len - *pos);
	if (!lf) {
		*pos = len;
		return s;
	}
	*lf = '\0';
	if (lf > s && lf[-1] == '\r')
		lf[-1] = '\0';
	*pos = (size_t)(lf - buf) + 1;
	return s;
}

static void
check_response(const ts_http_req *req, const fuzz_http_priv *p, const ts_http_resp *resp)
{
	FUZZ_CHECK(resp->status >= 100 && resp->status <= 599);
	if (resp->status >= 500) {
		/* This world has no mail server: asking for a mailed enrolment
		 * code is 501 mail_unconfigured by design (docs/API.md). */
		int no_mail = resp->status == 501 && strcmp(req->path, "/v1/mfa/enroll/email/send") == 0;
		if (!(resp->status == 503 && p->refuse_defer) && !no_mail) {
			fprintf(stderr, "fuzz_dispatch: %s %s -> %d %.*s\n", req->method, req->path,
			        resp->status, (int)resp->body_len, resp->body ? resp->body : "");
			FUZZ_CHECK(resp->status < 500);
		}
	}
	if (resp->status == 204)
		FUZZ_CHECK(resp->body == NULL || resp->body_len == 0);
	if (!resp->body)
		return;
	FUZZ_CHECK(resp->body_len == strlen(resp->body));
	if (resp->content_type && strncmp(resp->content_type, "application/json", 16) != 0)
		return;
	json_error_t e;
	json_t *j = json_loadb(resp->body, resp->body_len, 0, &e);
	if (!j) {
		fprintf(stderr, "fuzz_dispatch: %s %s -> %d, body is not JSON: %.*s\n", req->method,
		        req->path, resp->status, (int)resp->body_len, resp->body);
		FUZZ_CHECK(j != NULL);
	}
	/* The OpenID Connect endpoints' errors (RFC 6749 §5.2). */
	int oidc = strncmp(req->path, "/t", 2) == 0 && !resp->location[0];
	if (oidc && resp->status >= 400) {
		FUZZ_CHECK(json_is_object(j));
		FUZZ_CHECK(json_is_string(json_object_get(j, "error")));
		FUZZ_CHECK(json_is_string(json_object_get(j, "error_description")));
	}
	/* The native face's errors (paths outside the contract faces' prefixes). */
	int native = strncmp(req->path, "/admin", 6) && strncmp(req->path, "/iam", 4) &&
	             strncmp(req->path, "/px0", 4) && strncmp(req->path, "/t", 2);
	if (native && resp->status >= 400) {
		FUZZ_CHECK(json_is_object(j));
		FUZZ_CHECK(json_is_string(json_object_get(j, "code")));
		FUZZ_CHECK(json_is_string(json_object_get(j, "message")));
	}
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	minted m = { 0 };
	fuzz_http_priv p = { 0 };
	ts_http_req req = { .client_ip = "198.51.100.7", .request_id = "fuzz", .priv_ = &p };
	ts_http_resp resp = { 0 };
	size_t len, pos = 0;
	char *buf, *line, *sp, *q, *host = NULL;

	static unsigned runs;

	if (size > 64 * 1024)
		return 0;
	if (++runs % WORLD_RUNS == 0) {
		world_free();
		world_new();
	}
	buf = expand(data, size, &m, &len);

	/* request line */
	line = next_line(buf, len, &pos);
	if (!line)
		line = buf + len;          /* empty input: "" "" */
	sp = strchr(line, ' ');
	req.method = line;
	req.path = "/";
	if (sp) {
		*sp = '\0';
		req.path = sp + 1;
		if ((q = strchr(sp + 1, '?'))) {
			*q = '\0';
			p.query = q + 1;
		}
	}
	/* headers until an empty line */
	while ((line = next_line(buf, len, &pos)) && *line) {
		char *colon = strchr(line, ':');
		if (!colon || p.n_hdr == FUZZ_HDR_MAX)
			continue;
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		p.hdr_name[p.n_hdr] = line;
		p.hdr_value[p.n_hdr++] = v;
	}
	req.content_type = ts_http_header(&req, "Content-Type");
	req.authorization = ts_http_header(&req, "Authorization");
	const char *h = ts_http_header(&req, "Host");
	if (h) {
		/* The transport lower-cases the host and strips the port. */
		host = strdup(h);
		if (!host)
			abort();
		ts_ascii_lower(host);
		char *c = strrchr(host, ':');
		if (c && !strchr(host, ']'))
			*c = '\0';
		req.host = host;
	}
	const char *ov = ts_http_header(&req, "X-Fuzz-Overload");
	p.refuse_defer = ov && *ov == '1';
	/* body: the rest, as the transport hands it over */
	char *body = NULL;
	if (pos < len) {
		size_t bl = len - pos;
		if (bl > TS_HTTP_BODY_MAX) {
			req.body_too_large = 1;
		} else {
			body = fuzz_cstr((const uint8_t *)buf + pos, bl);
			req.body = body;
			req.body_len = bl;
		}
	}

	ts_http_action a = ts_api_dispatch(api, &req, &resp);
	if (a == TS_HTTP_DEFERRED) {
		FUZZ_CHECK(p.job != NULL);
		/* A job may hand the request on to another pool's job
		 * (ts_http_defer_on): run until one answers. */
		for (int hops = 0; p.job && hops < 3; hops++) {
			ts_http_job_fn job = p.job;
			int handed = p.handed;
			p.job = NULL;
			p.in_job = 1;
			job(p.job_arg, &resp);
			p.in_job = 0;
			if (p.handed == handed)
				break;           /* answered, not handed on */
		}
	} else {
		FUZZ_CHECK(a == TS_HTTP_DONE);
		FUZZ_CHECK(p.job == NULL);    /* a queued job whose answer nobody sends */
	}
	check_response(&req, &p, &resp);

	free(resp.body);
	free(body);
	free(host);
	fuzz_http_priv_clear(&p);
	ts_wipe(&m, sizeof(m));
	free(buf);
	return 0;
}
