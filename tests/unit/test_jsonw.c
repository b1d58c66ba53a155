/* SPDX-License-Identifier: MIT */
/* The JSON writer and its buffer: escaping, UTF-8 repair, the bytes
 * convention, nesting and misuse, and round trips through the parser. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json.h"
#include "jsonw.h"
#include "testing.h"
#include "utf8.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* `n` bytes of `s` as one string value, as text. */
static char *
quoted(const char *s, size_t n)
{
	static struct strbuf b;

	strbuf_release(&b);
	json_quote(&b, s, n);
	return b.err == 0 ? b.data : NULL;
}

TEST(every_escape)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "", "\"\"" },
		{ "plain / text", "\"plain / text\"" },
		{ "\"", "\"\\\"\"" },
		{ "\\", "\"\\\\\"" },
		{ "\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"" },
		{ "\x7f", "\"\\u007f\"" },
		{ "a\"b\\c\nd", "\"a\\\"b\\\\c\\nd\"" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"" },
		{ "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++)
		CHECK_STR(quoted(cases[i].in, strlen(cases[i].in)), cases[i].out);
}

/* No byte below 0x20 ever goes out raw. */
TEST(every_control_character)
{
	static const char *const short_forms[0x20] = {
		['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n", ['\r'] = "\\r", ['\t'] = "\\t",
	};

	for (int c = 0; c < 0x20; c++) {
		char in[3] = { 'x', (char)c, 'y' }, want[16];

		if (short_forms[c] != NULL)
			snprintf(want, sizeof(want), "\"x%sy\"", short_forms[c]);
		else
			snprintf(want, sizeof(want), "\"x\\u%04xy\"", c);
		CHECK_STR(quoted(in, 3), want);
	}
}

TEST(nul_inside_strings)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	CHECK_STR(quoted("a\0b", 3), "\"a\\u0000b\"");
	CHECK_STR(quoted("\0", 1), "\"\\u0000\"");
	jsonw_init(&w, &b);
	jsonw_begin_array(&w);
	jsonw_stringn(&w, "a\0b", 3);
	jsonw_string(&w, "a\0b"); /* NUL-terminated: ends at the NUL */
	jsonw_begin_object(&w);
	jsonw_keyn(&w, "k\0", 2);
	jsonw_int(&w, 1);
	jsonw_end_object(&w);
	jsonw_end_array(&w);
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_STR(b.data, "[\"a\\u0000b\",\"a\",{\"k\\u0000\":1}]");
	strbuf_release(&b);
}

/* Text fields stay valid UTF-8: each bad byte becomes U+FFFD. */
TEST(invalid_utf8_becomes_replacement_characters)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "\xff\xfe", "\"\\ufffd\\ufffd\"" },
		{ "a\xff", "\"a\\ufffd\"" },
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" }, /* overlong '/' */
		{ "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"" }, /* overlong */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* high surrogate half */
		{ "\xed\xb0\x80", "\"\\ufffd\\ufffd\\ufffd\"" }, /* low surrogate half */
		{ "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" }, /* past U+10FFFF */
		{ "ab\xe2\x82", "\"ab\\ufffd\\ufffd\"" }, /* truncated at the end */
		{ "\xe2\x82x", "\"\\ufffd\\ufffdx\"" }, /* truncated, then ASCII */
		{ "\x80", "\"\\ufffd\"" }, /* lone continuation byte */
		{ "\xc3\xa9\xff\xc3\xa9", "\"\xc3\xa9\\ufffd\xc3\xa9\"" }, /* bad between good */
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++)
		CHECK_STR(quoted(cases[i].in, strlen(cases[i].in)), cases[i].out);
}

TEST(nesting_and_commas)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_member_int(&w, "a", 1);
	jsonw_key(&w, "b");
	jsonw_begin_array(&w);
	jsonw_int(&w, 1);
	jsonw_uint(&w, 2);
	jsonw_begin_object(&w);
	jsonw_key(&w, "c");
	jsonw_null(&w);
	jsonw_end_object(&w);
	jsonw_begin_array(&w);
	jsonw_end_array(&w);
	jsonw_bool(&w, false);
	jsonw_end_array(&w);
	jsonw_key(&w, "d");
	jsonw_begin_object(&w);
	jsonw_end_object(&w);
	jsonw_member_string(&w, "e", NULL);
	jsonw_member_bool(&w, "f", true);
	jsonw_key(&w, "g\"\n");
	jsonw_raw(&w, " {\"x\": [1, 2]}\n", 15);
	jsonw_end_object(&w);
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_STR(b.data, "{\"a\":1,\"b\":[1,2,{\"c\":null},[],false],\"d\":{},\"e\":null,"
	                  "\"f\":true,\"g\\\"\\n\":{\"x\": [1, 2]}}");
	CHECK_TRUE(json_valid(b.data, b.len));

	/* A writer appends after what the buffer holds; any value may be
	 * the top level. */
	strbuf_puts(&b, "\n");
	jsonw_init(&w, &b);
	jsonw_string(&w, "top");
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_TRUE(strstr(b.data, "}\n\"top\"") != NULL);
	strbuf_release(&b);
}

