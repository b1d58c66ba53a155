/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the value parsers of the config and the operator tools
 * (durations and sizes, core/config/reader.c; http.listen addresses,
 * core/config/schema.c; the DLQ's --since and ?since=, core/task/dlq.c).
 * The input is one text given to each. Beyond the sanitizers it checks:
 *   - cfg_parse_duration() and cfg_parse_size() agree with plain reference
 *     parsers written here (syntax, value and overflow);
 *   - a duration rendered by cfg_fmt_duration() reads back the same;
 *   - a listen address accepted reads back the same when written again;
 *   - dlq_parse_since() gives at least 1; a time read back from its RFC 3339
 *     form is the same; a duration ago agrees with the reference.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/internal.h"
#include "task/dlq.h"
#include "util/clock.h"

/* 2023-11-14T22:13:20.123Z: "ago" is counted from here. */
#define NOW_MS INT64_C(1700000000123)
/* 9999-12-31T23:59:59.999Z, the last time RFC 3339 can write. */
#define LAST_RFC3339_MS INT64_C(253402300799999)

static void
check(bool ok, const char *what, const char *text)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_values: %s: \"%s\"\n", what, text);
	abort();
}

/* Digits at s[*i..]: false if none; the value saturates past INT64_MAX. */
static bool
reference_number(const char *s, size_t n, size_t *i, __int128 *v_r)
{
	size_t start = *i;
	__int128 v = 0;

	for (; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++)
		if (v <= INT64_MAX)
			v = v * 10 + (s[*i] - '0');
	*v_r = v;
	return *i > start;
}

/* 0, -EINVAL or -ERANGE, as the reference value `v` and its syntax say. */
static int
reference_result(bool syntax_ok, __int128 v, int64_t *value_r)
{
	if (!syntax_ok)
		return -EINVAL;
	if (v > INT64_MAX)
		return -ERANGE;
	*value_r = (int64_t)v;
	return 0;
}

/* "0", or NUMBER UNIT... with units h, m, s, ms, largest first, each once. */
static int
reference_duration(const char *s, size_t n, int64_t *ms_r)
{
	static const struct {
		const char *unit;
		int64_t ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
	__int128 total = 0, v;
	size_t i = 0, next = 0;

	if (n == 1 && s[0] == '0')
		return reference_result(true, 0, ms_r);
	while (i < n) {
		size_t start, u;

		if (!reference_number(s, n, &i, &v))
			return -EINVAL;
		/* The unit is every letter up to the next digit. */
		for (start = i; i < n && (s[i] < '0' || s[i] > '9'); i++)
			;
		for (u = next; u < 4; u++)
			if (strlen(units[u].unit) == i - start &&
			    memcmp(s + start, units[u].unit, i - start) == 0)
				break;
		if (u == 4)
			return -EINVAL;
		next = u + 1;
		total += v * units[u].ms;
	}
	return reference_result(n > 0, total, ms_r);
}

/* NUMBER, then nothing or one of KiB MiB GiB KB MB GB. */
static int
reference_size(const char *s, size_t n, int64_t *bytes_r)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = { { "", 1 },      { "KiB", 1024 },   { "MiB", 1048576 },  { "GiB", 1073741824 },
		      { "KB", 1000 }, { "MB", 1000000 }, { "GB", 1000000000 } };
	size_t i = 0;
	__int128 v;

	if (!reference_number(s, n, &i, &v))
		return -EINVAL;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if (strlen(units[u].unit) == n - i && memcmp(s + i, units[u].unit, n - i) == 0)
			return reference_result(true, v * units[u].mult, bytes_r);
	return -EINVAL;
}

/* [NUMBER w][NUMBER d][a config duration], at least one part, back from
 * NOW_MS (1 when that is before the epoch); -EINVAL past int64 ms. */
