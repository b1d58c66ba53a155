/* SPDX-License-Identifier: MIT */
/* The public key of an NKey user seed (Ed25519 through OpenSSL). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "nats/nkey.h"

/* The first byte of a seed is this, ORed with the top bits of its type. */
#define PREFIX_SEED (18 << 3)
#define RAW_KEY_LEN NKEY_RAW_LEN
/* Seed: 2 prefix bytes, the key, 2 CRC bytes; public key: 1 prefix byte. */
#define SEED_RAW_LEN (2 + RAW_KEY_LEN + 2)
#define PUBLIC_RAW_LEN (1 + RAW_KEY_LEN + 2)
#define SEED_TEXT_MAX 64

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* CRC-16/XMODEM, as NKeys checksum themselves. */
static uint16_t
crc16(const unsigned char *p, size_t n)
{
	uint16_t crc = 0;

	for (size_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x8000) != 0 ? (uint16_t)((crc << 1) ^ 0x1021)
			                          : (uint16_t)(crc << 1);
	}
	return crc;
}

/* RFC 4648 base32 without padding; false on a bad character or length. */
static bool
b32_decode(const char *s, size_t n, unsigned char *out, size_t cap, size_t *len_r)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *c = memchr(b32_alphabet, s[i], 32);

		if (s[i] == '\0' || c == NULL)
			return false;
		acc = (acc << 5) | (uint32_t)(c - b32_alphabet);
		bits += 5;
		if (bits >= 8) {
			if (o == cap)
				return false;
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	*len_r = o;
	return true;
}

static void
b32_encode(const unsigned char *p, size_t n, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

/* Append the CRC of p[0..n) little-endian at p[n], p[n+1]. */
static void
put_crc(unsigned char *p, size_t n)
{
	uint16_t crc = crc16(p, n);

	p[n] = (unsigned char)(crc & 0xff);
	p[n + 1] = (unsigned char)(crc >> 8);
}

void
nkey_encode_public(enum nkey_type type, const unsigned char key[NKEY_RAW_LEN],
                   char out[NKEY_PUBLIC_LEN])
{
	unsigned char raw[PUBLIC_RAW_LEN];

	raw[0] = (unsigned char)type;
	memcpy(raw + 1, key, RAW_KEY_LEN);
	put_crc(raw, 1 + RAW_KEY_LEN);
	b32_encode(raw, sizeof(raw), out);
}

void
nkey_encode_seed(enum nkey_type type, const unsigned char seed[NKEY_RAW_LEN],
                 char out[NKEY_SEED_LEN])
{
	unsigned char raw[SEED_RAW_LEN];

	raw[0] = (unsigned char)(PREFIX_SEED | ((unsigned)type >> 5));
	raw[1] = (unsigned char)(((unsigned)type & 31) << 3);
	memcpy(raw + 2, seed, RAW_KEY_LEN);
	put_crc(raw, 2 + RAW_KEY_LEN);
	b32_encode(raw, sizeof(raw), out);
	OPENSSL_cleanse(raw, sizeof(raw));
}

static void
set_why(char *why, size_t len, const char *text)
{
	if (why != NULL && len > 0)
		snprintf(why, len, "%s", text);
}

/* The seed's line in `text`: the first word starting with "SU" (as libnats
 * looks for it), else the first one that looks like another kind of seed,
 * so it can be named. */
static bool
find_seed(const char *text, const char **start_r, size_t *len_r)
{
	for (int pass = 0; pass < 2; pass++) {
		for (const char *line = text; *line != '\0';) {
			const char *p = line + strspn(line, " \t");
			size_t n = strcspn(p, " \t\r\n");

			if (n >= 2 && p[0] == 'S' &&
			    (pass == 0 ? p[1] == 'U' : n == NKEY_SEED_LEN - 1)) {
				*start_r = p;
				*len_r = n;
				return true;
			}
			line = p + strcspn(p, "\n");
			if (*line == '\n')
				line++;
		}
	}
	return false;
}

int
nkey_user_public_key(const char *text, char pub[NKEY_PUBLIC_LEN], char *why, size_t why_len)
{
	unsigned char raw[SEED_RAW_LEN + 8], key[RAW_KEY_LEN];
	size_t n = 0, klen = RAW_KEY_LEN, seed_len;
	const char *seed;
	EVP_PKEY *pk = NULL;
	int type, rc = -EINVAL;

	if (!find_seed(text, &seed, &seed_len)) {
		set_why(why, why_len, "no user NKey seed (a line starting with \"SU\") in it");
		return -EINVAL;
	}
	if (seed_len > SEED_TEXT_MAX || !b32_decode(seed, seed_len, raw, sizeof(raw), &n) ||
	    n != SEED_RAW_LEN ||
	    crc16(raw, SEED_RAW_LEN - 2) !=
	        (uint16_t)(raw[SEED_RAW_LEN - 2] | raw[SEED_RAW_LEN - 1] << 8) ||
	    (raw[0] & 0xf8) != PREFIX_SEED) {
		set_why(why, why_len, "the NKey seed is damaged (bad length or checksum)");
		goto out;
	}
	type = ((raw[0] & 7) << 5) | ((raw[1] & 0xf8) >> 3);
	if (type != NKEY_USER) {
		set_why(why, why_len, "the NKey seed is not a user seed (\"SU...\")");
		goto out;
	}
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 2, RAW_KEY_LEN);
	if (pk == NULL || EVP_PKEY_get_raw_public_key(pk, key, &klen) != 1 || klen != RAW_KEY_LEN) {
		set_why(why, why_len, "cannot derive the public key from the NKey seed");
		goto out;
	}
	nkey_encode_public(NKEY_USER, key, pub);
	rc = 0;
out:
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}
