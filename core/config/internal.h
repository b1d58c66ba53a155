/* SPDX-License-Identifier: MIT */
/*
 * What the files of the configuration loader share; private to
 * core/config. reader.c is the generic table-driven key reader (error
 * collection with file:line:column, typed values, durations and sizes),
 * schema.c the keys and sections of the file, checks.c the checks across
 * streams, routes and the DLQ, config.c loading, the environment,
 * defaults and paths. One `struct loader` lives for one load, on one
 * thread; nothing here is shared between loads.
 */
#ifndef TASKJET_CONFIG_INTERNAL_H
#define TASKJET_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <taskjet/plugin.h>

#include "json.h"

/* Declared in config/config.h, which the files of the loader include first. */
struct cfg;
struct cfg_stream;

/* Past this many, more lines would only bury the first ones. */
#define MAX_ERRORS 100
#define PATH_LEN 256
#define NAME_MAX_LEN 255

/* Where a stream's or route's values sit, for the cross checks. */
struct stream_pos {
	size_t obj, name;
	size_t *subjects;
	bool subjects_ok; /* all listed subjects were read */
};

struct route_pos {
	size_t obj, name, stream, subject, consumer;
	bool has_consumer;
	size_t limits; /* SIZE_MAX: no "limits" */
};

struct loader {
	const char *name; /* file name used in messages */
	const char *text; /* the file as given (doc.text may be a copy) */
	struct json_doc doc;
	/* Offsets of the "\u0000" escapes in strings, ascending, and the
	 * copy of the text in which they are replaced (NULL: none). */
	size_t *nuls;
	size_t nul_count;
	char *nul_free_text;
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

/* ---- reader.c ---- */

/* Parse `len` bytes of `text` into l->doc; json_parse()'s result and
 * error offset. Strings holding a NUL character are reported when read.
 * Free l->nuls and l->nul_free_text after the doc. */
int cfg_parse_text(struct loader *l, const char *text, size_t len, struct json_error *err_r);

/* "file:line:column: key: what is wrong" for the value at byte `off`. */
void cfg_error_at(struct loader *l, size_t off, const char *path, const char *fmt, ...)
    TJ_PRINTF(4, 5);
/* "file: NAME: what is wrong" for problems without a place in the file. */
void cfg_error_plain(struct loader *l, const char *what, const char *fmt, ...) TJ_PRINTF(3, 4);
/* Where a value starts as a reader sees it (a string at its quote). */
size_t cfg_tok_off(const struct json_tok *t);
/* A user value fit for a one-line message, in `buf`: short, no control bytes. */
const char *cfg_show(char *buf, size_t size, const char *s);
/* "an object", "a string", "null", ... for messages. */
const char *cfg_kind_name(const struct loader *l, const struct json_tok *t);
/* buf (PATH_LEN bytes) = parent.key or parent[i]; cut at PATH_LEN. */
void cfg_key_path(char *buf, const char *parent, const char *key, size_t key_len);
void cfg_index_path(char *buf, const char *parent, int i);
/* prefix + s in a new string; the caller frees it. */
char *cfg_prefixed(const char *prefix, const char *s);
/* Render a duration the way the file would spell it, in `buf`. */
const char *cfg_fmt_duration(char *buf, size_t size, int64_t ms);
/* Is v of `type`? Reports "expected <what>, got ..." when not. */
bool cfg_expect_type(struct loader *l, const struct json_tok *v, enum json_type type,
                     const char *path, const char *what);
/* A non-empty string value, unescaped and passed through `check` (may be
 * NULL); malloc'd, or NULL after reporting. */
char *cfg_read_string(struct loader *l, const struct json_tok *v, const char *path,
                      const char *(*check)(const char *));
/*
 * Read object `obj` against `specs` into `target`. found[i] receives the
 * value token of specs[i] (NULL if absent). Comment keys ("//...") are
 * skipped; unknown and duplicate keys are reported, as are missing
 * required keys (at the object). False if obj is not an object.
 */
bool cfg_read_object(struct loader *l, const struct json_tok *obj, const char *path,
                     const struct key_spec *specs, size_t nspecs, void *target,
                     const struct json_tok **found);

/* ---- schema.c ---- */

/* Read the whole file (the root object) into l->cfg. */
void cfg_read_top(struct loader *l, const struct json_tok *root);
/* worker_id's rule, shared with TASKJET_WORKER_ID; NULL if fine. */
const char *cfg_check_printable(const char *s);
/* The names of `backend`, shared with TASKJET_BACKEND; NULL-terminated. */
extern const struct enum_name cfg_backend_names[];

/* ---- checks.c ---- */

/* Checks between values, after the defaults are derived. */
void cfg_check_streams(struct loader *l);
void cfg_check_routes(struct loader *l);
/* The stream named `name` (NULL: none). */
const struct cfg_stream *cfg_find_stream(const struct cfg *cfg, const char *name);

#endif
