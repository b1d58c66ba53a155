/* SPDX-License-Identifier: MIT */
/* JSON parsing (RFC 8259, UTF-8 strings, the nesting limit), walking, typed
 * reads and unescaping. Output is test_jsonw.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "testing.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static int
parse_str(const char *s, struct json_doc *doc, size_t *err_r)
{
	return json_parse(s, strlen(s), doc, err_r);
}

TEST(good_documents_parse)
{
	static const struct {
		const char *text;
		int count;
		enum json_type root;
	} cases[] = {
		{ "{}", 1, JSON_OBJECT },
		{ "[]", 1, JSON_ARRAY },
		{ " \t\r\n{ } \n", 1, JSON_OBJECT },
		{ "{\"a\":1}", 3, JSON_OBJECT },
		{ "{\"a\" : [1, 2.5, -3e10, true, false, null, \"x\"]}", 10, JSON_OBJECT },
		{ "[[[]],{}]", 4, JSON_ARRAY },
		{ "\"just a string\"", 1, JSON_STRING },
		{ "42", 1, JSON_PRIMITIVE },
		{ " -0.5e+3 ", 1, JSON_PRIMITIVE },
		{ "true", 1, JSON_PRIMITIVE },
		{ "null\n", 1, JSON_PRIMITIVE },
		{ "{\"a\":{\"b\":{\"c\":\"d\"}},\"e\":[]}", 9, JSON_OBJECT },
		{ "[\"\\u00e9\\ud83d\\ude00\\n\"]", 2, JSON_ARRAY },
		{ "{\"\":0}", 3, JSON_OBJECT },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct json_doc doc;
		int r = parse_str(cases[i].text, &doc, NULL);

		if (r != 0) {
			testing_fail(__FILE__, __LINE__, "\"%s\" rejected (%d)", cases[i].text, r);
			continue;
		}
		if (doc.count != cases[i].count || doc.toks[0].type != cases[i].root)
			testing_fail(__FILE__, __LINE__, "\"%s\": count %d type %d", cases[i].text,
			             doc.count, (int)doc.toks[0].type);
		CHECK_TRUE(json_next(doc.toks) == doc.toks + doc.count);
		json_doc_free(&doc);
	}
}

TEST(bad_documents_are_rejected_with_offset)
{
	static const struct {
		const char *text;
		size_t offset;
	} cases[] = {
		{ "", 0 },
		{ "   \n", 4 },
		{ "{", 1 },
		{ "{}}", 2 },
		{ "{} {}", 3 },
		{ "{} x", 3 },
		{ "[1 2]", 3 },
		{ "[1,,2]", 3 },
		{ "[1,]", 2 },
		{ "{\"a\":1,}", 6 },
		{ "{\"a\" 1}", 5 },
		{ "{\"a\"}", 4 },
		{ "{\"a\":}", 5 },
		{ "{1:2}", 1 },
		{ "{\"a\":1 \"b\":2}", 7 },
		{ "{\"a\":\"b\":\"c\"}", 8 },
		{ "[\"a\":1]", 4 },
		{ "tru", 0 },
		{ "[tru]", 1 },
		{ "[01]", 1 },
		{ "[1.]", 1 },
		{ "[.5]", 1 },
		{ "[-]", 1 },
		{ "[1e]", 1 },
		{ "[+1]", 1 },
		{ "[0x10]", 1 },
		{ "[nulls]", 1 },
		{ "42 43", 3 },
		{ "[\"a\tb\"]", 3 },
		{ "[\"bad \\x escape\"]", 6 },
		{ "[\"\\ud800\"]", 2 },
		{ "[\"\\udc00\"]", 2 },
		{ "[\"\\ud800\\u0041\"]", 2 },
		{ "[\"ok\xff\xfe\"]", 4 },
		{ "{\"k\xc0\xaf\":1}", 3 },
		{ "[1,\xff]", 3 },
		{ "[\"unterminated]", 1 },
		{ "{\"a\":[1,2}", 9 },
		{ "'single'", 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct json_doc doc;
		size_t off = 9999;
		int r = parse_str(cases[i].text, &doc, &off);

		if (r != -EINVAL) {
			testing_fail(__FILE__, __LINE__, "\"%s\" accepted (%d)", cases[i].text, r);
			if (r == 0)
				json_doc_free(&doc);
			continue;
		}
		if (off != cases[i].offset)
			testing_fail(__FILE__, __LINE__, "\"%s\": offset %zu, expected %zu",
			             cases[i].text, off, cases[i].offset);
		CHECK_FALSE(json_valid(cases[i].text, strlen(cases[i].text)));
	}
}

TEST(embedded_nul_and_length_limit)
{
	static const char with_nul[] = "{\"a\":1}\0{}";
	struct json_doc doc;
	size_t big = ((size_t)64 << 20) + 1;
	char *huge;

	CHECK_INT(json_parse(with_nul, sizeof(with_nul) - 1, &doc, NULL), -EINVAL);
	CHECK_INT(json_parse("[\"a\0b\"]", 7, &doc, NULL), -EINVAL);
	/* Only the first len bytes count. */
	CHECK_INT(json_parse("{}garbage", 2, &doc, NULL), 0);
	json_doc_free(&doc);

	huge = malloc(big);
	CHECK_TRUE(huge != NULL);
	if (huge == NULL)
		return;
	memset(huge, ' ', big);
	huge[0] = '[';
	huge[big - 1] = ']';
	CHECK_INT(json_parse(huge, big, &doc, NULL), -EINVAL);
	CHECK_INT(json_parse(huge + 1, big - 1, &doc, NULL), -EINVAL); /* "  ]" */
	huge[1] = '[';
	huge[big - 2] = ']';
	CHECK_INT(json_parse(huge + 1, big - 2, &doc, NULL), 0); /* exactly 64 MiB */
	json_doc_free(&doc);
	free(huge);
}

