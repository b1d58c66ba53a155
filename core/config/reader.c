/* SPDX-License-Identifier: MIT */
/*
 * The generic, table-driven key reader: each object is read against a
 * table of key specs; every problem is collected as one line
 * "file:line:column: key: what is wrong". Also durations and sizes.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/xalloc.h"

/* ---- messages ---------------------------------------------------------- */

static void TJ_PRINTF(2, 0) vappend(struct loader *l, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return;
	if (l->errs_len + (size_t)n + 1 > l->errs_cap) {
		size_t cap = l->errs_cap ? l->errs_cap : 256;

		while (cap < l->errs_len + (size_t)n + 1)
			cap *= 2;
		l->errs = xrealloc(l->errs, cap, 1);
		l->errs_cap = cap;
	}
	vsnprintf(l->errs + l->errs_len, l->errs_cap - l->errs_len, fmt, ap);
	l->errs_len += (size_t)n;
}

static void TJ_PRINTF(2, 3) append(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(l, fmt, ap);
	va_end(ap);
}

/* Count one problem; false once there are too many to print. */
static bool
count_error(struct loader *l)
{
	l->nerrs++;
	if (l->nerrs == MAX_ERRORS + 1)
		append(l, "%s: too many errors, not showing more\n", l->name);
	return l->nerrs <= MAX_ERRORS;
}

/* "file:line:column: key: what is wrong" for the value at byte `off`. */
void
cfg_error_at(struct loader *l, size_t off, const char *path, const char *fmt, ...)
{
	va_list ap;
	int line, col;

	if (!count_error(l))
		return;
	json_position(&l->doc, off, &line, &col);
	append(l, "%s:%d:%d: %s: ", l->name, line, col, *path != '\0' ? path : "(root)");
	va_start(ap, fmt);
	vappend(l, fmt, ap);
	va_end(ap);
	append(l, "\n");
}

/* "file: NAME: what is wrong" for problems without a place in the file. */
void
cfg_error_plain(struct loader *l, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (!count_error(l))
		return;
	append(l, "%s: %s: ", l->name, what);
	va_start(ap, fmt);
	vappend(l, fmt, ap);
	va_end(ap);
	append(l, "\n");
}

/* Where a value starts as a reader sees it (a string at its quote). */
size_t
cfg_tok_off(const struct json_tok *t)
{
	return (size_t)t->start - (t->type == JSON_STRING ? 1 : 0);
}

/* A user value fit for a one-line message: short, no control bytes. */
const char *
cfg_show(char *buf, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 4 < size; i++)
		buf[i] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
	if (s[i] != '\0' && i >= 3) {
		memcpy(buf + i - 3, "...", 3);
	}
	buf[i] = '\0';
	return buf;
}

const char *
cfg_kind_name(const struct loader *l, const struct json_tok *t)
{
	bool b;

	switch (t->type) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	default:
		break;
	}
	if (json_is_null(&l->doc, t))
		return "null";
	if (json_get_bool(&l->doc, t, &b) == 0)
		return "a boolean";
	return "a number";
}

/* parent + sep + part, cut at PATH_LEN (paths only label messages). */
static void
path_join(char *buf, const char *parent, const char *sep, const char *part, size_t part_len)
{
	size_t n = strnlen(parent, PATH_LEN - 1), room;

	memmove(buf, parent, n);
	for (; *sep != '\0' && n < PATH_LEN - 1; sep++)
		buf[n++] = *sep;
	room = PATH_LEN - 1 - n;
	if (part_len > room)
		part_len = room;
	memcpy(buf + n, part, part_len);
	buf[n + part_len] = '\0';
}

void
cfg_key_path(char *buf, const char *parent, const char *key, size_t key_len)
{
	path_join(buf, parent, *parent != '\0' ? "." : "", key, key_len);
}

void
cfg_index_path(char *buf, const char *parent, int i)
{
	char idx[24];
	int n = snprintf(idx, sizeof(idx), "[%d]", i);

	path_join(buf, parent, "", idx, (size_t)n);
}

/* prefix + s in a new string. */
char *
cfg_prefixed(const char *prefix, const char *s)
{
	size_t n = strlen(prefix) + strlen(s) + 1;
	char *p = xmalloc(n);

	snprintf(p, n, "%s%s", prefix, s);
	return p;
}

