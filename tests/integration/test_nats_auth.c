/* SPDX-License-Identifier: MIT */
/*
 * Each way of authenticating to NATS and TLS, against a real nats-server
 * configured for it: user and password, token, NKey, a credentials file
 * with a JWT (operator mode, keys and JWTs made here), TLS with a CA made
 * here with openssl, mutual TLS, a wrong CA, a certificate for another
 * name, a wrong password; and secret files others can read, refused before
 * anything is sent. Every reason is checked for naming the cause and for
 * not holding the secret.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nats/natsconn.h"
#include "nats_server.h"
#include "nkey_gen.h"
#include "testing.h"
#include "util/log.h"

static char pki[] = "/tmp/taskjet-pki-XXXXXX";

static struct cfg_nats
base_cfg(const char *url)
{
	return (struct cfg_nats){ .url = (char *)url,
		                  .name = "taskjet-auth-test",
		                  .connect_timeout_ms = 2000,
		                  .reconnect_wait_ms = 100,
		                  .reconnect_jitter_ms = 10 };
}

/* pki/name with `text` and `mode`; the path in one of a few static slots. */
static char *
secret(const char *name, const char *text, mode_t mode)
{
	static char paths[8][300];
	static int next;
	char *path = paths[next++ % 8];

	snprintf(path, 300, "%s/%s", pki, name);
	if (testing_write_file(path, text, mode) < 0)
		testing_fail(__FILE__, __LINE__, "cannot write %s", path);
	return path;
}

static char *
pki_path(const char *name)
{
	static char paths[8][300];
	static int next;
	char *path = paths[next++ % 8];

	snprintf(path, 300, "%s/%s", pki, name);
	return path;
}

/* Open with `c` against `url`: 0 (and a working connection) or -errno
 * with the reason in `why`. */
static int
try_open(struct cfg_nats *c, char *why, size_t len)
{
	struct natsconn *nc = NULL;
	int rc;

	why[0] = '\0';
	rc = natsconn_open(c, NULL, &(struct natsconn_options){ .err = why, .err_len = len }, &nc);
	if (rc == 0) {
		CHECK_INT(natsconn_flush(nc, 2000), 0);
		natsconn_close(nc, 1000);
	}
	return rc;
}

static bool
start(struct nats_server *s, const char *conf)
{
	memset(s, 0, sizeof(*s));
	if (nats_server_start_conf(s, conf) == 0)
		return true;
	testing_fail(__FILE__, __LINE__, "nats-server with this config did not start:\n%s", conf);
	nats_server_cleanup(s);
	return false;
}

TEST(user_and_password_file)
{
	struct nats_server s;
	struct cfg_nats c;
	char why[1024], url[128];

	if (!start(&s, "authorization { users = [ { user: svc, password: \"Pa55w0rd\" } ] }\n"))
		return;
	c = base_cfg(s.url);
	c.user = "svc";
	c.password_file = secret("password", "Pa55w0rd\n", 0600);
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);

	c.password_file = secret("wrong-password", "Wr0ngPa55\n", 0600);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EACCES);
	CHECK_CONTAINS(why, "authorization failed");
	CHECK_CONTAINS(why, "nats.password_file");
	CHECK_TRUE(strstr(why, "Wr0ngPa55") == NULL);

	c.password_file = secret("open-password", "Pa55w0rd\n", 0644);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "nats.password_file");
	CHECK_CONTAINS(why, c.password_file);
	CHECK_CONTAINS(why, "mode 0644");

	/* No credentials at all: the server says no, and we say what to set. */
	c = base_cfg(s.url);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EACCES);
	CHECK_CONTAINS(why, "authorization failed");

	/* In the URL it works too, and is never shown. */
	snprintf(url, sizeof(url), "nats://svc:Pa55w0rd@127.0.0.1:%d", s.port);
	c = base_cfg(url);
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);
	snprintf(url, sizeof(url), "nats://svc:Wr0ngPa55@127.0.0.1:%d", s.port);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EACCES);
	CHECK_CONTAINS(why, "nats://***@127.0.0.1:");
	CHECK_TRUE(strstr(why, "Wr0ngPa55") == NULL);
	nats_server_cleanup(&s);
}