TEST(deep_nesting_is_bounded)
{
	size_t depth = 100000;
	char *s = malloc(2 * depth);
	struct json_doc doc;
	size_t off = 0;

	CHECK_TRUE(s != NULL);
	if (s == NULL)
		return;
	memset(s, '[', depth);
	memset(s + depth, ']', depth);

	/* Rejected in linear time, at the first bracket too deep. */
	CHECK_INT(json_parse(s, 2 * depth, &doc, &off), -EINVAL);
	CHECK_INT(off, 512);
	/* Brackets inside strings do not count. */
	memset(s, ' ', 2 * depth);
	s[0] = '[';
	s[1] = '"';
	memset(s + 2, '[', 1000);
	s[1002] = '"';
	s[1003] = ']';
	CHECK_INT(json_parse(s, 1004, &doc, NULL), 0);
	json_doc_free(&doc);
	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	/* 100 levels are fine. */
	CHECK_INT(json_parse(s + depth - 100, 200, &doc, NULL), 0);
	CHECK_INT(doc.count, 100);
	json_doc_free(&doc);
	free(s);
}

TEST(next_skips_whole_subtrees)
{
	static const char text[] = "{\"skip\":{\"x\":[1,{\"y\":[2,3]},\"z\"],\"w\":{}},"
	                           "\"list\":[[1,2],[],{\"a\":[]},\"s\"],\"last\":true}";
	struct json_doc doc;
	const struct json_tok *k, *t, *v;
	const char *keys[3];
	int i, n = 0;

	CHECK_INT(parse_str(text, &doc, NULL), 0);
	if (testing_failed())
		return;
	CHECK_INT(doc.toks[0].size, 3);
	json_for_each_member(i, k, &doc.toks[0])
	{
		if (n < 3)
			keys[n] = json_tok_eq(&doc, k, "skip")   ? "skip"
			          : json_tok_eq(&doc, k, "list") ? "list"
			          : json_tok_eq(&doc, k, "last") ? "last"
			                                         : "?";
		n++;
	}
	CHECK_INT(n, 3);
	CHECK_STR(keys[0], "skip");
	CHECK_STR(keys[1], "list");
	CHECK_STR(keys[2], "last");

	v = json_member(&doc, &doc.toks[0], "list");
	CHECK_TRUE(v != NULL && v->type == JSON_ARRAY && v->size == 4);
	if (v == NULL)
		goto out;
	n = 0;
	json_for_each_item(i, t, v)
	{
		static const enum json_type want[] = { JSON_ARRAY, JSON_ARRAY, JSON_OBJECT,
			                               JSON_STRING };
		CHECK_INT(t->type, want[n]);
		n++;
	}
	CHECK_INT(n, 4);
	CHECK_TRUE(t == json_member(&doc, &doc.toks[0], "last") - 1);
	CHECK_TRUE(json_next(&doc.toks[0]) == doc.toks + doc.count);
out:
	json_doc_free(&doc);
}

