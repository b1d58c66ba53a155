/* SPDX-License-Identifier: MIT */
/*
 * Every range docs/config.md documents, held to the loader at its edges:
 * min-1 refused, min and min+1 accepted, max-1 and max accepted, max+1
 * refused (numbers: 0.001 either side). The ranges are read from the
 * document's tables ("integer, 1..256", "duration, 1s..2562047h47m16s854ms",
 * "integer, -1 or >= 1"), so a bound changed in the schema or in the
 * document alone fails here, and so does a numeric key documented without
 * a range, or one of the schema (core/config/schema.c) not documented.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "testing.h"

#define MIN_STREAMS "\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"]}]"
#define MIN_ROUTE "{\"name\":\"r\",\"stream\":\"S\",\"subject\":\"s.a\",\"plugin\":\"p\""

enum kind { K_INTEGER, K_SIZE, K_DURATION, K_NUMBER };

/* One documented range. */
struct bound {
	char section[32]; /* "" (top level), "nats", "streams[]", "routes[].backoff" */
	char key[32];
	enum kind kind;
	bool has_min; /* false: the minimum names another key */
	bool minus_one; /* "-1 or >= 1": -1 means unlimited, 0 is refused */
	int64_t min, max; /* integers, sizes, durations (ms) */
	double dmin, dmax; /* numbers */
};

/*
 * Other keys a value needs beside it to be judged alone: backoff.initial
 * must not exceed max, backoff.max (whose minimum is `initial`) must stay
 * within the server's limit with the jitter added, and a stream's max_age
 * must not be shorter than its duplicate_window.
 */
static const struct {
	const char *section, *key, *siblings;
	int64_t relative_min; /* the minimum when the document names a key */
} companions[] = {
	{ "routes[].backoff", "initial", ",\"max\":\"9223372036854ms\",\"jitter\":0", 0 },
	{ "routes[].backoff", "max", ",\"initial\":\"1ms\",\"jitter\":0", 1 },
	/* duplicate_window (2m by default) must not exceed a set max_age. */
	{ "streams[]", "max_age", ",\"duplicate_window\":\"1ms\"", 0 },
};

static const char *
companion_of(const struct bound *b, int64_t *relative_min_r)
{
	for (size_t i = 0; i < sizeof(companions) / sizeof(companions[0]); i++)
		if (strcmp(companions[i].section, b->section) == 0 &&
		    strcmp(companions[i].key, b->key) == 0) {
			if (relative_min_r != NULL)
				*relative_min_r = companions[i].relative_min;
			return companions[i].siblings;
		}
	return "";
}

