/* The password policy (src/auth/policy.c), NFKC at set and at login, and
 * the imported hash formats (src/crypto/pwforeign.c): bounds, classes, and
 * verification of hashes made here, in the test, by tools no one here
 * wrote (mkpasswd from Debian's whois, Python's hashlib, argon2 CLI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "auth/pwtime.h"
#include "crypto/password.h"
#include "check.h"

static const ts_pw_cost cheap = { 1, 8192 };

static ts_pw_reason
why_of(const ts_tenant *t, const char *email, const char *pw)
{
	ts_pw_reason why = (ts_pw_reason)-1;
	ts_err r = ts_password_check(t, email, pw, strlen(pw), &why);

	CHECK((r == TS_OK) == (why == TS_PW_OK));
	return why;
}

static void
test_lengths(void)
{
	ts_tenant single = { .slug = "acme" }, mfa = { .slug = "acme", .mfa_required = 1 };
	ts_tenant raised = { .slug = "acme", .mfa_required = 1, .password_min_length = 12 };
	char big[1100];

	CHECK(ts_password_min_length(NULL) == 15);
	CHECK(ts_password_min_length(&single) == 15);
	CHECK(ts_password_min_length(&mfa) == 8);
	CHECK(ts_password_min_length(&raised) == 12);
	CHECK(why_of(&single, NULL, "zebra quilt 123") == TS_PW_OK);      /* 15 */
	CHECK(why_of(&single, NULL, "zebra quilt 12") == TS_PW_TOO_SHORT); /* 14 */
	CHECK(why_of(NULL, NULL, "zebra quilt 12") == TS_PW_TOO_SHORT);
	CHECK(why_of(&mfa, NULL, "zq8!vb7k") == TS_PW_OK);
	CHECK(why_of(&mfa, NULL, "zq8!vb7") == TS_PW_TOO_SHORT);
	CHECK(why_of(&raised, NULL, "zq8!vb7kzq8") == TS_PW_TOO_SHORT);
	CHECK(why_of(&raised, NULL, "zq8!vb7kzq8!") == TS_PW_OK);
	/* characters, not bytes: 15 two-byte letters pass, 14 do not */
	CHECK(why_of(&single, NULL, "ééééééééééééééé") == TS_PW_OK);
	CHECK(why_of(&single, NULL, "éééééééééééééé") == TS_PW_TOO_SHORT);
	/* counted after NFKC: e + combining acute is one character, so 16
	 * code points as typed are 8 characters */
	CHECK(why_of(&single, NULL, "e\xcc\x81" "e\xcc\x81" "e\xcc\x81" "e\xcc\x81"
	                            "e\xcc\x81" "e\xcc\x81" "e\xcc\x81" "e\xcc\x81") ==
	      TS_PW_TOO_SHORT);
	/* at most 1024 bytes as typed */
	memset(big, 'x', sizeof(big));
	big[1024] = '\0';
	CHECK(why_of(&single, NULL, big) == TS_PW_OK);
	big[1024] = 'x';
	big[1025] = '\0';
	CHECK(why_of(&single, NULL, big) == TS_PW_TOO_LONG);
	/* no composition rules: all lower-case letters and spaces pass */
	CHECK(why_of(&single, NULL, "plain lower words only") == TS_PW_OK);
	/* not UTF-8 */
	ts_pw_reason why;
	CHECK(ts_password_check(&single, NULL, "zebra quilt 123\xff", 16, &why) == TS_E_INVALID);
	CHECK_STR(ts_pw_reason_word(TS_PW_TOO_SHORT), "too_short");
	CHECK_STR(ts_pw_reason_word(TS_PW_TOO_LONG), "too_long");
	CHECK_STR(ts_pw_reason_word(TS_PW_COMMON), "common");
	CHECK_STR(ts_pw_reason_word(TS_PW_CONTEXT), "context");
}

static void
test_list(void)
{
	ts_tenant mfa = { .slug = "acme", .mfa_required = 1 };

	CHECK(why_of(&mfa, NULL, "password1") == TS_PW_COMMON);
	CHECK(why_of(&mfa, NULL, "PassWord1") == TS_PW_COMMON);      /* any case */
	CHECK(why_of(&mfa, NULL, "qwertyuiop") == TS_PW_COMMON);
	/* full-width letters are the same password after NFKC */
	CHECK(why_of(&mfa, NULL, "\xef\xbd\x90\xef\xbd\x81\xef\xbd\x93\xef\xbd\x93\xef\xbd\x97"
	                         "\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x84\xef\xbc\x91") == TS_PW_COMMON);
	CHECK(why_of(&mfa, NULL, "password1x") == TS_PW_OK);         /* exact entries only */
	CHECK(why_of(&mfa, NULL, "baseball") == TS_PW_COMMON);       /* first and last */
	CHECK(why_of(&mfa, NULL, "!@#$%^&*") == TS_PW_COMMON);
}