TEST(member_lookup)
{
	static const char text[] =
	    "{\"a\":{\"b\":1},\"b\":\"two\",\"c\\\"\":3,\"dup\":1,\"dup\":2}";
	struct json_doc doc;
	const struct json_tok *v;
	int64_t n = 0;
	char *s = NULL;

	CHECK_INT(parse_str(text, &doc, NULL), 0);
	if (testing_failed())
		return;
	v = json_member(&doc, doc.toks, "b");
	CHECK_INT(json_get_string(&doc, v, &s), 0);
	CHECK_STR(s, "two"); /* the top-level b, not the nested one */
	free(s);
	CHECK_TRUE(json_member(&doc, doc.toks, "missing") == NULL);
	CHECK_TRUE(json_member(&doc, v, "b") == NULL); /* not an object */
	CHECK_TRUE(json_member(&doc, doc.toks, "c\\\"") != NULL); /* raw match */
	CHECK_INT(json_get_i64(&doc, json_member(&doc, doc.toks, "dup"), &n), 0);
	CHECK_INT(n, 1); /* the first one */
	v = json_member(&doc, json_member(&doc, doc.toks, "a"), "b");
	CHECK_INT(json_get_i64(&doc, v, &n), 0);
	CHECK_INT(n, 1);
	json_doc_free(&doc);
}

/* Parse `[<item>]` and run a typed read on the item. */
static struct json_doc item_doc;
static char item_buf[256];

static const struct json_tok *
item(const char *text)
{
	snprintf(item_buf, sizeof(item_buf), "[%s]", text);
	if (json_parse(item_buf, strlen(item_buf), &item_doc, NULL) != 0)
		return NULL;
	return item_doc.toks + 1;
}

TEST(integers_at_the_limits)
{
	static const struct {
		const char *text;
		int ret;
		int64_t value;
	} cases[] = {
		{ "0", 0, 0 },
		{ "-0", 0, 0 },
		{ "42", 0, 42 },
		{ "-17", 0, -17 },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "-9223372036854775808", 0, INT64_MIN },
		{ "9223372036854775808", -EINVAL, 0 },
		{ "-9223372036854775809", -EINVAL, 0 },
		{ "99999999999999999999999999999999999999", -EINVAL, 0 },
		{ "1.0", -EINVAL, 0 },
		{ "1e3", -EINVAL, 0 },
		{ "1E3", -EINVAL, 0 },
		{ "\"12\"", -EINVAL, 0 },
		{ "true", -EINVAL, 0 },
		{ "null", -EINVAL, 0 },
		{ "[]", -EINVAL, 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		const struct json_tok *t = item(cases[i].text);
		int64_t v = 12345;
		int r;

		if (t == NULL) {
			testing_fail(__FILE__, __LINE__, "%s: no parse", cases[i].text);
			continue;
		}
		r = json_get_i64(&item_doc, t, &v);
		if (r != cases[i].ret || (r == 0 && v != cases[i].value) || (r != 0 && v != 12345))
			testing_fail(__FILE__, __LINE__, "i64(%s) = %d, %lld", cases[i].text, r,
			             (long long)v);
		json_doc_free(&item_doc);
	}
}

