/* SPDX-License-Identifier: MIT */
/*
 * JSON documents parsed with jsmn (strict mode). This module is the only
 * one that knows jsmn: everyone else walks `struct json_tok` with the
 * helpers below, which step by subtree size, never by index arithmetic.
 * A document is immutable once parsed; concurrent readers are fine.
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

/*
 * Parse `len` bytes of `text`. On success fills *doc (free with
 * json_doc_free) and returns 0. On failure returns -EINVAL and, if
 * err_offset_r is not NULL, the byte offset where parsing failed.
 * Rejects what strict jsmn lets through (non-string keys, keys without a
 * value, trailing garbage) and input over 64 MiB.
 */
int json_parse(const char *text, size_t len, struct json_doc *doc, size_t *err_offset_r);
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

/* Typed reads; 0, or -EINVAL if the token is not of that type/range. */
int json_get_string(const struct json_doc *doc, const struct json_tok *tok,
                    char **value_r); /* unescaped, malloc'd, caller frees */
int json_get_i64(const struct json_doc *doc, const struct json_tok *tok, int64_t *value_r);
int json_get_double(const struct json_doc *doc, const struct json_tok *tok, double *value_r);
int json_get_bool(const struct json_doc *doc, const struct json_tok *tok, bool *value_r);
bool json_is_null(const struct json_doc *doc, const struct json_tok *tok);

/* Unescape a JSON string body (no quotes) of `len` bytes into a malloc'd,
 * NUL-terminated string. -EINVAL on bad escapes, -ENOMEM. */
int json_unescape(const char *s, size_t len, char **out_r);

/* Is `text` one well-formed JSON value? Cheap check for payloads. */
bool json_valid(const char *text, size_t len);

/* Append `s` to `out` as a quoted JSON string. Grows *out (malloc'd
 * buffer of *cap bytes, *len used). 0 or -ENOMEM. */
int json_append_string(char **out, size_t *len, size_t *cap, const char *s);

#endif