TEST(numbers)
{
	static const struct {
		double v;
		const char *out;
	} doubles[] = {
		{ 0.0, "0" },
		{ -0.0, "-0" },
		{ 0.1, "0.1" },
		{ 1.5, "1.5" },
		{ -2e-7, "-2e-07" },
		{ 1e300, "1e+300" },
		{ 1.0 / 3, "0.33333333333333331" },
		{ NAN, "null" },
		{ INFINITY, "null" },
		{ -INFINITY, "null" },
	};
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	jsonw_begin_array(&w);
	jsonw_int(&w, INT64_MIN);
	jsonw_int(&w, INT64_MAX);
	jsonw_uint(&w, UINT64_MAX);
	jsonw_int(&w, 0);
	jsonw_end_array(&w);
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_STR(b.data, "[-9223372036854775808,9223372036854775807,18446744073709551615,0]");
	for (size_t i = 0; i < N_ELEMS(doubles); i++) {
		struct json_doc doc;
		double back = 0;

		strbuf_release(&b);
		jsonw_init(&w, &b);
		jsonw_double(&w, doubles[i].v);
		CHECK_INT(jsonw_finish(&w), 0);
		CHECK_STR(b.data, doubles[i].out);
		if (!isfinite(doubles[i].v))
			continue;
		/* It reads back as the same double. */
		CHECK_INT(json_parse(b.data, b.len, &doc, NULL), 0);
		CHECK_INT(json_get_double(&doc, doc.toks, &back), 0);
		CHECK_TRUE(back == doubles[i].v);
		json_doc_free(&doc);
	}
	strbuf_release(&b);
}

/* Text that is UTF-8 without NUL goes out as a string, anything else as
 * base64, and KEY_encoding says which. */
TEST(bytes_convention)
{
	static const struct {
		const char *data;
		size_t len;
		const char *out;
	} cases[] = {
		{ "{\"id\":1}", 8,
		  "{\"payload_encoding\":\"utf-8\",\"payload\":\"{\\\"id\\\":1}\"}" },
		{ "", 0, "{\"payload_encoding\":\"utf-8\",\"payload\":\"\"}" },
		{ "caf\xc3\xa9\n", 6,
		  "{\"payload_encoding\":\"utf-8\",\"payload\":\"caf\xc3\xa9\\n\"}" },
		{ "\xff\xfe", 2, "{\"payload_encoding\":\"base64\",\"payload\":\"//4=\"}" },
		{ "a\0b", 3, "{\"payload_encoding\":\"base64\",\"payload\":\"YQBi\"}" },
		{ "\xed\xa0\x80", 3, "{\"payload_encoding\":\"base64\",\"payload\":\"7aCA\"}" },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct strbuf b = { 0 };
		struct jsonw w;

		jsonw_init(&w, &b);
		jsonw_begin_object(&w);
		jsonw_member_bytes(&w, "payload", cases[i].data, cases[i].len);
		jsonw_end_object(&w);
		CHECK_INT(jsonw_finish(&w), 0);
		CHECK_STR(b.data, cases[i].out);
		strbuf_release(&b);
	}
}

/* Each misuse sets the error and writes nothing: the output never turns
 * into invalid JSON. */
