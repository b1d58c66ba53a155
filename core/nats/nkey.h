/* SPDX-License-Identifier: MIT */
/*
 * NKeys as NATS encodes them: base32 of a type prefix, an Ed25519 key and a
 * CRC-16. libnats 3.4.1 signs with a user seed file but needs the public
 * key beside it; this derives it from the seed, so a seed file is all an
 * operator configures. Pure functions; thread-safe.
 */
#ifndef TASKJET_NKEY_H
#define TASKJET_NKEY_H

#include <stddef.h>

/* An encoded public key: 56 characters and a NUL; a seed: 58 and a NUL. */
#define NKEY_PUBLIC_LEN 57
#define NKEY_SEED_LEN 59
/* The raw Ed25519 keys and seeds inside. */
#define NKEY_RAW_LEN 32

/* Key types: the prefix byte of an encoded key (its first letter). */
enum nkey_type { NKEY_ACCOUNT = 0, NKEY_OPERATOR = 14 << 3, NKEY_USER = 20 << 3 };

/*
 * The public key ("U...") of the user seed ("SU...") in `text`: the first
 * line that starts with "SU" (surrounding blanks ignored), as seed files
 * and the seed section of a credentials file hold it. 0, or -EINVAL with
 * `why` (may be NULL) saying what is wrong: no seed, a damaged one (bad
 * checksum or length), or the seed of an account or operator, not of a
 * user. Nothing of the seed is left in memory this allocated.
 */
int nkey_user_public_key(const char *text, char pub[NKEY_PUBLIC_LEN], char *why, size_t why_len);

/* Encode a raw public key, or a raw seed, of `type` (tests make keys
 * with these). */
void nkey_encode_public(enum nkey_type type, const unsigned char key[NKEY_RAW_LEN],
                        char out[NKEY_PUBLIC_LEN]);
void nkey_encode_seed(enum nkey_type type, const unsigned char seed[NKEY_RAW_LEN],
                      char out[NKEY_SEED_LEN]);

#endif
