/* SPDX-License-Identifier: MIT */
/* JSON log lines: one valid JSON object per line, whatever the message
 * holds, and no longer than a text line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "testing.h"
#include "utf8.h"
#include "util/log.h"

/* Log `msg` (with `ctx`) as JSON to a fresh file; return its content. */
static char *
log_one(const struct log_ctx *ctx, const char *msg)
{
	char path[] = "/tmp/tj-log-XXXXXX", *text = NULL;
	int fd = mkstemp(path);
	size_t cap = 0;
	FILE *f;

	if (fd < 0)
		return NULL;
	close(fd);
	if (log_setup(TJ_LOG_DEBUG, LOG_FORMAT_JSON, path) == 0) {
		log_write(TJ_LOG_WARNING, ctx, "%s", msg);
		log_close();
	}
	f = fopen(path, "r");
	if (f != NULL) {
		if (getdelim(&text, &cap, '\0', f) < 0) {
			free(text);
			text = NULL;
		}
		fclose(f);
	}
	unlink(path);
	return text;
}

/* The one line of `text` as a parsed object; its "msg" in *msg_r. */
static int
parse_line(const char *text, struct json_doc *doc, char **msg_r)
{
	size_t len = strlen(text);

	if (len == 0 || text[len - 1] != '\n' || memchr(text, '\n', len - 1) != NULL)
		return -EINVAL;
	if (json_parse(text, len - 1, doc, NULL) < 0)
		return -EINVAL;
	if (doc->toks[0].type != JSON_OBJECT ||
	    json_get_string(doc, json_member(doc, doc->toks, "msg"), msg_r) < 0) {
		json_doc_free(doc);
		return -EINVAL;
	}
	return 0;
}

TEST(every_byte_of_a_message_survives_as_json)
{
	char all[256];
	struct json_doc doc;
	char *text, *msg = NULL;
	size_t n = 0;

	/* Every byte value but NUL, in order. */
	for (int c = 1; c < 256; c++)
		all[n++] = (char)c;
	all[n] = '\0';
	text = log_one(NULL, all);
	CHECK_TRUE(text != NULL);
	if (text == NULL)
		return;
	CHECK_TRUE(utf8_valid(text, strlen(text)));
	CHECK_INT(parse_line(text, &doc, &msg), 0);
	if (msg != NULL) {
		/* ASCII (controls included) comes back as it was; the bytes
		 * 0x80..0xff are no UTF-8 on their own: U+FFFD each. */
		CHECK_TRUE(memcmp(msg, all, 127) == 0);
		CHECK_INT(strlen(msg), 127 + 128 * 3);
		CHECK_TRUE(memcmp(msg + 127, "\xef\xbf\xbd", 3) == 0);
		CHECK_TRUE(json_member(&doc, doc.toks, "level") != NULL);
		json_doc_free(&doc);
	}
	free(msg);
	free(text);
}

TEST(context_fields_are_escaped_too)
{
	struct log_ctx ctx = { .route = "r\"1\n", .plugin = "p\\x\xff", .seq = 42, .attempt = 3 };
	const struct json_tok *t;
	struct json_doc doc;
	char *text = log_one(&ctx, "hello"), *msg = NULL, *s = NULL;
	int64_t v = 0;

	CHECK_TRUE(text != NULL);
	if (text == NULL || parse_line(text, &doc, &msg) < 0) {
		testing_fail(__FILE__, __LINE__, "not one JSON line: %s", text ? text : "(none)");
		free(text);
		return;
	}
	CHECK_STR(msg, "hello");
	CHECK_INT(json_get_string(&doc, json_member(&doc, doc.toks, "route"), &s), 0);
	CHECK_STR(s, "r\"1\n");
	free(s);
	CHECK_INT(json_get_string(&doc, json_member(&doc, doc.toks, "plugin"), &s), 0);
	CHECK_STR(s, "p\\x\xef\xbf\xbd");
	free(s);
	t = json_member(&doc, doc.toks, "seq");
	CHECK_INT(json_get_i64(&doc, t, &v), 0);
	CHECK_INT(v, 42);
	t = json_member(&doc, doc.toks, "attempt");
	CHECK_INT(json_get_i64(&doc, t, &v), 0);
	CHECK_INT(v, 3);
	json_doc_free(&doc);
	free(msg);
	free(text);
}

/* Escaping may grow a message sixfold; the line is cut to fit, still valid
 * and still ending in a whole character. */
TEST(long_messages_are_cut_to_a_valid_line)
{
	static const struct {
		const char *fill;
		bool cut; /* does escaping take 3.5 KB past 4 KB? */
	} cases[] = {
		{ "\x01", true }, /* \u0001 */
		{ "\"", true }, /* \" */
		{ "\xff", true }, /* \ufffd */
		{ "\xe2\x82\xac", false }, /* as is */
		{ "abcdefghi\\", false }, /* 1.1 times as long: fits */
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char big[3500] = "";
		struct json_doc doc;
		char *text, *msg = NULL;
		size_t step = strlen(cases[k].fill);

		for (size_t n = 0; n + step < sizeof(big); n += step)
			memcpy(big + n, cases[k].fill, step + 1);
		text = log_one(NULL, big);
		CHECK_TRUE(text != NULL);
		if (text == NULL)
			continue;
		CHECK_TRUE(strlen(text) <= 4096);
		if (parse_line(text, &doc, &msg) < 0) {
			testing_fail(__FILE__, __LINE__, "case %zu: not one JSON line", k);
		} else if (cases[k].cut) {
			CHECK_TRUE(strlen(text) > 4090); /* cut to fit, not dropped */
			CHECK_TRUE(utf8_valid(msg, strlen(msg)));
			/* Cut between characters: a prefix of the message. */
			if (utf8_valid(big, strlen(big)))
				CHECK_TRUE(strncmp(msg, big, strlen(msg)) == 0);
			json_doc_free(&doc);
		} else {
			CHECK_STR(msg, big);
			json_doc_free(&doc);
		}
		free(msg);
		free(text);
	}
}

/* Wherever the cut falls, it falls between characters. */
TEST(cuts_fall_between_characters)
{
	for (size_t pad = 0; pad < 24; pad++) {
		char big[3500];
		struct json_doc doc;
		char *text, *msg = NULL;
		size_t n = pad;

		memset(big, 'x', pad);
		while (n + 5 < sizeof(big)) {
			memcpy(big + n, "\xe2\x82\xac\x01", 4); /* 3 bytes out, then 6 */
			n += 4;
		}
		big[n] = '\0';
		text = log_one(NULL, big);
		if (text == NULL || parse_line(text, &doc, &msg) < 0) {
			testing_fail(__FILE__, __LINE__, "pad %zu: not one JSON line", pad);
		} else {
			if (strncmp(msg, big, strlen(msg)) != 0 || strlen(msg) < 1000)
				testing_fail(__FILE__, __LINE__, "pad %zu: cut inside a character",
				             pad);
			json_doc_free(&doc);
		}
		free(msg);
		free(text);
	}
}

int
main(void)
{
	RUN(every_byte_of_a_message_survives_as_json);
	RUN(context_fields_are_escaped_too);
	RUN(long_messages_are_cut_to_a_valid_line);
	RUN(cuts_fall_between_characters);
	return testing_done();
}