TEST(misuse_is_an_error_not_invalid_json)
{
	struct strbuf b = { 0 };
	struct jsonw w;
	size_t len;
	int step;

	for (step = 0; step < 13; step++) {
		strbuf_release(&b);
		jsonw_init(&w, &b);
		switch (step) {
		case 0: /* a value where a key is due */
			jsonw_begin_object(&w);
			len = b.len;
			jsonw_int(&w, 1);
			break;
		case 1: /* a key in an array */
			jsonw_begin_array(&w);
			len = b.len;
			jsonw_key(&w, "k");
			break;
		case 2: /* a key at the top level */
			len = b.len;
			jsonw_key(&w, "k");
			break;
		case 3: /* two keys in a row */
			jsonw_begin_object(&w);
			jsonw_key(&w, "a");
			len = b.len;
			jsonw_key(&w, "b");
			break;
		case 4: /* closing an object whose value is due */
			jsonw_begin_object(&w);
			jsonw_key(&w, "a");
			len = b.len;
			jsonw_end_object(&w);
			break;
		case 5: /* closing the wrong kind */
			jsonw_begin_array(&w);
			len = b.len;
			jsonw_end_object(&w);
			break;
		case 6: /* closing nothing */
			len = b.len;
			jsonw_end_array(&w);
			break;
		case 7: /* a second top-level value */
			jsonw_int(&w, 1);
			len = b.len;
			jsonw_int(&w, 2);
			break;
		case 8: /* raw text that is not JSON */
			jsonw_begin_array(&w);
			len = b.len;
			jsonw_raw(&w, "{\"a\":", 5);
			break;
		case 9: /* raw text with invalid UTF-8 */
			jsonw_begin_array(&w);
			len = b.len;
			jsonw_raw(&w, "\"\xff\"", 3);
			break;
		case 10: /* raw text that is two values */
			jsonw_begin_array(&w);
			len = b.len;
			jsonw_raw(&w, "1 2", 3);
			break;
		case 11: /* bytes in an array: no place for the encoding */
			jsonw_begin_array(&w);
			len = b.len;
			jsonw_member_bytes(&w, "p", "x", 1);
			break;
		default: /* nesting deeper than the writer allows */
			for (int d = 0; d < JSONW_MAX_DEPTH; d++)
				jsonw_begin_array(&w);
			CHECK_INT(jsonw_error(&w), 0);
			len = b.len;
			jsonw_begin_array(&w);
			break;
		}
		if (jsonw_error(&w) != -EINVAL || b.len != len)
			testing_fail(__FILE__, __LINE__, "step %d: error %d, %zu bytes after %zu",
			             step, jsonw_error(&w), b.len, len);
		/* The error sticks: nothing more is written. */
		jsonw_string(&w, "more");
		jsonw_end_array(&w);
		jsonw_end_object(&w);
		CHECK_INT(b.len, len);
		CHECK_INT(jsonw_finish(&w), -EINVAL);
	}
	strbuf_release(&b);

	/* Unfinished documents do not finish. */
	jsonw_init(&w, &b);
	CHECK_INT(jsonw_finish(&w), -EINVAL); /* nothing written */
	jsonw_begin_object(&w);
	CHECK_INT(jsonw_finish(&w), -EINVAL);
	jsonw_end_object(&w);
	CHECK_INT(jsonw_finish(&w), 0);
	strbuf_release(&b);
}

TEST(buffer_errors_stick)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	strbuf_puts(&b, "abc");
	CHECK_TRUE(strbuf_extend(&b, SIZE_MAX - 2) == NULL);
	CHECK_INT(b.err, -ENOMEM);
	CHECK_INT(b.len, 3);
	strbuf_puts(&b, "more");
	strbuf_printf(&b, "%d", 42);
	CHECK_STR(b.data, "abc");
	jsonw_init(&w, &b);
	jsonw_int(&w, 1);
	CHECK_INT(jsonw_finish(&w), -ENOMEM);
	CHECK_STR(b.data, "abc");
	strbuf_release(&b);
	CHECK_INT(b.err, 0);
	CHECK_TRUE(b.data == NULL);
	strbuf_printf(&b, "%s-%03d", "x", 7);
	strbuf_put(&b, "\0z", 2);
	CHECK_INT(b.len, 7);
	CHECK_TRUE(memcmp(b.data, "x-007\0z", 8) == 0);
	strbuf_truncate(&b, 1);
	CHECK_STR(b.data, "x");
	strbuf_release(&b);
}

