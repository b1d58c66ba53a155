/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the JSON reader (common/json.c) that configs, task payloads
 * and HTTP bodies go through, and UTF-8 (common/utf8.c). The first byte
 * picks the nesting limit (0: the default; 255: the largest allowed; 254:
 * one past it; else 1..64), the rest is the document. Beyond the
 * sanitizers it checks:
 *   - json_parse_with(), json_check() and json_valid() agree, and a failure
 *     points inside the text;
 *   - every token of a document reads back (strings unescaped, with and
 *     without NULs; an integer reads as the same double);
 *   - the document written out again with the JSON writer (common/jsonw.c)
 *     parses to the same tokens with the same string bytes;
 *   - utf8_valid() agrees with RFC 3629's table of well-formed sequences,
 *     and each character decoded encodes back to its bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonw.h"
#include "strbuf.h"
#include "utf8.h"

static void
check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_json: %s\n", what);
	abort();
}

/* RFC 3629 section 4 (Unicode table 3-7): the well-formed byte sequences. */
static bool
reference_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i], lo = 0x80, hi = 0xbf;
		size_t len;

		if (c <= 0x7f) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		else
			return false;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k < len; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += len;
	}
	return true;
}

static void
check_utf8(const uint8_t *s, size_t n)
{
	check(utf8_valid(s, n) == reference_utf8(s, n), "utf8_valid differs from RFC 3629");
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		char out[4];
		size_t len = utf8_decode(s + i, n - i, &cp);

		if (len == 0) {
			i++;
			continue;
		}
		check(utf8_encode(cp, out) == len && memcmp(out, s + i, len) == 0,
		      "utf8_encode does not give back the decoded bytes");
		i += len;
	}
}

/* Read every token back; `depth` containers hold `t`, and the deepest
 * nesting of containers goes to *depth_r. Returns the next token. */
static const struct json_tok *
read_value(const struct json_doc *doc, const struct json_tok *t, int depth, int *depth_r)
{
	const struct json_tok *c = t + 1;
	char *s = NULL, *z = NULL;
	size_t len;
	int64_t i64;
	double d;
	bool b;

	switch (t->type) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth + 1 > *depth_r)
			*depth_r = depth + 1;
		for (int i = 0; i < t->size; i++) {
			if (t->type == JSON_OBJECT) {
				check(c->type == JSON_STRING && c->size == 1,
				      "a key is not a string");
				c = read_value(doc, c, depth, depth_r);
			}
			c = read_value(doc, c, depth + 1, depth_r);
		}
		check(c == json_next(t), "json_next skips elsewhere than the children end");
		return c;
	case JSON_STRING:
		check(json_get_stringn(doc, t, &s, &len) == 0, "a parsed string does not decode");
		if (memchr(s, '\0', len) != NULL)
			check(json_get_string(doc, t, &z) == -EILSEQ, "a NUL not refused");
		else
			check(json_get_string(doc, t, &z) == 0 && strcmp(s, z) == 0,
			      "json_get_string differs from json_get_stringn");
		check(utf8_valid(s, len), "a decoded string is not UTF-8");
		free(s);
		free(z);
		return c;
	case JSON_PRIMITIVE:
		if (json_get_i64(doc, t, &i64) == 0)
			check(json_get_double(doc, t, &d) == 0 && d == (double)i64,
			      "an integer reads as another double");
		/* A number may be too large for a double; it still is one. */
		check(json_get_bool(doc, t, &b) == 0 || json_is_null(doc, t) ||
		          doc->text[t->start] == '-' ||
		          (doc->text[t->start] >= '0' && doc->text[t->start] <= '9'),
		      "a primitive is neither a number, true, false nor null");
		return c;
	}
	abort();
}

