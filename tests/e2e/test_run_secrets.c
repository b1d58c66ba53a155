/* SPDX-License-Identifier: MIT */
/*
 * Secrets are never printed, and a failed connect says why, once. A real
 * nats-server that wants a password; `taskjet run` given the password in
 * its URL (and, separately, from a password file) runs, loses the server
 * and gets it back, while this test collects everything it and the client
 * commands show: the run's log, every sd_notify message (STATUS= is what
 * `systemctl status` shows), /readyz, /stats and /metrics, and the output
 * of `taskjet check --nats`, `stats` and `dlq ls`. Then the same with a
 * wrong password. No output may hold either password; the lines that
 * name the server show its URL with the user info replaced by three stars.
 *
 * Then the causes of a failed connect, each provoked on loopback: refused,
 * a name that does not resolve, a server that never answers (timeout), TLS
 * verification (a certificate from an unknown CA) and authorization. Each
 * client command prints its error once, naming the cause, without
 * libnats' "(conn.c:...)", and exits 69.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "notify_socket.h"
#include "run_harness.h"
#include "strbuf.h"
#include "testing.h"

#define PASSWORD "Pa55w0rd-s3cret"
#define WRONG "Wr0ngPa55-s3cret"
#define READY_MS 15000

static struct e2e env;
static struct notify_socket ns;
/* Everything shown, concatenated, for the final search. */
static struct strbuf shown;

static void
keep(const char *what, const char *text)
{
	strbuf_printf(&shown, "==== %s\n%s\n", what, text != NULL ? text : "");
}

static void
keep_file(const char *what, const char *path)
{
	char *text = e2e_file_read(path);

	keep(what, text);
	free(text);
}

/* Read every notify message that arrived (waiting at most wait_ms for
 * the first) into `shown`; the last STATUS= seen into status (may be NULL). */
static void
drain_notify(int wait_ms, char *status, size_t len)
{
	char msg[1024];

	while (notify_socket_recv(&ns, wait_ms, msg, sizeof(msg), NULL, NULL) > 0) {
		const char *st = strstr(msg, "STATUS=");

		keep("sd_notify", msg);
		if (st != NULL && status != NULL)
			snprintf(status, len, "%.*s", (int)strcspn(st, "\n"), st);
		wait_ms = 50;
	}
}

static int
write_config(const char *nats_section)
{
	FILE *f = fopen(env.config, "w");

	if (f == NULL)
		return -errno;
	fprintf(f,
	        "{ \"nats\": { %s, \"reconnect_wait\": \"100ms\" },\n"
	        "  \"plugin_dir\": \"%s\", \"state_dir\": \"%s\",\n"
	        "  \"log\": { \"level\": \"debug\" },\n"
	        "  \"http\": { \"listen\": \"127.0.0.1:0\" },\n"
	        "  \"streams\": [ { \"name\": \"TASKS\", \"subjects\": [\"tasks.>\"] } ],\n"
	        "  \"routes\": [ { \"name\": \"noop\", \"stream\": \"TASKS\", \"subject\": "
	        "\"tasks.noop\", \"plugin\": \"fx_noop\" } ] }\n",
	        nats_section, e2e_plugin_dir(), env.state);
	return fclose(f) == 0 ? 0 : -errno;
}

static bool
log_has(void *arg)
{
	const char **a = arg;

	return e2e_file_count(a[0], a[1]) > 0;
}

static bool
wait_log(const struct e2e_proc *p, const char *needle, int ms)
{
	const char *a[2] = { p->log, needle };

	return e2e_wait_for(log_has, a, ms);
}

/* Run a client command (stdout and stderr kept), its exit status. */
static int
client(const char *what, const char *out, const char *cmd, const char *sub, const char *extra)
{
	int st;

	if (sub != NULL && extra != NULL)
		st = e2e_taskjet(out, cmd, sub, "-c", env.config, extra, (char *)NULL);
	else if (sub != NULL)
		st = e2e_taskjet(out, cmd, sub, "-c", env.config, (char *)NULL);
	else
		st = e2e_taskjet(out, cmd, "-c", env.config, extra, (char *)NULL);
	keep_file(what, out);
	return st;
}

/* A whole run, the server stopped and restarted under it, and every
 * client command; the outputs go to `shown`. */