/* Render a duration the way the file would spell it. */
const char *
cfg_fmt_duration(char *buf, size_t size, int64_t ms)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
	size_t off = 0;

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return buf;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		int64_t n = ms / units[i].ms;

		if (n == 0)
			continue;
		ms -= n * units[i].ms;
		off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%lld%s",
		                        (long long)n, units[i].unit);
		if (off >= size)
			break;
	}
	return buf;
}

/* ---- durations and sizes ------------------------------------------------ */

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits at text[*i..]; false on none. Past INT64_MAX, the value stays
 * at INT64_MAX and *overflow is set. */
static bool
read_digits(const char *text, size_t len, size_t *i, int64_t *value_r, bool *overflow)
{
	int64_t v = 0;
	size_t start = *i;

	while (*i < len && is_digit(text[*i])) {
		int d = text[*i] - '0';

		if (v > (INT64_MAX - d) / 10) {
			*overflow = true;
			v = INT64_MAX;
		} else {
			v = v * 10 + d;
		}
		(*i)++;
	}
	if (*i == start)
		return false;
	*value_r = v;
	return true;
}

/* a * b + c for non-negative operands, or false past INT64_MAX. */
static bool
mul_add(int64_t a, int64_t b, int64_t c, int64_t *r)
{
	if (a > (INT64_MAX - c) / b)
		return false;
	*r = a * b + c;
	return true;
}

int
cfg_parse_duration(const char *text, size_t len, int64_t *ms_r)
{
	/* Largest unit first, each at most once: "1h30m", not "30m1h". */
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "h", 3600000 }, { "ms", 1 }, { "m", 60000 }, { "s", 1000 } };
	static const int rank[] = { 0, 3, 1, 2 };
	int64_t total = 0;
	bool overflow = false;
	int last = -1;
	size_t i = 0;

	if (len == 1 && text[0] == '0') {
		*ms_r = 0;
		return 0;
	}
	if (len == 0)
		return -EINVAL;
	while (i < len) {
		int64_t n;
		size_t u;

		if (!read_digits(text, len, &i, &n, &overflow))
			return -EINVAL;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
			size_t ul = strlen(units[u].unit);

			if (len - i >= ul && memcmp(text + i, units[u].unit, ul) == 0 &&
			    /* "m" must not swallow the start of "ms" */
			    !(ul == 1 && units[u].unit[0] == 'm' && len - i >= 2 &&
			      text[i + 1] == 's'))
				break;
		}
		if (u == sizeof(units) / sizeof(units[0]) || rank[u] <= last)
			return -EINVAL;
		last = rank[u];
		i += strlen(units[u].unit);
		if (!overflow && !mul_add(n, units[u].ms, total, &total))
			overflow = true;
	}
	/* Well-formed but too long: the caller can say so, not "bad syntax". */
	if (overflow)
		return -ERANGE;
	*ms_r = total;
	return 0;
}

int
cfg_parse_size(const char *text, size_t len, int64_t *bytes_r)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {
		{ "", 1 },
		{ "KiB", (int64_t)1 << 10 },
		{ "MiB", (int64_t)1 << 20 },
		{ "GiB", (int64_t)1 << 30 },
		{ "KB", 1000 },
		{ "MB", 1000000 },
		{ "GB", 1000000000 },
	};
	bool overflow = false;
	size_t i = 0;
	int64_t n;

	if (!read_digits(text, len, &i, &n, &overflow))
		return -EINVAL;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (len - i != strlen(units[u].unit) ||
		    memcmp(text + i, units[u].unit, len - i) != 0)
			continue;
		if (overflow || !mul_add(n, units[u].mult, 0, &n))
			return -ERANGE;
		*bytes_r = n;
		return 0;
	}
	return -EINVAL;
}

/* ---- NUL characters ------------------------------------------------------ */

/*
 * "\u0000" is valid JSON, but no setting can hold a NUL byte (C strings
 * end there). Whether the JSON module refuses the escape or decodes it,
 * the document is parsed from a copy in which each one reads "\u0020"
 * (as long, so every position stays), and a string that had one is
 * reported as such, at its key.
 */