/* Written, then parsed back with the project's parser: the same strings. */
TEST(round_trip_through_the_parser)
{
#define TEXT(s)                  \
	{                        \
		s, sizeof(s) - 1 \
	}
	static const struct {
		const char *s;
		size_t len;
	} texts[] = {
		TEXT(""),
		TEXT("plain"),
		TEXT("q\"b\\s/"),
		TEXT("\b\f\n\r\t\x01\x1f\x7f"),
		TEXT("a\0b\0"),
		TEXT("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
	};
#undef TEXT
	struct strbuf b = { 0 };
	struct json_doc doc;
	const struct json_tok *t;
	struct jsonw w;
	char *back = NULL;
	size_t n = 0;
	int i;

	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	for (size_t k = 0; k < N_ELEMS(texts); k++) {
		char key[16];

		snprintf(key, sizeof(key), "k%zu", k);
		jsonw_key(&w, key);
		jsonw_stringn(&w, texts[k].s, texts[k].len);
	}
	jsonw_end_object(&w);
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_INT(json_parse(b.data, b.len, &doc, NULL), 0);
	if (testing_failed()) {
		strbuf_release(&b);
		return;
	}
	CHECK_INT(doc.toks[0].size, (int)N_ELEMS(texts));
	json_for_each_member(i, t, &doc.toks[0])
	{
		CHECK_INT(json_get_stringn(&doc, t + 1, &back, &n), 0);
		CHECK_INT(n, texts[i].len);
		CHECK_TRUE(back != NULL && memcmp(back, texts[i].s, n) == 0);
		free(back);
		back = NULL;
	}
	json_doc_free(&doc);
	strbuf_release(&b);
}

/* Any bytes at all: a text string of them parses and is valid UTF-8 (equal
 * to the input when that was UTF-8), and member_bytes gives them back
 * exactly. A fixed seed keeps the run reproducible. */
TEST(round_trip_of_random_bytes)
{
	unsigned long long seed = 0x9e3779b97f4a7c15ull;

	for (int round = 0; round < 2000; round++) {
		unsigned char data[64], decoded[64];
		size_t len, n = 0, dlen = 0;
		struct strbuf b = { 0 };
		struct json_doc doc;
		const struct json_tok *enc, *pay;
		char *text = NULL;
		struct jsonw w;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		len = (size_t)(seed >> 58); /* 0..63 */
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			/* Mostly ASCII and UTF-8 lead bytes, some of everything. */
			data[i] = (unsigned char)(seed >> 56);
			if (round % 2 == 0 && data[i] >= 0x80)
				data[i] &= 0x7f;
		}
		jsonw_init(&w, &b);
		jsonw_begin_object(&w);
		jsonw_key(&w, "text");
		jsonw_stringn(&w, (const char *)data, len);
		jsonw_member_bytes(&w, "p", data, len);
		jsonw_end_object(&w);
		if (jsonw_finish(&w) != 0 || !utf8_valid(b.data, b.len) ||
		    json_parse(b.data, b.len, &doc, NULL) != 0) {
			testing_fail(__FILE__, __LINE__, "round %d: not valid JSON", round);
			strbuf_release(&b);
			return;
		}
		CHECK_INT(json_get_stringn(&doc, json_member(&doc, doc.toks, "text"), &text, &n),
		          0);
		CHECK_TRUE(utf8_valid(text, n));
		if (utf8_valid(data, len))
			CHECK_TRUE(n == len && memcmp(text, data, len) == 0);
		free(text);
		text = NULL;
		enc = json_member(&doc, doc.toks, "p_encoding");
		pay = json_member(&doc, doc.toks, "p");
		if (enc == NULL || pay == NULL || pay->type != JSON_STRING) {
			testing_fail(__FILE__, __LINE__, "round %d: no p/p_encoding", round);
		} else if (json_tok_eq(&doc, enc, "utf-8")) {
			CHECK_TRUE(utf8_is_text(data, len));
			CHECK_INT(json_get_stringn(&doc, pay, &text, &n), 0);
			CHECK_TRUE(n == len && memcmp(text, data, len) == 0);
			free(text);
		} else {
			CHECK_TRUE(json_tok_eq(&doc, enc, "base64"));
			CHECK_FALSE(utf8_is_text(data, len));
			CHECK_INT(base64_decode(doc.text + pay->start,
			                        (size_t)(pay->end - pay->start), decoded, &dlen),
			          0);
			CHECK_TRUE(dlen == len && memcmp(decoded, data, len) == 0);
		}
		json_doc_free(&doc);
		strbuf_release(&b);
		if (testing_failed())
			return;
	}
}

int
main(void)
{
	RUN(every_escape);
	RUN(every_control_character);
	RUN(nul_inside_strings);
	RUN(invalid_utf8_becomes_replacement_characters);
	RUN(nesting_and_commas);
	RUN(numbers);
	RUN(bytes_convention);
	RUN(misuse_is_an_error_not_invalid_json);
	RUN(buffer_errors_stick);
	RUN(round_trip_through_the_parser);
	RUN(round_trip_of_random_bytes);
	return testing_done();
}
