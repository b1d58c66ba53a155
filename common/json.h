/* SPDX-License-Identifier: MIT */
/*
 * JSON documents parsed with jsmn (strict mode). This module is the only
 * one that knows jsmn: everyone else walks `struct json_tok` with the
 * helpers below, which step by subtree size, never by index arithmetic.
 * A document is immutable once parsed; concurrent readers are fine, and
 * every function here is thread-safe (no global state).
 */
#ifndef TASKJET_JSON_H
#define TASKJET_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type { JSON_OBJECT, JSON_ARRAY, JSON_STRING, JSON_PRIMITIVE };

struct json_tok {
	enum json_type type;
	int start; /* byte offset of the value in the text */
	int end; /* one past its last byte (strings: without quotes) */
	int size; /* direct children: members of an object, items of an array */
};

struct json_doc {
	const char *text; /* borrowed; must outlive the doc */
	size_t len;
	struct json_tok *toks; /* toks[0] is the root */
	int count;
};

/* Config files and task payloads are far smaller; the cap also keeps every
 * offset inside jsmn's int fields. */
#define JSON_MAX_LEN ((size_t)64 << 20)
/* The nesting limit unless a caller sets another (json_parse_opts). */
#define JSON_DEFAULT_MAX_DEPTH 512
/* The largest limit a caller may set: the grammar check recurses once per
 * level, so this bounds its stack use (a few hundred KiB). */
#define JSON_MAX_DEPTH_LIMIT 4096

/* Settings of one parse; zero-initialise for the defaults. */
struct json_parse_opts {
	/* Deepest nesting of objects and arrays accepted: 0 means
	 * JSON_DEFAULT_MAX_DEPTH, else 1..JSON_MAX_DEPTH_LIMIT (outside that
	 * range the parse fails with "max_depth out of range"). A deeper
	 * document fails with "nesting deeper than N". */
	int max_depth;
};

/* Why a parse failed. */
struct json_error {
	size_t offset; /* byte offset where the text went wrong (<= len) */
	char what[48]; /* e.g. "invalid UTF-8 in a string", "nesting deeper than 512" */
};

/*
 * Parse `len` bytes of `text` as one JSON value (RFC 8259). On success
 * fills *doc (free with json_doc_free) and returns 0. On failure returns
 * -ENOMEM, or -EINVAL and, if err_r is not NULL, where and why. `opts` may
 * be NULL (defaults).
 *
 * Accepts exactly valid JSON: rejects what strict jsmn lets through
 * (non-string keys, keys without a value, trailing garbage), raw control
 * characters in strings, and input over JSON_MAX_LEN. Strings are UTF-8
 * text: raw bytes in them must be well-formed UTF-8 (RFC 3629) and every
 * \u escape must decode to a Unicode scalar value, so lone surrogates
 * (which RFC 8259 section 8.2 lets through the grammar but which have no
 * UTF-8 form) are rejected, as is a high surrogate followed by anything
 * but a low one. \u0000 is valid (see json_get_string for C strings).
 */
int json_parse_with(const char *text, size_t len, const struct json_parse_opts *opts,
                    struct json_doc *doc, struct json_error *err_r);
/* json_parse_with() with default options; on -EINVAL *err_offset_r (if not
 * NULL) is the byte offset where parsing failed. */
int json_parse(const char *text, size_t len, struct json_doc *doc, size_t *err_offset_r);
/* The check of json_parse_with() without keeping a document: 0, -EINVAL
 * (with *err_r if not NULL) or -ENOMEM. */
int json_check(const char *text, size_t len, const struct json_parse_opts *opts,
               struct json_error *err_r);
void json_doc_free(struct json_doc *doc);

/* The token after `tok`'s whole subtree. */
const struct json_tok *json_next(const struct json_tok *tok);

/* Iterate an object: key tokens k, value tokens v (v == k + 1). */
#define json_for_each_member(i, k, obj) \
	for ((i) = 0, (k) = (obj) + 1; (i) < (obj)->size; (k) = json_next((k) + 1), (i)++)
/* Iterate an array's items. */
#define json_for_each_item(i, t, arr) \
	for ((i) = 0, (t) = (arr) + 1; (i) < (arr)->size; (t) = json_next(t), (i)++)

/* Value of member `key` of object `obj`, or NULL (also if not an object). */
const struct json_tok *json_member(const struct json_doc *doc, const struct json_tok *obj,
                                   const char *key);
/* Does string token `tok` equal `s` (compared raw, without unescaping)? */
bool json_tok_eq(const struct json_doc *doc, const struct json_tok *tok, const char *s);
/* 1-based line and column of the byte at `offset`. */
void json_position(const struct json_doc *doc, size_t offset, int *line_r, int *col_r);

/*
 * Typed reads; 0, or -EINVAL if the token is not of that type/range.
 *
 * json_get_string: the string unescaped into a malloc'd C string the
 * caller frees; -EILSEQ if it holds a NUL character (\u0000), which a C
 * string cannot carry (never a silent truncation), -ENOMEM.
 * json_get_stringn: the same for any string: *len_r bytes, NULs included,
 * plus a terminating NUL.
 */
int json_get_string(const struct json_doc *doc, const struct json_tok *tok, char **value_r);
int json_get_stringn(const struct json_doc *doc, const struct json_tok *tok, char **value_r,
                     size_t *len_r);
int json_get_i64(const struct json_doc *doc, const struct json_tok *tok, int64_t *value_r);
int json_get_double(const struct json_doc *doc, const struct json_tok *tok, double *value_r);
int json_get_bool(const struct json_doc *doc, const struct json_tok *tok, bool *value_r);
bool json_is_null(const struct json_doc *doc, const struct json_tok *tok);

/* Unescape a JSON string body (no quotes) of `len` bytes into a malloc'd,
 * NUL-terminated string. -EINVAL on what json_parse would reject in a
 * string, -EILSEQ if the result holds a NUL, -ENOMEM. */
int json_unescape(const char *s, size_t len, char **out_r);
/* The same, with the length (*out_len_r, NULs included) instead of the NUL
 * refusal. */
int json_unescapen(const char *s, size_t len, char **out_r, size_t *out_len_r);

/* Is `text` one well-formed JSON value (json_check with default options)? */
bool json_valid(const char *text, size_t len);

#endif