TEST(token_file)
{
	struct nats_server s;
	struct cfg_nats c;
	char why[1024];

	if (!start(&s, "authorization { token: \"t0k3n-s3cr3t\" }\n"))
		return;
	c = base_cfg(s.url);
	c.token_file = secret("token", "t0k3n-s3cr3t\n", 0600);
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);
	c.token_file = secret("wrong-token", "n0t-the-t0k3n\n", 0400);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EACCES);
	CHECK_CONTAINS(why, "nats.token_file");
	CHECK_TRUE(strstr(why, "n0t-the-t0k3n") == NULL);
	c.token_file = secret("group-token", "t0k3n-s3cr3t\n", 0640);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "mode 0640");
	nats_server_cleanup(&s);
}

TEST(nkey_seed_file)
{
	struct test_nkey user, other, account;
	struct nats_server s;
	struct cfg_nats c;
	char conf[256], why[1024], text[128];

	if (test_nkey_new(NKEY_USER, &user) < 0 || test_nkey_new(NKEY_USER, &other) < 0 ||
	    test_nkey_new(NKEY_ACCOUNT, &account) < 0) {
		testing_fail(__FILE__, __LINE__, "cannot make NKeys");
		return;
	}
	snprintf(conf, sizeof(conf), "authorization { users = [ { nkey: %s } ] }\n", user.pub);
	if (!start(&s, conf))
		return;
	c = base_cfg(s.url);
	/* A seed file as `nk -gen user` writes it: the seed on a line. */
	snprintf(text, sizeof(text), "%s\n", user.seed);
	c.nkey_seed_file = secret("user.nk", text, 0600);
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);

	snprintf(text, sizeof(text), "%s\n", other.seed);
	c.nkey_seed_file = secret("other.nk", text, 0600);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EACCES);
	CHECK_CONTAINS(why, "nats.nkey_seed_file");

	snprintf(text, sizeof(text), "%s\n", account.seed);
	c.nkey_seed_file = secret("account.nk", text, 0600);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "not a user seed");

	snprintf(text, sizeof(text), "%s\n", user.seed);
	text[10] = text[10] == 'A' ? 'B' : 'A';
	c.nkey_seed_file = secret("damaged.nk", text, 0600);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "damaged");

	snprintf(text, sizeof(text), "%s\n", user.seed);
	c.nkey_seed_file = secret("open.nk", text, 0604);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "mode 0604");
	CHECK_TRUE(strstr(why, user.seed) == NULL);
	nats_server_cleanup(&s);
}

