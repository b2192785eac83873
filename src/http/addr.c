/* Addresses at the edge of the transport: the listen setting, socket peers,
 * the trusted-proxy list, X-Forwarded-For and Host. Everything here reads
 * untrusted text, so every loop is bounded by the input or a fixed buffer. */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

/* "1234" -> 1234 when it is 1..5 digits and at most 65535. */
static int
parse_port(const char *s, unsigned short *out)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 5)
			return 0;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || v > 65535)
		return 0;
	*out = (unsigned short)v;
	return 1;
}

ts_err
http_parse_listen(const char *s, http_listen *out)
{
	char host[HTTP_IP_STRLEN];
	const char *colon, *hstart = s;
	size_t hlen;
	unsigned short port;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return TS_E_INVALID;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			return TS_E_INVALID;
		hstart = s + 1;
		hlen = (size_t)(close - hstart);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return TS_E_INVALID;
		hlen = (size_t)(colon - s);
	}
	if (!parse_port(colon + 1, &port) || hlen >= sizeof(host))
		return TS_E_INVALID;
	memcpy(host, hstart, hlen);
	host[hlen] = '\0';

	if (hlen == 0 && s[0] != '[') {
		/* Every address: the IPv6 wildcard, made dual-stack by the
		 * caller so IPv4 clients are served too. */
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
		a6->sin6_port = htons(port);
		out->len = sizeof(*a6);
		out->any = out->v6 = 1;
		return TS_OK;
	}
	if (s[0] != '[') {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return TS_E_INVALID;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		out->len = sizeof(*a4);
		return TS_OK;
	}
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
		return TS_E_INVALID;
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	out->len = sizeof(*a6);
	out->v6 = 1;
	return TS_OK;
}

static int
open_bound(const http_listen *l, int backlog, int *err)
{
	int fd, on = 1, v6only = !l->any;

	fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* A restart must not wait for old connections in TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
		goto fail;
	if (l->v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->ss, l->len) != 0 || listen(fd, backlog) != 0)
		goto fail;
	return fd;
fail:
	*err = errno;
	if (fd >= 0)
		close(fd);
	return -1;
}

ts_err
http_listen_open(http_listen *l, int backlog, int *fd_out, int *err)
{
	int fd = open_bound(l, backlog, err);

	if (fd < 0 && l->any && (*err == EAFNOSUPPORT || *err == EADDRNOTAVAIL)) {
		/* No IPv6 on this host: every IPv4 address, then. */
		struct sockaddr_in *a4 = (struct sockaddr_in *)&l->ss;
		in_port_t port = ((struct sockaddr_in6 *)&l->ss)->sin6_port;

		memset(&l->ss, 0, sizeof(l->ss));
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
		a4->sin_port = port;
		l->len = sizeof(*a4);
		l->v6 = 0;
		fd = open_bound(l, backlog, err);
	}
	*fd_out = fd;
	return fd < 0 ? TS_E_INTERNAL : TS_OK;
}

unsigned
http_socket_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

/* Stores a v6 address, folding IPv4-mapped ones to IPv4. */
static void
ip_set6(http_ip *out, const unsigned char a[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(out, 0, sizeof(*out));
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		out->af = AF_INET;
		memcpy(out->a, a + 12, 4);
		out->bits = 32;
	} else {
		out->af = AF_INET6;
		memcpy(out->a, a, 16);
		out->bits = 128;
	}
}

int
http_ip_parse(const char *s, http_ip *out)
{
	unsigned char buf[16];

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, buf) == 1) {
		out->af = AF_INET;
		memcpy(out->a, buf, 4);
		out->bits = 32;
		return 1;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		ip_set6(out, buf);
		return 1;
	}
	return 0;
}

int
http_ip_from_sockaddr(const struct sockaddr *sa, http_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
		out->af = AF_INET;
		memcpy(out->a, &a4->sin_addr, 4);
		out->bits = 32;
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		ip_set6(out, a6->sin6_addr.s6_addr);
		return 1;
	}
	return 0;
}

void
http_ip_format(const http_ip *ip, char out[HTTP_IP_STRLEN])
{
	if (ip->af != AF_INET && ip->af != AF_INET6) {
		ts_strlcpy(out, "unknown", HTTP_IP_STRLEN);
		return;
	}
	if (inet_ntop(ip->af, ip->a, out, HTTP_IP_STRLEN) == NULL)
		ts_strlcpy(out, "unknown", HTTP_IP_STRLEN);
}

int
http_ip_equal(const http_ip *x, const http_ip *y)
{
	size_t n = x->af == AF_INET ? 4 : 16;

	return x->af == y->af && memcmp(x->a, y->a, n) == 0;
}

