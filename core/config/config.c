/* SPDX-License-Identifier: MIT */
/* Load the JSON configuration, validate all of it, report every problem. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <taskjet/plugin.h>

#include "config/config.h"
#include "json.h"
#include "util/subject.h"
#include "util/xalloc.h"

#ifndef PLUGINDIR
#error "PLUGINDIR must be defined on the command line"
#endif

/* Past this many, more lines would only bury the first ones. */
#define MAX_ERRORS 100
#define PATH_LEN 256
#define NAME_MAX_LEN 255
/* Same cap as json_parse(); checked before reading the file. */
#define MAX_FILE_SIZE ((off_t)64 << 20)

/* Where a stream's or route's values sit, for the cross checks. */
struct stream_pos {
	size_t obj, name;
	size_t *subjects;
	bool subjects_ok; /* all listed subjects were read */
};

struct route_pos {
	size_t obj, name, stream, subject, consumer;
	bool has_consumer;
};

struct loader {
	const char *name; /* file name used in messages */
	struct json_doc doc;
	char *errs;
	size_t errs_len, errs_cap;
	int nerrs;
	struct cfg *cfg;
	struct stream_pos *spos;
	struct route_pos *rpos;
	bool streams_ok;
	/* dlq value positions; SIZE_MAX when absent (default used) */
	size_t dlq_stream, dlq_prefix, dlq_adv;
};

enum key_kind {
	KEY_STRING,
	KEY_PATH, /* a string naming a file or directory */
	KEY_DURATION,
	KEY_SIZE,
	KEY_INT,
	KEY_I64,
	KEY_SIZE_T,
	KEY_DOUBLE,
	KEY_ENUM,
	KEY_CUSTOM
};

struct enum_name {
	const char *name;
	int value;
};

struct key_spec;
typedef void custom_fn(struct loader *l, const struct json_tok *v, const char *path, void *target);

/* One allowed key of an object: how to read it and where to store it. */
struct key_spec {
	const char *name;
	enum key_kind kind;
	size_t offset; /* of the field in the target struct */
	bool required;
	int64_t min, max; /* integers, durations, sizes */
	double dmin, dmax; /* KEY_DOUBLE */
	bool no_zero; /* -1 or positive: 0 is ambiguous */
	const struct enum_name *names; /* KEY_ENUM, NULL-terminated */
	const char *(*check)(const char *s); /* KEY_STRING: NULL if fine */
	custom_fn *custom; /* KEY_CUSTOM */
};

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
static void TJ_PRINTF(4, 5)
    error_at(struct loader *l, size_t off, const char *path, const char *fmt, ...)
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
static void TJ_PRINTF(3, 4) error_plain(struct loader *l, const char *what, const char *fmt, ...)
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
static size_t
tok_off(const struct json_tok *t)
{
	return (size_t)t->start - (t->type == JSON_STRING ? 1 : 0);
}

/* A user value fit for a one-line message: short, no control bytes. */
static const char *
show(char *buf, size_t size, const char *s)
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

static const char *
kind_name(const struct loader *l, const struct json_tok *t)
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

static void
key_path(char *buf, const char *parent, const char *key, size_t key_len)
{
	path_join(buf, parent, *parent != '\0' ? "." : "", key, key_len);
}

static void
index_path(char *buf, const char *parent, int i)
{
	char idx[24];
	int n = snprintf(idx, sizeof(idx), "[%d]", i);

	path_join(buf, parent, "", idx, (size_t)n);
}

/* prefix + s in a new string. */
static char *
prefixed(const char *prefix, const char *s)
{
	size_t n = strlen(prefix) + strlen(s) + 1;
	char *p = xmalloc(n);

	snprintf(p, n, "%s%s", prefix, s);
	return p;
}

/* Render a duration the way the file would spell it. */
static const char *
fmt_duration(char *buf, size_t size, int64_t ms)
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

/* Digits at text[*i..]; false on none or overflow. */
static bool
read_digits(const char *text, size_t len, size_t *i, int64_t *value_r)
{
	int64_t v = 0;
	size_t start = *i;

	while (*i < len && is_digit(text[*i])) {
		int d = text[*i] - '0';

		if (v > (INT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return false;
	*value_r = v;
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

		if (!read_digits(text, len, &i, &n))
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
		if (n > INT64_MAX / units[u].ms)
			return -EINVAL;
		n *= units[u].ms;
		if (total > INT64_MAX - n)
			return -EINVAL;
		total += n;
	}
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
	size_t i = 0;
	int64_t n;

	if (!read_digits(text, len, &i, &n))
		return -EINVAL;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (len - i != strlen(units[u].unit) ||
		    memcmp(text + i, units[u].unit, len - i) != 0)
			continue;
		if (n > INT64_MAX / units[u].mult)
			return -EINVAL;
		*bytes_r = n * units[u].mult;
		return 0;
	}
	return -EINVAL;
}

/* ---- string checks ------------------------------------------------------ */

/* Stream, consumer and route names end up in JetStream API subjects and
 * in file names on the server, hence the narrow alphabet. */
static const char *
check_name(const char *s)
{
	if (strlen(s) > NAME_MAX_LEN)
		return "is longer than 255 bytes";
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr(".*>/\\", *p))
			return "must not contain whitespace, '.', '*', '>', '/' or '\\'";
	return NULL;
}

static const char *
check_stem(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if (!(is_digit(*p) || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      *p == '_' || *p == '-'))
			return "must contain only letters, digits, '_' and '-'";
	return NULL;
}

static const char *
check_subject(const char *s)
{
	return subject_valid(s, true) ? NULL : "is not a valid NATS subject";
}

static const char *
check_literal_subject(const char *s)
{
	return subject_valid(s, false) ? NULL : "must be a NATS subject without wildcards";
}

static const char *
check_printable(const char *s)
{
	if (strlen(s) > NAME_MAX_LEN)
		return "is longer than 255 bytes";
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "must not contain whitespace or control characters";
	return NULL;
}

/* ---- typed values --------------------------------------------------------- */

static bool
expect_type(struct loader *l, const struct json_tok *v, enum json_type type, const char *path,
            const char *what)
{
	if (v->type == type)
		return true;
	error_at(l, tok_off(v), path, "expected %s, got %s", what, kind_name(l, v));
	return false;
}

