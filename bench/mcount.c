/* An LD_PRELOAD heap-call counter for bench/counts.sh: counts malloc,
 * calloc, realloc and free (non-NULL) calls of the whole process and
 * writes them to $MCOUNT_OUT when the process exits. calloc during dlsym's
 * own start-up is served from a static buffer. Bench tooling only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Atomic long n_malloc, n_calloc, n_realloc, n_free;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static char boot[65536];
static size_t boot_used;

static void *
boot_alloc(size_t n)
{
	void *p = boot + boot_used;

	boot_used += (n + 15) & ~(size_t)15;
	return boot_used <= sizeof boot ? p : NULL;
}

void *
malloc(size_t n)
{
	if (!real_malloc)
		real_malloc = dlsym(RTLD_NEXT, "malloc");
	n_malloc++;
	return real_malloc(n);
}

void *
calloc(size_t a, size_t b)
{
	static int in_dlsym;

	if (!real_calloc) {
		void *p;

		if (in_dlsym) {
			if ((p = boot_alloc(a * b)) != NULL)
				memset(p, 0, a * b);
			return p;
		}
		in_dlsym = 1;
		real_calloc = dlsym(RTLD_NEXT, "calloc");
		in_dlsym = 0;
	}
	n_calloc++;
	return real_calloc(a, b);
}

void *
realloc(void *p, size_t n)
{
	if (!real_realloc)
		real_realloc = dlsym(RTLD_NEXT, "realloc");
	n_realloc++;
	return real_realloc(p, n);
}

void
free(void *p)
{
	if ((char *)p >= boot && (char *)p < boot + sizeof boot)
		return;
	if (!real_free)
		real_free = dlsym(RTLD_NEXT, "free");
	if (p)
		n_free++;
	real_free(p);
}

__attribute__((destructor)) static void
dump(void)
{
	const char *path = getenv("MCOUNT_OUT");
	char b[200];
	int fd, k;

	if (!path || (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		return;
	k = snprintf(b, sizeof b, "%ld %ld %ld %ld\n", (long)n_malloc, (long)n_calloc,
	             (long)n_realloc, (long)n_free);
	if (k > 0)
		(void)!write(fd, b, (size_t)k);
	close(fd);
}
