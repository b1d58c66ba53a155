/* SPDX-License-Identifier: MIT */
/*
 * NATS subject rules: tokens separated by '.', '*' matches one token, '>'
 * matches one or more trailing tokens. Pure functions, thread-safe.
 */
#ifndef TASKJET_SUBJECT_H
#define TASKJET_SUBJECT_H

#include <stdbool.h>

/* A valid subject or pattern: no empty tokens, no whitespace, '>' only last,
 * wildcards only as whole tokens. Literal subjects if !allow_wildcards. */
bool subject_valid(const char *subject, bool allow_wildcards);

/* Does literal `subject` match `pattern`? */
bool subject_matches(const char *pattern, const char *subject);

/* Is every subject `narrow` can match also matched by `wide`? */
bool subject_covers(const char *wide, const char *narrow);

#endif
