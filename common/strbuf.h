/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer that remembers its first failure, so a caller can
 * append a whole record and check once at the end instead of after every
 * call. Zero-initialise (struct strbuf b = { 0 }) before use.
 *
 * Ownership: `data` is malloc'd and owned by the buffer until
 * strbuf_release(); it is NUL-terminated (the NUL is not counted in `len`)
 * once anything was appended, and NULL before that. Not thread-safe: one
 * buffer per thread at a time.
 */
#ifndef TASKJET_STRBUF_H
#define TASKJET_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	/* 0, or the first failure (-ENOMEM, or -EINVAL from a bad printf
	 * format); once set, appends do nothing and it stays set. */
	int err;
};

/* Append `n` bytes (any bytes, NUL included). */
void strbuf_put(struct strbuf *b, const void *s, size_t n);
/* Append a NUL-terminated string. */
void strbuf_puts(struct strbuf *b, const char *s);
/* Append formatted text. */
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Append `n` bytes the caller fills in: returns a pointer to them (valid
 * until the next append), or NULL if the buffer failed (then b->err is set
 * and nothing was appended).
 */
char *strbuf_extend(struct strbuf *b, size_t n);
/* Cut the content back to its first `len` bytes (no-op if already shorter). */
void strbuf_truncate(struct strbuf *b, size_t len);
/* Free the data and zero the buffer (error included), ready for reuse. */
void strbuf_release(struct strbuf *b);

#endif