/* Why json_get_string() failed on a string token. */
static const char *
string_error(int rc)
{
	return rc == -EILSEQ ? "contains a NUL character" : "cannot decode the string";
}

/* A string value, unescaped and checked; NULL after reporting. */
static char *
read_string(struct loader *l, const struct json_tok *v, const char *path,
            const char *(*check)(const char *))
{
	char shown[80];
	const char *why;
	char *s = NULL;
	int rc;

	if (!expect_type(l, v, JSON_STRING, path, "a string"))
		return NULL;
	if ((rc = json_get_string(&l->doc, v, &s)) < 0) {
		error_at(l, tok_off(v), path, "%s", string_error(rc));
		return NULL;
	}
	if (*s == '\0') {
		error_at(l, tok_off(v), path, "must not be empty");
		free(s);
		return NULL;
	}
	if (check != NULL && (why = check(s)) != NULL) {
		error_at(l, tok_off(v), path, "\"%s\" %s", show(shown, sizeof(shown), s), why);
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

static void
range_error_i64(struct loader *l, const struct json_tok *v, const char *path,
                const struct key_spec *s, int64_t got)
{
	if (s->max == INT64_MAX)
		error_at(l, tok_off(v), path, "must be at least %lld, got %lld", (long long)s->min,
		         (long long)got);
	else
		error_at(l, tok_off(v), path, "must be between %lld and %lld, got %lld",
		         (long long)s->min, (long long)s->max, (long long)got);
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
			error_at(l, tok_off(v), path, "expected an integer, got %s",
			         kind_name(l, v));
		else if (strcspn(text, ".eE") < n_len)
			error_at(l, tok_off(v), path, "expected an integer, got %.*s",
			         (int)(n_len > 40 ? 40 : n_len), text);
		else
			error_at(l, tok_off(v), path, "integer out of range");
		return false;
	}
	if (n < s->min || n > s->max) {
		range_error_i64(l, v, path, s, n);
		return false;
	}
	if (s->no_zero && n == 0) {
		error_at(l, tok_off(v), path, "must be -1 (unlimited) or positive, got 0");
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

	if (v->type != JSON_STRING) {
		error_at(l, tok_off(v), path, "expected a duration string such as \"30s\", got %s",
		         kind_name(l, v));
		return false;
	}
	if (cfg_parse_duration(l->doc.text + v->start, (size_t)(v->end - v->start), &ms) < 0) {
		error_at(l, tok_off(v), path,
		         "\"%.*s\" is not a duration (use ms, s, m, h as in \"1h30m\")",
		         v->end - v->start > 40 ? 40 : v->end - v->start, l->doc.text + v->start);
		return false;
	}
	if (ms < s->min || ms > s->max) {
		if (s->max == INT64_MAX)
			error_at(l, tok_off(v), path, "must be at least %s",
			         fmt_duration(a, sizeof(a), s->min));
		else
			error_at(l, tok_off(v), path, "must be between %s and %s",
			         fmt_duration(a, sizeof(a), s->min),
			         fmt_duration(b, sizeof(b), s->max));
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

	if (v->type == JSON_PRIMITIVE)
		return read_integer(l, v, path, s, value_r);
	if (v->type != JSON_STRING) {
		error_at(l, tok_off(v), path, "expected a size such as 1048576 or \"1MiB\", got %s",
		         kind_name(l, v));
		return false;
	}
	if (cfg_parse_size(l->doc.text + v->start, (size_t)(v->end - v->start), &n) < 0) {
		error_at(l, tok_off(v), path,
		         "\"%.*s\" is not a size (bytes, or KiB/MiB/GiB, KB/MB/GB)",
		         v->end - v->start > 40 ? 40 : v->end - v->start, l->doc.text + v->start);
		return false;
	}
	if (n < s->min || n > s->max) {
		range_error_i64(l, v, path, s, n);
		return false;
	}
	if (s->no_zero && n == 0) {
		error_at(l, tok_off(v), path, "must be -1 (unlimited) or positive, got 0");
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

	if (!expect_type(l, v, JSON_STRING, path, "a string"))
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
	error_at(l, tok_off(v), path, "must be %s, got \"%.*s\"", list,
	         v->end - v->start > 40 ? 40 : v->end - v->start, l->doc.text + v->start);
}

static void
read_value(struct loader *l, const struct key_spec *s, const struct json_tok *v, const char *path,
           void *target)
{
	void *field = (char *)target + s->offset;
	int64_t n;
	double d;

	switch (s->kind) {
	case KEY_STRING:
	case KEY_PATH:
		store_string(field, read_string(l, v, path, s->check));
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
			error_at(l, tok_off(v), path, "expected a number, got %s", kind_name(l, v));
		} else if (d < s->dmin || d > s->dmax) {
			error_at(l, tok_off(v), path, "must be between %g and %g, got %g", s->dmin,
			         s->dmax, d);
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
	       memcmp(l->doc.text + a->start, l->doc.text + b->start,
	              (size_t)(a->end - a->start)) == 0;
}

/*
 * Read object `obj` against `specs` into `target`. found[i] receives the
 * value token of specs[i] (NULL if absent). Comment keys ("//...") are
 * skipped; unknown and duplicate keys are reported, as are missing
 * required keys (at the object). False if obj is not an object.
 */
static bool
read_object(struct loader *l, const struct json_tok *obj, const char *path,
            const struct key_spec *specs, size_t nspecs, void *target,
            const struct json_tok **found)
{
	const struct json_tok *k, *k2;
	char sub[PATH_LEN];
	int i, j;

	for (size_t s = 0; s < nspecs; s++)
		found[s] = NULL;
	if (!expect_type(l, obj, JSON_OBJECT, path, "an object"))
		return false;
	json_for_each_member(i, k, obj)
	{
		const char *key = l->doc.text + k->start;
		size_t key_len = (size_t)(k->end - k->start);
		bool dup = false;
		size_t s;

		if (is_comment_key(l, k))
			continue;
		key_path(sub, path, key, key_len);
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
			error_at(l, tok_off(k), sub, "duplicate key");
			continue;
		}
		for (s = 0; s < nspecs; s++)
			if (json_tok_eq(&l->doc, k, specs[s].name))
				break;
		if (s == nspecs) {
			error_at(l, tok_off(k), sub, "unknown key");
			continue;
		}
		found[s] = k + 1;
		read_value(l, &specs[s], k + 1, sub, target);
	}
	for (size_t s = 0; s < nspecs; s++) {
		if (specs[s].required && found[s] == NULL) {
			key_path(sub, path, specs[s].name, strlen(specs[s].name));
			error_at(l, tok_off(obj), sub, "missing required key");
		}
	}
	return true;
}

#define N_SPECS(a) (sizeof(a) / sizeof((a)[0]))
#define DUR(n, type, field, lo, hi)                                                              \
	{                                                                                        \
		.name = (n), .kind = KEY_DURATION, .offset = offsetof(type, field), .min = (lo), \
		.max = (hi)                                                                      \
	}
#define INT(n, kind_, type, field, lo, hi)                                                  \
	{                                                                                   \
		.name = (n), .kind = (kind_), .offset = offsetof(type, field), .min = (lo), \
		.max = (hi)                                                                 \
	}
#define STR(n, type, field, chk, req)                                                             \
	{                                                                                         \
		.name = (n), .kind = KEY_STRING, .offset = offsetof(type, field), .check = (chk), \
		.required = (req)                                                                 \
	}
#define ENUM(n, type, field, list)                                                              \
	{                                                                                       \
		.name = (n), .kind = KEY_ENUM, .offset = offsetof(type, field), .names = (list) \
	}
#define CUSTOM(n, fn, req)                                                         \
	{                                                                          \
		.name = (n), .kind = KEY_CUSTOM, .custom = (fn), .required = (req) \
	}

static const struct enum_name backend_names[] = {
	{ "jetstream", CFG_BACKEND_JETSTREAM },
	{ "nats", CFG_BACKEND_JETSTREAM },
	{ "memory", CFG_BACKEND_MEMORY },
	{ NULL, 0 },
};
static const struct enum_name storage_names[] = { { "file", CFG_STORAGE_FILE },
	                                          { "memory", CFG_STORAGE_MEMORY },
	                                          { NULL, 0 } };
static const struct enum_name retention_names[] = {
	{ "workqueue", CFG_RETENTION_WORKQUEUE },
	{ "limits", CFG_RETENTION_LIMITS },
	{ "interest", CFG_RETENTION_INTEREST },
	{ NULL, 0 },
};
static const struct enum_name discard_names[] = { { "old", CFG_DISCARD_OLD },
	                                          { "new", CFG_DISCARD_NEW },
	                                          { NULL, 0 } };
static const struct enum_name payload_names[] = { { "any", CFG_PAYLOAD_ANY },
	                                          { "json", CFG_PAYLOAD_JSON },
	                                          { NULL, 0 } };
static const struct enum_name format_names[] = { { "text", CFG_LOG_TEXT },
	                                         { "json", CFG_LOG_JSON },
	                                         { NULL, 0 } };
static const struct enum_name level_names[] = {
	{ "error", TJ_LOG_ERR }, { "warning", TJ_LOG_WARNING }, { "notice", TJ_LOG_NOTICE },
	{ "info", TJ_LOG_INFO }, { "debug", TJ_LOG_DEBUG },     { NULL, 0 },
};

#define HOUR ((int64_t)3600000)

/* ---- sections ------------------------------------------------------------ */

static void
read_nats(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		STR("url", struct cfg_nats, url, NULL, false),
		STR("name", struct cfg_nats, name, NULL, false),
		{ .name = "creds_file",
		  .kind = KEY_PATH,
		  .offset = offsetof(struct cfg_nats, creds_file) },
		DUR("connect_timeout", struct cfg_nats, connect_timeout_ms, 1, HOUR),
		DUR("reconnect_wait", struct cfg_nats, reconnect_wait_ms, 0, HOUR),
		DUR("reconnect_jitter", struct cfg_nats, reconnect_jitter_ms, 0, HOUR),
	};
	const struct json_tok *found[N_SPECS(specs)];

	read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->nats, found);
}

static void
read_memory(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		INT("capacity", KEY_SIZE_T, struct cfg_memory, capacity, 1, 10000000),
	};
	const struct json_tok *found[N_SPECS(specs)];

	read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->memory, found);
}