int
http_ip_in(const http_ip *ip, const http_ip *net)
{
	int full = net->bits / 8, rest = net->bits % 8;

	if (ip->af != net->af || memcmp(ip->a, net->a, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (ip->a[full] & mask) == (net->a[full] & mask);
}

/* "IP" or "IP/BITS" (BITS of the address as written; an IPv4-mapped
 * network folds to IPv4 and loses the 96 mapped bits). */
static int
net_parse(const char *s, http_ip *out)
{
	char ip[HTTP_IP_STRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	int max, bits = 0;

	if (n == 0 || n >= sizeof(ip))
		return 0;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (!http_ip_parse(ip, out))
		return 0;
	if (!slash)
		return 1;
	max = strchr(ip, ':') ? 128 : 32;
	const char *d = slash + 1;
	size_t nd = strlen(d);
	if (nd < 1 || nd > 3 || strspn(d, "0123456789") != nd || (bits = atoi(d)) > max)
		return 0;
	if (max == 128 && out->af == AF_INET) {
		if (bits < 96)
			return 0;
		bits -= 96;
	}
	out->bits = bits;
	return 1;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Calls fn(entry) for each comma-separated entry of s, trimmed of spaces
 * and tabs; entries longer than an address are passed as "" (invalid). */
static void
for_each_entry(const char *s, void (*fn)(void *ctx, const char *entry), void *ctx)
{
	char entry[HTTP_IP_STRLEN];

	if (*s == '\0')
		return;
	for (;;) {
		const char *end = strchr(s, ',');
		const char *e = end ? end : s + strlen(s);
		const char *b = s;
		size_t n;

		while (b < e && is_ows(*b))
			b++;
		while (e > b && is_ows(e[-1]))
			e--;
		n = (size_t)(e - b);
		if (n >= sizeof(entry))
			n = 0;
		memcpy(entry, b, n);
		entry[n] = '\0';
		fn(ctx, entry);
		if (end == NULL)
			break;
		s = end + 1;
	}
}

typedef struct {
	http_ip *ips;
	size_t n, cap;
	int bad;
} ip_list_ctx;

static void
add_list_entry(void *ctx, const char *entry)
{
	ip_list_ctx *c = ctx;

	if (c->bad)
		return;
	if (c->n == c->cap || !net_parse(entry, &c->ips[c->n])) {
		c->bad = 1;
		return;
	}
	c->n++;
}

ts_err
http_parse_ip_list(const char *s, http_ip **out, size_t *n)
{
	ip_list_ctx c = { 0 };

	*out = NULL;
	*n = 0;
	if (s == NULL || *s == '\0')
		return TS_OK;
	/* Entries are separated by commas: at most commas + 1 of them. */
	c.cap = 1;
	for (const char *p = s; *p; p++)
		c.cap += *p == ',';
	if ((c.ips = calloc(c.cap, sizeof(*c.ips))) == NULL)
		return TS_E_NOMEM;
	for_each_entry(s, add_list_entry, &c);
	if (c.bad || c.n == 0) {
		free(c.ips);
		return TS_E_INVALID;
	}
	*out = c.ips;
	*n = c.n;
	return TS_OK;
}

static void
xff_entry(void *ctx, const char *entry)
{
	http_xff *x = ctx;
	http_ip ip;
	int ok = http_ip_parse(entry, &ip);

	if (ok) {
		for (size_t i = 0; i < x->ntrusted; i++)
			if (http_ip_in(&ip, &x->trusted[i]))
				return; /* one of our proxies: look further left */
	}
	/* Rightmost untrusted entry so far. A garbled one still counts: it
	 * is where the chain stops being ours, so we fall back to the peer
	 * rather than believe anything to its left. */
	x->have = 1;
	x->valid = ok;
	if (ok)
		x->cand = ip;
}

void
http_xff_feed(http_xff *x, const char *value)
{
	if (value != NULL)
		for_each_entry(value, xff_entry, x);
}

void
http_xff_result(const http_xff *x, const http_ip *peer, http_ip *out)
{
	*out = (x->have && x->valid) ? x->cand : *peer;
}

static int
host_char_ok(char c, int in_brackets)
{
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')
		return 1;
	return in_brackets && c == ':';
}

int
http_host_normalize(const char *in, char out[TS_HOST_MAX + 1])
{
	const char *b = in, *e;
	unsigned short port;
	size_t n;
	int br = 0;

	out[0] = '\0';
	if (in == NULL)
		return 0;
	if (*b == '[') {
		/* RFC 3986 §3.2.2: an IPv6 literal is bracketed in Host. */
		e = strchr(b, ']');
		if (e == NULL)
			return 0;
		b++;
		br = 1;
		if (e[1] != '\0' && (e[1] != ':' || !parse_port(e + 2, &port)))
			return 0;
	} else {
		e = strchr(b, ':');
		if (e == NULL)
			e = b + strlen(b);
		else if (!parse_port(e + 1, &port))
			return 0;
	}
	n = (size_t)(e - b);
	if (n == 0 || n > TS_HOST_MAX)
		return 0;
	memcpy(out, b, n);
	out[n] = '\0';
	ts_ascii_lower(out);
	for (size_t i = 0; i < n; i++) {
		if (!host_char_ok(out[i], br)) {
			out[0] = '\0';
			return 0;
		}
	}
	return 1;
}
