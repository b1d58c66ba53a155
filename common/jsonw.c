/* SPDX-License-Identifier: MIT */
/* The JSON writer: escaping, nesting and comma bookkeeping. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json.h"
#include "jsonw.h"
#include "utf8.h"

/* The escape for a byte below 0x20, '"', '\\' or DEL. */
static void
put_escape(struct strbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char *p;

	switch (c) {
	case '"':
		strbuf_put(b, "\\\"", 2);
		return;
	case '\\':
		strbuf_put(b, "\\\\", 2);
		return;
	case '\b':
		strbuf_put(b, "\\b", 2);
		return;
	case '\f':
		strbuf_put(b, "\\f", 2);
		return;
	case '\n':
		strbuf_put(b, "\\n", 2);
		return;
	case '\r':
		strbuf_put(b, "\\r", 2);
		return;
	case '\t':
		strbuf_put(b, "\\t", 2);
		return;
	default:
		p = strbuf_extend(b, 6);
		if (p != NULL) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 0xf];
		}
	}
}

static bool
is_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* The escaped body of a text string, without the quotes. */
static void
put_text(struct strbuf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n && b->err == 0) {
		size_t run = i, seq;

		while (run < n && is_plain(p[run]))
			run++;
		if (run > i) {
			strbuf_put(b, p + i, run - i);
			i = run;
		} else if (p[i] < 0x80) {
			put_escape(b, p[i++]);
		} else if ((seq = utf8_decode(p + i, n - i, NULL)) > 0) {
			strbuf_put(b, p + i, seq);
			i += seq;
		} else {
			strbuf_put(b, "\\ufffd", 6);
			i++;
		}
	}
}

void
json_quote(struct strbuf *b, const char *s, size_t n)
{
	strbuf_put(b, "\"", 1);
	put_text(b, s, n);
	strbuf_put(b, "\"", 1);
}

