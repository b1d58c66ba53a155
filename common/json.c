/* SPDX-License-Identifier: MIT */
/* JSON parsing on top of jsmn, with the grammar checks jsmn leaves out. */
#include <errno.h>
#include <limits.h>
#include <math.h>
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

/* Config files and task payloads are far smaller; the cap also keeps every
 * offset inside jsmn's int fields. */
#define JSON_MAX_LEN ((size_t)64 << 20)
/* Bounds the recursion of the grammar check. */
#define JSON_MAX_DEPTH 512

/* State of the grammar check that follows jsmn's tokenizing. */
struct checker {
	const char *text;
	size_t len;
	const jsmntok_t *toks;
	int count;
	size_t pos; /* text cursor */
	int next; /* next token index */
	size_t err_pos; /* where it went wrong */
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

static size_t
utf8_put(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode a string body into `out` (NULL: only validate). The decoded form
 * is never longer than the escaped one, so `len` bytes of `out` suffice.
 * \u0000 is refused because the result is used as a C string, and a lone
 * surrogate because it has no UTF-8 form. On error *bad_r is the offset of
 * the offending byte.
 */
static int
unescape_into(const char *s, size_t len, char *out, size_t *out_len_r, size_t *bad_r)
{
	size_t i = 0, o = 0;
	char tmp[4];

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		unsigned long cp;
		long hi, lo;
		size_t n;

		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			if (out != NULL)
				out[o] = (char)c;
			o++;
			i++;
			continue;
		}
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
			if (hi == 0)
				goto bad;
			if (hi >= 0xdc00 && hi <= 0xdfff)
				goto bad;
			if (hi >= 0xd800 && hi <= 0xdbff) {
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
			n = utf8_put(out != NULL ? out + o : tmp, cp);
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

static int check_value(struct checker *c, int depth);

/* Expect token c->next to begin at the cursor; returns it or NULL. */
static const jsmntok_t *
expect_token(struct checker *c)
{
	const jsmntok_t *t;
	size_t begin;

	skip_ws(c);
	if (c->next >= c->count) {
		c->err_pos = c->pos;
		return NULL;
	}
	t = &c->toks[c->next];
	begin = (size_t)t->start - (t->type == JSMN_STRING ? 1 : 0);
	if (begin != c->pos || t->end < t->start) {
		c->err_pos = c->pos;
		return NULL;
	}
	return t;
}

static int
check_string(struct checker *c, const jsmntok_t *t)
{
	size_t out_len, bad;

	if (unescape_into(c->text + t->start, (size_t)(t->end - t->start), NULL, &out_len, &bad) <
	    0) {
		c->err_pos = (size_t)t->start + bad;
		return -EINVAL;
	}
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
	if (depth >= JSON_MAX_DEPTH) {
		c->err_pos = c->pos;
		return -EINVAL;
	}
	c->pos++;
	for (int i = 0; i < n; i++) {
		skip_ws(c);
		if (i > 0) {
			if (c->pos >= c->len || c->text[c->pos] != ',') {
				c->err_pos = c->pos;
				return -EINVAL;
			}
			c->pos++;
		}
		if (object) {
			const jsmntok_t *k = expect_token(c);

			if (k == NULL || k->type != JSMN_STRING) {
				c->err_pos = c->pos;
				return -EINVAL;
			}
			/* A key is a string owning exactly its value. */
			if (k->size != 1 && c->size_bad == SIZE_MAX)
				c->size_bad = c->pos;
			c->next++;
			if (check_string(c, k) < 0)
				return -EINVAL;
			skip_ws(c);
			if (c->pos >= c->len || c->text[c->pos] != ':') {
				c->err_pos = c->pos;
				return -EINVAL;
			}
			c->pos++;
		}
		if (check_value(c, depth + 1) < 0)
			return -EINVAL;
	}
	skip_ws(c);
	if (c->pos >= c->len || c->text[c->pos] != close || c->pos + 1 != (size_t)t->end) {
		c->err_pos = c->pos;
		return -EINVAL;
	}
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
		if (!primitive_valid(c->text + t->start, (size_t)(t->end - t->start))) {
			c->err_pos = c->pos;
			return -EINVAL;
		}
		c->pos = (size_t)t->end;
		return 0;
	default:
		c->err_pos = c->pos;
		return -EINVAL;
	}
}

/*
 * Strict jsmn wants a delimiter after every primitive, so a bare top-level
 * "42" reads as incomplete. Such documents are one token; build it here.
 */
static int
parse_bare_primitive(const char *text, size_t len, size_t start, jsmntok_t **toks_r, size_t *err_r)
{
	size_t end = start, rest;
	jsmntok_t *t;

	while (end < len && !is_ws(text[end]))
		end++;
	for (rest = end; rest < len && is_ws(text[rest]); rest++)
		;
	if (!primitive_valid(text + start, end - start)) {
		*err_r = start;
		return -EINVAL;
	}
	if (rest != len) {
		*err_r = rest;
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
 * in one linear pass first. 0, or -EINVAL with *err_r at the bracket.
 */
static int
check_depth(const char *text, size_t len, size_t *err_r)
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
			if (++depth > JSON_MAX_DEPTH) {
				*err_r = i;
				return -EINVAL;
			}
		} else if (ch == '}' || ch == ']') {
			depth--; /* an unmatched one is jsmn's to report */
		}
	}
	return 0;
}

/* Tokenize with jsmn; returns the token count or -errno. */
static int
tokenize(const char *text, size_t len, jsmntok_t **toks_r, size_t *err_r)
{
	jsmn_parser parser;
	jsmntok_t *toks = NULL;
	unsigned int cap;
	int r;

	if (check_depth(text, len, err_r) < 0)
		return -EINVAL;
	jsmn_init(&parser);
	r = jsmn_parse(&parser, text, len, NULL, 0);
	if (r <= 0) {
		*err_r = r == 0 ? len : parser.pos;
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
		*err_r = r == 0 ? len : parser.pos;
		return -EINVAL;
	}
	*toks_r = toks;
	return r;
}

int
json_parse(const char *text, size_t len, struct json_doc *doc, size_t *err_offset_r)
{
	jsmntok_t *jtoks = NULL;
	struct json_tok *toks = NULL;
	struct checker c;
	size_t err = 0, first = 0;
	int count, ret;

	if (text == NULL || len > JSON_MAX_LEN) {
		ret = -EINVAL;
		goto out;
	}
	while (first < len && is_ws(text[first]))
		first++;
	if (first == len) {
		err = len;
		ret = -EINVAL;
		goto out;
	}
	if (text[first] == '{' || text[first] == '[' || text[first] == '"')
		count = tokenize(text, len, &jtoks, &err);
	else
		count = parse_bare_primitive(text, len, first, &jtoks, &err);
	if (count < 0) {
		ret = count;
		goto out;
	}
	c = (struct checker){
		.text = text, .len = len, .toks = jtoks, .count = count, .size_bad = SIZE_MAX
	};
	if (check_value(&c, 0) < 0) {
		err = c.err_pos;
		ret = -EINVAL;
		goto out;
	}
	skip_ws(&c);
	if (c.pos != len || c.next != count) {
		err = c.pos;
		ret = -EINVAL;
		goto out;
	}
	if (c.size_bad != SIZE_MAX) {
		err = c.size_bad;
		ret = -EINVAL;
		goto out;
	}
	toks = calloc((size_t)count, sizeof(*toks));
	if (toks == NULL) {
		ret = -ENOMEM;
		goto out;
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
	doc->text = text;
	doc->len = len;
	doc->toks = toks;
	doc->count = count;
	toks = NULL;
	ret = 0;
out:
	if (ret == -EINVAL && err_offset_r != NULL)
		*err_offset_r = err > len ? len : err;
	free(jtoks);
	free(toks);
	return ret;
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
json_unescape(const char *s, size_t len, char **out_r)
{
	size_t out_len, bad;
	char *out;

	if (unescape_into(s, len, NULL, &out_len, &bad) < 0)
		return -EINVAL;
	out = malloc(out_len + 1);
	if (out == NULL)
		return -ENOMEM;
	(void)unescape_into(s, len, out, &out_len, &bad);
	out[out_len] = '\0';
	*out_r = out;
	return 0;
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
	struct json_doc doc;

	if (json_parse(text, len, &doc, NULL) < 0)
		return false;
	json_doc_free(&doc);
	return true;
}

/* Make room for `more` bytes plus a NUL after *len. */
static int
reserve(char **out, size_t *len, size_t *cap, size_t more)
{
	size_t need, ncap;
	char *p;

	if (more > SIZE_MAX - *len - 1)
		return -ENOMEM;
	need = *len + more + 1;
	if (need <= *cap && *out != NULL)
		return 0;
	ncap = *cap > 0 ? *cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	p = realloc(*out, ncap);
	if (p == NULL)
		return -ENOMEM;
	*out = p;
	*cap = ncap;
	return 0;
}

int
json_append_string(char **out, size_t *len, size_t *cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t need = 2, o;

	/* Size it once, then write: worst case is \u00XX per byte. */
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
		    c == '\t')
			need += 2;
		else if (c < 0x20)
			need += 6;
		else
			need += 1;
	}
	if (reserve(out, len, cap, need) < 0)
		return -ENOMEM;
	o = *len;
	(*out)[o++] = '"';
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		char e = 0;

		switch (c) {
		case '"':
			e = '"';
			break;
		case '\\':
			e = '\\';
			break;
		case '\b':
			e = 'b';
			break;
		case '\f':
			e = 'f';
			break;
		case '\n':
			e = 'n';
			break;
		case '\r':
			e = 'r';
			break;
		case '\t':
			e = 't';
			break;
		default:
			break;
		}
		if (e != 0) {
			(*out)[o++] = '\\';
			(*out)[o++] = e;
		} else if (c < 0x20) {
			memcpy(*out + o, "\\u00", 4);
			(*out)[o + 4] = hex[c >> 4];
			(*out)[o + 5] = hex[c & 0xf];
			o += 6;
		} else {
			(*out)[o++] = (char)c;
		}
	}
	(*out)[o++] = '"';
	(*out)[o] = '\0';
	*len = o;
	return 0;
}
