/* SPDX-License-Identifier: MIT */
/*
 * NKeys and NATS JWTs made in a test, offline: nats-server ships no `nk`
 * or `nsc` tool, so tests make their own key pairs (Ed25519 through
 * OpenSSL, encoded by core/nats/nkey.c) and sign their own operator,
 * account and user JWTs for a server in operator mode. Not thread-safe.
 */
#ifndef TASKJET_TEST_NKEY_GEN_H
#define TASKJET_TEST_NKEY_GEN_H

#include <stddef.h>

#include "nats/nkey.h"

struct test_nkey {
	enum nkey_type type;
	unsigned char raw[NKEY_RAW_LEN]; /* the Ed25519 seed */
	char seed[NKEY_SEED_LEN]; /* "SU...", "SA...", "SO..." */
	char pub[NKEY_PUBLIC_LEN]; /* "U...", "A...", "O..." */
};

/* A fresh random key pair of `type`. 0 or -EIO. */
int test_nkey_new(enum nkey_type type, struct test_nkey *k);

/*
 * A JWT for `subject` (a public key) named `name`, signed by `issuer`,
 * whose "nats" claim is the JSON object text `nats_claim`. malloc'd;
 * NULL on failure.
 */
char *test_jwt(const struct test_nkey *issuer, const char *subject, const char *name,
               const char *nats_claim);

/*
 * An operator, its system account, an account with JetStream allowed and
 * a user of it: writes
 * DIR/operator.jwt and DIR/user.creds (mode 0600), and the server config
 * that trusts them (resolver: MEMORY) into `conf`. 0 or -errno.
 */
int test_operator_setup(const char *dir, char *conf, size_t conf_len);

#endif