static void
test_context(void)
{
	ts_tenant t = { .slug = "north-wind", .mfa_required = 1 };
	ts_tenant plain = { .slug = "ab" };
	const char *mail = "jonathan.smith+news@acme-widgets.example";

	CHECK(why_of(&t, mail, "Jonathan2026!") == TS_PW_CONTEXT);       /* local piece */
	CHECK(why_of(&t, mail, "xxsmithxx") == TS_PW_CONTEXT);
	CHECK(why_of(&t, mail, "my WIDGETS pw") == TS_PW_CONTEXT);       /* domain label piece */
	CHECK(why_of(&t, mail, "go example go") == TS_PW_CONTEXT);       /* domain label */
	CHECK(why_of(&t, mail, "NorthWind99") == TS_PW_CONTEXT);         /* pieces of the slug */
	CHECK(why_of(&t, mail, "north-wind99") == TS_PW_CONTEXT);        /* the slug */
	CHECK(why_of(&t, mail, "windy day 99") == TS_PW_CONTEXT);        /* a piece of it */
	CHECK(why_of(&t, mail, "my tessera pw") == TS_PW_CONTEXT);       /* the service */
	/* words under 4 characters are not looked for: "news" is, "ab",
	 * "a", "io" and "com" are not */
	CHECK(why_of(&t, mail, "good news 2026") == TS_PW_CONTEXT);
	CHECK(why_of(&plain, "a@b.io", "about a bison scion") == TS_PW_OK);
	CHECK(why_of(&plain, "jo@x.com", "jo calls from .com now") == TS_PW_OK);
	/* no address, no tenant: only the service's name */
	CHECK(why_of(NULL, NULL, "jonathan smith example") == TS_PW_OK);
}

static void
test_nfkc_hash(void)
{
	char phc[TS_PHC_MAX];
	const char *composed = "caf\xc3\xa9 au lait, s'il vous pla\xc3\xaet";
	const char *decomposed = "cafe\xcc\x81 au lait, s'il vous plai\xcc\x82t";
	const char *wide = "\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3 wide letters 123";
	const char *ascii = "ABC wide letters 123";

	CHECK(ts_pw_hash(&cheap, composed, strlen(composed), phc) == TS_OK);
	CHECK(ts_pw_verify(phc, decomposed, strlen(decomposed)) == TS_OK);
	CHECK(ts_pw_verify(phc, composed, strlen(composed)) == TS_OK);
	CHECK(ts_pw_verify(phc, "cafe au lait, s'il vous plait", 29) == TS_E_BAD_CREDENTIALS);
	CHECK(ts_pw_hash(&cheap, decomposed, strlen(decomposed), phc) == TS_OK);
	CHECK(ts_pw_verify(phc, composed, strlen(composed)) == TS_OK);
	CHECK(ts_pw_hash(&cheap, wide, strlen(wide), phc) == TS_OK);
	CHECK(ts_pw_verify(phc, ascii, strlen(ascii)) == TS_OK);
	CHECK(ts_pw_verify(phc, "abc wide letters 123", 20) == TS_E_BAD_CREDENTIALS);

	char *n = NULL;
	size_t nl = 0;
	CHECK(ts_pw_nfkc(decomposed, strlen(decomposed), &n, &nl) == TS_OK);
	CHECK(n && nl == strlen(composed) && memcmp(n, composed, nl) == 0);
	ts_pw_nfkc_free(n, nl);
	CHECK(ts_pw_nfkc("\xc3", 1, &n, &nl) == TS_E_INVALID && n == NULL);
}

static const char *
hash_why(const char *h)
{
	const char *why = "unset";

	(void)ts_pw_hash_check(h, &why);
	return why;
}

