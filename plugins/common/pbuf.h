/* SPDX-License-Identifier: MIT */
/* A growable byte buffer for building JSON records and event bodies. */
#ifndef TASKJET_PLUGINS_PBUF_H
#define TASKJET_PLUGINS_PBUF_H

#include <stddef.h>

/*
 * Zero-initialise before use. `data` is malloc'd, owned by the buffer and
 * always NUL-terminated once anything was added (the NUL is not counted in
 * `len`). Not thread-safe; one buffer per call.
 */
struct pbuf {
	char *data;
	size_t len;
	size_t cap;
};

/* Append `n` bytes. 0 or -ENOMEM (the buffer is then unchanged). */
int pbuf_add(struct pbuf *b, const void *s, size_t n);
/* Append a NUL-terminated string. 0 or -ENOMEM. */
int pbuf_adds(struct pbuf *b, const char *s);
/* Append formatted text. 0, -ENOMEM or -EINVAL (bad format). */
int pbuf_addf(struct pbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `n` bytes of `s` as a quoted, escaped JSON string. 0 or -ENOMEM. */
int pbuf_add_json_string(struct pbuf *b, const char *s, size_t n);
/* Free the data and zero the buffer. */
void pbuf_release(struct pbuf *b);

#endif
