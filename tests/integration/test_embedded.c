/* SPDX-License-Identifier: MIT */
/* The embedded nats-server: starts, serves JetStream, stops, keeps state. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nats/embedded.h"
#include "util/log.h"
#include "nats_server.h"
#include "nats/natsconn.h"
#include "testing.h"

static char state_dir[64];

static void
roundtrip(const char *url, bool create)
{
	struct cfg_nats c = { .name = "embedded-test", .connect_timeout_ms = 1000 };
	struct natsconn *nc = NULL;
	jsStreamInfo *si = NULL;
	jsStreamConfig sc;
	const char *subj[] = { "e.>" };

	CHECK_INT(natsconn_open(&c, url, NULL, &nc), 0);
	if (nc == NULL)
		return;
	if (create) {
		jsStreamConfig_Init(&sc);
		sc.Name = "E";
		sc.Subjects = subj;
		sc.SubjectsLen = 1;
		CHECK_INT(js_AddStream(&si, natsconn_js(nc), &sc, NULL, NULL), NATS_OK);
	} else {
		/* The store under state_dir survived the restart. */
		CHECK_INT(js_GetStreamInfo(&si, natsconn_js(nc), "E", NULL, NULL), NATS_OK);
	}
	jsStreamInfo_Destroy(si);
	natsconn_close(nc, 1000);
}

TEST(starts_serves_and_stops)
{
	struct embedded *e = NULL;
	struct stat st;
	char path[128];
	pid_t pid;

	for (int round = 0; round < 2; round++) {
		CHECK_INT(embedded_start(state_dir, getenv("NATS_SERVER"), &e), 0);
		if (e == NULL)
			return;
		pid = embedded_pid(e);
		CHECK_TRUE(pid > 0);
		CHECK_CONTAINS(embedded_url(e), "nats://127.0.0.1:");
		roundtrip(embedded_url(e), round == 0);
		embedded_stop(e);
		e = NULL;
		CHECK_TRUE(kill(pid, 0) != 0 && errno == ESRCH);
	}
	snprintf(path, sizeof(path), "%s/nats/jetstream", state_dir);
	CHECK_INT(stat(path, &st), 0);
}

TEST(missing_server_is_a_clear_error)
{
	struct embedded *e = NULL;

	CHECK_INT(embedded_start(state_dir, "/nonexistent/nats-server", &e), -ENOENT);
	CHECK_TRUE(e == NULL);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("embedded", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	snprintf(state_dir, sizeof(state_dir), "/tmp/taskjet-state-XXXXXX");
	if (mkdtemp(state_dir) == NULL) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	RUN(starts_serves_and_stops);
	RUN(missing_server_is_a_clear_error);
	nftw(state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	natsconn_library_shutdown(5000);
	return testing_done();
}
