/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a sticky error. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

char *
strbuf_extend(struct strbuf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->err != 0)
		return NULL;
	/* +1 keeps room for the terminating NUL. */
	if (n > SIZE_MAX - b->len - 1) {
		b->err = -ENOMEM;
		return NULL;
	}
	need = b->len + n + 1;
	if (need > b->cap) {
		cap = b->cap != 0 ? b->cap : 256;
		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		p = realloc(b->data, cap);
		if (p == NULL) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->data = p;
		b->cap = cap;
	}
	p = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return p;
}

void
strbuf_put(struct strbuf *b, const void *s, size_t n)
{
	char *p = strbuf_extend(b, n);

	if (p != NULL && n > 0)
		memcpy(p, s, n);
}

void
strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_put(b, s, strlen(s));
}

void
strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	if (b->err != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = -EINVAL;
		return;
	}
	p = strbuf_extend(b, (size_t)n);
	if (p == NULL)
		return;
	va_start(ap, fmt);
	/* Writes the n characters and the NUL strbuf_extend() made room for. */
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
}

void
strbuf_truncate(struct strbuf *b, size_t len)
{
	if (len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

void
strbuf_release(struct strbuf *b)
{
	free(b->data);
	*b = (struct strbuf){ 0 };
}
