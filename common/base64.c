/* SPDX-License-Identifier: MIT */
/* Base64 encoding and strict decoding (RFC 4648). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encoded_len(size_t n)
{
	size_t groups = n / 3 + (n % 3 != 0);

	return groups > SIZE_MAX / 4 ? 0 : groups * 4;
}

void
base64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*out++ = alphabet[v >> 18 & 63];
		*out++ = alphabet[v >> 12 & 63];
		*out++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		*out++ = i + 2 < n ? alphabet[v & 63] : '=';
	}
}

size_t
base64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

static int
sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t n, void *out, size_t *out_len_r)
{
	unsigned char *o = out;
	size_t len = 0;

	if (n % 4 != 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 4) {
		bool last = i + 4 == n;
		int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
		uint32_t v = 0;

		for (int j = 0; j < 4 - pad; j++) {
			int s = sextet(in[i + j]);

			if (s < 0)
				return -EINVAL;
			v |= (uint32_t)s << (18 - 6 * j);
		}
		/* The bits padding leaves over must be zero (canonical form). */
		if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0))
			return -EINVAL;
		o[len++] = (unsigned char)(v >> 16);
		if (pad < 2)
			o[len++] = (unsigned char)(v >> 8);
		if (pad < 1)
			o[len++] = (unsigned char)v;
	}
	*out_len_r = len;
	return 0;
}