int
cfg_parse_text(struct loader *l, const char *text, size_t len, struct json_error *err_r)
{
	bool in_string = false;
	size_t cap = 0;

	l->text = text;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '"') {
			in_string = !in_string;
		} else if (in_string && text[i] == '\\') {
			if (len - i >= 6 && memcmp(text + i + 1, "u0000", 5) == 0) {
				if (l->nul_count == cap) {
					cap = cap > 0 ? 2 * cap : 8;
					l->nuls = xrealloc(l->nuls, cap, sizeof(*l->nuls));
				}
				l->nuls[l->nul_count++] = i;
			}
			i++; /* the escaped character: \" does not end the string */
		}
	}
	if (l->nul_count > 0) {
		l->nul_free_text = xmalloc(len);
		memcpy(l->nul_free_text, text, len);
		for (size_t k = 0; k < l->nul_count; k++)
			memcpy(l->nul_free_text + l->nuls[k], "\\u0020", 6);
	}
	return json_parse_with(l->nul_count > 0 ? l->nul_free_text : text, len, NULL, &l->doc,
	                       err_r);
}

/* Does string token t hold a "\u0000"? Reports it if so. */
static bool
refuse_nul(struct loader *l, const struct json_tok *t, const char *path)
{
	size_t lo = 0, hi = l->nul_count;

	if (t->type != JSON_STRING)
		return false;
	while (lo < hi) { /* the first escape at or after the string's start */
		size_t mid = lo + (hi - lo) / 2;

		if (l->nuls[mid] < (size_t)t->start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == l->nul_count || l->nuls[lo] >= (size_t)t->end)
		return false;
	cfg_error_at(l, cfg_tok_off(t), path, "contains a NUL character");
	return true;
}

/* ---- typed values --------------------------------------------------------- */

bool
cfg_expect_type(struct loader *l, const struct json_tok *v, enum json_type type, const char *path,
                const char *what)
{
	if (v->type == type)
		return true;
	cfg_error_at(l, cfg_tok_off(v), path, "expected %s, got %s", what, cfg_kind_name(l, v));
	return false;
}

/* A string value, unescaped and checked; NULL after reporting. */
char *
cfg_read_string(struct loader *l, const struct json_tok *v, const char *path,
                const char *(*check)(const char *))
{
	char shown[80];
	const char *why;
	char *s = NULL;

	if (!cfg_expect_type(l, v, JSON_STRING, path, "a string") || refuse_nul(l, v, path))
		return NULL;
	if (json_get_string(&l->doc, v, &s) < 0) {
		cfg_error_at(l, cfg_tok_off(v), path, "cannot decode the string");
		return NULL;
	}
	if (*s == '\0') {
		cfg_error_at(l, cfg_tok_off(v), path, "must not be empty");
		free(s);
		return NULL;
	}
	if (check != NULL && (why = check(s)) != NULL) {
		cfg_error_at(l, cfg_tok_off(v), path, "\"%s\" %s",
		             cfg_show(shown, sizeof(shown), s), why);
		free(s);
		return NULL;
	}
	return s;
}

static void
store_string(char **field, char *s)
{
	if (s == NULL)
		return;
	free(*field);
	*field = s;
}

/* The value as written, at most 40 bytes of it, for messages. */
#define RAW_FMT "%.*s"
#define RAW(l, v) \
	((v)->end - (v)->start > 40 ? 40 : (v)->end - (v)->start), (l)->doc.text + (v)->start

/* "must be between MIN and MAX, got <the value as written>". */
static void
range_error_i64(struct loader *l, const struct json_tok *v, const char *path,
                const struct key_spec *s)
{
	if (s->max == INT64_MAX)
		cfg_error_at(l, cfg_tok_off(v), path, "must be at least %lld, got " RAW_FMT,
		             (long long)s->min, RAW(l, v));
	else
		cfg_error_at(l, cfg_tok_off(v), path, "must be between %lld and %lld, got " RAW_FMT,
		             (long long)s->min, (long long)s->max, RAW(l, v));
}

/* Is the number written with a fraction or an exponent? Only its own
 * `n` bytes count: the text goes on (or ends) right after them. */
static bool
has_fraction(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == 'e' || s[i] == 'E')
			return true;
	return false;
}