/* A file of the source tree (top_srcdir), NUL-terminated; NULL on error. */
static char *
read_source(const char *rel)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	FILE *f;
	char *text;
	long n;

	snprintf(path, sizeof(path), "%s/%s", top != NULL ? top : "..", rel);
	f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (text = calloc(1, (size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

/* The n-th cell (0-based) of a table row, trimmed, into buf; false if
 * absent. A "\|" inside a cell is not a separator. */
static bool
cell(const char *row, int n, char *buf, size_t size)
{
	const char *p = row, *end;
	size_t len;

	if (*p != '|')
		return false;
	for (int i = 0; i <= n; i++) {
		p++;
		for (end = p; *end != '\0' && *end != '\n' && !(*end == '|' && end[-1] != '\\');
		     end++)
			;
		if (*end != '|')
			return false;
		if (i < n)
			p = end;
	}
	while (*p == ' ')
		p++;
	len = (size_t)(end - p);
	while (len > 0 && p[len - 1] == ' ')
		len--;
	if (len >= size)
		return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return true;
}

/* One end of a range, as the document spells it for `kind`. */
static bool
parse_end(enum kind kind, const char *s, size_t len, int64_t *n_r, double *d_r)
{
	char buf[64], *end;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	switch (kind) {
	case K_DURATION:
		return cfg_parse_duration(buf, len, n_r) == 0;
	case K_SIZE:
		if (buf[0] == '-')
			break;
		return cfg_parse_size(buf, len, n_r) == 0;
	case K_NUMBER:
		*d_r = strtod(buf, &end);
		return *end == '\0';
	case K_INTEGER:
		break;
	}
	*n_r = strtoll(buf, &end, 10);
	return *end == '\0';
}

/*
 * The range in a type cell such as "integer, 1..256"; 1 if read, 0 if the
 * cell is not a numeric type, -1 if it is one without a readable range.
 */
static int
parse_type(const char *type, struct bound *b)
{
	static const struct {
		const char *word;
		enum kind kind;
	} kinds[] = { { "integer", K_INTEGER },
		      { "size", K_SIZE },
		      { "duration", K_DURATION },
		      { "number", K_NUMBER } };
	const char *range, *dots;
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(type, kinds[i].word, strlen(kinds[i].word)) == 0)
			break;
	if (i == sizeof(kinds) / sizeof(kinds[0]))
		return 0;
	b->kind = kinds[i].kind;
	range = type + strlen(kinds[i].word);
	if (strncmp(range, ", ", 2) != 0)
		return -1;
	range += 2;
	b->has_min = true;
	b->max = INT64_MAX;
	if (strcmp(range, "-1 or >= 1") == 0 && b->kind != K_DURATION && b->kind != K_NUMBER) {
		b->minus_one = true;
		b->min = -1;
		return 1;
	}
	dots = strstr(range, "..");
	if (dots == NULL)
		return -1;
	if (range[0] == '`')
		b->has_min = false; /* "`initial`..": the minimum is another key */
	else if (!parse_end(b->kind, range, (size_t)(dots - range), &b->min, &b->dmin))
		return -1;
	return parse_end(b->kind, dots + 2, strlen(dots + 2), &b->max, &b->dmax) ? 1 : -1;
}

/* The ranges of every table in the document; count in *n_r, NULL on error. */
static struct bound *
documented_bounds(const char *doc, size_t *n_r)
{
	struct bound *all = NULL;
	char section[32] = "", key[64], type[160];
	bool in_table = false;
	size_t n = 0;

	for (const char *line = doc; *line != '\0';) {
		const char *next = strchr(line, '\n');
		size_t len = next != NULL ? (size_t)(next - line) : strlen(line);

		if (strncmp(line, "## Top level", 12) == 0) {
			in_table = true;
			section[0] = '\0';
		} else if (strncmp(line, "### `", 5) == 0 && len - 5 < sizeof(section)) {
			in_table = true;
			snprintf(section, sizeof(section), "%.*s", (int)(len - 6), line + 5);
		} else if (line[0] == '`' && len > 3 && strncmp(line + len - 2, "`:", 2) == 0 &&
		           len - 3 < sizeof(section) - 9) {
			/* "`backoff`:", "`limits`:": an object of routes[]. */
			in_table = true;
			snprintf(section, sizeof(section), "routes[].%.*s", (int)(len - 3),
			         line + 1);
		} else if (strncmp(line, "## ", 3) == 0) {
			in_table = false;
		} else if (in_table && strncmp(line, "| `", 3) == 0 &&
		           cell(line, 0, key, sizeof(key)) && cell(line, 1, type, sizeof(type))) {
			struct bound b = { 0 };
			int r;

			/* "`name`" -> name */
			snprintf(b.key, sizeof(b.key), "%.*s", (int)strlen(key) - 2, key + 1);
			snprintf(b.section, sizeof(b.section), "%s", section);
			r = parse_type(type, &b);
			if (r < 0) {
				testing_fail(__FILE__, __LINE__,
				             "%s%s%s: no range the test can read in \"%s\"",
				             section, *section ? "." : "", b.key, type);
			} else if (r > 0) {
				struct bound *grown = realloc(all, (n + 1) * sizeof(*all));

				if (grown == NULL) {
					free(all);
					return NULL;
				}
				all = grown;
				all[n++] = b;
			}
		}
		line = next != NULL ? next + 1 : line + len;
	}
	*n_r = n;
	return all;
}

/* A config with `key: value` in its section, and the error path prefix. */
static void
config_with(const struct bound *b, const char *value, char *text, size_t size, char *path,
            size_t path_size)
{
	const char *sib = companion_of(b, NULL);

	if (b->section[0] == '\0') {
		snprintf(text, size, "{\"%s\":%s," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
		         b->key, value);
		snprintf(path, path_size, "%s", b->key);
	} else if (strcmp(b->section, "streams[]") == 0) {
		snprintf(text, size,
		         "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"],\"%s\":%s%s}],"
		         "\"routes\":[" MIN_ROUTE "}]}",
		         b->key, value, sib);
		snprintf(path, path_size, "streams[0].%s", b->key);
	} else if (strcmp(b->section, "routes[]") == 0) {
		snprintf(text, size, "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"%s\":%s}]}",
		         b->key, value);
		snprintf(path, path_size, "routes[0].%s", b->key);
	} else if (strncmp(b->section, "routes[].", 9) == 0) {
		snprintf(text, size,
		         "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"%s\":{\"%s\":%s%s}}]}",
		         b->section + 9, b->key, value, sib);
		snprintf(path, path_size, "routes[0].%s.%s", b->section + 9, b->key);
	} else {
		snprintf(text, size,
		         "{\"%s\":{\"%s\":%s}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
		         b->section, b->key, value);
		snprintf(path, path_size, "%s.%s", b->section, b->key);
	}
}

/* `value` (JSON text) for b's key loads, or is refused at that key. */
static void
check_edge(const struct bound *b, const char *value, bool accepted, const char *edge)
{
	char text[1024], path[128];
	char *errors = NULL;
	struct cfg *cfg = NULL;
	int r;

	config_with(b, value, text, sizeof(text), path, sizeof(path));
	r = cfg_load_buffer("t.json", text, strlen(text), &errors, &cfg);
	if (accepted && r != 0)
		testing_fail(__FILE__, __LINE__, "%s = %s (%s) refused:\n#   %s", path, value, edge,
		             errors != NULL ? errors : "(no message)");
	else if (!accepted && (r != -EINVAL || errors == NULL || strstr(errors, path) == NULL))
		testing_fail(__FILE__, __LINE__, "%s = %s (%s) not refused at its key: %d %s", path,
		             value, edge, r, errors != NULL ? errors : "");
	free(errors);
	cfg_free(cfg);
}

/* The JSON text of an integer-like value of b's kind; INT64_MAX + 1 too.
 * `quoted`: a size as a string ("1048576"), the other way to write one. */
static const char *
value_text(const struct bound *b, int64_t n, bool past_max, bool quoted, char *buf, size_t size)
{
	const char *q = quoted || b->kind == K_DURATION ? "\"" : "";
	const char *unit = b->kind == K_DURATION ? "ms" : "";

	if (past_max)
		snprintf(buf, size, "%s9223372036854775808%s%s", q, unit, q);
	else
		snprintf(buf, size, "%s%" PRId64 "%s%s", q, n, unit, q);
	return buf;
}

/* Integer n (or INT64_MAX + 1) at b's key, loaded or refused; a size is
 * also tried as a string, which the loader reads on another path. */
static void
check_value(const struct bound *b, int64_t n, bool past_max, bool accepted, const char *edge)
{
	char v[64];

	check_edge(b, value_text(b, n, past_max, false, v, sizeof(v)), accepted, edge);
	if (b->kind == K_SIZE && n >= 0)
		check_edge(b, value_text(b, n, past_max, true, v, sizeof(v)), accepted, edge);
}

static void
check_bound(const struct bound *b)
{
	char v[64];
	int64_t min = b->min;

	if (b->kind == K_NUMBER) {
		snprintf(v, sizeof(v), "%.17g", b->dmin - 0.001);
		check_edge(b, v, false, "min-0.001");
		snprintf(v, sizeof(v), "%.17g", b->dmin);
		check_edge(b, v, true, "min");
		snprintf(v, sizeof(v), "%.17g", b->dmin + 0.001);
		check_edge(b, v, true, "min+0.001");
		snprintf(v, sizeof(v), "%.17g", b->dmax - 0.001);
		check_edge(b, v, true, "max-0.001");
		snprintf(v, sizeof(v), "%.17g", b->dmax);
		check_edge(b, v, true, "max");
		snprintf(v, sizeof(v), "%.17g", b->dmax + 0.001);
		check_edge(b, v, false, "max+0.001");
		return;
	}
	if (!b->has_min)
		companion_of(b, &min);
	/* A duration below 0 cannot be written: nothing to refuse there. */
	if (!(b->kind == K_DURATION && min == 0))
		check_value(b, min - 1, false, false, "min-1");
	check_value(b, min, false, true, "min");
	if (b->minus_one) {
		check_value(b, 0, false, false, "0 between -1 and 1");
		check_value(b, 1, false, true, "1");
		check_value(b, 2, false, true, "min+1 of the >= 1 part");
	} else {
		check_value(b, min + 1, false, true, "min+1");
	}
	check_value(b, b->max - 1, false, true, "max-1");
	check_value(b, b->max, false, true, "max");
	check_value(b, b->max + (b->max < INT64_MAX), b->max == INT64_MAX, false, "max+1");
}

/* Is `key` documented with a range (in any section)? */
static bool
documented(const struct bound *bounds, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(bounds[i].key, key) == 0)
			return true;
	return false;
}

