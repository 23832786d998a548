/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The out-of-memory policy of the programs of this tree (mkxipfs and
 * xipfsctl; see "Out of memory" in xipfs/xipfs.h): an allocation that fails
 * is reported once, as "PROGRAM: out of memory", and the program exits 1.
 * Not installed and not part of libxipfs, which returns -ENOMEM instead.
 */
#ifndef XIPFS_XALLOC_H
#define XIPFS_XALLOC_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void __attribute__((noreturn)) xipfs_oom(void)
{
	fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
	exit(EXIT_FAILURE);
}

static inline void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		xipfs_oom();
	return p;
}

static inline void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		xipfs_oom();
	return p;
}

/* realloc() of @n elements of @size bytes; the product overflowing is OOM too. */
static inline void *xreallocarray(void *old, size_t n, size_t size)
{
	void *p = reallocarray(old, n ? n : 1, size ? size : 1);

	if (!p)
		xipfs_oom();
	return p;
}

static inline char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		xipfs_oom();
	return p;
}

static inline char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

static inline __attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		xipfs_oom();
	return p;
}

#endif