static void
test_bounds(void)
{
	static const char b64_32[] = "bIP/Qq0b3xbouPtbV7GiHLHfUsRTtaqzLUXRmCoIWBY=";
	char h[300];

	CHECK_STR(hash_why("$2b$05$yaeQEQAH0O9lL9wRgBft/.IihSZ6CJ5jpeuHCjDlVSPOunbnDZktC"), "");
	CHECK_STR(hash_why("$2b$15$yaeQEQAH0O9lL9wRgBft/.IihSZ6CJ5jpeuHCjDlVSPOunbnDZktC"),
	          "hash_cost_too_high");
	CHECK_STR(hash_why("$2b$05$yaeQEQAH0O9lL9wRgBft/.IihSZ6CJ5jpeuHCjDlVSPOunbnDZkt"),
	          "malformed_hash");
	CHECK_STR(hash_why("$6$rounds=1000001$HxxOZhgujUjZBj2x$mo1aHq2P7JEzOhH8SblUzVGPSFAJwlmgQd3RQdUlMd2NM1yEQ7Y7XugylrSbhf.r4LH62JLb4PJu4cz5RxxxxW"),
	          "hash_cost_too_high");
	/* yescrypt: 'D' = N 2^16, 'T' = r 32: 256 MiB, the bound; 'E' is 512 */
	CHECK_STR(hash_why("$y$jDT$o17q5DYvxipxjpE9rKJdz/$BrCc0lTlvQ8dGZ8xFi3MBUFvKptgra1g9fLBQs92aq3"), "");
	CHECK_STR(hash_why("$y$jET$o17q5DYvxipxjpE9rKJdz/$BrCc0lTlvQ8dGZ8xFi3MBUFvKptgra1g9fLBQs92aq3"),
	          "hash_cost_too_high");
	snprintf(h, sizeof h, "pbkdf2_sha256$2000000$salt$%s", b64_32);
	CHECK_STR(hash_why(h), "");
	snprintf(h, sizeof h, "pbkdf2_sha256$2000001$salt$%s", b64_32);
	CHECK_STR(hash_why(h), "hash_cost_too_high");
	snprintf(h, sizeof h, "pbkdf2_sha256$99999999999999999999999$salt$%s", b64_32);
	CHECK_STR(hash_why(h), "hash_cost_too_high");
	snprintf(h, sizeof h, "pbkdf2_sha256$0$salt$%s", b64_32);
	CHECK_STR(hash_why(h), "malformed_hash");
	snprintf(h, sizeof h, "keycloak-pbkdf2-sha256$27500$not base64!$%s", b64_32);
	CHECK_STR(hash_why(h), "malformed_hash");
	snprintf(h, sizeof h, "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHQ$%s", b64_32);
	CHECK_STR(hash_why(h), "");
	snprintf(h, sizeof h, "$scrypt$ln=19,r=8,p=1$c2FsdHNhbHQ$%s", b64_32);   /* 512 MiB */
	CHECK_STR(hash_why(h), "hash_cost_too_high");
	snprintf(h, sizeof h, "$scrypt$ln=14,r=8,p=9000$c2FsdHNhbHQ$%s", b64_32);
	CHECK_STR(hash_why(h), "hash_cost_too_high");
	CHECK_STR(hash_why("$argon2id$v=19$m=262144,t=3,p=4$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"), "");
	CHECK_STR(hash_why("$argon2id$v=19$m=262145,t=3,p=4$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"),
	          "hash_cost_too_high");
	CHECK_STR(hash_why("$argon2i$v=19$m=4096,t=17,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"),
	          "hash_cost_too_high");
	CHECK_STR(hash_why("$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"), "unknown_hash_format");
	CHECK_STR(hash_why("md5$salt$abc"), "unknown_hash_format");
	CHECK_STR(hash_why("plain text"), "unknown_hash_format");
	/* a hash beyond the bounds is refused at login too */
	snprintf(h, sizeof h, "pbkdf2_sha256$2000001$salt$%s", b64_32);
	CHECK(ts_pw_verify(h, "x", 1) == TS_E_INVALID);
}

static void
test_classes(void)
{
	char c[64];

	ts_pw_class("$2b$05$yaeQEQAH0O9lL9wRgBft/.IihSZ6CJ5jpeuHCjDlVSPOunbnDZktC", c, sizeof c);
	CHECK_STR(c, "$2b$05");
	ts_pw_class("$6$HxxOZhgujUjZBj2x$mo1aHq2P7JEzOhH8Sb", c, sizeof c);
	CHECK_STR(c, "$6");
	ts_pw_class("$6$rounds=10000$HxxOZhgujUjZBj2x$mo1aHq2P7JEzOhH8Sb", c, sizeof c);
	CHECK_STR(c, "$6$rounds=10000");
	ts_pw_class("$y$j9T$o17q5DYvxipxjpE9rKJdz/$BrCc0lT", c, sizeof c);
	CHECK_STR(c, "$y$j9T");
	ts_pw_class("pbkdf2_sha256$600000$abcdefghijklmnopqrstuv$bIP/Qq0b3", c, sizeof c);
	CHECK_STR(c, "pbkdf2_sha256$600000");
	ts_pw_class("keycloak-pbkdf2-sha512$210000$y6oGFrWhxrp6Mf0C6pz3/A==$1uX2hS", c, sizeof c);
	CHECK_STR(c, "keycloak-pbkdf2-sha512$210000");
	ts_pw_class("$scrypt$ln=14,r=8,p=1$UWTLl/OJhKUr+cshucJpDA$yNfrtARo2c", c, sizeof c);
	CHECK_STR(c, "$scrypt$ln=14,r=8,p=1");
	ts_pw_class("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$nf65EOg", c, sizeof c);
	CHECK_STR(c, "$argon2id$v=19$m=19456,t=2,p=1");
}