/*
 * The numeric keys of the schema's tables in core/config/schema.c: the
 * names given to DUR() and INT(), and those of entries spelled out with a
 * numeric .kind. Calls `fn` with each; returns how many it found.
 */
static size_t
schema_numeric_keys(const char *src, void (*fn)(const char *key, void *arg), void *arg)
{
	static const char *const kinds[] = { "KEY_DURATION", "KEY_SIZE",   "KEY_INT",
		                             "KEY_I64",      "KEY_SIZE_T", "KEY_DOUBLE" };
	size_t found = 0;

	for (const char *p = src; (p = strstr(p, "(\"")) != NULL; p++) {
		const char *name = p + 2, *end = strchr(name, '"');
		char key[64];

		if (end == NULL || (size_t)(end - name) >= sizeof(key))
			break;
		if (!((p - src >= 3 && strncmp(p - 3, "DUR", 3) == 0) ||
		      (p - src >= 3 && strncmp(p - 3, "INT", 3) == 0)))
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(end - name), name);
		fn(key, arg);
		found++;
	}
	for (const char *p = src; (p = strstr(p, ".name = \"")) != NULL; p++) {
		const char *name = p + 9, *end = strchr(name, '"'), *close, *kind;
		char key[64];
		bool numeric = false;

		if (end == NULL || (size_t)(end - name) >= sizeof(key))
			break;
		close = strchr(end, '}');
		kind = strstr(end, ".kind = ");
		if (close == NULL || kind == NULL || kind > close)
			continue;
		kind += 8;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
			if (strncmp(kind, kinds[i], strlen(kinds[i])) == 0 &&
			    (kind[strlen(kinds[i])] == ',' || kind[strlen(kinds[i])] == ' '))
				numeric = true;
		if (!numeric)
			continue;
		snprintf(key, sizeof(key), "%.*s", (int)(end - name), name);
		fn(key, arg);
		found++;
	}
	return found;
}

