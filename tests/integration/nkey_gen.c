/* SPDX-License-Identifier: MIT */
/* Key pairs, JWTs and a credentials file for operator-mode tests. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "nkey_gen.h"
#include "strbuf.h"

int
test_nkey_new(enum nkey_type type, struct test_nkey *k)
{
	EVP_PKEY *pk = NULL;
	unsigned char pub[NKEY_RAW_LEN];
	size_t n = sizeof(pub);
	int rc = -EIO;

	k->type = type;
	if (RAND_bytes(k->raw, sizeof(k->raw)) != 1)
		return -EIO;
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->raw, sizeof(k->raw));
	if (pk != NULL && EVP_PKEY_get_raw_public_key(pk, pub, &n) == 1 && n == sizeof(pub)) {
		nkey_encode_seed(type, k->raw, k->seed);
		nkey_encode_public(type, pub, k->pub);
		rc = 0;
	}
	EVP_PKEY_free(pk);
	return rc;
}

/* base64url without padding, appended to b. */
static void
b64url(struct strbuf *b, const unsigned char *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 6) {
			strbuf_put(b, &a[(acc >> (bits - 6)) & 63], 1);
			bits -= 6;
		}
	}
	if (bits > 0)
		strbuf_put(b, &a[(acc << (6 - bits)) & 63], 1);
}

char *
test_jwt(const struct test_nkey *issuer, const char *subject, const char *name,
         const char *nats_claim)
{
	static const char header[] = "{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}";
	static unsigned counter;
	struct strbuf claims = { 0 }, jwt = { 0 };
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *md = NULL;
	char *out = NULL;

	/* The server checks the signature and the issuer; jti only has to be
	 * unique. */
	strbuf_printf(&claims,
	              "{\"jti\":\"TASKJETTEST%u%ld\",\"iat\":%ld,\"iss\":\"%s\",\"name\":\"%s\","
	              "\"sub\":\"%s\",\"nats\":%s}",
	              ++counter, (long)time(NULL), (long)time(NULL), issuer->pub, name, subject,
	              nats_claim);
	b64url(&jwt, (const unsigned char *)header, sizeof(header) - 1);
	strbuf_put(&jwt, ".", 1);
	b64url(&jwt, (const unsigned char *)claims.data, claims.len);
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, issuer->raw, sizeof(issuer->raw));
	md = EVP_MD_CTX_new();
	if (pk == NULL || md == NULL || claims.err != 0 || jwt.err != 0 ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)jwt.data, jwt.len) != 1)
		goto out;
	strbuf_put(&jwt, ".", 1);
	b64url(&jwt, sig, siglen);
	if (jwt.err == 0)
		out = strdup(jwt.data);
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	strbuf_release(&claims);
	strbuf_release(&jwt);
	return out;
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t n = strlen(text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		rc = -EIO;
	close(fd);
	return rc;
}

int
test_operator_setup(const char *dir, char *conf, size_t conf_len)
{
	struct test_nkey op, sys, acc, user;
	char *op_jwt = NULL, *sys_jwt = NULL, *acc_jwt = NULL, *user_jwt = NULL, path[512];
	struct strbuf creds = { 0 };
	int rc = -EIO;

	if (test_nkey_new(NKEY_OPERATOR, &op) < 0 || test_nkey_new(NKEY_ACCOUNT, &sys) < 0 ||
	    test_nkey_new(NKEY_ACCOUNT, &acc) < 0 || test_nkey_new(NKEY_USER, &user) < 0)
		return -EIO;
	/* JetStream in operator mode needs a system account. */
	sys_jwt = test_jwt(&op, sys.pub, "SYS", "{\"type\":\"account\",\"version\":2}");
	op_jwt =
	    test_jwt(&op, op.pub, "taskjet-test-operator", "{\"type\":\"operator\",\"version\":2}");
	acc_jwt = test_jwt(&op, acc.pub, "taskjet-test-account",
	                   "{\"limits\":{\"subs\":-1,\"data\":-1,\"payload\":-1,\"imports\":-1,"
	                   "\"exports\":-1,\"wildcards\":true,\"conn\":-1,\"leaf\":-1,"
	                   "\"mem_storage\":-1,\"disk_storage\":-1,\"streams\":-1,"
	                   "\"consumer\":-1},\"default_permissions\":{\"pub\":{},\"sub\":{}},"
	                   "\"type\":\"account\",\"version\":2}");
	user_jwt = test_jwt(&acc, user.pub, "taskjet-test-user",
	                    "{\"pub\":{},\"sub\":{},\"subs\":-1,\"data\":-1,\"payload\":-1,"
	                    "\"type\":\"user\",\"version\":2}");
	if (op_jwt == NULL || sys_jwt == NULL || acc_jwt == NULL || user_jwt == NULL)
		goto out;
	snprintf(path, sizeof(path), "%s/operator.jwt", dir);
	rc = write_file(path, op_jwt);
	if (rc < 0)
		goto out;
	strbuf_printf(&creds,
	              "-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"
	              "************************* IMPORTANT *************************\n"
	              "NKEY Seed printed below can be used to sign and prove identity.\n"
	              "NKEYs are sensitive and should be treated as secrets.\n\n"
	              "-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n\n"
	              "*************************************************************\n",
	              user_jwt, user.seed);
	snprintf(path, sizeof(path), "%s/user.creds", dir);
	rc = creds.err != 0 ? -ENOMEM : write_file(path, creds.data);
	if (rc < 0)
		goto out;
	snprintf(conf, conf_len,
	         "operator: \"%s/operator.jwt\"\nsystem_account: %s\nresolver: MEMORY\n"
	         "resolver_preload: {\n  %s: \"%s\"\n  %s: \"%s\"\n}\n",
	         dir, sys.pub, sys.pub, sys_jwt, acc.pub, acc_jwt);
	rc = 0;
out:
	free(op_jwt);
	free(sys_jwt);
	free(acc_jwt);
	free(user_jwt);
	strbuf_release(&creds);
	return rc;
}
