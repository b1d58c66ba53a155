/* SPDX-License-Identifier: MIT */
/* The NATS connection against a real server: connect, fail fast, reconnect. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/log.h"
#include "nats_server.h"
#include "nats/natsconn.h"
#include "testing.h"

static struct nats_server server;

static struct cfg_nats
test_cfg(void)
{
	struct cfg_nats c = {
		.name = "taskjet-test",
		.connect_timeout_ms = 1000,
		.reconnect_wait_ms = 100,
		.reconnect_jitter_ms = 10,
	};
	return c;
}

static bool
wait_connected(struct natsconn *nc, bool want, int64_t timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;

	while (natsconn_connected(nc) != want && clock_mono_ms() < deadline)
		clock_sleep_ms(20);
	return natsconn_connected(nc) == want;
}

TEST(connects_with_jetstream)
{
	struct cfg_nats c = test_cfg();
	struct natsconn *nc = NULL;
	jsAccountInfo *ai = NULL;
	jsErrCode jerr = 0;

	c.url = server.url;
	CHECK_INT(natsconn_open(&c, NULL, NULL, &nc), 0);
	if (nc == NULL)
		return;
	CHECK_TRUE(natsconn_connected(nc));
	CHECK_STR(natsconn_url(nc), server.url);
	CHECK_INT(js_GetAccountInfo(&ai, natsconn_js(nc), NULL, &jerr), NATS_OK);
	jsAccountInfo_Destroy(ai);
	CHECK_INT(natsconn_flush(nc, 1000), 0);
	natsconn_close(nc, 1000);
}

TEST(url_argument_overrides_config)
{
	struct cfg_nats c = test_cfg();
	struct natsconn *nc = NULL;
	struct natsconn_options o = { .role = "acks", .send_asap = true };

	c.url = "nats://127.0.0.1:1";
	CHECK_INT(natsconn_open(&c, server.url, &o, &nc), 0);
	CHECK_TRUE(nc != NULL && natsconn_connected(nc));
	natsconn_close(nc, 1000);
}

TEST(first_connect_fails_fast)
{
	struct cfg_nats c = test_cfg();
	struct natsconn *nc = NULL;
	char url[64];
	int port = nats_server_free_port();
	int64_t t0 = clock_mono_ms();

	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	c.url = url;
	CHECK_INT(natsconn_open(&c, NULL, NULL, &nc), -ECONNREFUSED);
	CHECK_TRUE(nc == NULL);
	CHECK_RANGE(clock_mono_ms() - t0, 0, 3000);

	c.url = NULL;
	CHECK_INT(natsconn_open(&c, NULL, NULL, &nc), -EINVAL);
	c.url = server.url;
	c.creds_file = "/nonexistent/taskjet.creds";
	CHECK_INT(natsconn_open(&c, NULL, NULL, &nc), -EINVAL);
}

static void
reconnects_after(int sig)
{
	struct cfg_nats c = test_cfg();
	struct natsconn *nc = NULL;

	c.url = server.url;
	CHECK_INT(natsconn_open(&c, NULL, NULL, &nc), 0);
	if (nc == NULL)
		return;
	CHECK_INT(natsconn_reconnects(nc), 0);
	CHECK_INT(nats_server_stop(&server, sig), 0);
	CHECK_TRUE(wait_connected(nc, false, 5000));
	CHECK_INT(natsconn_disconnects(nc), 1);
	CHECK_INT(nats_server_restart(&server), 0);
	CHECK_TRUE(wait_connected(nc, true, 10000));
	CHECK_INT(natsconn_reconnects(nc), 1);
	CHECK_INT(natsconn_flush(nc, 2000), 0);
	natsconn_close(nc, 1000);
}

TEST(reconnects_after_sigterm)
{
	reconnects_after(SIGTERM);
}

TEST(reconnects_after_sigkill)
{
	reconnects_after(SIGKILL);
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("natsconn", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	rc = nats_server_start(&server);
	if (rc != 0) {
		printf("Bail out! cannot start nats-server: %d\n", rc);
		nats_server_cleanup(&server);
		return 1;
	}
	RUN(connects_with_jetstream);
	RUN(url_argument_overrides_config);
	RUN(first_connect_fails_fast);
	RUN(reconnects_after_sigterm);
	RUN(reconnects_after_sigkill);
	nats_server_cleanup(&server);
	natsconn_library_shutdown(5000);
	return testing_done();
}
