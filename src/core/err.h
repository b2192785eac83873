/* The one error type of Tessera's core. Every layer below src/api returns a
 * ts_err; each contract file maps it to its own status and body in one table. */
#ifndef TS_ERR_H
#define TS_ERR_H

/* X(name, text). Add a code here and the compiler will point at every switch
 * without a default: that lacks it (each face's mapping table). */
#define TS_ERRORS(X)                                                        \
	X(TS_OK, "ok")                                                      \
	X(TS_E_NOMEM, "out of memory")                                      \
	X(TS_E_INTERNAL, "internal error")                                  \
	X(TS_E_INVALID, "invalid argument")                                 \
	X(TS_E_NOT_FOUND, "not found")                                      \
	X(TS_E_CONFLICT, "already exists")                                  \
	X(TS_E_STORE_UNAVAILABLE, "store unavailable")                      \
	X(TS_E_TENANT_UNKNOWN, "unknown tenant")                            \
	X(TS_E_BAD_CREDENTIALS, "invalid email or password")                \
	X(TS_E_NOT_VERIFIED, "email not verified")                          \
	X(TS_E_LOCKED, "account temporarily locked")                        \
	X(TS_E_FORBIDDEN, "not allowed")                                    \
	X(TS_E_PASSWORD_POLICY, "password does not meet the policy")        \
	X(TS_E_TOKEN_INVALID, "invalid token")                              \
	X(TS_E_TOKEN_EXPIRED, "token expired")                              \
	X(TS_E_TENANT_MISMATCH, "token belongs to another tenant")          \
	X(TS_E_SESSION_REVOKED, "session revoked")                          \
	X(TS_E_TOKEN_REUSED, "token already used")                          \
	X(TS_E_MFA_INVALID, "invalid verification code")                    \
	X(TS_E_CHALLENGE_INVALID, "unknown or expired challenge")           \
	X(TS_E_MFA_NOT_ENROLLED, "method not enrolled")                     \
	X(TS_E_RATE_LIMITED, "too many attempts")                           \
	X(TS_E_OVERLOADED, "server busy")                                   \
	X(TS_E_EMAIL_SEND, "could not send email")                          \
	X(TS_E_MAIL_UNCONFIGURED, "no mail server is configured")           \
	X(TS_E_ENROLL_PROOF_REQUIRED, "enrolment needs a proof beyond the password") \
	X(TS_E_TENANT_CONFLICT, "the request names two different tenants") \
	X(TS_E_SEAL, "sealed data does not open with this key file")           \
	X(TS_E_REAUTH_REQUIRED, "a recent sign-in is required for this")     \
	X(TS_E_LAST_FACTOR, "the last second factor of the account cannot be removed") \
	X(TS_E_REGISTRATION_CLOSED, "this tenant takes no self-service sign-ups") \
	X(TS_E_PERMISSION, "the caller may not do this")                    \
	X(TS_E_OIDC_CLIENT, "client authentication failed")                \
	X(TS_E_OIDC_GRANT, "the grant is invalid, expired, revoked or another client's") \
	X(TS_E_OIDC_UNAUTHORIZED, "the client may not use this grant type") \
	X(TS_E_OIDC_SCOPE, "a scope asked for is not allowed for the client")

typedef enum {
#define TS_ERR_ENUM(name, text) name,
	TS_ERRORS(TS_ERR_ENUM)
#undef TS_ERR_ENUM
	TS_E__COUNT
} ts_err;

/* Static English text for a code; never NULL. */
const char *ts_strerror(ts_err e);
/* The code's identifier, e.g. "TS_E_LOCKED"; for logs. */
const char *ts_errname(ts_err e);

#endif
