/* Fuzzes the JSON Lines reader of `tessera user import` and the admin
 * import route (src/api/jsonl.c). Invariants: line numbers only grow; a
 * record has an email and a refused line a reason; a second read after
 * rewind gives the same lines with the same results. */
#include "api/jsonl.h"
#include "fuzz.h"

static long
pass(ts_import_src *src, long *records)
{
	ts_import_rec rec;
	const char *why;
	long line = 0, last = 0, sum = 0;
	int got;

	*records = 0;
	while ((got = src->next(src->arg, &line, &rec, &why)) != 0) {
		FUZZ_CHECK(got == 1 || got == -1);
		FUZZ_CHECK(line > last);
		last = line;
		if (got == 1) {
			FUZZ_CHECK(rec.email != NULL);
			FUZZ_CHECK(rec.created_at >= 0);
			(*records)++;
		} else {
			FUZZ_CHECK(why != NULL && *why);
		}
		sum += line * (got + 2);
	}
	return sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ts_jsonl_src j;
	long r1, r2, s1, s2;

	ts_jsonl_src_mem(&j, (const char *)data, size);
	ts_import_src src = ts_jsonl_source(&j);
	s1 = pass(&src, &r1);
	FUZZ_CHECK(src.rewind(src.arg) == 0);
	s2 = pass(&src, &r2);
	FUZZ_CHECK(s1 == s2 && r1 == r2);
	ts_jsonl_src_done(&j);
	return 0;
}