static void
run_and_look(const char *label, const char *url_shown)
{
	char want[200];
	struct e2e_proc p;
	char out[400], status[1024] = "", *body = NULL;
	int port, code = 0;

	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	port = e2e_http_port(&p);
	CHECK_TRUE(port > 0);
	for (int i = 0; i < 100 && (code = http_get(port, "/readyz", 2000, &body)) != 200; i++) {
		free(body);
		body = NULL;
		e2e_sleep_ms(100);
	}
	CHECK_INT(code, 200);
	keep("/readyz", body);
	free(body);
	CHECK_INT(http_get(port, "/stats", 5000, &body), 200);
	keep("/stats", body);
	free(body);
	CHECK_INT(http_get(port, "/metrics", 5000, &body), 200);
	keep("/metrics", body);
	free(body);
	drain_notify(2000, status, sizeof(status));
	snprintf(want, sizeof(want), "on %s", url_shown);
	CHECK_CONTAINS(status, want);

	snprintf(out, sizeof(out), "%s/check.out", env.dir);
	CHECK_INT(client("check --nats", out, "check", NULL, "--nats"), 0);
	snprintf(want, sizeof(want), "server %s", url_shown);
	CHECK_INT(e2e_file_count(out, want), 1);
	snprintf(out, sizeof(out), "%s/stats.out", env.dir);
	CHECK_INT(client("stats", out, "stats", NULL, "--json"), 0);
	snprintf(out, sizeof(out), "%s/dlq.out", env.dir);
	CHECK_INT(client("dlq ls", out, "dlq", "ls", NULL), 0);

	/* Away and back: "disconnected from", "reconnected to". */
	CHECK_INT(nats_server_stop(&env.srv, SIGTERM), 0);
	snprintf(want, sizeof(want), "disconnected from %s", url_shown);
	CHECK_TRUE(wait_log(&p, want, 10000));
	CHECK_INT(nats_server_restart(&env.srv), 0);
	snprintf(want, sizeof(want), "reconnected to %s", url_shown);
	CHECK_TRUE(wait_log(&p, want, 20000));
	e2e_stop_checked(&p, 20000, NULL);
	drain_notify(200, NULL, 0);
	snprintf(want, sizeof(want), "connected to %s", url_shown);
	CHECK_TRUE(e2e_file_count(p.log, want) >= 4);
	snprintf(want, sizeof(want), " ready: 1 route, 1 worker on %s", url_shown);
	CHECK_INT(e2e_file_count(p.log, want), 1);
	keep_file(label, p.log);
}

TEST(a_password_in_the_url_is_never_shown)
{
	char nats[512];

	snprintf(nats, sizeof(nats), "\"url\": \"nats://svc:%s@127.0.0.1:%d\"", PASSWORD,
	         env.srv.port);
	CHECK_INT(write_config(nats), 0);
	run_and_look("run, password in the URL", "nats://***@127.0.0.1:");
	CHECK_TRUE(strstr(shown.data, "the server URL holds credentials") != NULL);
}

TEST(a_password_file_is_never_shown)
{
	char nats[512], path[400];

	snprintf(path, sizeof(path), "%s/nats.password", env.dir);
	CHECK_INT(testing_write_file(path, PASSWORD "\n", 0600), 0);
	snprintf(nats, sizeof(nats),
	         "\"url\": \"nats://127.0.0.1:%d\", \"user\": \"svc\", \"password_file\": \"%s\"",
	         env.srv.port, path);
	CHECK_INT(write_config(nats), 0);
	run_and_look("run, password file", "nats://127.0.0.1:");
}

/* A failed client command: the cause on one line, once, exit 69. */
static void
fails_once(const char *what, const char *out, int st, const char *cause)
{
	char *text = e2e_file_read(out);

	keep(what, text);
	CHECK_INT(st, 69);
	CHECK_INT(e2e_file_count(out, "cannot connect to "), 1);
	CHECK_INT(e2e_file_count(out, cause), 1);
	CHECK_INT(e2e_file_count(out, "(conn.c"), 0);
	CHECK_INT(e2e_file_count(out, "Connection refused"), 0);
	if (testing_failed())
		printf("# %s: %s", what, text != NULL ? text : "(nothing)\n");
	free(text);
}

TEST(a_wrong_password_is_never_shown)
{
	struct e2e_proc p;
	char nats[512], out[400];

	snprintf(nats, sizeof(nats), "\"url\": \"nats://svc:%s@127.0.0.1:%d\"", WRONG,
	         env.srv.port);
	CHECK_INT(write_config(nats), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), -ECHILD);
	CHECK_TRUE(WIFEXITED(p.status) && WEXITSTATUS(p.status) == 69);
	CHECK_INT(e2e_file_count(p.log, "authorization failed"), 1);
	CHECK_INT(e2e_file_count(p.log, "cannot connect to nats://***@127.0.0.1:"), 1);
	keep_file("run, wrong password", p.log);
	drain_notify(200, NULL, 0);

	snprintf(out, sizeof(out), "%s/check-wrong.out", env.dir);
	fails_once("check --nats, wrong password", out,
	           e2e_taskjet(out, "check", "-c", env.config, "--nats", (char *)NULL),
	           "authorization failed");
	snprintf(out, sizeof(out), "%s/dlq-wrong.out", env.dir);
	fails_once("dlq ls, wrong password", out,
	           e2e_taskjet(out, "dlq", "ls", "-c", env.config, (char *)NULL),
	           "authorization failed");
	snprintf(nats, sizeof(nats), "--nats=nats://svc:%s@127.0.0.1:%d", WRONG, env.srv.port);
	snprintf(out, sizeof(out), "%s/stats-wrong.out", env.dir);
	fails_once("stats --nats URL, wrong password", out,
	           e2e_taskjet(out, "stats", "-c", env.config, nats, (char *)NULL),
	           "nats://***@127.0.0.1:");
}

