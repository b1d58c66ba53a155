/* SPDX-License-Identifier: MIT */
/* JSON parsing on top of jsmn, with the grammar checks jsmn leaves out. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Strict mode rejects bare words and non-string keys; parent links make
 * closing brackets and commas O(1) instead of a backwards scan over every
 * token so far. Static: each binary (core, every plugin .so) gets its own
 * private copy, and jsmn symbols never leak out of this file.
 */
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#define JSMN_STATIC
#include <jsmn.h>

#include "json.h"
#include "utf8.h"

/* State of the grammar check that follows jsmn's tokenizing. */
struct checker {
	const char *text;
	size_t len;
	const jsmntok_t *toks;
	int count;
	int max_depth;
	size_t pos; /* text cursor */
	int next; /* next token index */
	size_t err_pos; /* where it went wrong */
	const char *why; /* and how */
	/* First token whose child count contradicts the grammar. Reported
	 * only if the text itself looked right, so that text errors, which
	 * point at the exact byte, take precedence. */
	size_t size_bad;
};

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void
skip_ws(struct checker *c)
{
	while (c->pos < c->len && is_ws(c->text[c->pos]))
		c->pos++;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
number_valid(const char *s, size_t n, bool *integral_r)
{
	size_t i = 0;
	bool integral = true;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		return false;
	if (s[i] == '0')
		i++;
	else
		while (i < n && is_digit(s[i]))
			i++;
	if (i < n && s[i] == '.') {
		integral = false;
		i++;
		if (i >= n || !is_digit(s[i]))
			return false;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		integral = false;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return false;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i != n)
		return false;
	if (integral_r != NULL)
		*integral_r = integral;
	return true;
}

static bool
literal_eq(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static bool
primitive_valid(const char *s, size_t n)
{
	return literal_eq(s, n, "true") || literal_eq(s, n, "false") || literal_eq(s, n, "null") ||
	       number_valid(s, n, NULL);
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits at s[0..3] (bounds checked by the caller). */
static long
hex4(const char *s)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hex_value(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * Decode a string body into `out` (NULL: only validate). The decoded form
 * is never longer than the escaped one, so `len` bytes of `out` suffice.
 * Strings are UTF-8 text: raw bytes must be well-formed UTF-8 (RFC 3629),
 * and a \u escape must name a Unicode scalar value, so a lone surrogate is
 * refused (RFC 8259 section 8.2 allows it in the grammar; it has no UTF-8
 * form). \u0000 is a NUL byte in the result. On error *bad_r is the offset
 * of the offending byte and *why_r says what is wrong.
 */
static int
unescape_into(const char *s, size_t len, char *out, size_t *out_len_r, size_t *bad_r,
              const char **why_r)
{
	size_t i = 0, o = 0;
	char tmp[4];

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		unsigned long cp;
		long hi, lo;
		size_t n;

		if (c < 0x20) {
			*why_r = "control character in a string";
			goto bad;
		}
		if (c >= 0x80) {
			n = utf8_decode(s + i, len - i, NULL);
			if (n == 0) {
				*why_r = "invalid UTF-8 in a string";
				goto bad;
			}
			if (out != NULL)
				memcpy(out + o, s + i, n);
			o += n;
			i += n;
			continue;
		}
		if (c != '\\') {
			if (out != NULL)
				out[o] = (char)c;
			o++;
			i++;
			continue;
		}
		*why_r = "invalid escape";
		if (i + 1 >= len)
			goto bad;
		switch (s[i + 1]) {
		case '"':
			cp = '"';
			break;
		case '\\':
			cp = '\\';
			break;
		case '/':
			cp = '/';
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (len - i < 6 || (hi = hex4(s + i + 2)) < 0)
				goto bad;
			*why_r = "lone surrogate in a \\u escape";
			if (hi >= 0xdc00 && hi <= 0xdfff)
				goto bad;
			if (hi >= 0xd800 && hi <= 0xdbff) {
				/* Only a low surrogate may follow a high one. */
				if (len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u')
					goto bad;
				lo = hex4(s + i + 8);
				if (lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
				     ((unsigned long)lo - 0xdc00);
				i += 6;
			} else {
				cp = (unsigned long)hi;
			}
			n = utf8_encode((uint32_t)cp, out != NULL ? out + o : tmp);
			o += n;
			i += 6;
			continue;
		default:
			goto bad;
		}
		if (out != NULL)
			out[o] = (char)cp;
		o++;
		i += 2;
	}
	*out_len_r = o;
	return 0;
bad:
	*bad_r = i;
	return -EINVAL;
}

static int
fail(struct checker *c, size_t pos, const char *why)
{
	c->err_pos = pos;
	c->why = why;
	return -EINVAL;
}

static int check_value(struct checker *c, int depth);

/* Expect token c->next to begin at the cursor; returns it or NULL. */
static const jsmntok_t *
expect_token(struct checker *c)
{
	const jsmntok_t *t;
	size_t begin;

	skip_ws(c);
	if (c->next >= c->count) {
		fail(c, c->pos, "syntax error");
		return NULL;
	}
	t = &c->toks[c->next];
	begin = (size_t)t->start - (t->type == JSMN_STRING ? 1 : 0);
	if (begin != c->pos || t->end < t->start) {
		fail(c, c->pos, "syntax error");
		return NULL;
	}
	return t;
}

static int
check_string(struct checker *c, const jsmntok_t *t)
{
	size_t out_len, bad;
	const char *why;

	if (unescape_into(c->text + t->start, (size_t)(t->end - t->start), NULL, &out_len, &bad,
	                  &why) < 0)
		return fail(c, (size_t)t->start + bad, why);
	c->pos = (size_t)t->end + 1;
	return 0;
}

static int
check_container(struct checker *c, const jsmntok_t *t, int depth)
{
	bool object = t->type == JSMN_OBJECT;
	char close = object ? '}' : ']';
	int n = t->size;

	/* check_depth() ran first; this only guards the recursion. */
	if (depth >= c->max_depth)
		return fail(c, c->pos, "nesting too deep");
	c->pos++;
	for (int i = 0; i < n; i++) {
		skip_ws(c);
		if (i > 0) {
			if (c->pos >= c->len || c->text[c->pos] != ',')
				return fail(c, c->pos, "syntax error");
			c->pos++;
		}
		if (object) {
			const jsmntok_t *k = expect_token(c);

			if (k == NULL || k->type != JSMN_STRING)
				return fail(c, c->pos, "expected a string key");
			/* A key is a string owning exactly its value. */
			if (k->size != 1 && c->size_bad == SIZE_MAX)
				c->size_bad = c->pos;
			c->next++;
			if (check_string(c, k) < 0)
				return -EINVAL;
			skip_ws(c);
			if (c->pos >= c->len || c->text[c->pos] != ':')
				return fail(c, c->pos, "expected ':' after a key");
			c->pos++;
		}
		if (check_value(c, depth + 1) < 0)
			return -EINVAL;
	}
	skip_ws(c);
	if (c->pos >= c->len || c->text[c->pos] != close || c->pos + 1 != (size_t)t->end)
		return fail(c, c->pos, "syntax error");
	c->pos++;
	return 0;
}

/* Check the value whose token is c->next and whose text is at the cursor. */
static int
check_value(struct checker *c, int depth)
{
	const jsmntok_t *t = expect_token(c);

	if (t == NULL)
		return -EINVAL;
	c->next++;
	switch (t->type) {
	case JSMN_OBJECT:
	case JSMN_ARRAY:
		return check_container(c, t, depth);
	case JSMN_STRING:
		if (t->size != 0 && c->size_bad == SIZE_MAX)
			c->size_bad = c->pos;
		return check_string(c, t);
	case JSMN_PRIMITIVE:
		if (t->size != 0 && c->size_bad == SIZE_MAX)
			c->size_bad = c->pos;
		if (!primitive_valid(c->text + t->start, (size_t)(t->end - t->start)))
			return fail(c, c->pos, "not a number, true, false or null");
		c->pos = (size_t)t->end;
		return 0;
	default:
		return fail(c, c->pos, "syntax error");
	}
}

/* Where and why a parse failed, for the public error. */
struct failure {
	size_t pos;
	const char *why;
	int depth; /* for "nesting deeper than N" */
};

/*
 * Strict jsmn wants a delimiter after every primitive, so a bare top-level
 * "42" reads as incomplete. Such documents are one token; build it here.
 */
static int
parse_bare_primitive(const char *text, size_t len, size_t start, jsmntok_t **toks_r,
                     struct failure *f)
{
	size_t end = start, rest;
	jsmntok_t *t;

	while (end < len && !is_ws(text[end]))
		end++;
	for (rest = end; rest < len && is_ws(text[rest]); rest++)
		;
	if (!primitive_valid(text + start, end - start)) {
		*f = (struct failure){ start, "not a number, true, false or null", 0 };
		return -EINVAL;
	}
	if (rest != len) {
		*f = (struct failure){ rest, "text after the value", 0 };
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->type = JSMN_PRIMITIVE;
	t->start = (int)start;
	t->end = (int)end;
	t->parent = -1;
	*toks_r = t;
	return 1;
}

/*
 * jsmn closes a bracket by walking parent links up from the last token,
 * which costs O(depth): "[[[[...]]]]" would be quadratic. Bound the depth
 * in one linear pass first. 0, or -EINVAL with *f at the bracket.
 */
static int
check_depth(const char *text, size_t len, int max_depth, struct failure *f)
{
	bool in_string = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = false;
			continue;
		}
		if (ch == '"') {
			in_string = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max_depth) {
				*f = (struct failure){ i, NULL, max_depth };
				return -EINVAL;
			}
		} else if (ch == '}' || ch == ']') {
			depth--; /* an unmatched one is jsmn's to report */
		}
	}
	return 0;
}

/*
 * Say why jsmn gave up. It stops at the opening quote of a string it
 * cannot read; the string decoder then finds the exact byte and reason.
 */
static void
jsmn_failure(int r, const jsmn_parser *parser, const char *text, size_t len, struct failure *f)
{
	size_t pos = r == 0 ? len : parser->pos, end, out_len, bad;
	const char *why;

	if (r == 0 || r == JSMN_ERROR_PART)
		*f = (struct failure){ pos, "unexpected end of the text", 0 };
	else
		*f = (struct failure){ pos, "syntax error", 0 };
	if (pos >= len || text[pos] != '"')
		return;
	for (end = pos + 1; end < len && text[end] != '"'; end++)
		if (text[end] == '\\')
			end++;
	if (unescape_into(text + pos + 1, (end < len ? end : len) - pos - 1, NULL, &out_len, &bad,
	                  &why) < 0)
		*f = (struct failure){ pos + 1 + bad, why, 0 };
	else if (end >= len)
		*f = (struct failure){ pos, "unterminated string", 0 };
}

/* Tokenize with jsmn; returns the token count or -errno. */
static int
tokenize(const char *text, size_t len, int max_depth, jsmntok_t **toks_r, struct failure *f)
{
	jsmn_parser parser;
	jsmntok_t *toks = NULL;
	unsigned int cap;
	int r;

	if (check_depth(text, len, max_depth, f) < 0)
		return -EINVAL;
	jsmn_init(&parser);
	r = jsmn_parse(&parser, text, len, NULL, 0);
	if (r <= 0) {
		jsmn_failure(r, &parser, text, len, f);
		return -EINVAL;
	}
	cap = (unsigned int)r;
	for (;;) {
		jsmntok_t *grown = realloc(toks, cap * sizeof(*toks));

		if (grown == NULL) {
			free(toks);
			return -ENOMEM;
		}
		toks = grown;
		jsmn_init(&parser);
		r = jsmn_parse(&parser, text, len, toks, cap);
		/* The counting pass is exact, but growing keeps us safe if a
		 * jsmn version ever counts differently. */
		if (r != JSMN_ERROR_NOMEM || cap > UINT_MAX / 2 / sizeof(*toks))
			break;
		cap *= 2;
	}
	if (r <= 0) {
		free(toks);
		jsmn_failure(r, &parser, text, len, f);
		return -EINVAL;
	}
	*toks_r = toks;
	return r;
}

/* Tokenize and check; on success the jsmn tokens and their count. */
static int
parse_tokens(const char *text, size_t len, int max_depth, jsmntok_t **toks_r, struct failure *f)
{
	jsmntok_t *jtoks = NULL;
	struct checker c;
	size_t first = 0;
	int count;

	while (first < len && is_ws(text[first]))
		first++;
	if (first == len) {
		*f = (struct failure){ len, "no value", 0 };
		return -EINVAL;
	}
	if (text[first] == '{' || text[first] == '[' || text[first] == '"')
		count = tokenize(text, len, max_depth, &jtoks, f);
	else
		count = parse_bare_primitive(text, len, first, &jtoks, f);
	if (count < 0)
		return count;
	c = (struct checker){ .text = text,
		              .len = len,
		              .toks = jtoks,
		              .count = count,
		              .max_depth = max_depth,
		              .size_bad = SIZE_MAX };
	if (check_value(&c, 0) < 0) {
		*f = (struct failure){ c.err_pos, c.why, 0 };
		goto bad;
	}
	skip_ws(&c);
	if (c.pos != len || c.next != count) {
		*f = (struct failure){ c.pos, "text after the value", 0 };
		goto bad;
	}
	if (c.size_bad != SIZE_MAX) {
		*f = (struct failure){ c.size_bad, "syntax error", 0 };
		goto bad;
	}
	*toks_r = jtoks;
	return count;
bad:
	free(jtoks);
	return -EINVAL;
}

/* Options in force: the defaults where opts is NULL or a field is 0. */
static int
resolve_depth(const struct json_parse_opts *opts, int *max_depth_r)
{
	int d = opts != NULL && opts->max_depth != 0 ? opts->max_depth : JSON_DEFAULT_MAX_DEPTH;

	if (d < 1 || d > JSON_MAX_DEPTH_LIMIT)
		return -EINVAL;
	*max_depth_r = d;
	return 0;
}

/* Run the whole check; fills *err_r (if not NULL) on -EINVAL. */
static int
parse_checked(const char *text, size_t len, const struct json_parse_opts *opts, jsmntok_t **toks_r,
              struct json_error *err_r)
{
	struct failure f = { 0, "syntax error", 0 };
	int max_depth, count;

	if (resolve_depth(opts, &max_depth) < 0) {
		f = (struct failure){ 0, "max_depth out of range", 0 };
		count = -EINVAL;
	} else if (text == NULL) {
		f = (struct failure){ 0, "no value", 0 };
		count = -EINVAL;
	} else if (len > JSON_MAX_LEN) {
		f = (struct failure){ 0, "larger than 64 MiB", 0 };
		count = -EINVAL;
	} else {
		count = parse_tokens(text, len, max_depth, toks_r, &f);
	}
	if (count == -EINVAL && err_r != NULL) {
		err_r->offset = f.pos > len ? len : f.pos;
		if (f.why == NULL)
			snprintf(err_r->what, sizeof(err_r->what), "nesting deeper than %d",
			         f.depth);
		else
			snprintf(err_r->what, sizeof(err_r->what), "%s", f.why);
	}
	return count;
}

int
json_parse_with(const char *text, size_t len, const struct json_parse_opts *opts,
                struct json_doc *doc, struct json_error *err_r)
{
	jsmntok_t *jtoks = NULL;
	struct json_tok *toks;
	int count;

	count = parse_checked(text, len, opts, &jtoks, err_r);
	if (count < 0)
		return count;
	toks = calloc((size_t)count, sizeof(*toks));
	if (toks == NULL) {
		free(jtoks);
		return -ENOMEM;
	}
	for (int i = 0; i < count; i++) {
		switch (jtoks[i].type) {
		case JSMN_OBJECT:
			toks[i].type = JSON_OBJECT;
			break;
		case JSMN_ARRAY:
			toks[i].type = JSON_ARRAY;
			break;
		case JSMN_STRING:
			toks[i].type = JSON_STRING;
			break;
		default:
			toks[i].type = JSON_PRIMITIVE;
			break;
		}
		toks[i].start = jtoks[i].start;
		toks[i].end = jtoks[i].end;
		/* A key's size is 1 (its value): json_next() relies on it. */
		toks[i].size = jtoks[i].size;
	}
	free(jtoks);
	doc->text = text;
	doc->len = len;
	doc->toks = toks;
	doc->count = count;
	return 0;
}

int
json_parse(const char *text, size_t len, struct json_doc *doc, size_t *err_offset_r)
{
	struct json_error err;
	int ret = json_parse_with(text, len, NULL, doc, &err);

	if (ret == -EINVAL && err_offset_r != NULL)
		*err_offset_r = err.offset;
	return ret;
}

int
json_check(const char *text, size_t len, const struct json_parse_opts *opts,
           struct json_error *err_r)
{
	jsmntok_t *jtoks = NULL;
	int count = parse_checked(text, len, opts, &jtoks, err_r);

	free(jtoks);
	return count < 0 ? count : 0;
}

void
json_doc_free(struct json_doc *doc)
{
	if (doc == NULL)
		return;
	free(doc->toks);
	doc->toks = NULL;
	doc->count = 0;
}

/*
 * Every token accounts for its direct children (a key for its value), so
 * walking in document order while tracking "tokens still owed" finds the
 * end of the subtree without recursion.
 */
const struct json_tok *
json_next(const struct json_tok *tok)
{
	long owed = 1;

	while (owed > 0) {
		owed += tok->size - 1;
		tok++;
	}
	return tok;
}

bool
json_tok_eq(const struct json_doc *doc, const struct json_tok *tok, const char *s)
{
	size_t n;

	if (tok == NULL || tok->type != JSON_STRING)
		return false;
	n = (size_t)(tok->end - tok->start);
	return strlen(s) == n && memcmp(doc->text + tok->start, s, n) == 0;
}

const struct json_tok *
json_member(const struct json_doc *doc, const struct json_tok *obj, const char *key)
{
	const struct json_tok *k;
	int i;

	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	json_for_each_member(i, k, obj) if (json_tok_eq(doc, k, key)) return k + 1;
	return NULL;
}

void
json_position(const struct json_doc *doc, size_t offset, int *line_r, int *col_r)
{
	int line = 1, col = 1;

	if (offset > doc->len)
		offset = doc->len;
	for (size_t i = 0; i < offset; i++) {
		if (doc->text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*line_r = line;
	*col_r = col;
}

int
json_unescapen(const char *s, size_t len, char **out_r, size_t *out_len_r)
{
	size_t out_len, bad;
	const char *why;
	char *out;

	if (unescape_into(s, len, NULL, &out_len, &bad, &why) < 0)
		return -EINVAL;
	out = malloc(out_len + 1);
	if (out == NULL)
		return -ENOMEM;
	(void)unescape_into(s, len, out, &out_len, &bad, &why);
	out[out_len] = '\0';
	*out_r = out;
	*out_len_r = out_len;
	return 0;
}

int
json_unescape(const char *s, size_t len, char **out_r)
{
	size_t n;
	char *out;
	int ret = json_unescapen(s, len, &out, &n);

	if (ret < 0)
		return ret;
	/* A C string would end early at the NUL: refuse instead of
	 * truncating silently. */
	if (memchr(out, '\0', n) != NULL) {
		free(out);
		return -EILSEQ;
	}
	*out_r = out;
	return 0;
}

int
json_get_stringn(const struct json_doc *doc, const struct json_tok *tok, char **value_r,
                 size_t *len_r)
{
	if (tok == NULL || tok->type != JSON_STRING)
		return -EINVAL;
	return json_unescapen(doc->text + tok->start, (size_t)(tok->end - tok->start), value_r,
	                      len_r);
}

int
json_get_string(const struct json_doc *doc, const struct json_tok *tok, char **value_r)
{
	if (tok == NULL || tok->type != JSON_STRING)
		return -EINVAL;
	return json_unescape(doc->text + tok->start, (size_t)(tok->end - tok->start), value_r);
}

/* Copy a primitive number into a NUL-terminated buffer for strto*(). */
static int
number_text(const struct json_doc *doc, const struct json_tok *tok, char *buf, size_t size,
            bool *integral_r)
{
	size_t n;

	if (tok == NULL || tok->type != JSON_PRIMITIVE)
		return -EINVAL;
	n = (size_t)(tok->end - tok->start);
	if (!number_valid(doc->text + tok->start, n, integral_r) || n >= size)
		return -EINVAL;
	memcpy(buf, doc->text + tok->start, n);
	buf[n] = '\0';
	return 0;
}

int
json_get_i64(const struct json_doc *doc, const struct json_tok *tok, int64_t *value_r)
{
	char buf[32], *end;
	bool integral;
	long long v;

	/* 32 bytes hold any int64 in JSON form; longer is out of range. */
	if (number_text(doc, tok, buf, sizeof(buf), &integral) < 0 || !integral)
		return -EINVAL;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || end == buf)
		return -EINVAL;
	*value_r = (int64_t)v;
	return 0;
}

int
json_get_double(const struct json_doc *doc, const struct json_tok *tok, double *value_r)
{
	char small[64], *buf = small, *end;
	size_t n;
	double v;
	int ret;

	if (tok == NULL || tok->type != JSON_PRIMITIVE)
		return -EINVAL;
	n = (size_t)(tok->end - tok->start);
	/* Long mantissas are valid JSON; copy them to the heap. */
	if (n >= sizeof(small) && (buf = malloc(n + 1)) == NULL)
		return -ENOMEM;
	ret = number_text(doc, tok, buf, n + 1, NULL);
	if (ret < 0)
		goto out;
	/* The grammar check lets only C-locale syntax through, and taskjet
	 * never calls setlocale(), so '.' is the radix strtod expects. */
	v = strtod(buf, &end);
	if (*end != '\0' || !isfinite(v)) {
		ret = -EINVAL;
		goto out;
	}
	*value_r = v;
	ret = 0;
out:
	if (buf != small)
		free(buf);
	return ret;
}

int
json_get_bool(const struct json_doc *doc, const struct json_tok *tok, bool *value_r)
{
	size_t n;

	if (tok == NULL || tok->type != JSON_PRIMITIVE)
		return -EINVAL;
	n = (size_t)(tok->end - tok->start);
	if (literal_eq(doc->text + tok->start, n, "true"))
		*value_r = true;
	else if (literal_eq(doc->text + tok->start, n, "false"))
		*value_r = false;
	else
		return -EINVAL;
	return 0;
}

bool
json_is_null(const struct json_doc *doc, const struct json_tok *tok)
{
	return tok != NULL && tok->type == JSON_PRIMITIVE &&
	       literal_eq(doc->text + tok->start, (size_t)(tok->end - tok->start), "null");
}

bool
json_valid(const char *text, size_t len)
{
	return json_check(text, len, NULL, NULL) == 0;
}