TEST(doubles_bools_nulls)
{
	const struct json_tok *t;
	double d = 0;
	bool b = false;

	t = item("0.25");
	CHECK_INT(json_get_double(&item_doc, t, &d), 0);
	CHECK_RANGE(d, 0.25, 0.25);
	json_doc_free(&item_doc);
	t = item("-2e3");
	CHECK_INT(json_get_double(&item_doc, t, &d), 0);
	CHECK_RANGE(d, -2000, -2000);
	json_doc_free(&item_doc);
	t = item("7");
	CHECK_INT(json_get_double(&item_doc, t, &d), 0);
	CHECK_RANGE(d, 7, 7);
	json_doc_free(&item_doc);
	t = item("1e999");
	CHECK_INT(json_get_double(&item_doc, t, &d), -EINVAL);
	json_doc_free(&item_doc);
	t = item("\"1\"");
	CHECK_INT(json_get_double(&item_doc, t, &d), -EINVAL);
	json_doc_free(&item_doc);
	t = item("0.100000000000000000000000000000000000000000000000000000000000000"
	         "000000000000000000001");
	CHECK_INT(json_get_double(&item_doc, t, &d), 0);
	CHECK_RANGE(d, 0.0999999, 0.1000001);
	json_doc_free(&item_doc);

	t = item("true");
	CHECK_INT(json_get_bool(&item_doc, t, &b), 0);
	CHECK_TRUE(b);
	CHECK_FALSE(json_is_null(&item_doc, t));
	json_doc_free(&item_doc);
	t = item("false");
	CHECK_INT(json_get_bool(&item_doc, t, &b), 0);
	CHECK_FALSE(b);
	json_doc_free(&item_doc);
	t = item("null");
	CHECK_INT(json_get_bool(&item_doc, t, &b), -EINVAL);
	CHECK_TRUE(json_is_null(&item_doc, t));
	json_doc_free(&item_doc);
	t = item("\"true\"");
	CHECK_INT(json_get_bool(&item_doc, t, &b), -EINVAL);
	CHECK_FALSE(json_is_null(&item_doc, t));
	json_doc_free(&item_doc);
}

TEST(unescape_table)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: must be rejected */
	} cases[] = {
		{ "plain", "plain" },
		{ "", "" },
		{ "\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t" },
		{ "\\u0041\\u00e9\\u20AC", "A\xc3\xa9\xe2\x82\xac" },
		{ "\\ud83d\\ude00", "\xf0\x9f\x98\x80" },
		{ "\\uDBFF\\uDFFF", "\xf4\x8f\xbf\xbf" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" }, /* raw UTF-8 passes through */
		{ "\\x", NULL },
		{ "\\", NULL },
		{ "\\u12", NULL },
		{ "\\u12g4", NULL },
		{ "\\ud83d", NULL },
		{ "\\ud83dx", NULL },
		{ "\\ud83d\\u0041", NULL },
		{ "\\ud800\\udbff", NULL }, /* just below the low surrogates */
		{ "\\ud800\\ue000", NULL }, /* just above */
		{ "\\udbff\\udc00", "\xf4\x8f\xb0\x80" },
		{ "\\ude00", NULL },
		{ "\xff", NULL },
		{ "a\nb", NULL },
		{ "\x01", NULL },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char *out = NULL;
		int r = json_unescape(cases[i].in, strlen(cases[i].in), &out);

		if (cases[i].out == NULL) {
			if (r != -EINVAL || out != NULL)
				testing_fail(__FILE__, __LINE__, "unescape(\"%s\") = %d",
				             cases[i].in, r);
		} else if (r != 0 || strcmp(out, cases[i].out) != 0) {
			testing_fail(__FILE__, __LINE__, "unescape(\"%s\") = %d \"%s\"",
			             cases[i].in, r, out ? out : "(null)");
		}
		free(out);
	}
}

/* RFC 8259: \u0000 is a valid escape. C strings cannot hold it, so the
 * NUL-terminated reads refuse it instead of cutting the string short. */
