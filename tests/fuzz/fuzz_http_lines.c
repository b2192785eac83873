/* Fuzzes the transport's request-line and header-line checks (framing.c):
 * the request target's split and the field walk over a header block laid
 * out the way libmicrohttpd 0.9.75 parses it in place (CRLF or LF to NULs,
 * each line's first colon to a NUL, a folded line glued onto a copy of
 * the previous field's name). Invariants: nothing reads outside the block
 * (ASan), a target that passes has no SP or CTL byte and its parts lie
 * inside it, and a block that passes the walk had no folded line, no bare
 * CR, and no NUL except right before a line end (MHD's layout cannot tell
 * "\0\n" from "\r\n"; docs/ARCHITECTURE.md). */
#include "fuzz.h"
#include "http/http_internal.h"

#define MAX_FIELDS 64

typedef struct {
	const char *k, *v;
	char *own;                  /* a folded field's glued name */
} field;

static void
check_target(const char *t, size_t n)
{
	http_target tg;

	if (http_target_parse(t, &tg) != NULL)
		return;
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)t[i] > 0x20 && t[i] != 0x7f);
	FUZZ_CHECK(tg.path >= t && tg.path + tg.path_len <= t + n);
	if (tg.authority != NULL)
		FUZZ_CHECK(tg.authority_len > 0 && tg.authority + tg.authority_len <= t + n);
}

/* 1 when the NUL at raw[i] is one MHD's layout hides: only NULs, then a
 * line end (LF or CRLF), follow it. */
static int
nul_before_eol(const uint8_t *raw, size_t i, size_t n)
{
	while (i < n && raw[i] == '\0')
		i++;
	return (i < n && raw[i] == '\n') || (i + 1 < n && raw[i] == '\r' && raw[i + 1] == '\n');
}

/* 1 when the raw header lines (raw[0..n)) hold only what the walk may
 * pass: no line starting with SP/HTAB, no bare CR, no NUL but right
 * before a line end. */
static int
raw_clean(const uint8_t *raw, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '\r' && (i + 1 >= n || raw[i + 1] != '\n'))
			return 0;
		if (raw[i] == '\0' && !nul_before_eol(raw, i, n))
			return 0;
		if ((i == 0 || raw[i - 1] == '\n') && (raw[i] == ' ' || raw[i] == '\t'))
			return 0;
	}
	return 1;
}

/* Ends the line at buf[i..]: returns the index after its LF, or SIZE_MAX
 * when there is none (MHD would wait for more). */
static size_t
end_line(char *buf, size_t i, size_t n)
{
	while (i < n && buf[i] != '\n')
		i++;
	if (i >= n)
		return SIZE_MAX;
	if (i > 0 && buf[i - 1] == '\r')
		buf[i - 1] = '\0';
	buf[i] = '\0';
	return i + 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_cstr(data, size), *line, *version;
	field f[MAX_FIELDS];
	size_t i, nf = 0, line_len, hdr_start;
	http_fieldwalk w = { 0 };
	http_framing fr = { 0 };

	/* The request line: METHOD SP TARGET SP HTTP/d.d, or MHD refuses. */
	i = end_line(buf, 0, size);
	line = buf;
	line_len = strlen(line);
	if (i == SIZE_MAX || line_len < 10 || memchr(buf, '\0', line_len) != NULL ||
	    (version = strrchr(line, ' ')) == NULL || strlen(version + 1) != 8 ||
	    strncmp(version + 1, "HTTP/1.", 7) != 0 || strchr(line, ' ') == version)
		goto out;
	*version++ = '\0';
	*strchr(line, ' ') = '\0';
	check_target(line + strlen(line) + 1, strlen(line + strlen(line) + 1));
	hdr_start = i;
	/* Header lines up to the empty one. */
	for (;;) {
		char *l = buf + i, *c;
		size_t next = end_line(buf, i, size);
		if (next == SIZE_MAX)
			goto out;                   /* no complete header block */
		i = next;
		if (*l == '\0')
			break;
		if ((*l == ' ' || *l == '\t') && nf > 0) {
			char *t = l, *k;
			while (*t == ' ' || *t == '\t')
				t++;
			k = malloc(strlen(f[nf - 1].k) + strlen(t) + 1);
			if (!k)
				abort();
			strcpy(k, f[nf - 1].k);
			strcat(k, t);
			free(f[nf - 1].own);
			f[nf - 1].k = f[nf - 1].own = k;
			continue;
		}
		if ((c = strchr(l, ':')) == NULL || nf == MAX_FIELDS)
			goto out;                   /* MHD refuses (400 or 431) */
		*c++ = '\0';
		while (*c == ' ' || *c == '\t')
			c++;
		f[nf++] = (field){ .k = l, .v = c };
	}
	w.pos = version + strlen(version);
	w.end = buf + i;
	for (size_t j = 0; j < nf; j++) {
		http_fieldwalk_feed(&w, f[j].k, strlen(f[j].k), f[j].v, strlen(f[j].v));
		http_framing_feed(&fr, f[j].k, f[j].v);
	}
	/* The transport refuses a name with whitespace (a first line that
	 * starts with SP) in the framing check, right after the walk. */
	if (http_fieldwalk_verdict(&w) == NULL && !fr.bad_name)
		FUZZ_CHECK(raw_clean(data + hdr_start, i - hdr_start));
out:
	while (nf > 0)
		free(f[--nf].own);
	free(buf);
	return 0;
}