static void
read_log(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		ENUM("level", struct cfg_log, level, level_names),
		ENUM("format", struct cfg_log, format, format_names),
		{ .name = "file", .kind = KEY_PATH, .offset = offsetof(struct cfg_log, file) },
	};
	const struct json_tok *found[N_SPECS(specs)];

	read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->log, found);
}

int
cfg_parse_listen(const char *text, char *host, size_t host_len, int *port_r)
{
	const char *colon, *h = text, *h_end;
	unsigned char addr[16];
	char buf[64], *end;
	long port;

	if (text[0] == '[') {
		h = text + 1;
		h_end = strchr(h, ']');
		if (h_end == NULL || h_end[1] != ':')
			return -EINVAL;
		colon = h_end + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return -EINVAL;
		h_end = colon;
	}
	if ((size_t)(h_end - h) >= sizeof(buf) || h_end == h)
		return -EINVAL;
	memcpy(buf, h, (size_t)(h_end - h));
	buf[h_end - h] = '\0';
	if (strcmp(buf, "localhost") == 0)
		snprintf(buf, sizeof(buf), "127.0.0.1");
	if (inet_pton(text[0] == '[' ? AF_INET6 : AF_INET, buf, addr) != 1)
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 0 || port > 65535)
		return -EINVAL;
	if (strlen(buf) >= host_len)
		return -EINVAL;
	snprintf(host, host_len, "%s", buf);
	*port_r = (int)port;
	return 0;
}

/* http.listen: an address, or "" / "off" to disable the endpoint. */
static void
read_http_listen(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg_http *http = target;
	char host[64], shown[80];
	char *s = NULL;
	int port, rc;

	if (!expect_type(l, v, JSON_STRING, path, "a string"))
		return;
	if ((rc = json_get_string(&l->doc, v, &s)) < 0) {
		error_at(l, tok_off(v), path, "%s", string_error(rc));
		return;
	}
	free(http->listen);
	http->listen = NULL;
	http->listen_set = true;
	if (*s == '\0' || strcmp(s, "off") == 0) {
		free(s);
		return;
	}
	if (cfg_parse_listen(s, host, sizeof(host), &port) < 0) {
		error_at(l, tok_off(v), path,
		         "\"%s\" is not an address such as \"127.0.0.1:8222\", "
		         "\"[::1]:8222\" or \"0.0.0.0:8222\" (all interfaces), or \"off\"",
		         show(shown, sizeof(shown), s));
		free(s);
		return;
	}
	http->listen = s;
}