/* An integer in [s->min, s->max]; false after reporting. */
static bool
read_integer(struct loader *l, const struct json_tok *v, const char *path, const struct key_spec *s,
             int64_t *value_r)
{
	size_t n_len = (size_t)(v->end - v->start);
	const char *text = l->doc.text + v->start;
	double d;
	int64_t n;

	if (json_get_i64(&l->doc, v, &n) < 0) {
		if (v->type != JSON_PRIMITIVE || json_get_double(&l->doc, v, &d) < 0)
			cfg_error_at(l, cfg_tok_off(v), path, "expected an integer, got %s",
			             cfg_kind_name(l, v));
		else if (has_fraction(text, n_len))
			cfg_error_at(l, cfg_tok_off(v), path, "expected an integer, got " RAW_FMT,
			             RAW(l, v));
		else
			range_error_i64(l, v, path, s);
		return false;
	}
	if (n < s->min || n > s->max) {
		range_error_i64(l, v, path, s);
		return false;
	}
	if (s->no_zero && n == 0) {
		cfg_error_at(l, cfg_tok_off(v), path, "must be -1 (unlimited) or positive, got 0");
		return false;
	}
	*value_r = n;
	return true;
}

static bool
read_duration(struct loader *l, const struct json_tok *v, const char *path,
              const struct key_spec *s, int64_t *value_r)
{
	char a[48], b[48];
	int64_t ms;
	int rc;

	if (v->type != JSON_STRING) {
		cfg_error_at(l, cfg_tok_off(v), path,
		             "expected a duration string such as \"30s\", got %s",
		             cfg_kind_name(l, v));
		return false;
	}
	rc = cfg_parse_duration(l->doc.text + v->start, (size_t)(v->end - v->start), &ms);
	if (rc == -EINVAL) {
		cfg_error_at(l, cfg_tok_off(v), path,
		             "\"" RAW_FMT "\" is not a duration (use ms, s, m, h as in \"1h30m\")",
		             RAW(l, v));
		return false;
	}
	if (rc == -ERANGE)
		ms = INT64_MAX; /* longer than any limit: reported below */
	if (ms > s->max && s->max == CFG_DURATION_MAX_MS) {
		cfg_error_at(l, cfg_tok_off(v), path,
		             "\"" RAW_FMT "\" is longer than the server can hold (at most %s, "
		             "2^63-1 nanoseconds)",
		             RAW(l, v), cfg_fmt_duration(a, sizeof(a), s->max));
		return false;
	}
	if (ms < s->min || ms > s->max) {
		if (s->max == CFG_DURATION_MAX_MS)
			cfg_error_at(l, cfg_tok_off(v), path, "must be at least %s",
			             cfg_fmt_duration(a, sizeof(a), s->min));
		else
			cfg_error_at(l, cfg_tok_off(v), path, "must be between %s and %s",
			             cfg_fmt_duration(a, sizeof(a), s->min),
			             cfg_fmt_duration(b, sizeof(b), s->max));
		return false;
	}
	*value_r = ms;
	return true;
}

static bool
read_size(struct loader *l, const struct json_tok *v, const char *path, const struct key_spec *s,
          int64_t *value_r)
{
	int64_t n;
	int rc;

	if (v->type == JSON_PRIMITIVE)
		return read_integer(l, v, path, s, value_r);
	if (v->type != JSON_STRING) {
		cfg_error_at(l, cfg_tok_off(v), path,
		             "expected a size such as 1048576 or \"1MiB\", got %s",
		             cfg_kind_name(l, v));
		return false;
	}
	rc = cfg_parse_size(l->doc.text + v->start, (size_t)(v->end - v->start), &n);
	if (rc == -EINVAL) {
		cfg_error_at(l, cfg_tok_off(v), path,
		             "\"" RAW_FMT "\" is not a size (bytes, or KiB/MiB/GiB, KB/MB/GB)",
		             RAW(l, v));
		return false;
	}
	if (rc == -ERANGE || n < s->min || n > s->max) {
		range_error_i64(l, v, path, s);
		return false;
	}
	if (s->no_zero && n == 0) {
		cfg_error_at(l, cfg_tok_off(v), path, "must be -1 (unlimited) or positive, got 0");
		return false;
	}
	*value_r = n;
	return true;
}

static void
read_enum(struct loader *l, const struct json_tok *v, const char *path, const struct key_spec *s,
          int *field)
{
	char list[256];
	size_t off = 0;

	if (!cfg_expect_type(l, v, JSON_STRING, path, "a string"))
		return;
	for (const struct enum_name *e = s->names; e->name != NULL; e++)
		if (json_tok_eq(&l->doc, v, e->name)) {
			*field = e->value;
			return;
		}
	list[0] = '\0';
	for (const struct enum_name *e = s->names; e->name != NULL; e++) {
		int n = snprintf(list + off, sizeof(list) - off, "%s\"%s\"",
		                 off > 0 ? (e[1].name == NULL ? " or " : ", ") : "", e->name);

		if (n < 0 || (size_t)n >= sizeof(list) - off)
			break;
		off += (size_t)n;
	}
	cfg_error_at(l, cfg_tok_off(v), path, "must be %s, got \"" RAW_FMT "\"", list, RAW(l, v));
}