static int
reference_ago(const char *s, int64_t *ms_r)
{
	static const struct {
		char unit;
		int64_t ms;
	} big[] = { { 'w', INT64_C(604800000) }, { 'd', INT64_C(86400000) } };
	size_t n = strlen(s), i = 0, next = 0;
	__int128 total = 0, v;
	int64_t rest = 0;

	while (next < 2) {
		size_t j = i, u;

		if (!reference_number(s, n, &j, &v))
			break;
		for (u = next; u < 2 && s[j] != big[u].unit; u++)
			;
		if (u == 2)
			break;
		total += v * big[u].ms;
		next = u + 1;
		i = j + 1;
	}
	if ((i == 0 || i < n) && reference_duration(s + i, n - i, &rest) < 0)
		return -EINVAL;
	total += rest;
	if (total > INT64_MAX)
		return -EINVAL;
	*ms_r = total < NOW_MS ? NOW_MS - (int64_t)total : 1;
	return 0;
}

static void
check_duration(const char *text, size_t n)
{
	int64_t got = -1, want = -1;
	int rc = cfg_parse_duration(text, n, &got), ref = reference_duration(text, n, &want);

	check(rc == ref, "cfg_parse_duration's result differs from the reference", text);
	check(rc != 0 || got == want, "cfg_parse_duration's value differs from the reference",
	      text);
}

static void
check_size(const char *text, size_t n)
{
	int64_t got = -1, want = -1;
	int rc = cfg_parse_size(text, n, &got), ref = reference_size(text, n, &want);

	check(rc == ref, "cfg_parse_size's result differs from the reference", text);
	check(rc != 0 || got == want, "cfg_parse_size's value differs from the reference", text);
}

/* A duration as the config's messages write it reads back as itself. */
static void
check_format(int64_t ms)
{
	char buf[48];
	int64_t back = -1;

	if (ms < 0)
		ms = -(ms + 1);
	cfg_fmt_duration(buf, sizeof(buf), ms);
	check(cfg_parse_duration(buf, strlen(buf), &back) == 0 && back == ms,
	      "cfg_fmt_duration does not read back", buf);
}

static void
check_listen(const char *text)
{
	char host[64], again[96], host2[64];
	unsigned char addr[16];
	int port = -1, port2 = -1;
	bool v6 = text[0] == '[';

	if (cfg_parse_listen(text, host, sizeof(host), &port) < 0)
		return;
	check(port >= 0 && port <= 65535, "listen port out of range", text);
	check(inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) == 1, "listen host not numeric", text);
	snprintf(again, sizeof(again), v6 ? "[%s]:%d" : "%s:%d", host, port);
	check(cfg_parse_listen(again, host2, sizeof(host2), &port2) == 0 &&
	          strcmp(host, host2) == 0 && port == port2,
	      "listen address does not read back", text);
}

static void
check_since(const char *text)
{
	int64_t ms = 0, back = 0, want = 0;
	char buf[40];
	int rc = dlq_parse_since(text, NOW_MS, &ms);

	check(rc != 0 || ms >= 1, "dlq_parse_since gave less than 1", text);
	if (text[strspn(text, "0123456789wdhms")] == '\0') {
		/* Only digits and units: a duration ago, never a date. */
		int ref = reference_ago(text, &want);

		check((rc == 0) == (ref == 0),
		      "dlq_parse_since's result differs from the reference", text);
		check(rc != 0 || ms == want, "dlq_parse_since's value differs from the reference",
		      text);
	} else if (rc == 0 && ms <= LAST_RFC3339_MS) {
		clock_format_rfc3339(ms, true, buf, sizeof(buf));
		check(dlq_parse_since(buf, NOW_MS, &back) == 0 && back == ms,
		      "a --since time does not read back", text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	int64_t ms = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	/* Counted forms see every byte; C-string ones stop at a NUL. */
	check_duration(text, size);
	check_size(text, size);
	check_listen(text);
	check_since(text);
	memcpy(&ms, data, size < sizeof(ms) ? size : sizeof(ms));
	check_format(ms);
	free(text);
	return 0;
}