/* One line of a command's output, or "" (the command is the test's). */
static void
run(const char *cmd, char *out, size_t n)
{
	FILE *p = popen(cmd, "r");

	out[0] = '\0';
	if (!p)
		return;
	if (fgets(out, (int)n, p) == NULL)
		out[0] = '\0';
	pclose(p);
	out[strcspn(out, "\n")] = '\0';
}

static void
test_real_tools(void)
{
	static const char *const cmds[] = {
		"printf %s 'tide pool amber 77' | mkpasswd -m bcrypt -R 6 --stdin",
		"printf %s 'tide pool amber 77' | mkpasswd -m bcrypt-a --stdin",
		"printf %s 'tide pool amber 77' | mkpasswd -m sha512crypt --stdin",
		"printf %s 'tide pool amber 77' | mkpasswd -m sha512crypt -R 20000 --stdin",
		"printf %s 'tide pool amber 77' | mkpasswd -m yescrypt --stdin",
		"python3 -c \"import hashlib,base64;print('pbkdf2_sha256\\$1000\\$s4lty\\$'+"
		"base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'tide pool amber 77',b's4lty',1000)).decode())\"",
		"python3 -c \"import hashlib,base64;print('pbkdf2_sha512\\$1000\\$s4lty\\$'+"
		"base64.b64encode(hashlib.pbkdf2_hmac('sha512',b'tide pool amber 77',b's4lty',1000)).decode())\"",
		"python3 -c \"import hashlib,base64,os;s=os.urandom(16);print('keycloak-pbkdf2-sha256\\$27500\\$'+"
		"base64.b64encode(s).decode()+'\\$'+base64.b64encode(hashlib.pbkdf2_hmac('sha256',"
		"b'tide pool amber 77',s,27500,64)).decode())\"",
		"python3 -c \"import hashlib,base64,os;s=os.urandom(16);b=lambda x:base64.b64encode(x)"
		".decode().rstrip('=');print('\\$scrypt\\$ln=10,r=8,p=2\\$'+b(s)+'\\$'+"
		"b(hashlib.scrypt(b'tide pool amber 77',salt=s,n=1024,r=8,p=2,dklen=32)))\"",
		"printf %s 'tide pool amber 77' | argon2 saltsaltsalt -id -t 2 -m 10 -p 2 -e",
		"printf %s 'tide pool amber 77' | argon2 saltsaltsalt -i -t 3 -m 10 -p 1 -e",
	};
	char h[300];
	const char *why;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run(cmds[i], h, sizeof h);
		if (!*h)
			fprintf(stderr, "no hash from: %s\n", cmds[i]);
		CHECK(*h != '\0');
		CHECK(ts_pw_hash_check(h, &why) == TS_OK);
		CHECK(ts_pw_verify(h, "tide pool amber 77", 18) == TS_OK);
		CHECK(ts_pw_verify(h, "tide pool amber 78", 18) == TS_E_BAD_CREDENTIALS);
		CHECK(ts_pw_needs_rehash(h, &cheap) == 1);
	}
}

/* The padding (pwtime.c) keeps one class per format and parameters: two
 * bcrypt hashes of one cost with other salts are one class, not two. */
static void
test_pwtime_classes(void)
{
	char a[128], b[128];
	ts_pwtime p;

	run("printf %s 'tide pool amber 77' | mkpasswd -m bcrypt -R 5 --stdin", a, sizeof a);
	run("printf %s 'tide pool amber 77' | mkpasswd -m bcrypt -R 5 --stdin", b, sizeof b);
	CHECK(*a && *b && strcmp(a, b) != 0);
	ts_pwtime_init(&p);
	CHECK(ts_pwtime_verify(&p, a, "tide pool amber 77", 18) == TS_OK);
	CHECK(ts_pwtime_verify(&p, b, "wrong", 5) == TS_E_BAD_CREDENTIALS);
	CHECK(p.n == 1);
	CHECK_STR(p.c[0].name, "$2b$05");
	CHECK(ts_pwtime_target(&p, p.c[0].seen_us) > 0);
	run("printf %s 'tide pool amber 77' | mkpasswd -m bcrypt -R 6 --stdin", b, sizeof b);
	CHECK(ts_pwtime_verify(&p, b, "tide pool amber 77", 18) == TS_OK);
	CHECK(p.n == 2);
	ts_pwtime_destroy(&p);
}

int
main(void)
{
	test_lengths();
	test_list();
	test_context();
	test_nfkc_hash();
	test_bounds();
	test_classes();
	test_real_tools();
	test_pwtime_classes();
	return CHECK_DONE();
}