static void
read_value(struct loader *l, const struct key_spec *s, const struct json_tok *v, const char *path,
           void *target)
{
	void *field = (char *)target + s->offset;
	int64_t n;
	double d;

	if (refuse_nul(l, v, path))
		return;
	switch (s->kind) {
	case KEY_STRING:
	case KEY_PATH:
		store_string(field, cfg_read_string(l, v, path, s->check));
		break;
	case KEY_DURATION:
		if (read_duration(l, v, path, s, &n))
			*(int64_t *)field = n;
		break;
	case KEY_SIZE:
		if (read_size(l, v, path, s, &n))
			*(int64_t *)field = n;
		break;
	case KEY_INT:
		if (read_integer(l, v, path, s, &n))
			*(int *)field = (int)n;
		break;
	case KEY_I64:
		if (read_integer(l, v, path, s, &n))
			*(int64_t *)field = n;
		break;
	case KEY_SIZE_T:
		if (read_integer(l, v, path, s, &n))
			*(size_t *)field = (size_t)n;
		break;
	case KEY_DOUBLE:
		if (v->type != JSON_PRIMITIVE || json_get_double(&l->doc, v, &d) < 0) {
			cfg_error_at(l, cfg_tok_off(v), path, "expected a number, got %s",
			             cfg_kind_name(l, v));
		} else if (d < s->dmin || d > s->dmax) {
			cfg_error_at(l, cfg_tok_off(v), path, "must be between %g and %g, got %g",
			             s->dmin, s->dmax, d);
		} else {
			*(double *)field = d;
		}
		break;
	case KEY_ENUM:
		read_enum(l, v, path, s, field);
		break;
	case KEY_CUSTOM:
		s->custom(l, v, path, target);
		break;
	}
}

static bool
is_comment_key(const struct loader *l, const struct json_tok *k)
{
	return k->end - k->start >= 2 && l->doc.text[k->start] == '/' &&
	       l->doc.text[k->start + 1] == '/';
}

static bool
same_key(const struct loader *l, const struct json_tok *a, const struct json_tok *b)
{
	return a->end - a->start == b->end - b->start &&
	       memcmp(l->text + a->start, l->text + b->start, (size_t)(a->end - a->start)) == 0;
}

bool
cfg_read_object(struct loader *l, const struct json_tok *obj, const char *path,
                const struct key_spec *specs, size_t nspecs, void *target,
                const struct json_tok **found)
{
	const struct json_tok *k, *k2;
	char sub[PATH_LEN];
	int i, j;

	for (size_t s = 0; s < nspecs; s++)
		found[s] = NULL;
	if (!cfg_expect_type(l, obj, JSON_OBJECT, path, "an object"))
		return false;
	json_for_each_member(i, k, obj)
	{
		const char *key = l->text + k->start;
		size_t key_len = (size_t)(k->end - k->start);
		bool dup = false;
		size_t s;

		if (is_comment_key(l, k))
			continue;
		cfg_key_path(sub, path, key, key_len);
		json_for_each_member(j, k2, obj)
		{
			if (k2 == k)
				break;
			if (same_key(l, k, k2)) {
				dup = true;
				break;
			}
		}
		if (dup) {
			cfg_error_at(l, cfg_tok_off(k), sub, "duplicate key");
			continue;
		}
		if (refuse_nul(l, k, sub))
			continue;
		for (s = 0; s < nspecs; s++)
			if (json_tok_eq(&l->doc, k, specs[s].name))
				break;
		if (s == nspecs) {
			cfg_error_at(l, cfg_tok_off(k), sub, "unknown key");
			continue;
		}
		found[s] = k + 1;
		read_value(l, &specs[s], k + 1, sub, target);
	}
	for (size_t s = 0; s < nspecs; s++) {
		if (specs[s].required && found[s] == NULL) {
			cfg_key_path(sub, path, specs[s].name, strlen(specs[s].name));
			cfg_error_at(l, cfg_tok_off(obj), sub, "missing required key");
		}
	}
	return true;
}
