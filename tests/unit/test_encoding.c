/* SPDX-License-Identifier: MIT */
/* UTF-8 (RFC 3629) and base64 (RFC 4648) from common/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "testing.h"
#include "utf8.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

TEST(utf8_decode_table)
{
	static const struct {
		const char *bytes;
		size_t len;
		size_t want; /* 0: not a sequence */
		uint32_t cp;
	} cases[] = {
		{ "A", 1, 1, 'A' },
		{ "\0", 1, 1, 0 },
		{ "\x7f", 1, 1, 0x7f },
		{ "\xc2\x80", 2, 2, 0x80 },
		{ "\xdf\xbf", 2, 2, 0x7ff },
		{ "\xe0\xa0\x80", 3, 3, 0x800 },
		{ "\xed\x9f\xbf", 3, 3, 0xd7ff },
		{ "\xee\x80\x80", 3, 3, 0xe000 },
		{ "\xef\xbf\xbf", 3, 3, 0xffff },
		{ "\xf0\x90\x80\x80", 4, 4, 0x10000 },
		{ "\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff },
		{ "\xc3\xa9xyz", 5, 2, 0xe9 }, /* only the first sequence */
		/* overlong forms */
		{ "\xc0\x80", 2, 0, 0 },
		{ "\xc1\xbf", 2, 0, 0 },
		{ "\xe0\x9f\xbf", 3, 0, 0 },
		{ "\xf0\x8f\xbf\xbf", 4, 0, 0 },
		/* surrogates */
		{ "\xed\xa0\x80", 3, 0, 0 },
		{ "\xed\xbf\xbf", 3, 0, 0 },
		/* past U+10FFFF, and bytes that never start a sequence */
		{ "\xf4\x90\x80\x80", 4, 0, 0 },
		{ "\xf5\x80\x80\x80", 4, 0, 0 },
		{ "\xf8\x88\x80\x80\x80", 5, 0, 0 },
		{ "\xfe", 1, 0, 0 },
		{ "\xff", 1, 0, 0 },
		{ "\x80", 1, 0, 0 },
		{ "\xbf", 1, 0, 0 },
		/* cut short, or a non-continuation inside */
		{ "\xc3", 1, 0, 0 },
		{ "\xe2\x82", 2, 0, 0 },
		{ "\xf0\x9f\x98", 3, 0, 0 },
		{ "\xe2\x28\xa1", 3, 0, 0 },
		{ "\xc3\xc3", 2, 0, 0 },
		{ "", 0, 0, 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		uint32_t cp = 0xdeadbeef;
		size_t n = utf8_decode(cases[i].bytes, cases[i].len, &cp);

		if (n != cases[i].want || (n > 0 && cp != cases[i].cp))
			testing_fail(__FILE__, __LINE__, "case %zu: %zu U+%04X", i, n,
			             (unsigned)cp);
		/* Each case is one sequence, or a bad one, then valid ASCII. */
		if (cases[i].len > 0)
			CHECK_INT(utf8_valid(cases[i].bytes, cases[i].len), cases[i].want > 0);
	}
}

TEST(utf8_valid_and_text)
{
	CHECK_TRUE(utf8_valid("", 0));
	CHECK_TRUE(utf8_valid("plain ascii", 11));
	CHECK_TRUE(utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
	CHECK_TRUE(utf8_valid("a\0b", 3)); /* U+0000 is UTF-8 ... */
	CHECK_FALSE(utf8_is_text("a\0b", 3)); /* ... but not text */
	CHECK_TRUE(utf8_is_text("caf\xc3\xa9", 5));
	CHECK_TRUE(utf8_is_text("", 0));
	CHECK_FALSE(utf8_valid("ok\xff\xfe", 4));
	CHECK_FALSE(utf8_is_text("ok\xff\xfe", 4));
	CHECK_FALSE(utf8_valid("caf\xc3", 4)); /* truncated at the end */
	CHECK_FALSE(utf8_valid("\xed\xa0\x80\xed\xb0\x80", 6)); /* CESU-8 pair */
	CHECK_FALSE(utf8_valid("x\xc0\xafy", 4));
}

/* Every scalar value encodes and decodes back; surrogates and values past
 * U+10FFFF do not encode. */
TEST(utf8_encode_round_trips_every_code_point)
{
	char buf[4];
	uint32_t back;

	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t n = utf8_encode(cp, buf);
		size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

		if (cp >= 0xd800 && cp <= 0xdfff) {
			if (n != 0) {
				testing_fail(__FILE__, __LINE__, "U+%04X encoded", (unsigned)cp);
				return;
			}
			continue;
		}
		if (n != want || utf8_decode(buf, n, &back) != n || back != cp) {
			testing_fail(__FILE__, __LINE__, "U+%04X: %zu bytes", (unsigned)cp, n);
			return;
		}
	}
	CHECK_INT(utf8_encode(0x110000, buf), 0);
	CHECK_INT(utf8_encode(0xffffffff, buf), 0);
}

/* RFC 4648 section 10's test vectors. */
TEST(base64_rfc4648_vectors)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const coded[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
	};

	for (size_t i = 0; i < N_ELEMS(plain); i++) {
		char out[16] = { 0 }, back[16] = { 0 };
		size_t n = strlen(plain[i]), len = 99;

		CHECK_INT(base64_encoded_len(n), strlen(coded[i]));
		base64_encode(plain[i], n, out);
		CHECK_STR(out, coded[i]);
		CHECK_TRUE(base64_decoded_max(strlen(coded[i])) >= n);
		CHECK_INT(base64_decode(coded[i], strlen(coded[i]), back, &len), 0);
		CHECK_INT(len, n);
		CHECK_STR(back, plain[i]);
	}
}

TEST(base64_decode_is_strict)
{
	static const char *const bad[] = {
		"Zg=", /* length */
		"Zg",         "Z",         "Zm9vY", "Zg=a", /* padding, then data */
		"Z===", /* too much padding */
		"====",       "=Zm9",      "Zm=v",  "Zm9vYg==Zm9v", /* padding inside */
		"Zh==", /* non-zero bits under the padding */
		"Zm9=",       "Zm9v YmFy", /* white space */
		"Zm9v\nYmFy", "Zm9-", /* URL-safe alphabet */
		"Zm9_",
	};
	unsigned char out[16];
	size_t len = 12345;

	for (size_t i = 0; i < N_ELEMS(bad); i++)
		if (base64_decode(bad[i], strlen(bad[i]), out, &len) != -EINVAL || len != 12345)
			testing_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i]);
	CHECK_INT(base64_decode("Zm9v\0mFy", 8, out, &len), -EINVAL); /* a NUL */
	CHECK_INT(len, 12345);
}

TEST(base64_round_trips_every_byte)
{
	unsigned char in[256], back[256];
	char coded[344];

	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(in); n += n < 8 ? 1 : 37) {
		size_t len = 0, clen = base64_encoded_len(n);

		base64_encode(in, n, coded);
		CHECK_INT(base64_decode(coded, clen, back, &len), 0);
		CHECK_INT(len, n);
		CHECK_TRUE(memcmp(in, back, n) == 0);
	}
	CHECK_INT(base64_encoded_len(SIZE_MAX), 0); /* would not fit */
}

int
main(void)
{
	RUN(utf8_decode_table);
	RUN(utf8_valid_and_text);
	RUN(utf8_encode_round_trips_every_code_point);
	RUN(base64_rfc4648_vectors);
	RUN(base64_decode_is_strict);
	RUN(base64_round_trips_every_byte);
	return testing_done();
}
