/* SPDX-License-Identifier: MIT */
/*
 * Secrets at rest and in text: secret files are refused when group or
 * others can read them (naming the file and its mode), one-line secrets are
 * read trimmed, and URLs lose their user info before anyone sees them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testing.h"
#include "util/secret.h"
#include "util/url.h"

static char dir[] = "/tmp/tj-secret-XXXXXX";

/* dir/name with `text` and `mode`; the path in a static buffer. */
static const char *
put(const char *name, const char *text, mode_t mode)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (testing_write_file(path, text, mode) < 0)
		testing_fail(__FILE__, __LINE__, "cannot write %s", path);
	return path;
}

TEST(owner_only_files_pass)
{
	char why[512] = "";

	CHECK_INT(secret_file_check("nats.creds_file", put("a", "x", 0600), why, sizeof(why)), 0);
	CHECK_INT(secret_file_check("nats.creds_file", put("b", "x", 0400), why, sizeof(why)), 0);
	/* Writable or executable by others is not reading: not this rule's. */
	CHECK_INT(secret_file_check("k", put("c", "x", 0622), why, sizeof(why)), 0);
}

TEST(group_or_other_readable_files_are_refused_with_their_mode)
{
	char why[512] = "";
	const char *path = put("pw", "x", 0644);

	CHECK_INT(secret_file_check("nats.password_file", path, why, sizeof(why)), -EPERM);
	CHECK_CONTAINS(why, "nats.password_file");
	CHECK_CONTAINS(why, path);
	CHECK_CONTAINS(why, "mode 0644");
	CHECK_CONTAINS(why, "group and others");
	CHECK_CONTAINS(why, "chmod 600");
	CHECK_INT(secret_file_check("k", put("g", "x", 0640), why, sizeof(why)), -EPERM);
	CHECK_CONTAINS(why, "mode 0640");
	CHECK_CONTAINS(why, "its group");
	CHECK_INT(secret_file_check("k", put("o", "x", 0604), why, sizeof(why)), -EPERM);
	CHECK_CONTAINS(why, "by others");
}

TEST(missing_files_and_directories_are_refused)
{
	char why[512] = "", path[512];

	snprintf(path, sizeof(path), "%s/absent", dir);
	CHECK_INT(secret_file_check("http.token_file", path, why, sizeof(why)), -ENOENT);
	CHECK_CONTAINS(why, "http.token_file");
	CHECK_CONTAINS(why, "No such file");
	CHECK_INT(secret_file_check("k", dir, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "not a regular file");
}

TEST(one_line_secrets_are_read_trimmed)
{
	char why[512] = "", *s = NULL;
	size_t len = 0;

	CHECK_INT(
	    secret_file_read("k", put("t", "  tok en\r\n\n", 0600), &s, &len, why, sizeof(why)), 0);
	CHECK_STR(s, "tok en");
	CHECK_INT(len, 6);
	secret_free(s);
	s = NULL;
	CHECK_INT(secret_file_read("k", put("e", " \n\t", 0600), &s, &len, why, sizeof(why)),
	          -ENODATA);
	CHECK_CONTAINS(why, "is empty");
	CHECK_TRUE(s == NULL);
	CHECK_INT(secret_file_read("k", put("r", "tok\n", 0660), &s, &len, why, sizeof(why)),
	          -EPERM);
	CHECK_CONTAINS(why, "mode 0660");
	CHECK_TRUE(s == NULL);
	secret_free(NULL);
}

TEST(overlong_secrets_are_refused)
{
	char *big = malloc(SECRET_MAX_LEN + 2), why[512] = "", *s = NULL;
	size_t len = 0;

	memset(big, 'x', SECRET_MAX_LEN + 1);
	big[SECRET_MAX_LEN + 1] = '\0';
	CHECK_INT(secret_file_read("k", put("big", big, 0600), &s, &len, why, sizeof(why)), -EFBIG);
	CHECK_CONTAINS(why, "longer than 4096 bytes");
	big[SECRET_MAX_LEN] = '\0';
	CHECK_INT(secret_file_read("k", put("max", big, 0600), &s, &len, why, sizeof(why)), 0);
	CHECK_INT(len, SECRET_MAX_LEN);
	secret_free(s);
	free(big);
}

TEST(urls_lose_their_user_info)
{
	char buf[256];

	CHECK_STR(url_redact("nats://svc:Pa55w0rd@10.0.0.5:4222", buf, sizeof(buf)),
	          "nats://***@10.0.0.5:4222");
	CHECK_STR(url_redact("nats://s3cr3t@h:4222", buf, sizeof(buf)), "nats://***@h:4222");
	CHECK_STR(url_redact("tls://a:b@x:1, nats://y:2,c:d@z", buf, sizeof(buf)),
	          "tls://***@x:1, nats://y:2,***@z");
	CHECK_STR(url_redact("nats://h:4222/p@th", buf, sizeof(buf)), "nats://h:4222/p@th");
	/* An '@' inside the password: everything up to the last one goes. */
	CHECK_STR(url_redact("nats://u:p@ss@h:1", buf, sizeof(buf)), "nats://***@h:1");
	CHECK_STR(url_redact("nats://u:p@h:1", buf, 12), "nats://***@");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(owner_only_files_pass);
	RUN(group_or_other_readable_files_are_refused_with_their_mode);
	RUN(missing_files_and_directories_are_refused);
	RUN(one_line_secrets_are_read_trimmed);
	RUN(overlong_secrets_are_refused);
	RUN(urls_lose_their_user_info);
	testing_remove_tree(dir);
	return testing_done();
}