TEST(creds_file_with_a_jwt)
{
	struct nats_server s;
	struct cfg_nats c;
	struct natsconn *nc = NULL;
	jsAccountInfo *ai = NULL;
	jsErrCode jerr = 0;
	char *conf = malloc(16384), why[1024], creds[400], open_creds[1400];

	memset(&s, 0, sizeof(s));
	if (conf == NULL || nats_server_dir(&s) == NULL ||
	    test_operator_setup(s.dir, conf, 16384) < 0) {
		testing_fail(__FILE__, __LINE__, "cannot make the operator, account and user");
		free(conf);
		return;
	}
	if (nats_server_start_conf(&s, conf) != 0) {
		testing_fail(__FILE__, __LINE__, "operator-mode nats-server did not start");
		nats_server_cleanup(&s);
		free(conf);
		return;
	}
	snprintf(creds, sizeof(creds), "%s/user.creds", s.dir);
	c = base_cfg(s.url);
	c.creds_file = creds;
	why[0] = '\0';
	CHECK_INT(natsconn_open(&c, NULL,
	                        &(struct natsconn_options){ .err = why, .err_len = sizeof(why) },
	                        &nc),
	          0);
	if (nc != NULL) {
		/* The account's JWT allows JetStream: the engine could run here. */
		CHECK_INT(js_GetAccountInfo(&ai, natsconn_js(nc), NULL, &jerr), NATS_OK);
		jsAccountInfo_Destroy(ai);
		natsconn_close(nc, 1000);
	} else {
		printf("# %s\n", why);
	}
	/* Without credentials an operator-mode server lets no one in. */
	c.creds_file = NULL;
	CHECK_INT(try_open(&c, why, sizeof(why)), -EACCES);

	snprintf(open_creds, sizeof(open_creds), "cp %s %s/open.creds && chmod 644 %s/open.creds",
	         creds, s.dir, s.dir);
	CHECK_INT(system(open_creds), 0);
	snprintf(open_creds, sizeof(open_creds), "%s/open.creds", s.dir);
	c.creds_file = open_creds;
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "nats.creds_file");
	CHECK_CONTAINS(why, "mode 0644");
	nats_server_cleanup(&s);
	free(conf);
}

static char *
tls_conf(char *buf, size_t len, const char *cert, bool verify_clients)
{
	char clients[400] = "";

	if (verify_clients)
		snprintf(clients, sizeof(clients), "  ca_file: \"%s/ca.pem\"\n  verify: true\n",
		         pki);
	snprintf(buf, len, "tls {\n  cert_file: \"%s/%s.pem\"\n  key_file: \"%s/%s.key\"\n%s}\n",
	         pki, cert, pki, cert, clients);
	return buf;
}

TEST(tls_with_a_private_ca)
{
	struct nats_server s;
	struct cfg_nats c;
	char conf[1024], why[1024], url[128];

	if (!start(&s, tls_conf(conf, sizeof(conf), "server", false)))
		return;
	c = base_cfg(s.url);
	c.tls.enabled = true;
	c.tls.ca_file = pki_path("ca.pem");
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);
	/* The name is checked: "localhost" is in the certificate too. */
	snprintf(url, sizeof(url), "tls://localhost:%d", s.port);
	c.url = url;
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);

	c.url = s.url;
	c.tls.ca_file = pki_path("wrong-ca.pem");
	CHECK_INT(try_open(&c, why, sizeof(why)), -EPROTO);
	CHECK_CONTAINS(why, "TLS verification failed");
	CHECK_CONTAINS(why, "unable to get local issuer certificate");
	CHECK_CONTAINS(why, "nats.tls.ca_file");

	/* The system's CAs do not know ours either. */
	c.tls.ca_file = NULL;
	CHECK_INT(try_open(&c, why, sizeof(why)), -EPROTO);
	CHECK_CONTAINS(why, "TLS verification failed");

	c.tls.ca_file = pki_path("missing-ca.pem");
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "nats.tls.ca_file");
	nats_server_cleanup(&s);
}

TEST(tls_server_name_is_verified)
{
	struct nats_server s;
	struct cfg_nats c;
	char conf[1024], why[1024];

	/* A certificate for other.example only, served on 127.0.0.1. */
	if (!start(&s, tls_conf(conf, sizeof(conf), "other", false)))
		return;
	c = base_cfg(s.url);
	c.tls.enabled = true;
	c.tls.ca_file = pki_path("ca.pem");
	CHECK_INT(try_open(&c, why, sizeof(why)), -EPROTO);
	CHECK_CONTAINS(why, "mismatch");
	CHECK_CONTAINS(why, "nats.tls.server_name");
	c.tls.server_name = "wrong.example";
	CHECK_INT(try_open(&c, why, sizeof(why)), -EPROTO);
	CHECK_CONTAINS(why, "expected wrong.example");
	c.tls.server_name = "other.example";
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);
	nats_server_cleanup(&s);
}