static void
read_http(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		{ .name = "listen", .kind = KEY_CUSTOM, .custom = read_http_listen },
		{ .name = "token_file",
		  .kind = KEY_PATH,
		  .offset = offsetof(struct cfg_http, token_file) },
		INT("max_body", KEY_SIZE, struct cfg_http, max_body, 1, (int64_t)1 << 30),
	};
	const struct json_tok *found[N_SPECS(specs)];

	read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->http, found);
}

static void
read_dlq(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		STR("stream", struct cfg_dlq, stream, check_name, false),
		STR("subject_prefix", struct cfg_dlq, subject_prefix, check_literal_subject, false),
		ENUM("storage", struct cfg_dlq, storage, storage_names),
		DUR("max_age", struct cfg_dlq, max_age_ms, 0, INT64_MAX),
		{ .name = "max_msgs",
		  .kind = KEY_I64,
		  .offset = offsetof(struct cfg_dlq, max_msgs),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		{ .name = "max_bytes",
		  .kind = KEY_SIZE,
		  .offset = offsetof(struct cfg_dlq, max_bytes),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		INT("replicas", KEY_INT, struct cfg_dlq, replicas, 1, 5),
		STR("advisory_stream", struct cfg_dlq, advisory_stream, check_name, false),
	};
	const struct json_tok *found[N_SPECS(specs)];

	if (!read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->dlq, found))
		return;
	l->dlq_stream = found[0] ? tok_off(found[0]) : SIZE_MAX;
	l->dlq_prefix = found[1] ? tok_off(found[1]) : SIZE_MAX;
	l->dlq_adv = found[7] ? tok_off(found[7]) : SIZE_MAX;
}

static void
read_subjects(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg_stream *st = target;
	struct stream_pos *sp = &l->spos[st - l->cfg->streams];
	const struct json_tok *t;
	char sub[PATH_LEN];
	int i;

	if (!expect_type(l, v, JSON_ARRAY, path, "an array of subjects"))
		return;
	if (v->size == 0) {
		error_at(l, tok_off(v), path, "must list at least one subject");
		return;
	}
	st->subjects = xcalloc((size_t)v->size, sizeof(*st->subjects));
	sp->subjects = xcalloc((size_t)v->size, sizeof(*sp->subjects));
	sp->subjects_ok = true;
	json_for_each_item(i, t, v)
	{
		char *s;

		index_path(sub, path, i);
		s = read_string(l, t, sub, check_subject);
		if (s == NULL) {
			sp->subjects_ok = false;
			continue;
		}
		for (size_t j = 0; j < st->subject_count; j++)
			if (strcmp(st->subjects[j], s) == 0) {
				error_at(l, tok_off(t), sub, "duplicate subject \"%s\"", s);
				free(s);
				s = NULL;
				break;
			}
		if (s == NULL)
			continue;
		sp->subjects[st->subject_count] = tok_off(t);
		st->subjects[st->subject_count++] = s;
	}
}