TEST(nul_escape_is_valid_json_but_no_c_string)
{
	static const char text[] = "{\"a\":\"x\\u0000y\",\"k\\u0000\":1}";
	struct json_doc doc;
	const struct json_tok *v;
	char *s = NULL;
	size_t n = 0;

	CHECK_TRUE(json_valid("{\"a\":\"\\u0000\"}", 14));
	CHECK_INT(parse_str(text, &doc, NULL), 0);
	if (testing_failed())
		return;
	v = json_member(&doc, doc.toks, "a");
	CHECK_INT(json_get_string(&doc, v, &s), -EILSEQ);
	CHECK_TRUE(s == NULL);
	CHECK_INT(json_get_stringn(&doc, v, &s, &n), 0);
	CHECK_INT(n, 3);
	CHECK_TRUE(s != NULL && memcmp(s, "x\0y", 4) == 0);
	free(s);
	s = NULL;
	CHECK_INT(json_get_stringn(&doc, doc.toks, &s, &n), -EINVAL); /* not a string */
	CHECK_INT(json_unescape("\\u0000", 6, &s), -EILSEQ);
	CHECK_INT(json_unescapen("a\\u0000", 7, &s, &n), 0);
	CHECK_INT(n, 2);
	free(s);
	json_doc_free(&doc);
}

/* Raw bytes in strings must be UTF-8 as RFC 3629 has it. */
TEST(strings_must_be_utf8)
{
	static const struct {
		const char *body;
		bool ok;
	} cases[] = {
		{ "caf\xc3\xa9", true },
		{ "\xe2\x82\xac", true }, /* U+20AC */
		{ "\xef\xbf\xbf", true }, /* U+FFFF */
		{ "\xf0\x9f\x98\x80", true }, /* U+1F600 */
		{ "\xf4\x8f\xbf\xbf", true }, /* U+10FFFF */
		{ "\xff\xfe", false },
		{ "\xfe", false },
		{ "\x80", false }, /* lone continuation byte */
		{ "\xc0\xaf", false }, /* overlong '/' */
		{ "\xc1\xbf", false }, /* overlong */
		{ "\xe0\x80\xaf", false }, /* overlong */
		{ "\xf0\x80\x80\xaf", false }, /* overlong */
		{ "\xed\xa0\x80", false }, /* U+D800, a surrogate */
		{ "\xed\xbf\xbf", false }, /* U+DFFF */
		{ "\xf4\x90\x80\x80", false }, /* past U+10FFFF */
		{ "\xf8\x88\x80\x80\x80", false }, /* five bytes */
		{ "\xe2\x82", false }, /* truncated */
		{ "\xe2\x82x", false }, /* truncated, then ASCII */
		{ "\xf0\x9f\x98", false },
		{ "\xc3", false },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char text[32];
		struct json_error err = { 0 };
		int r;

		snprintf(text, sizeof(text), "[\"a%s\"]", cases[i].body);
		r = json_check(text, strlen(text), NULL, &err);
		if (cases[i].ok && r != 0)
			testing_fail(__FILE__, __LINE__, "case %zu rejected: %s", i, err.what);
		if (!cases[i].ok && (r != -EINVAL || err.offset != 3 ||
		                     strcmp(err.what, "invalid UTF-8 in a string") != 0))
			testing_fail(__FILE__, __LINE__, "case %zu: %d at %zu (%s)", i, r,
			             err.offset, err.what);
	}
}

/* A \u escape names a Unicode scalar value: a high surrogate takes a low
 * one right after it; a lone surrogate has no UTF-8 form and is refused. */
