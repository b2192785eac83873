/* JSON Lines of users, the format of `tessera user import|export` and of
 * POST /admin/customers/{slug}/users/import (docs/ADMIN.md): one object a
 * line, {email, password_hash, is_verified?, is_admin?, created_at?}. */
#ifndef TS_API_JSONL_H
#define TS_API_JSONL_H

#include <stdio.h>
#include "auth/import.h"

#define TS_JSONL_LINE_MAX 65536

/* A ts_import_src over a seekable FILE or over memory (an HTTP body). */
typedef struct ts_jsonl_src {
	FILE *f;                     /* or NULL: buf */
	const char *buf;
	size_t len, pos;
	long line;
	char *text;                  /* the current line (FILE) */
	size_t text_cap;
	void *cur;                   /* the current line's json_t */
} ts_jsonl_src;

void ts_jsonl_src_file(ts_jsonl_src *j, FILE *f);
void ts_jsonl_src_mem(ts_jsonl_src *j, const char *buf, size_t len);
ts_import_src ts_jsonl_source(ts_jsonl_src *j);
void ts_jsonl_src_done(ts_jsonl_src *j);

/* Writes u as one line to f; 0, or -1 on a write error. */
int ts_jsonl_write_user(FILE *f, const ts_user *u);

#endif