static void
read_stream(struct loader *l, const struct json_tok *v, const char *path, struct cfg_stream *st)
{
	static const struct key_spec specs[] = {
		STR("name", struct cfg_stream, name, check_name, true),
		CUSTOM("subjects", read_subjects, true),
		ENUM("storage", struct cfg_stream, storage, storage_names),
		ENUM("retention", struct cfg_stream, retention, retention_names),
		DUR("max_age", struct cfg_stream, max_age_ms, 0, INT64_MAX),
		{ .name = "max_msgs",
		  .kind = KEY_I64,
		  .offset = offsetof(struct cfg_stream, max_msgs),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		{ .name = "max_bytes",
		  .kind = KEY_SIZE,
		  .offset = offsetof(struct cfg_stream, max_bytes),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		ENUM("discard", struct cfg_stream, discard, discard_names),
		INT("replicas", KEY_INT, struct cfg_stream, replicas, 1, 5),
		DUR("duplicate_window", struct cfg_stream, duplicate_window_ms, 1, INT64_MAX),
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct stream_pos *sp = &l->spos[st - l->cfg->streams];

	st->storage = CFG_STORAGE_FILE;
	st->retention = CFG_RETENTION_WORKQUEUE;
	st->max_age_ms = 0;
	st->max_msgs = -1;
	st->max_bytes = -1;
	st->discard = CFG_DISCARD_OLD;
	st->replicas = 1;
	st->duplicate_window_ms = 2 * 60000;
	sp->obj = tok_off(v);
	if (!read_object(l, v, path, specs, N_SPECS(specs), st, found))
		return;
	sp->name = found[0] ? tok_off(found[0]) : sp->obj;
	/* The server refuses a duplicate window longer than the stream keeps
	 * messages. */
	if (st->max_age_ms > 0 && st->duplicate_window_ms > st->max_age_ms) {
		char sub[PATH_LEN], a[48], b[48];

		key_path(sub, path, "duplicate_window", 16);
		error_at(l, found[9] ? tok_off(found[9]) : tok_off(found[4]), sub,
		         "%s is longer than max_age %s",
		         fmt_duration(a, sizeof(a), st->duplicate_window_ms),
		         fmt_duration(b, sizeof(b), st->max_age_ms));
	}
}

static void
read_streams(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg *cfg = target;
	const struct json_tok *t;
	char sub[PATH_LEN];
	int i;

	if (!expect_type(l, v, JSON_ARRAY, path, "an array of streams"))
		return;
	if (v->size == 0) {
		error_at(l, tok_off(v), path, "must list at least one stream");
		return;
	}
	cfg->streams = xcalloc((size_t)v->size, sizeof(*cfg->streams));
	l->spos = xcalloc((size_t)v->size, sizeof(*l->spos));
	cfg->stream_count = (size_t)v->size;
	/* Without every stream's name, "no such stream" would be guesswork. */
	l->streams_ok = true;
	json_for_each_item(i, t, v)
	{
		index_path(sub, path, i);
		read_stream(l, t, sub, &cfg->streams[i]);
		if (cfg->streams[i].name == NULL)
			l->streams_ok = false;
	}
}

static void
read_backoff(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		DUR("initial", struct cfg_backoff, initial_ms, 1, INT64_MAX),
		{ .name = "multiplier",
		  .kind = KEY_DOUBLE,
		  .offset = offsetof(struct cfg_backoff, multiplier),
		  .dmin = 1,
		  .dmax = 100 },
		DUR("max", struct cfg_backoff, max_ms, 1, INT64_MAX),
		{ .name = "jitter",
		  .kind = KEY_DOUBLE,
		  .offset = offsetof(struct cfg_backoff, jitter),
		  .dmin = 0,
		  .dmax = 1 },
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct cfg_backoff *b = &((struct cfg_route *)target)->backoff;
	char sub[PATH_LEN], x[48], y[48];

	if (!read_object(l, v, path, specs, N_SPECS(specs), b, found))
		return;
	if (b->max_ms >= b->initial_ms)
		return;
	if (found[2] != NULL) {
		key_path(sub, path, "max", 3);
		error_at(l, tok_off(found[2]), sub, "%s is shorter than initial %s",
		         fmt_duration(x, sizeof(x), b->max_ms),
		         fmt_duration(y, sizeof(y), b->initial_ms));
	} else {
		key_path(sub, path, "initial", 7);
		error_at(l, tok_off(found[0]), sub, "%s is longer than max (default %s)",
		         fmt_duration(x, sizeof(x), b->initial_ms),
		         fmt_duration(y, sizeof(y), b->max_ms));
	}
}

static void
read_route_config(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg_route *r = target;

	if (!expect_type(l, v, JSON_OBJECT, path, "an object"))
		return;
	free(r->config_json);
	r->config_json_len = (size_t)(v->end - v->start);
	r->config_json = xstrndup(l->doc.text + v->start, r->config_json_len);
}

static void
read_route(struct loader *l, const struct json_tok *v, const char *path, struct cfg_route *r)
{
	static const struct key_spec specs[] = {
		STR("name", struct cfg_route, name, check_name, true),
		STR("stream", struct cfg_route, stream, check_name, true),
		STR("subject", struct cfg_route, subject, check_subject, true),
		STR("consumer", struct cfg_route, consumer, check_name, false),
		STR("plugin", struct cfg_route, plugin, check_stem, true),
		STR("handler", struct cfg_route, handler, check_printable, false),
		INT("concurrency", KEY_INT, struct cfg_route, concurrency, 1, 256),
		INT("max_attempts", KEY_INT, struct cfg_route, max_attempts, 1, 1000),
		DUR("ack_wait", struct cfg_route, ack_wait_ms, 1000, INT64_MAX),
		INT("batch", KEY_INT, struct cfg_route, batch, 1, 1000),
		DUR("fetch_wait", struct cfg_route, fetch_wait_ms, 10, 60000),
		ENUM("payload", struct cfg_route, payload, payload_names),
		CUSTOM("backoff", read_backoff, false),
		CUSTOM("config", read_route_config, false),
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct route_pos *rp = &l->rpos[r - l->cfg->routes];

	r->concurrency = 1;
	r->max_attempts = 5;
	r->ack_wait_ms = 30000;
	r->batch = 16;
	r->fetch_wait_ms = 1000;
	r->payload = CFG_PAYLOAD_ANY;
	r->backoff.initial_ms = 1000;
	r->backoff.multiplier = 2;
	r->backoff.max_ms = 5 * 60000;
	r->backoff.jitter = 0.2;
	rp->obj = tok_off(v);
	if (!read_object(l, v, path, specs, N_SPECS(specs), r, found))
		return;
	rp->name = found[0] ? tok_off(found[0]) : rp->obj;
	rp->stream = found[1] ? tok_off(found[1]) : rp->obj;
	rp->subject = found[2] ? tok_off(found[2]) : rp->obj;
	rp->has_consumer = found[3] != NULL;
	rp->consumer = found[3] ? tok_off(found[3]) : rp->name;
}

static void
read_routes(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg *cfg = target;
	const struct json_tok *t;
	char sub[PATH_LEN];
	int i;

	if (!expect_type(l, v, JSON_ARRAY, path, "an array of routes"))
		return;
	if (v->size == 0) {
		error_at(l, tok_off(v), path, "must list at least one route");
		return;
	}
	cfg->routes = xcalloc((size_t)v->size, sizeof(*cfg->routes));
	l->rpos = xcalloc((size_t)v->size, sizeof(*l->rpos));
	cfg->route_count = (size_t)v->size;
	json_for_each_item(i, t, v)
	{
		index_path(sub, path, i);
		read_route(l, t, sub, &cfg->routes[i]);
	}
}

static void
read_top(struct loader *l, const struct json_tok *root)
{
	static const struct key_spec specs[] = {
		CUSTOM("nats", read_nats, false),
		ENUM("backend", struct cfg, backend, backend_names),
		{ .name = "plugin_dir",
		  .kind = KEY_PATH,
		  .offset = offsetof(struct cfg, plugin_dir) },
		{ .name = "state_dir",
		  .kind = KEY_PATH,
		  .offset = offsetof(struct cfg, state_dir) },
		STR("worker_id", struct cfg, worker_id, check_printable, false),
		DUR("shutdown_grace", struct cfg, shutdown_grace_ms, 0, HOUR),
		CUSTOM("memory", read_memory, false),
		CUSTOM("log", read_log, false),
		CUSTOM("http", read_http, false),
		CUSTOM("streams", read_streams, true),
		CUSTOM("dlq", read_dlq, false),
		CUSTOM("routes", read_routes, true),
	};
	const struct json_tok *found[N_SPECS(specs)];

	read_object(l, root, "", specs, N_SPECS(specs), l->cfg, found);
}

/* ---- cross checks -------------------------------------------------------- */

/* Could one literal subject match both (valid) patterns? */
static bool
subjects_overlap(const char *a, const char *b)
{
	for (;;) {
		size_t an = strcspn(a, "."), bn = strcspn(b, ".");
		bool a_star = an == 1 && a[0] == '*', b_star = bn == 1 && b[0] == '*';

		/* '>' takes this token and any after it; both have one here. */
		if ((an == 1 && a[0] == '>') || (bn == 1 && b[0] == '>'))
			return true;
		if (!a_star && !b_star && (an != bn || memcmp(a, b, an) != 0))
			return false;
		a += an;
		b += bn;
		if (*a == '\0' || *b == '\0')
			return *a == '\0' && *b == '\0';
		a++;
		b++;
	}
}

static const struct cfg_stream *
find_stream(const struct cfg *cfg, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->stream_count; i++)
		if (cfg->streams[i].name != NULL && strcmp(cfg->streams[i].name, name) == 0)
			return &cfg->streams[i];
	return NULL;
}

static void
check_streams(struct loader *l)
{
	struct cfg *cfg = l->cfg;
	char path[PATH_LEN];
	char *dlq_subject = prefixed(cfg->dlq.subject_prefix, ".>");

	for (size_t i = 0; i < cfg->stream_count; i++) {
		const struct cfg_stream *st = &cfg->streams[i];

		if (st->name == NULL)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (cfg->streams[j].name != NULL &&
			    strcmp(cfg->streams[j].name, st->name) == 0) {
				snprintf(path, sizeof(path), "streams[%zu].name", i);
				error_at(l, l->spos[i].name, path,
				         "duplicate stream name \"%s\" (also streams[%zu])",
				         st->name, j);
				break;
			}
		}
		if (strcmp(st->name, cfg->dlq.stream) == 0) {
			if (l->dlq_stream != SIZE_MAX)
				error_at(l, l->dlq_stream, "dlq.stream",
				         "\"%s\" is also a work stream (streams[%zu])", st->name,
				         i);
			else {
				snprintf(path, sizeof(path), "streams[%zu].name", i);
				error_at(l, l->spos[i].name, path,
				         "\"%s\" is the dead-letter stream's name (dlq.stream)",
				         st->name);
			}
		}
		if (strcmp(st->name, cfg->dlq.advisory_stream) == 0) {
			if (l->dlq_adv != SIZE_MAX)
				error_at(l, l->dlq_adv, "dlq.advisory_stream",
				         "\"%s\" is also a work stream (streams[%zu])", st->name,
				         i);
			else {
				snprintf(path, sizeof(path), "streams[%zu].name", i);
				error_at(l, l->spos[i].name, path,
				         "\"%s\" is the advisory stream's name "
				         "(dlq.advisory_stream)",
				         st->name);
			}
		}
		for (size_t s = 0; s < st->subject_count; s++) {
			const char *subj = st->subjects[s];

			snprintf(path, sizeof(path), "streams[%zu].subjects[%zu]", i, s);
			/* Streams with overlapping subjects cannot both exist. */
			for (size_t j = 0; j < i; j++)
				for (size_t t = 0; t < cfg->streams[j].subject_count; t++)
					if (subjects_overlap(subj, cfg->streams[j].subjects[t]))
						error_at(l, l->spos[i].subjects[s], path,
						         "\"%s\" overlaps \"%s\" of stream \"%s\"",
						         subj, cfg->streams[j].subjects[t],
						         cfg->streams[j].name ? cfg->streams[j].name
						                              : "?");
			/* Dead letters must never land back in a work stream. */
			if (subjects_overlap(subj, dlq_subject)) {
				if (l->dlq_prefix != SIZE_MAX)
					error_at(l, l->dlq_prefix, "dlq.subject_prefix",
					         "dead-letter subjects \"%s\" overlap \"%s\" of "
					         "stream \"%s\"",
					         dlq_subject, subj, st->name);
				else
					error_at(l, l->spos[i].subjects[s], path,
					         "\"%s\" overlaps the dead-letter subjects \"%s\"",
					         subj, dlq_subject);
			}
		}
	}
	if (strcmp(cfg->dlq.stream, cfg->dlq.advisory_stream) == 0)
		error_at(l, l->dlq_adv != SIZE_MAX ? l->dlq_adv : l->dlq_stream,
		         l->dlq_adv != SIZE_MAX ? "dlq.advisory_stream" : "dlq.stream",
		         "the dead-letter and advisory streams must differ");
	free(dlq_subject);
}

static bool
stream_covers(const struct cfg_stream *st, const char *subject)
{
	for (size_t i = 0; i < st->subject_count; i++)
		if (subject_covers(st->subjects[i], subject))
			return true;
	return false;
}

static void
check_routes(struct loader *l)
{
	struct cfg *cfg = l->cfg;
	char path[PATH_LEN];

	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		const struct route_pos *rp = &l->rpos[i];
		const struct cfg_stream *st = find_stream(cfg, r->stream);

		for (size_t j = 0; j < i && r->name != NULL; j++)
			if (cfg->routes[j].name != NULL &&
			    strcmp(cfg->routes[j].name, r->name) == 0) {
				snprintf(path, sizeof(path), "routes[%zu].name", i);
				error_at(l, rp->name, path,
				         "duplicate route name \"%s\" (also routes[%zu])", r->name,
				         j);
				break;
			}
		if (r->stream == NULL || !l->streams_ok)
			continue;
		if (st == NULL) {
			snprintf(path, sizeof(path), "routes[%zu].stream", i);
			error_at(l, rp->stream, path, "no stream named \"%s\"", r->stream);
			continue;
		}
		/* A stream whose subjects were rejected would only echo that. */
		if (r->subject != NULL && l->spos[st - cfg->streams].subjects_ok &&
		    !stream_covers(st, r->subject)) {
			snprintf(path, sizeof(path), "routes[%zu].subject", i);
			error_at(l, rp->subject, path,
			         "\"%s\" is not covered by the subjects of stream \"%s\"",
			         r->subject, st->name);
		}
		for (size_t j = 0; j < i; j++) {
			const struct cfg_route *o = &cfg->routes[j];

			if (o->stream == NULL || strcmp(o->stream, r->stream) != 0)
				continue;
			/* Same-named routes were reported already. */
			if (o->consumer != NULL && r->consumer != NULL &&
			    strcmp(o->consumer, r->consumer) == 0 &&
			    !(o->name != NULL && r->name != NULL &&
			      strcmp(o->name, r->name) == 0)) {
				snprintf(path, sizeof(path), "routes[%zu].%s", i,
				         rp->has_consumer ? "consumer" : "name");
				error_at(l, rp->consumer, path,
				         "consumer \"%s\" is also used by routes[%zu] on "
				         "stream \"%s\"",
				         r->consumer, j, r->stream);
			}
			/* A work-queue stream hands each message to one consumer
			 * only; the server refuses overlapping filters. */
			if (st->retention == CFG_RETENTION_WORKQUEUE && o->subject != NULL &&
			    r->subject != NULL && subjects_overlap(o->subject, r->subject)) {
				snprintf(path, sizeof(path), "routes[%zu].subject", i);
				error_at(l, rp->subject, path,
				         "\"%s\" overlaps \"%s\" of routes[%zu] on work-queue "
				         "stream \"%s\"",
				         r->subject, o->subject, j, r->stream);
			}
		}
	}
}

/* ---- defaults, environment, paths ------------------------------------------ */

static void
apply_env(struct loader *l)
{
	struct cfg *cfg = l->cfg;
	char shown[80];
	const char *v, *why;

	v = getenv("NATS_URL");
	if (v != NULL) {
		if (*v == '\0') {
			error_plain(l, "NATS_URL", "must not be empty");
		} else {
			free(cfg->nats.url);
			cfg->nats.url = xstrdup(v);
		}
	}
	v = getenv("TASKJET_WORKER_ID");
	if (v != NULL) {
		if (*v == '\0')
			error_plain(l, "TASKJET_WORKER_ID", "must not be empty");
		else if ((why = check_printable(v)) != NULL)
			error_plain(l, "TASKJET_WORKER_ID", "\"%s\" %s",
			            show(shown, sizeof(shown), v), why);
		else {
			free(cfg->worker_id);
			cfg->worker_id = xstrdup(v);
		}
	}
	v = getenv("TASKJET_BACKEND");
	if (v != NULL) {
		const struct enum_name *e;

		for (e = backend_names; e->name != NULL; e++)
			if (strcmp(v, e->name) == 0)
				break;
		if (e->name != NULL)
			cfg->backend = e->value;
		else
			error_plain(l, "TASKJET_BACKEND",
			            "must be \"jetstream\", \"nats\" or \"memory\", got \"%s\"",
			            show(shown, sizeof(shown), v));
	}
}

/* Replace *dir by the environment variable `name` when it is set and not empty. */
static void
apply_env_dir(char **dir, const char *name)
{
	const char *v = getenv(name);
	char *cwd;

	if (v == NULL || *v == '\0')
		return;
	free(*dir);
	/* Absolute now: the engine later works inside state_dir. */
	cwd = v[0] == '/' ? NULL : getcwd(NULL, 0);
	if (cwd != NULL && asprintf(dir, "%s/%s", cwd, v) >= 0) {
		free(cwd);
		return;
	}
	free(cwd);
	*dir = xstrdup(v);
}

/* Absolute directory holding the config file named `name`. */
static int
config_dir(const char *name, char **dir_r)
{
	const char *slash = strrchr(name, '/');
	char *dir, *cwd;
	size_t n;

	if (slash == name)
		dir = xstrdup("/");
	else if (slash != NULL)
		dir = xstrndup(name, (size_t)(slash - name));
	else
		dir = xstrdup(".");
	if (dir[0] == '/') {
		*dir_r = dir;
		return 0;
	}
	cwd = getcwd(NULL, 0);
	if (cwd == NULL) {
		int err = -errno;

		free(dir);
		return err;
	}
	if (strcmp(dir, ".") == 0) {
		free(dir);
		*dir_r = cwd;
		return 0;
	}
	n = strlen(cwd) + strlen(dir) + 2;
	*dir_r = xmalloc(n);
	snprintf(*dir_r, n, "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/",
	         strncmp(dir, "./", 2) == 0 ? dir + 2 : dir);
	free(cwd);
	free(dir);
	return 0;
}

/* Make *p absolute against `dir`. */
static void
resolve(char **p, const char *dir)
{
	const char *rel = *p;
	char *abs;
	size_t n;

	if (rel == NULL || rel[0] == '/')
		return;
	while (strncmp(rel, "./", 2) == 0)
		rel += 2;
	if (strcmp(rel, ".") == 0 || *rel == '\0') {
		abs = xstrdup(dir);
	} else {
		n = strlen(dir) + strlen(rel) + 2;
		abs = xmalloc(n);
		snprintf(abs, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
	}
	free(*p);
	*p = abs;
}

static char *
host_name(void)
{
	char buf[256];

	/* POSIX leaves truncation unterminated; force the NUL. */
	if (gethostname(buf, sizeof(buf) - 1) < 0 || buf[0] == '\0')
		return xstrdup("localhost");
	buf[sizeof(buf) - 1] = '\0';
	return xstrdup(buf);
}

static void
set_defaults(struct cfg *cfg)
{
	cfg->nats.connect_timeout_ms = 2000;
	cfg->nats.reconnect_wait_ms = 2000;
	cfg->nats.reconnect_jitter_ms = 100;
	cfg->backend = CFG_BACKEND_JETSTREAM;
	cfg->shutdown_grace_ms = 30000;
	cfg->memory.capacity = 10000;
	cfg->log.level = TJ_LOG_INFO;
	cfg->log.format = CFG_LOG_TEXT;
	cfg->http.max_body = 1 << 20;
	cfg->dlq.storage = CFG_STORAGE_FILE;
	cfg->dlq.max_age_ms = 0;
	cfg->dlq.max_msgs = -1;
	cfg->dlq.max_bytes = -1;
	cfg->dlq.replicas = 1;
}

/* Defaults that depend on other values, filled in after parsing. */
static void
derive_defaults(struct cfg *cfg)
{
	if (cfg->dlq.stream == NULL)
		cfg->dlq.stream = xstrdup("DLQ");
	if (cfg->dlq.subject_prefix == NULL)
		cfg->dlq.subject_prefix = xstrdup("dlq");
	if (cfg->dlq.advisory_stream == NULL)
		cfg->dlq.advisory_stream = xstrdup("TASKJET_ADVISORIES");
	if (cfg->plugin_dir == NULL)
		cfg->plugin_dir = xstrdup(PLUGINDIR);
	if (cfg->state_dir == NULL)
		cfg->state_dir = xstrdup("var");
	/* Loopback only unless the file says otherwise. */
	if (cfg->http.listen == NULL && !cfg->http.listen_set)
		cfg->http.listen = xstrdup("127.0.0.1:8222");
	if (cfg->worker_id == NULL)
		cfg->worker_id = host_name();
	if (cfg->nats.name == NULL)
		cfg->nats.name = prefixed("taskjet-", cfg->worker_id);
	for (size_t i = 0; i < cfg->route_count; i++) {
		struct cfg_route *r = &cfg->routes[i];

		if (r->consumer == NULL && r->name != NULL)
			r->consumer = prefixed("taskjet-", r->name);
		if (r->handler == NULL && r->plugin != NULL)
			r->handler = xstrdup(r->plugin);
		if (r->config_json == NULL) {
			r->config_json = xstrdup("{}");
			r->config_json_len = 2;
		}
	}
}

/* ---- entry points ---------------------------------------------------------- */

int
cfg_load_buffer(const char *name, const char *text, size_t len, char **errors_r, struct cfg **cfg_r)
{
	struct loader l = {
		.name = name, .dlq_stream = SIZE_MAX, .dlq_prefix = SIZE_MAX, .dlq_adv = SIZE_MAX
	};
	struct cfg *cfg = xcalloc(1, sizeof(*cfg));
	char *dir = NULL;
	struct json_error jerr;
	int ret;

	l.cfg = cfg;
	cfg->path = xstrdup(name);
	set_defaults(cfg);
	ret = json_parse_with(text, len, NULL, &l.doc, &jerr);
	if (ret < 0) {
		/* Positions need the text even though the parse failed. */
		struct json_doc raw = { .text = text, .len = len };

		l.doc = raw;
		if (ret == -ENOMEM || len > ((size_t)64 << 20))
			error_plain(&l, "(root)", "%s",
			            ret == -ENOMEM ? "out of memory" : "larger than 64 MiB");
		else
			error_at(&l, jerr.offset, "(root)", "invalid JSON: %s", jerr.what);
		l.doc.toks = NULL;
		ret = ret == -ENOMEM ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (l.doc.toks[0].type != JSON_OBJECT) {
		error_at(&l, tok_off(&l.doc.toks[0]), "", "expected an object, got %s",
		         kind_name(&l, &l.doc.toks[0]));
		ret = -EINVAL;
		goto out;
	}
	read_top(&l, &l.doc.toks[0]);
	/* Before the derived defaults: the connection name follows an
	 * overridden worker id. */
	apply_env(&l);
	derive_defaults(cfg);
	check_streams(&l);
	check_routes(&l);
	if (l.nerrs > 0) {
		ret = -EINVAL;
		goto out;
	}
	ret = config_dir(name, &dir);
	if (ret < 0) {
		error_plain(&l, "(paths)", "cannot resolve relative paths: %s", strerror(-ret));
		goto out;
	}
	resolve(&cfg->plugin_dir, dir);
	resolve(&cfg->state_dir, dir);
	resolve(&cfg->log.file, dir);
	resolve(&cfg->nats.creds_file, dir);
	resolve(&cfg->http.token_file, dir);
	/* Directory overrides are the caller's paths, relative to the working
	 * directory: they let one config run from a build tree or a test dir. */
	apply_env_dir(&cfg->plugin_dir, "TASKJET_PLUGIN_DIR");
	apply_env_dir(&cfg->state_dir, "TASKJET_STATE_DIR");
	*cfg_r = cfg;
	cfg = NULL;
	ret = 0;
out:
	if (ret < 0 && errors_r != NULL && l.errs != NULL) {
		*errors_r = l.errs;
		l.errs = NULL;
	}
	free(l.errs);
	free(dir);
	if (l.spos != NULL)
		for (size_t i = 0; i < l.cfg->stream_count; i++)
			free(l.spos[i].subjects);
	free(l.spos);
	free(l.rpos);
	json_doc_free(&l.doc);
	cfg_free(cfg);
	return ret;
}

static void
io_error(const char *path, const char *what, int err, char **errors_r)
{
	size_t n;

	if (errors_r == NULL)
		return;
	n = strlen(path) + strlen(what) + strlen(strerror(err)) + 8;
	*errors_r = xmalloc(n);
	snprintf(*errors_r, n, "%s: %s: %s\n", path, what, strerror(err));
}

int
cfg_load(const char *path, char **errors_r, struct cfg **cfg_r)
{
	struct stat st;
	char *text = NULL;
	size_t off = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		io_error(path, "cannot open", -ret, errors_r);
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		io_error(path, "cannot stat", -ret, errors_r);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		io_error(path, "cannot read", EISDIR, errors_r);
		goto out;
	}
	if (st.st_size > MAX_FILE_SIZE) {
		ret = -EFBIG;
		io_error(path, "cannot read", EFBIG, errors_r);
		goto out;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, text + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			io_error(path, "cannot read", -ret, errors_r);
			goto out;
		}
		if (n == 0)
			break; /* shrank under us: parse what is there */
		off += (size_t)n;
	}
	ret = cfg_load_buffer(path, text, off, errors_r, cfg_r);
out:
	free(text);
	close(fd);
	return ret;
}

void
cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->nats.url);
	free(cfg->nats.name);
	free(cfg->nats.creds_file);
	free(cfg->plugin_dir);
	free(cfg->state_dir);
	free(cfg->worker_id);
	free(cfg->log.file);
	free(cfg->http.listen);
	free(cfg->http.token_file);
	for (size_t i = 0; i < cfg->stream_count; i++) {
		struct cfg_stream *st = &cfg->streams[i];

		free(st->name);
		for (size_t j = 0; j < st->subject_count; j++)
			free(st->subjects[j]);
		free(st->subjects);
	}
	free(cfg->streams);
	free(cfg->dlq.stream);
	free(cfg->dlq.subject_prefix);
	free(cfg->dlq.advisory_stream);
	for (size_t i = 0; i < cfg->route_count; i++) {
		struct cfg_route *r = &cfg->routes[i];

		free(r->name);
		free(r->stream);
		free(r->subject);
		free(r->consumer);
		free(r->plugin);
		free(r->handler);
		free(r->config_json);
	}
	free(cfg->routes);
	free(cfg);
}

const struct cfg_stream *
cfg_route_stream(const struct cfg *cfg, const struct cfg_route *route)
{
	return find_stream(cfg, route->stream);
}