void
jsonw_init(struct jsonw *w, struct strbuf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

int
jsonw_error(const struct jsonw *w)
{
	return w->err != 0 ? w->err : w->out->err;
}

int
jsonw_finish(const struct jsonw *w)
{
	int err = jsonw_error(w);

	if (err != 0)
		return err;
	return w->done ? 0 : -EINVAL;
}

static bool
in_object(const struct jsonw *w)
{
	unsigned d = w->depth - 1;

	return w->depth > 0 && (w->objects[d / 64] >> (d % 64) & 1) != 0;
}

static bool
misuse(struct jsonw *w)
{
	if (w->err == 0)
		w->err = -EINVAL;
	return false;
}

/* Is a value allowed here? Writes the comma an array item needs. */
static bool
value_begins(struct jsonw *w)
{
	if (jsonw_error(w) != 0)
		return false;
	if (w->depth == 0)
		return w->done ? misuse(w) : true;
	if (in_object(w)) {
		if (!w->key_done)
			return misuse(w);
		w->key_done = false;
		return true;
	}
	if (!w->first)
		strbuf_put(w->out, ",", 1);
	w->first = false;
	return true;
}

/* A value is complete: at the top level that is the whole document. */
static void
value_ends(struct jsonw *w)
{
	if (w->depth == 0)
		w->done = true;
}

static void
begin(struct jsonw *w, bool object)
{
	unsigned d = w->depth;

	if (!value_begins(w))
		return;
	if (d >= JSONW_MAX_DEPTH) {
		misuse(w);
		return;
	}
	if (object)
		w->objects[d / 64] |= (uint64_t)1 << (d % 64);
	else
		w->objects[d / 64] &= ~((uint64_t)1 << (d % 64));
	w->depth++;
	w->first = true;
	strbuf_put(w->out, object ? "{" : "[", 1);
}

static void
end(struct jsonw *w, bool object)
{
	if (jsonw_error(w) != 0)
		return;
	if (w->depth == 0 || in_object(w) != object || w->key_done) {
		misuse(w);
		return;
	}
	strbuf_put(w->out, object ? "}" : "]", 1);
	w->depth--;
	/* The enclosing container now holds at least this value. */
	w->first = false;
	value_ends(w);
}

void
jsonw_begin_object(struct jsonw *w)
{
	begin(w, true);
}

void
jsonw_end_object(struct jsonw *w)
{
	end(w, true);
}

void
jsonw_begin_array(struct jsonw *w)
{
	begin(w, false);
}

void
jsonw_end_array(struct jsonw *w)
{
	end(w, false);
}

/* The key: `n` bytes of `key` followed by `suffix` (may be ""), and its
 * colon. */
static void
put_key(struct jsonw *w, const char *key, size_t n, const char *suffix)
{
	if (jsonw_error(w) != 0)
		return;
	if (!in_object(w) || w->key_done) {
		misuse(w);
		return;
	}
	if (!w->first)
		strbuf_put(w->out, ",", 1);
	w->first = false;
	strbuf_put(w->out, "\"", 1);
	put_text(w->out, key, n);
	put_text(w->out, suffix, strlen(suffix));
	strbuf_put(w->out, "\":", 2);
	w->key_done = true;
}

void
jsonw_key(struct jsonw *w, const char *key)
{
	put_key(w, key, strlen(key), "");
}

void
jsonw_keyn(struct jsonw *w, const char *key, size_t n)
{
	put_key(w, key, n, "");
}

void
jsonw_stringn(struct jsonw *w, const char *s, size_t n)
{
	if (!value_begins(w))
		return;
	json_quote(w->out, s, n);
	value_ends(w);
}

void
jsonw_string(struct jsonw *w, const char *s)
{
	if (s == NULL)
		jsonw_null(w);
	else
		jsonw_stringn(w, s, strlen(s));
}

/* A value whose text needs no escaping (numbers, literals). */
static void
put_plain(struct jsonw *w, const char *text)
{
	if (!value_begins(w))
		return;
	strbuf_puts(w->out, text);
	value_ends(w);
}

void
jsonw_int(struct jsonw *w, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	put_plain(w, buf);
}

void
jsonw_uint(struct jsonw *w, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	put_plain(w, buf);
}

void
jsonw_double(struct jsonw *w, double v)
{
	char buf[32];

	if (!isfinite(v)) {
		put_plain(w, "null");
		return;
	}
	/* 15 digits read back exactly for most values; 17 always do. */
	snprintf(buf, sizeof(buf), "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, sizeof(buf), "%.17g", v);
	/* A locale with a decimal comma (taskjet sets none; a plugin might)
	 * must not leak into JSON. */
	for (char *p = buf; *p != '\0'; p++)
		if (*p == ',')
			*p = '.';
	put_plain(w, buf);
}

void
jsonw_bool(struct jsonw *w, bool v)
{
	put_plain(w, v ? "true" : "false");
}

void
jsonw_null(struct jsonw *w)
{
	put_plain(w, "null");
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void
jsonw_raw(struct jsonw *w, const char *json, size_t n)
{
	if (jsonw_error(w) != 0)
		return;
	if (json_check(json, n, NULL, NULL) != 0) {
		misuse(w);
		return;
	}
	while (n > 0 && is_ws(json[0])) {
		json++;
		n--;
	}
	while (n > 0 && is_ws(json[n - 1]))
		n--;
	if (!value_begins(w))
		return;
	strbuf_put(w->out, json, n);
	value_ends(w);
}

void
jsonw_member_string(struct jsonw *w, const char *key, const char *s)
{
	jsonw_key(w, key);
	jsonw_string(w, s);
}

void
jsonw_member_int(struct jsonw *w, const char *key, int64_t v)
{
	jsonw_key(w, key);
	jsonw_int(w, v);
}

void
jsonw_member_uint(struct jsonw *w, const char *key, uint64_t v)
{
	jsonw_key(w, key);
	jsonw_uint(w, v);
}

void
jsonw_member_bool(struct jsonw *w, const char *key, bool v)
{
	jsonw_key(w, key);
	jsonw_bool(w, v);
}

void
jsonw_member_bytes(struct jsonw *w, const char *key, const void *data, size_t n)
{
	bool text = utf8_is_text(data, n);
	size_t elen;
	char *p;

	put_key(w, key, strlen(key), "_encoding");
	jsonw_string(w, text ? "utf-8" : "base64");
	jsonw_key(w, key);
	if (text) {
		jsonw_stringn(w, data, n);
		return;
	}
	elen = base64_encoded_len(n);
	if (elen == 0 && n > 0) {
		w->out->err = -ENOMEM;
		return;
	}
	if (!value_begins(w))
		return;
	/* Base64 needs no escaping: its alphabet is plain ASCII. */
	strbuf_put(w->out, "\"", 1);
	p = strbuf_extend(w->out, elen);
	if (p != NULL)
		base64_encode(data, n, p);
	strbuf_put(w->out, "\"", 1);
	value_ends(w);
}
