/* SPDX-License-Identifier: MIT */
/* Redact the user info of server URLs before they are shown. */
#include <string.h>

#include "util/url.h"

/* Append [s, s+n) to buf at *o, keeping room for the NUL. */
static void
put(char *buf, size_t len, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= len)
		return;
	if (n > len - 1 - *o)
		n = len - 1 - *o;
	memcpy(buf + *o, s, n);
	*o += n;
	buf[*o] = '\0';
}

char *
url_redact(const char *urls, char *buf, size_t len)
{
	size_t o = 0;
	const char *p = urls;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		const char *scheme = memchr(p, ':', n), *host, *at = NULL;

		/* The authority starts after "scheme://", or at the start. */
		host = scheme != NULL && scheme + 2 < p + n && scheme[1] == '/' && scheme[2] == '/'
		           ? scheme + 3
		           : p;
		for (const char *q = host; q < p + n && *q != '/'; q++)
			if (*q == '@')
				at = q;
		if (at != NULL) {
			put(buf, len, &o, p, (size_t)(host - p));
			put(buf, len, &o, "***", 3);
			put(buf, len, &o, at, (size_t)(p + n - at));
		} else {
			put(buf, len, &o, p, n);
		}
		p += n;
		if (*p == ',')
			put(buf, len, &o, p++, 1);
	}
	return buf;
}
