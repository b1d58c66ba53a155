/* SPDX-License-Identifier: MIT */
/*
 * Allocators for the core's own bookkeeping: they abort with a message on
 * out-of-memory instead of returning NULL, so callers carry no OOM branches.
 * Never used on behalf of a plugin. Thread-safe.
 */
#ifndef TASKJET_XALLOC_H
#define TASKJET_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* For a buffer grown elsewhere (a struct strbuf, a JSON writer): abort as
 * the allocators do if `err`, its error, is set; 0 is a no-op. */
void xalloc_check(int err);

#endif
