/* SPDX-License-Identifier: MIT */
/* NATS subject matching, shared by config validation and the router. */
#include <string.h>

#include "util/subject.h"

/* Length of the token starting at s (up to '.' or NUL). */
static size_t
token_len(const char *s)
{
	return strcspn(s, ".");
}

bool
subject_valid(const char *subject, bool allow_wildcards)
{
	const char *p = subject;

	if (subject == NULL || *subject == '\0')
		return false;
	for (;;) {
		size_t n = token_len(p);

		if (n == 0)
			return false;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c <= ' ' || c == 0x7f)
				return false;
			if ((c == '*' || c == '>') && (n != 1 || !allow_wildcards))
				return false;
		}
		if (p[0] == '>' && p[n] != '\0')
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

/*
 * Walk both token lists in step. `wide` tokens may be wildcards; `narrow`
 * tokens may be too when asking about coverage, where a '*' in narrow is
 * only covered by '*' or '>' in wide, and '>' only by '>'.
 */
static bool
match_tokens(const char *wide, const char *narrow)
{
	for (;;) {
		size_t wn = token_len(wide), nn = token_len(narrow);

		if (wn == 1 && wide[0] == '>')
			return nn > 0;
		if (nn == 1 && narrow[0] == '>')
			return false;
		if (wn == 1 && wide[0] == '*') {
			if (nn == 0)
				return false;
		} else if (nn == 1 && narrow[0] == '*') {
			return false;
		} else if (wn != nn || memcmp(wide, narrow, wn) != 0) {
			return false;
		}
		if (wide[wn] == '\0' || narrow[nn] == '\0')
			return wide[wn] == '\0' && narrow[nn] == '\0';
		wide += wn + 1;
		narrow += nn + 1;
	}
}

bool
subject_matches(const char *pattern, const char *subject)
{
	if (!subject_valid(pattern, true) || !subject_valid(subject, false))
		return false;
	return match_tokens(pattern, subject);
}

bool
subject_covers(const char *wide, const char *narrow)
{
	if (!subject_valid(wide, true) || !subject_valid(narrow, true))
		return false;
	return match_tokens(wide, narrow);
}