TEST(surrogate_escapes)
{
	static const struct {
		const char *body;
		const char *utf8; /* NULL: rejected */
	} cases[] = {
		{ "\\ud800\\udc00", "\xf0\x90\x80\x80" },
		{ "\\udbff\\udfff", "\xf4\x8f\xbf\xbf" },
		{ "\\uD83D\\uDE00", "\xf0\x9f\x98\x80" },
		{ "\\ud7ff", "\xed\x9f\xbf" }, /* just below the surrogates */
		{ "\\ue000", "\xee\x80\x80" }, /* just above */
		{ "\\ud800\\u0041", NULL },
		{ "\\ud800\\ue000", NULL },
		{ "\\ud800\\udbff", NULL }, /* high then high */
		{ "\\ud800\\ud800", NULL },
		{ "\\udbff\\ue000", NULL },
		{ "\\ud800", NULL },
		{ "\\ud800x", NULL },
		{ "\\ud800\\n", NULL },
		{ "\\ud800\\u00", NULL },
		{ "\\udc00", NULL },
		{ "\\udfff\\ud800", NULL }, /* pair in the wrong order */
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char text[48];
		struct json_doc doc;
		struct json_error err = { 0 };
		char *s = NULL;
		int r;

		snprintf(text, sizeof(text), "[\"%s\"]", cases[i].body);
		r = json_parse_with(text, strlen(text), NULL, &doc, &err);
		if (cases[i].utf8 == NULL) {
			if (r != -EINVAL || err.offset != 2)
				testing_fail(__FILE__, __LINE__, "%s: %d at %zu", cases[i].body, r,
				             err.offset);
			if (r == 0)
				json_doc_free(&doc);
			continue;
		}
		if (r != 0) {
			testing_fail(__FILE__, __LINE__, "%s rejected: %s", cases[i].body,
			             err.what);
			continue;
		}
		CHECK_INT(json_get_string(&doc, doc.toks + 1, &s), 0);
		CHECK_STR(s, cases[i].utf8);
		free(s);
		json_doc_free(&doc);
	}
}

TEST(errors_say_why)
{
	static const struct {
		const char *text;
		size_t offset;
		const char *what;
	} cases[] = {
		{ "[\"a\tb\"]", 3, "control character in a string" },
		{ "[\"\\q\"]", 2, "invalid escape" },
		{ "[\"\\u12x4\"]", 2, "invalid escape" },
		{ "[\"\\udc00\"]", 2, "lone surrogate in a \\u escape" },
		{ "[\"\\ud800\\u0041\"]", 2, "lone surrogate in a \\u escape" },
		{ "[\"\xff\"]", 2, "invalid UTF-8 in a string" },
		{ "{} x", 3, "syntax error" },
		{ "{} {}", 3, "text after the value" },
		{ "[\"abc", 1, "unterminated string" },
		{ "tru", 0, "not a number, true, false or null" },
		{ "[01]", 1, "not a number, true, false or null" },
		{ "  ", 2, "no value" },
		{ "{\"a\":[1,2", 8, "unexpected end of the text" },
		{ "{\"a\" 1}", 5, "syntax error" },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct json_error err = { 0 };
		int r = json_check(cases[i].text, strlen(cases[i].text), NULL, &err);

		if (r != -EINVAL || err.offset != cases[i].offset ||
		    strcmp(err.what, cases[i].what) != 0)
			testing_fail(__FILE__, __LINE__,
			             "%s: %d at %zu \"%s\", expected %zu \"%s\"", cases[i].text, r,
			             err.offset, err.what, cases[i].offset, cases[i].what);
	}
}

