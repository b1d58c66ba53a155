/* SPDX-License-Identifier: MIT */
/*
 * JSON output, correct by construction (RFC 8259).
 *
 * A struct jsonw appends one JSON value (usually an object) to a borrowed
 * strbuf. It tracks nesting, commas and the key/value alternation itself.
 * A call that would make the text invalid (a value where a key is due, a
 * key in an array, closing the wrong container, a second top-level value,
 * nesting deeper than JSONW_MAX_DEPTH, raw text that is not JSON) writes
 * nothing and sets the writer's error: misuse ends in an error from
 * jsonw_finish(), never in invalid JSON.
 *
 * Text strings (values and keys) are escaped per RFC 8259: \" \\ \b \f \n
 * \r \t, every other control character and DEL as \u00XX; nothing below
 * U+0020 ever goes out raw. Output is always valid UTF-8: a byte that is
 * not part of a well-formed UTF-8 sequence (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF) is replaced by U+FFFD, written
 * "\ufffd", one per bad byte. That suits text fields (subjects, header
 * values, error messages), where a readable, valid document matters more
 * than the exact bytes; with an explicit length a NUL byte goes out as
 * "\u0000".
 *
 * Bytes that must survive exactly (payloads) go through
 * jsonw_member_bytes(), which writes two members:
 *
 *     "KEY_encoding": "utf-8"   and KEY as a JSON string, when the bytes
 *                               are text (valid UTF-8 without NUL);
 *     "KEY_encoding": "base64"  and KEY as their base64 (RFC 4648, padded,
 *                               standard alphabet), for anything else.
 *
 * e.g. {"payload_encoding":"utf-8","payload":"{\"id\":1}"} or, for the
 * bytes ff fe, {"payload_encoding":"base64","payload":"//4="}. Readers
 * decode KEY by KEY_encoding (base64_decode() in common/base64.h).
 *
 * Numbers: integers exactly; doubles in the shortest form that reads back
 * as the same double, and null for NaN and infinities (JSON has neither).
 *
 * Thread-safety: none; a writer and its buffer belong to one thread. The
 * writer owns no memory: there is nothing to free but the strbuf.
 */
#ifndef TASKJET_JSONW_H
#define TASKJET_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* Deepest nesting a writer produces (the parser's default limit). */
#define JSONW_MAX_DEPTH 512

struct jsonw {
	struct strbuf *out; /* borrowed; must outlive the writer */
	int err; /* first misuse (-EINVAL); the buffer keeps its own error */
	unsigned depth; /* containers open */
	bool first; /* the innermost container has no member or item yet */
	bool key_done; /* an object's key is written, its value is due */
	bool done; /* the top-level value is complete */
	uint64_t objects[JSONW_MAX_DEPTH / 64]; /* bit d: level d+1 is an object */
};

/* Start a writer that appends one value to `out` (after what it holds). */
void jsonw_init(struct jsonw *w, struct strbuf *out);

void jsonw_begin_object(struct jsonw *w);
void jsonw_end_object(struct jsonw *w);
void jsonw_begin_array(struct jsonw *w);
void jsonw_end_array(struct jsonw *w);

/* The next member's key (text rules above); inside an object only. */
void jsonw_key(struct jsonw *w, const char *key);
/* The same for a key of `n` bytes (NUL bytes included, as \u0000). */
void jsonw_keyn(struct jsonw *w, const char *key, size_t n);

/* A text string, NUL-terminated; NULL writes null. */
void jsonw_string(struct jsonw *w, const char *s);
/* A text string of `n` bytes (NUL bytes included, as \u0000). */
void jsonw_stringn(struct jsonw *w, const char *s, size_t n);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
void jsonw_double(struct jsonw *w, double v);
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/*
 * `n` bytes of text that already is one JSON value (a validated payload, a
 * token's text from a parsed document), copied as is without surrounding
 * white space. It is checked (json_check() with default options); text that
 * is not JSON sets the error.
 */
void jsonw_raw(struct jsonw *w, const char *json, size_t n);

/* key + value in one call. */
void jsonw_member_string(struct jsonw *w, const char *key, const char *s);
void jsonw_member_int(struct jsonw *w, const char *key, int64_t v);
void jsonw_member_uint(struct jsonw *w, const char *key, uint64_t v);
void jsonw_member_bool(struct jsonw *w, const char *key, bool v);
/* The members "KEY_encoding" and KEY for `n` arbitrary bytes (see above). */
void jsonw_member_bytes(struct jsonw *w, const char *key, const void *data, size_t n);

/* The first error so far (-EINVAL misuse, -ENOMEM), or 0. */
int jsonw_error(const struct jsonw *w);
/*
 * 0 if exactly one complete value was written without error; -EINVAL if
 * the writer was misused or containers are still open, -ENOMEM if the
 * buffer could not grow. After an error the buffer holds a partial value:
 * discard it.
 */
int jsonw_finish(const struct jsonw *w);

/*
 * Append `n` bytes of `s` to `b` as one quoted JSON text string (the rules
 * above). For code that still assembles JSON by hand around it; new code
 * uses a struct jsonw.
 */
void json_quote(struct strbuf *b, const char *s, size_t n);

#endif