TEST(nothing_shown_holds_a_password)
{
	CHECK_TRUE(shown.len > 1000);
	CHECK_TRUE(strstr(shown.data, PASSWORD) == NULL);
	CHECK_TRUE(strstr(shown.data, WRONG) == NULL);
	CHECK_TRUE(strstr(shown.data, "svc:") == NULL);
	if (testing_failed() && getenv("TASKJET_E2E_KEEP") != NULL)
		fputs(shown.data, stdout);
}

/* A client command against `url`; checks it fails once with `cause`. */
static void
cause_is(const char *what, const char *url, const char *cause)
{
	char out[400], arg[300];

	snprintf(out, sizeof(out), "%s/cause.out", env.dir);
	snprintf(arg, sizeof(arg), "--nats=%s", url);
	fails_once(what, out, e2e_taskjet(out, "dlq", "ls", arg, (char *)NULL), cause);
}

TEST(each_cause_is_named_once)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	char url[128];
	int port = nats_server_free_port(), mute;

	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", port);
	cause_is("refused", url, "connection refused by 127.0.0.1:");
	cause_is("name resolution", "nats://no-such-host.invalid:4222",
	         "cannot resolve host name no-such-host.invalid");
	/* A listener that takes connections and never says a word. */
	mute = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_TRUE(mute >= 0 && bind(mute, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	           listen(mute, 16) == 0 && getsockname(mute, (struct sockaddr *)&a, &alen) == 0);
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", ntohs(a.sin_port));
	cause_is("timeout", url, "timed out after 2000 ms");
	close(mute);
	snprintf(url, sizeof(url), "nats://nobody:" WRONG "@127.0.0.1:%d", env.srv.port);
	cause_is("authorization", url, "authorization failed");
}

/* TLS verification: a server whose certificate no trusted CA signed. */
TEST(tls_verification_is_named)
{
	struct nats_server tls_srv;
	char conf[1024], url[128], cmd[2048];

	memset(&tls_srv, 0, sizeof(tls_srv));
	if (nats_server_dir(&tls_srv) == NULL) {
		testing_fail(__FILE__, __LINE__, "no directory");
		return;
	}
	snprintf(cmd, sizeof(cmd),
	         "cd '%s' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	         "-nodes -keyout s.key -out s.pem -days 2 -subj /CN=localhost "
	         "-addext subjectAltName=IP:127.0.0.1 2>/dev/null",
	         tls_srv.dir);
	CHECK_INT(system(cmd), 0);
	snprintf(conf, sizeof(conf), "tls { cert_file: \"%s/s.pem\", key_file: \"%s/s.key\" }\n",
	         tls_srv.dir, tls_srv.dir);
	if (nats_server_start_conf(&tls_srv, conf) != 0) {
		testing_fail(__FILE__, __LINE__, "TLS nats-server did not start");
		nats_server_cleanup(&tls_srv);
		return;
	}
	snprintf(url, sizeof(url), "tls://127.0.0.1:%d", tls_srv.port);
	cause_is("TLS", url, "TLS verification failed");
	nats_server_cleanup(&tls_srv);
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("run_secrets", &must_fail))
		return must_fail ? 1 : 0;
	rc = e2e_setup_dir(&env);
	if (rc == 0)
		rc = nats_server_start_conf(&env.srv, "authorization { users = [ { user: svc, "
		                                      "password: \"" PASSWORD "\" } ] }\n");
	if (rc == 0)
		rc = notify_socket_open(&ns);
	if (rc != 0) {
		printf("Bail out! setup failed: %s\n", strerror(-rc));
		e2e_teardown(&env);
		return 1;
	}
	setenv("NOTIFY_SOCKET", ns.path, 1);
	RUN(a_password_in_the_url_is_never_shown);
	RUN(a_password_file_is_never_shown);
	RUN(a_wrong_password_is_never_shown);
	RUN(nothing_shown_holds_a_password);
	RUN(each_cause_is_named_once);
	RUN(tls_verification_is_named);
	unsetenv("NOTIFY_SOCKET");
	notify_socket_close(&ns);
	strbuf_release(&shown);
	e2e_teardown(&env);
	return testing_done();
}