/* The nesting limit is a parse option; its refusal names it. */
TEST(max_depth_is_an_option)
{
	char deep[JSON_MAX_DEPTH_LIMIT * 2 + 2];
	struct json_parse_opts opts = { .max_depth = 3 };
	struct json_error err = { 0 };
	struct json_doc doc;

	CHECK_INT(json_check("[[[]]]", 6, &opts, NULL), 0);
	CHECK_INT(json_check("[{\"a\":[]}]", 10, &opts, NULL), 0);
	CHECK_INT(json_check("[[[[]]]]", 8, &opts, &err), -EINVAL);
	CHECK_INT(err.offset, 3);
	CHECK_STR(err.what, "nesting deeper than 3");
	CHECK_INT(json_parse_with("{\"a\":{\"b\":{\"c\":{}}}}", 20, &opts, &doc, &err), -EINVAL);
	CHECK_STR(err.what, "nesting deeper than 3");
	opts.max_depth = 1;
	CHECK_INT(json_check("[]", 2, &opts, NULL), 0);
	CHECK_INT(json_check("[[]]", 4, &opts, NULL), -EINVAL);
	CHECK_INT(json_check("\"[[\"", 4, &opts, NULL), 0); /* brackets in strings */

	/* Out of range settings are refused, not clamped. */
	opts.max_depth = -1;
	CHECK_INT(json_check("[]", 2, &opts, &err), -EINVAL);
	CHECK_STR(err.what, "max_depth out of range");
	opts.max_depth = JSON_MAX_DEPTH_LIMIT + 1;
	CHECK_INT(json_check("[]", 2, &opts, &err), -EINVAL);

	/* The largest setting works to its last level. */
	memset(deep, '[', JSON_MAX_DEPTH_LIMIT + 1);
	memset(deep + JSON_MAX_DEPTH_LIMIT + 1, ']', JSON_MAX_DEPTH_LIMIT + 1);
	opts.max_depth = JSON_MAX_DEPTH_LIMIT;
	CHECK_INT(json_check(deep + 1, 2 * JSON_MAX_DEPTH_LIMIT, &opts, NULL), 0);
	CHECK_INT(json_check(deep, 2 * JSON_MAX_DEPTH_LIMIT + 2, &opts, &err), -EINVAL);
	CHECK_INT(err.offset, JSON_MAX_DEPTH_LIMIT);

	/* 0 is the default, 512. */
	opts.max_depth = 0;
	CHECK_INT(json_check(deep + JSON_MAX_DEPTH_LIMIT + 1 - 512, 1024, &opts, NULL), 0);
	CHECK_INT(json_check(deep + JSON_MAX_DEPTH_LIMIT - 512, 1026, &opts, &err), -EINVAL);
	CHECK_STR(err.what, "nesting deeper than 512");
}

TEST(positions_are_one_based)
{
	static const char text[] = "{\n  \"a\": 1,\n\t\"b\": [true]\n}";
	struct json_doc doc;
	const struct json_tok *v;
	int line = 0, col = 0;

	CHECK_INT(parse_str(text, &doc, NULL), 0);
	if (testing_failed())
		return;
	json_position(&doc, 0, &line, &col);
	CHECK_INT(line, 1);
	CHECK_INT(col, 1);
	v = json_member(&doc, doc.toks, "a");
	json_position(&doc, (size_t)v->start, &line, &col);
	CHECK_INT(line, 2);
	CHECK_INT(col, 8);
	v = json_member(&doc, doc.toks, "b");
	json_position(&doc, (size_t)v->start, &line, &col);
	CHECK_INT(line, 3);
	CHECK_INT(col, 7); /* a tab is one byte */
	json_position(&doc, 1000, &line, &col); /* clamped to the end */
	CHECK_INT(line, 4);
	CHECK_INT(col, 2);
	json_doc_free(&doc);
}

TEST(valid_checks_payloads)
{
	CHECK_TRUE(json_valid("{\"id\":1}", 8));
	CHECK_TRUE(json_valid("[]", 2));
	CHECK_TRUE(json_valid("3", 1));
	CHECK_FALSE(json_valid("{\"id\":1", 7));
	CHECK_FALSE(json_valid("hello", 5));
	CHECK_FALSE(json_valid("", 0));
}

int
main(void)
{
	RUN(good_documents_parse);
	RUN(bad_documents_are_rejected_with_offset);
	RUN(embedded_nul_and_length_limit);
	RUN(deep_nesting_is_bounded);
	RUN(next_skips_whole_subtrees);
	RUN(member_lookup);
	RUN(integers_at_the_limits);
	RUN(doubles_bools_nulls);
	RUN(unescape_table);
	RUN(nul_escape_is_valid_json_but_no_c_string);
	RUN(strings_must_be_utf8);
	RUN(surrogate_escapes);
	RUN(errors_say_why);
	RUN(max_depth_is_an_option);
	RUN(positions_are_one_based);
	RUN(valid_checks_payloads);
	return testing_done();
}