struct doc_check {
	const struct bound *bounds;
	size_t n;
};

static void
require_documented(const char *key, void *arg)
{
	const struct doc_check *d = arg;

	if (!documented(d->bounds, d->n, key))
		testing_fail(__FILE__, __LINE__,
		             "schema key \"%s\" (core/config/schema.c) is numeric but "
		             "docs/config.md gives it no range",
		             key);
}

TEST(every_documented_range_holds_at_its_edges)
{
	char *doc = read_source("docs/config.md");
	struct bound *bounds;
	size_t n = 0;

	CHECK_TRUE(doc != NULL);
	if (doc == NULL)
		return;
	unsetenv("NATS_URL");
	unsetenv("TASKJET_WORKER_ID");
	unsetenv("TASKJET_BACKEND");
	bounds = documented_bounds(doc, &n);
	/* Every numeric key of docs/config.md today; more may come. */
	CHECK_TRUE(n >= 28);
	for (size_t i = 0; i < n; i++)
		check_bound(&bounds[i]);
	printf("# %zu documented ranges checked at their edges\n", n);
	free(bounds);
	free(doc);
}

/* The other way round: a numeric key added to the schema without a range
 * in the document fails here, so the test above cannot miss it. */
TEST(every_numeric_schema_key_has_a_documented_range)
{
	char *doc = read_source("docs/config.md");
	char *src = read_source("core/config/schema.c");
	struct doc_check d = { 0 };
	size_t keys;

	CHECK_TRUE(doc != NULL && src != NULL);
	if (doc == NULL || src == NULL)
		goto out;
	d.bounds = documented_bounds(doc, &d.n);
	keys = schema_numeric_keys(src, require_documented, &d);
	/* The scan itself still finds what it should. */
	CHECK_TRUE(keys >= 26);
	printf("# %zu numeric schema keys, each with a documented range\n", keys);
	free((void *)d.bounds);
out:
	free(src);
	free(doc);
}

/* The ones issue 13 named, so a reader of this file finds them. */
TEST(batch_is_one_to_a_thousand)
{
	static const struct bound batch = {
		.section = "routes[]",
		.key = "batch",
		.kind = K_INTEGER,
		.has_min = true,
		.min = 1,
		.max = 1000,
	};

	check_bound(&batch);
}

int
main(void)
{
	RUN(every_documented_range_holds_at_its_edges);
	RUN(every_numeric_schema_key_has_a_documented_range);
	RUN(batch_is_one_to_a_thousand);
	return testing_done();
}
