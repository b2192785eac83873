/* JSON Lines of users (jsonl.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "api/jsonl.h"
#include "core/util.h"

void
ts_jsonl_src_file(ts_jsonl_src *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

void
ts_jsonl_src_mem(ts_jsonl_src *j, const char *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->len = len;
}

void
ts_jsonl_src_done(ts_jsonl_src *j)
{
	json_decref(j->cur);
	j->cur = NULL;
	free(j->text);
	j->text = NULL;
}

/* The next raw line: 1 with *p and *n set, 0 at the end, -2 on a read error, -3
 * for a line longer than TS_JSONL_LINE_MAX (skipped whole). */
static int
raw_line(ts_jsonl_src *j, const char **p, size_t *n)
{
	if (j->f) {
		ssize_t got = getline(&j->text, &j->text_cap, j->f);
		if (got < 0)
			return ferror(j->f) ? -2 : 0;
		j->line++;
		*p = j->text;
		*n = (size_t)got;
	} else {
		if (j->pos >= j->len)
			return 0;
		const char *s = j->buf + j->pos, *nl = memchr(s, '\n', j->len - j->pos);
		*p = s;
		*n = nl ? (size_t)(nl - s) + 1 : j->len - j->pos;
		j->pos += *n;
		j->line++;
	}
	while (*n > 0 && ((*p)[*n - 1] == '\n' || (*p)[*n - 1] == '\r'))
		(*n)--;
	return *n > TS_JSONL_LINE_MAX ? -3 : 1;
}

static int
blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" to epoch seconds. */
static int
parse_rfc3339(const char *s, int64_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
	long off = 0;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return 0;
	s += n;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1;
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
			return 0;
		off = sign * (oh * 3600L + om * 60L);
		s += 6;
	} else {
		return 0;
	}
	if (*s || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return 0;
	tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
	tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t == (time_t)-1 || t - off < 0)
		return 0;
	*out = (int64_t)t - off;
	return 1;
}

/* The fields of one object; NULL, or the reason the line is refused. */
static const char *
fields(json_t *o, ts_import_rec *rec)
{
	const char *k;
	json_t *v;

	memset(rec, 0, sizeof(*rec));
	if (!json_is_object(o))
		return "not_an_object";
	json_object_foreach(o, k, v) {
		if (!strcmp(k, "email")) {
			if (!json_is_string(v))
				return "invalid_email";
			rec->email = json_string_value(v);
		} else if (!strcmp(k, "password_hash")) {
			if (!json_is_string(v) && !json_is_null(v))
				return "invalid_field";
			rec->password_hash = json_is_string(v) ? json_string_value(v) : NULL;
		} else if (!strcmp(k, "is_verified") || !strcmp(k, "is_admin")) {
			if (!json_is_boolean(v))
				return "invalid_field";
			*(k[3] == 'v' ? &rec->is_verified : &rec->is_admin) = json_is_true(v);
		} else if (!strcmp(k, "created_at")) {
			if (json_is_integer(v) && json_integer_value(v) >= 0)
				rec->created_at = json_integer_value(v);
			else if (!json_is_string(v) ||
			         !parse_rfc3339(json_string_value(v), &rec->created_at))
				return "invalid_field";
		} else {
			/* Never silently dropped: a typo'd field is a lost value. */
			return "unknown_field";
		}
	}
	if (!rec->email)
		return "missing_email";
	if (!json_object_get(o, "password_hash"))
		return "missing_password_hash";
	return NULL;
}

static int
next(void *arg, long *line, ts_import_rec *rec, const char **why)
{
	ts_jsonl_src *j = arg;
	json_error_t e;
	const char *p;
	size_t n;
	int got;

	json_decref(j->cur);
	j->cur = NULL;
	for (;;) {
		if ((got = raw_line(j, &p, &n)) <= 0 && got != -3)
			return got;
		*line = j->line;
		if (got == -3) {
			*why = "line_too_long";
			return -1;
		}
		if (!blank(p, n))
			break;
	}
	if ((j->cur = json_loadb(p, n, JSON_REJECT_DUPLICATES, &e)) == NULL) {
		*why = "invalid_json";
		return -1;
	}
	if ((*why = fields(j->cur, rec)) != NULL)
		return -1;
	return 1;
}

static int
rewind_src(void *arg)
{
	ts_jsonl_src *j = arg;

	json_decref(j->cur);
	j->cur = NULL;
	j->line = 0;
	j->pos = 0;
	if (j->f && fseek(j->f, 0, SEEK_SET) != 0)
		return -1;
	return 0;
}

ts_import_src
ts_jsonl_source(ts_jsonl_src *j)
{
	return (ts_import_src){ next, rewind_src, j };
}

int
ts_jsonl_write_user(FILE *f, const ts_user *u)
{
	char at[32];
	json_t *o;
	int r;

	ts_rfc3339(u->created_at, at);
	o = json_pack("{s:s, s:o, s:b, s:b, s:s}", "email", u->email, "password_hash",
	              *u->password_hash ? json_string(u->password_hash) : json_null(),
	              "is_verified", u->is_verified != 0, "is_admin", u->is_admin != 0,
	              "created_at", at);
	if (!o)
		return -1;
	r = json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return r == 0 && fputc('\n', f) != EOF ? 0 : -1;
}