TEST(tls_wanted_but_not_offered)
{
	struct nats_server s;
	struct cfg_nats c;
	char why[1024], url[128];

	if (!start(&s, "# plain\n"))
		return;
	snprintf(url, sizeof(url), "tls://127.0.0.1:%d", s.port);
	c = base_cfg(url);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EPROTO);
	CHECK_CONTAINS(why, "does not offer it");
	nats_server_cleanup(&s);
}

TEST(mutual_tls)
{
	struct nats_server s;
	struct cfg_nats c;
	char conf[1024], why[1024];

	if (!start(&s, tls_conf(conf, sizeof(conf), "server", true)))
		return;
	c = base_cfg(s.url);
	c.tls.enabled = true;
	c.tls.ca_file = pki_path("ca.pem");
	c.tls.cert_file = pki_path("client.pem");
	c.tls.key_file = pki_path("client.key");
	CHECK_INT(try_open(&c, why, sizeof(why)), 0);

	c.tls.cert_file = pki_path("intruder.pem");
	c.tls.key_file = pki_path("intruder.key");
	CHECK_INT(try_open(&c, why, sizeof(why)), -EPROTO);
	CHECK_CONTAINS(why, "did not accept the client certificate");

	c.tls.cert_file = NULL;
	c.tls.key_file = NULL;
	CHECK_INT(try_open(&c, why, sizeof(why)), -EPROTO);
	CHECK_CONTAINS(why, "without a client certificate");

	/* The key is a secret file like the others. */
	c.tls.cert_file = pki_path("client.pem");
	c.tls.key_file = pki_path("client.key");
	chmod(c.tls.key_file, 0644);
	CHECK_INT(try_open(&c, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "nats.tls.key_file");
	CHECK_CONTAINS(why, "mode 0644");
	chmod(c.tls.key_file, 0600);
	nats_server_cleanup(&s);
}

/* A CA, a wrong CA, server certificates for localhost/127.0.0.1 and for
 * other.example, a client certificate and one from the wrong CA. */
static int
make_pki(void)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
	         "set -e; cd '%s'; umask 077\n"
	         "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	         "-out \"$1.key\" 2>/dev/null; }\n"
	         "ca() { key $1; openssl req -x509 -new -key $1.key -out $1.pem -days 2 "
	         "-subj \"/CN=$1\" 2>/dev/null; }\n"
	         "cert() { key $1; openssl req -new -key $1.key -out $1.csr -subj \"/CN=$1\" "
	         "2>/dev/null; printf '%%s\\n' \"$3\" >$1.ext; openssl x509 -req -in $1.csr "
	         "-CA $2.pem -CAkey $2.key -CAcreateserial -out $1.pem -days 2 -extfile $1.ext "
	         "2>/dev/null; }\n"
	         "ca ca; ca wrong-ca\n"
	         "cert server ca 'subjectAltName=DNS:localhost,IP:127.0.0.1'\n"
	         "cert other ca 'subjectAltName=DNS:other.example'\n"
	         "cert client ca 'extendedKeyUsage=clientAuth'\n"
	         "cert intruder wrong-ca 'extendedKeyUsage=clientAuth'\n"
	         "chmod 644 *.pem\n",
	         pki);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("nats_auth", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);
	if (mkdtemp(pki) == NULL || make_pki() != 0) {
		printf("Bail out! cannot make certificates with openssl in %s "
		       "(apt-get install openssl)\n",
		       pki);
		return 1;
	}
	RUN(user_and_password_file);
	RUN(token_file);
	RUN(nkey_seed_file);
	RUN(creds_file_with_a_jwt);
	RUN(tls_with_a_private_ca);
	RUN(tls_server_name_is_verified);
	RUN(tls_wanted_but_not_offered);
	RUN(mutual_tls);
	testing_remove_tree(pki);
	natsconn_library_shutdown(5000);
	return testing_done();
}
