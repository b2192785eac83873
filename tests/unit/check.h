/* A minimal test harness: CHECK records a failure and carries on; the
 * closing line is "N passed, N failed", the form CI reads. */
#ifndef TS_CHECK_H
#define TS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (cond) {                                                  \
			check_passed++;                                      \
		} else {                                                     \
			check_failed++;                                      \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *check_a_ = (a), *check_b_ = (b);                 \
		if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) { \
			check_passed++;                                      \
		} else {                                                     \
			check_failed++;                                      \
			fprintf(stderr, "FAIL %s:%d: %s == %s\n  got:  %s\n  want: %s\n", \
			        __FILE__, __LINE__, #a, #b,                   \
			        check_a_ ? check_a_ : "(null)",               \
			        check_b_ ? check_b_ : "(null)");              \
		}                                                            \
	} while (0)

#define CHECK_DONE()                                                         \
	(printf("%d passed, %d failed\n", check_passed, check_failed),       \
	 check_failed ? 1 : 0)

#endif
