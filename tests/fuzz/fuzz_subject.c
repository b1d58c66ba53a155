/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: NATS subject rules (core/util/subject.c), which decide what a
 * route, a stream, a DLQ filter and HTTP intake take. The input is up to
 * three strings separated by newlines. Beyond the sanitizers it checks:
 *   - subject_matches() agrees with a plain token-list matcher written here;
 *   - subject_covers() agrees with subject_matches() on a literal subject,
 *     is reflexive and transitive, and a pattern covering another matches
 *     whatever that one matches;
 *   - a literal subject is a valid pattern.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/subject.h"

#define MAX_TOKENS 64

/* Split at '.'; the token count, or -1 if there are too many to compare. */
static int
tokens(char *s, char **tok)
{
	int n = 0;

	for (char *p = s;; p++) {
		if (n == MAX_TOKENS)
			return -1;
		tok[n++] = p;
		p = strchr(p, '.');
		if (p == NULL)
			return n;
		*p = '\0';
	}
}

/* The reference: '*' takes one token, '>' one or more, others themselves. */
static int
reference_match(const char *pattern, const char *subject)
{
	char *p = strdup(pattern), *s = strdup(subject), *pt[MAX_TOKENS], *st[MAX_TOKENS];
	int np = tokens(p, pt), ns = tokens(s, st), i, result = -1;

	if (np < 0 || ns < 0)
		goto out;
	result = 0;
	for (i = 0; i < np; i++) {
		if (strcmp(pt[i], ">") == 0) {
			result = ns > i;
			goto out;
		}
		if (i >= ns || (strcmp(pt[i], "*") != 0 && strcmp(pt[i], st[i]) != 0))
			goto out;
	}
	result = i == ns;
out:
	free(p);
	free(s);
	return result;
}

static void
check(bool ok, const char *what, const char *a, const char *b)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_subject: %s: \"%s\" \"%s\"\n", what, a, b);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *str[3] = { "", "", "" };
	char *buf = malloc(size + 1);
	size_t n = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	for (char *p = buf; n < 3 && p != NULL; n++) {
		str[n] = p;
		p = strchr(p, '\n');
		if (p != NULL)
			*p++ = '\0';
	}
	for (size_t i = 0; i < 3; i++) {
		const char *a = str[i], *b = str[(i + 1) % 3], *c = str[(i + 2) % 3];
		bool a_literal = subject_valid(a, false), b_literal = subject_valid(b, false);
		bool a_pattern = subject_valid(a, true);
		bool matches = subject_matches(a, b);
		int ref;

		check(!a_literal || a_pattern, "literal but not a pattern", a, "");
		check(!matches || (a_pattern && b_literal), "matches invalid subjects", a, b);
		if (a_pattern && b_literal && (ref = reference_match(a, b)) >= 0)
			check(matches == ref, "subject_matches differs from the reference", a, b);
		if (b_literal)
			check(subject_covers(a, b) == matches, "covers a literal unlike matches", a,
			      b);
		check(!a_pattern || subject_covers(a, a), "does not cover itself", a, a);
		if (subject_covers(a, b)) {
			check(!subject_covers(b, c) || subject_covers(a, c),
			      "covers not transitive", a, c);
			check(!subject_matches(b, c) || subject_matches(a, c),
			      "covers but does not match", a, c);
		}
	}
	free(buf);
	return 0;
}