/* Write the value at `t` with the JSON writer; returns the next token. */
static const struct json_tok *
write_value(const struct json_doc *doc, const struct json_tok *t, struct jsonw *w)
{
	const struct json_tok *c = t + 1;
	char *s;
	size_t len;

	switch (t->type) {
	case JSON_OBJECT:
		jsonw_begin_object(w);
		for (int i = 0; i < t->size; i++) {
			json_get_stringn(doc, c, &s, &len);
			jsonw_keyn(w, s, len);
			free(s);
			c = write_value(doc, c + 1, w);
		}
		jsonw_end_object(w);
		return c;
	case JSON_ARRAY:
		jsonw_begin_array(w);
		for (int i = 0; i < t->size; i++)
			c = write_value(doc, c, w);
		jsonw_end_array(w);
		return c;
	case JSON_STRING:
		json_get_stringn(doc, t, &s, &len);
		jsonw_stringn(w, s, len);
		free(s);
		return c;
	default:
		jsonw_raw(w, doc->text + t->start, (size_t)(t->end - t->start));
		return c;
	}
}

/* Same token types, sizes, string bytes and primitive text. */
static void
check_same(const struct json_doc *a, const struct json_doc *b)
{
	check(a->count == b->count, "written back: another token count");
	for (int i = 0; i < a->count; i++) {
		const struct json_tok *x = &a->toks[i], *y = &b->toks[i];
		char *xs, *ys;
		size_t xl, yl;

		check(x->type == y->type && x->size == y->size, "written back: another token");
		if (x->type == JSON_STRING) {
			json_get_stringn(a, x, &xs, &xl);
			json_get_stringn(b, y, &ys, &yl);
			check(xl == yl && memcmp(xs, ys, xl) == 0, "written back: another string");
			free(xs);
			free(ys);
		} else if (x->type == JSON_PRIMITIVE) {
			check(x->end - x->start == y->end - y->start &&
			          memcmp(a->text + x->start, b->text + y->start,
			                 (size_t)(x->end - x->start)) == 0,
			      "written back: another primitive");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_parse_opts opts = { 0 };
	struct json_doc doc = { 0 }, again = { 0 };
	struct json_error err = { 0 }, err2 = { 0 };
	struct strbuf out = { 0 };
	struct jsonw w;
	const char *text;
	int rc, depth = 0, line, col;

	if (size == 0)
		return 0;
	opts.max_depth = data[0] == 0     ? 0
	                 : data[0] == 255 ? JSON_MAX_DEPTH_LIMIT
	                 : data[0] == 254 ? JSON_MAX_DEPTH_LIMIT + 1
	                                  : data[0] % 64 + 1;
	text = (const char *)data + 1;
	size--;
	check_utf8((const uint8_t *)text, size);

	rc = json_parse_with(text, size, &opts, &doc, &err);
	check(rc == 0 || rc == -EINVAL, "json_parse_with: neither 0 nor -EINVAL");
	check(json_check(text, size, &opts, &err2) == rc, "json_check differs from the parse");
	if (opts.max_depth == 0)
		check(json_valid(text, size) == (rc == 0), "json_valid differs from the parse");
	if (rc < 0) {
		check(err.offset <= size && err2.offset == err.offset &&
		          strcmp(err.what, err2.what) == 0 && err.what[0] != '\0',
		      "a failure without a place inside the text");
		doc.text = text;
		doc.len = size;
		json_position(&doc, err.offset, &line, &col);
		check(line >= 1 && col >= 1, "json_position out of the text");
		return 0;
	}
	check(json_next(doc.toks) == doc.toks + doc.count, "the root does not span the tokens");
	read_value(&doc, doc.toks, 0, &depth);

	jsonw_init(&w, &out);
	write_value(&doc, doc.toks, &w);
	if (jsonw_finish(&w) == 0) {
		check(json_parse_with(out.data, out.len, &opts, &again, NULL) == 0,
		      "written back: does not parse");
		check_same(&doc, &again);
		json_doc_free(&again);
	} else {
		/* The writer goes JSONW_MAX_DEPTH deep, no deeper. */
		check(depth > JSONW_MAX_DEPTH, "written back: the writer failed");
	}
	strbuf_release(&out);
	json_doc_free(&doc);
	return 0;
}
