/* SPDX-License-Identifier: MIT */
/* A growable byte buffer for building JSON records and event bodies. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pbuf.h"

static int
pbuf_reserve(struct pbuf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	/* +1 keeps room for the terminating NUL. */
	if (extra > SIZE_MAX - b->len - 1)
		return -ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
pbuf_add(struct pbuf *b, const void *s, size_t n)
{
	int r;

	r = pbuf_reserve(b, n);
	if (r < 0)
		return r;
	if (n > 0)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
pbuf_adds(struct pbuf *b, const char *s)
{
	return pbuf_add(b, s, strlen(s));
}

int
pbuf_addf(struct pbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = pbuf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int
pbuf_add_json_string(struct pbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = b->len;
	char esc[6];
	int r = 0;

	r = pbuf_add(b, "\"", 1);
	for (size_t i = 0; r == 0 && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			r = pbuf_add(b, "\\\"", 2);
			break;
		case '\\':
			r = pbuf_add(b, "\\\\", 2);
			break;
		case '\n':
			r = pbuf_add(b, "\\n", 2);
			break;
		case '\r':
			r = pbuf_add(b, "\\r", 2);
			break;
		case '\t':
			r = pbuf_add(b, "\\t", 2);
			break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				r = pbuf_add(b, esc, 6);
			} else {
				/* UTF-8 passes through: JSON text is UTF-8. */
				r = pbuf_add(b, &s[i], 1);
			}
		}
	}
	if (r == 0)
		r = pbuf_add(b, "\"", 1);
	if (r < 0 && b->data != NULL) {
		/* Leave no half-written string behind. */
		b->len = start;
		b->data[start] = '\0';
	}
	return r;
}

void
pbuf_release(struct pbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}
