/* SPDX-License-Identifier: MIT */
/* The plugin loader against real fixture .so files: refusals, init, fini. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"
#include "plugin/loader.h"
#include "task/task.h"
#include "testing.h"

#define ERRLEN 512

static const char *tmpdir; /* testing_tmpdir(): removed at exit */

static const char *
fixture_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.so", FIXTURE_PLUGIN_DIR, name);
	return buf;
}

/* Is the file mapped into this process (i.e. still dlopen()ed)? */
static bool
mapped(const char *path)
{
	char real[PATH_MAX], line[PATH_MAX + 256];
	bool found = false;
	FILE *f;

	if (realpath(path, real) == NULL)
		return false;
	f = fopen("/proc/self/maps", "r");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		size_t n = strcspn(line, "\n");

		line[n] = '\0';
		n = strlen(line);
		found = n >= strlen(real) && strcmp(line + n - strlen(real), real) == 0;
	}
	fclose(f);
	return found;
}

static void
init_task(struct tj_task *t, const char *payload, uint32_t attempt)
{
	memset(t, 0, sizeof(*t));
	t->subject = "tasks.test";
	t->payload = payload;
	t->payload_len = strlen(payload);
	t->stream = "TASKS";
	t->stream_seq = 7;
	t->attempt = attempt;
	snprintf(t->id, sizeof(t->id), "TASKS:7");
	t->retry_after_ms = -1;
}

/* Create an instance of a fixture; on failure return the rc, err filled. */
static int
create(const char *name, const char *route, const char *config, char *err,
       struct plugin_instance **inst_r)
{
	err[0] = '\0';
	return plugin_instance_create(FIXTURE_PLUGIN_DIR, name, route, config,
	                              config != NULL ? strlen(config) : 0, err, ERRLEN, inst_r);
}

/* Copy a file (to make a fixture we may chmod). 0 or -errno. */
static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[8192];
	ssize_t n;
	int in, out, rc = 0;

	in = open(from, O_RDONLY);
	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -EIO;
	if (n < 0)
		rc = -errno;
	close(in);
	close(out);
	return rc == 0 ? chmod(to, mode) == 0 ? 0 : -errno : rc;
}

/* Fixture code that must not run records it (fx_reached.h) rather than
 * abort the program: fail, naming each place that ran. */
static void
check_no_forbidden_fixture_code_ran(void)
{
	char path[4200], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/reached", tmpdir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		testing_fail(__FILE__, __LINE__, "fixture code that must not run ran: %.*s",
		             (int)strcspn(line, "\n"), line);
	fclose(f);
	unlink(path);
}

static size_t
count_lines(const char *path, const char *line)
{
	char buf[512];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (line == NULL || strcmp(buf, line) == 0)
			n++;
	fclose(f);
	return n;
}

TEST(loads_behave_and_calls_its_handler)
{
	char err[ERRLEN], path[PATH_MAX];
	struct plugin_instance *inst = NULL;
	const struct plugin_handler *h;
	const struct tj_plugin_info *info;
	struct tj_task t;

	CHECK_INT(create("fx_behave", "r1", "{}", err, &inst), 0);
	if (inst == NULL)
		return;
	info = plugin_instance_info(inst);
	CHECK_STR(info->name, "fx_behave");
	CHECK_STR(info->version, "1.0.0");
	CHECK_INT(plugin_instance_handler_count(inst), 1);
	CHECK_STR(plugin_instance_handler_name(inst, 0), "fx_behave");
	CHECK_TRUE(plugin_instance_handler_name(inst, 1) == NULL);
	CHECK_TRUE(plugin_instance_handler(inst, "nope") == NULL);
	CHECK_STR(plugin_instance_log_ctx(inst)->route, "r1");
	CHECK_STR(plugin_instance_log_ctx(inst)->plugin, "fx_behave");
	h = plugin_instance_handler(inst, "fx_behave");
	CHECK_TRUE(h != NULL);
	init_task(&t, "{}", 1);
	CHECK_INT(plugin_call(h, &t), TJ_DONE);
	CHECK_INT(t.retry_after_ms, -1);
	CHECK_TRUE(t.fail_reason == NULL);
	CHECK_TRUE(mapped(fixture_path("fx_behave", path, sizeof(path))));
	task_release(&t);
	plugin_instance_destroy(inst);
	CHECK_FALSE(mapped(path));
	plugin_instance_destroy(NULL);
}

TEST(refuses_other_abi_major_naming_both_versions)
{
	char err[ERRLEN], want[PATH_MAX + 128], path[PATH_MAX];
	struct plugin_instance *inst = NULL;

	CHECK_INT(create("fx_wrong_major", "r1", "{}", err, &inst), -EPROTO);
	CHECK_TRUE(inst == NULL);
	snprintf(want, sizeof(want),
	         "plugin fx_wrong_major (%s) was built for ABI %u.%u, this "
	         "engine speaks %u.%u",
	         fixture_path("fx_wrong_major", path, sizeof(path)), TJ_ABI_MAJOR + 1, TJ_ABI_MINOR,
	         TJ_ABI_MAJOR, TJ_ABI_MINOR);
	CHECK_CONTAINS(err, want);
	CHECK_FALSE(mapped(path));
	check_no_forbidden_fixture_code_ran();
}

TEST(refuses_newer_abi_minor_naming_both_versions)
{
	char err[ERRLEN], want[128];
	struct plugin_instance *inst = NULL;

	CHECK_INT(create("fx_newer_minor", "r1", "{}", err, &inst), -EPROTO);
	CHECK_TRUE(inst == NULL);
	snprintf(want, sizeof(want), "was built for ABI %u.%u, this engine speaks %u.%u",
	         TJ_ABI_MAJOR, TJ_ABI_MINOR + 1, TJ_ABI_MAJOR, TJ_ABI_MINOR);
	CHECK_CONTAINS(err, want);
	CHECK_CONTAINS(err, "fx_newer_minor");
	check_no_forbidden_fixture_code_ran();
}

TEST(refuses_missing_symbols_and_wrong_name)
{
	char err[ERRLEN];
	struct plugin_instance *inst = NULL;

	CHECK_INT(create("fx_no_init", "r1", "{}", err, &inst), -ENOEXEC);
	CHECK_CONTAINS(err, "does not export tj_plugin_init");
	CHECK_INT(create("fx_no_info", "r1", "{}", err, &inst), -ENOEXEC);
	CHECK_CONTAINS(err, "has no tj_plugin_info descriptor");
	CHECK_INT(create("fx_name_mismatch", "r1", "{}", err, &inst), -ENOEXEC);
	CHECK_CONTAINS(err, "calls itself \"someone_else\"");
	CHECK_CONTAINS(err, "fx_name_mismatch");
	CHECK_TRUE(inst == NULL);
	check_no_forbidden_fixture_code_ran();
}

TEST(failed_init_drops_registrations_and_skips_fini)
{
	char err[ERRLEN], path[PATH_MAX];
	struct plugin_instance *inst = NULL;

	/* Both record it if their fini runs (it must not after a failed
	 * init): checked at the end. */
	CHECK_INT(create("fx_init_fails", "r1", "{}", err, &inst), -EINVAL);
	CHECK_TRUE(inst == NULL);
	CHECK_CONTAINS(err, "plugin fx_init_fails (route r1): tj_plugin_init "
	                    "failed");
	/* Unloaded: no handler of it can be reached any more. */
	CHECK_FALSE(mapped(fixture_path("fx_init_fails", path, sizeof(path))));

	CHECK_INT(create("fx_duplicate", "r1", "{}", err, &inst), -EEXIST);
	CHECK_TRUE(inst == NULL);
	CHECK_CONTAINS(err, "tj_plugin_init failed");
	CHECK_FALSE(mapped(fixture_path("fx_duplicate", path, sizeof(path))));
	check_no_forbidden_fixture_code_ran();
}

TEST(registration_rules_hold_in_init)
{
	char err[ERRLEN];
	struct plugin_instance *inst = NULL;

	/* Its init returns -EBADMSG unless NULL/empty names, a NULL fn and a
	 * NULL self are refused with -EINVAL. */
	CHECK_INT(create("fx_late_register", "r1", "{}", err, &inst), 0);
	CHECK_INT(plugin_instance_handler_count(inst), 1);
	plugin_instance_destroy(inst);
}

TEST(fini_runs_once_per_successful_init)
{
	char err[ERRLEN], file[128], cfg[512];
	struct plugin_instance *a = NULL, *b = NULL, *c = NULL;

	snprintf(file, sizeof(file), "%s/fini.log", tmpdir);
	snprintf(cfg, sizeof(cfg), "{\"counter_file\":\"%s\",\"tag\":\"a\"}", file);
	CHECK_INT(create("fx_fini_counter", "ra", cfg, err, &a), 0);
	snprintf(cfg, sizeof(cfg), "{\"counter_file\":\"%s\",\"tag\":\"b\"}", file);
	CHECK_INT(create("fx_fini_counter", "rb", cfg, err, &b), 0);
	CHECK_INT(plugin_instance_handler_count(a), 2);
	CHECK_STR(plugin_instance_handler_name(a, 0), "a");
	CHECK_STR(plugin_instance_handler_name(a, 1), "b");
	CHECK_TRUE(plugin_instance_handler(a, "b") != NULL);
	CHECK_TRUE(plugin_instance_handler(a, "b") != plugin_instance_handler(b, "b"));
	CHECK_INT(count_lines(file, NULL), 0);
	plugin_instance_destroy(a);
	CHECK_INT(count_lines(file, "fini a\n"), 1);
	CHECK_INT(count_lines(file, NULL), 1);
	plugin_instance_destroy(b);
	CHECK_INT(count_lines(file, "fini b\n"), 1);
	CHECK_INT(count_lines(file, NULL), 2);

	/* Init succeeded but registered nothing: an error, and fini runs. */
	snprintf(cfg, sizeof(cfg), "{\"counter_file\":\"%s\",\"tag\":\"c\",\"register\":false}",
	         file);
	CHECK_INT(create("fx_fini_counter", "rc", cfg, err, &c), -EINVAL);
	CHECK_TRUE(c == NULL);
	CHECK_CONTAINS(err, "registered no handler");
	CHECK_INT(count_lines(file, "fini c\n"), 1);
	CHECK_INT(count_lines(file, NULL), 3);
	unlink(file);
}

TEST(two_instances_share_the_file_but_not_config)
{
	char err[ERRLEN], path[PATH_MAX];
	struct plugin_instance *a = NULL, *b = NULL;
	struct tj_task t;

	fixture_path("fx_behave", path, sizeof(path));
	CHECK_INT(create("fx_behave", "ra",
	                 "{\"verdict\":\"fail\",\"reason\":\"A says \\\"no\\\"\"}", err, &a),
	          0);
	CHECK_INT(
	    create("fx_behave", "rb", "{\"verdict\":\"retry\",\"retry_after_ms\":250}", err, &b),
	    0);
	if (a == NULL || b == NULL)
		goto out;
	init_task(&t, "x", 1);
	CHECK_INT(plugin_call(plugin_instance_handler(a, "fx_behave"), &t), TJ_FAIL);
	CHECK_STR(t.fail_reason, "A says \"no\"");
	CHECK_INT(plugin_call(plugin_instance_handler(b, "fx_behave"), &t), TJ_RETRY);
	CHECK_INT(t.retry_after_ms, 250);
	CHECK_TRUE(t.fail_reason == NULL); /* reset before each call */

	/* Dropping one instance must keep the file loaded for the other. */
	plugin_instance_destroy(a);
	a = NULL;
	CHECK_TRUE(mapped(path));
	CHECK_INT(plugin_call(plugin_instance_handler(b, "fx_behave"), &t), TJ_RETRY);
	task_release(&t);
out:
	plugin_instance_destroy(a);
	plugin_instance_destroy(b);
	CHECK_FALSE(mapped(path));
}

TEST(behave_fixture_honours_its_config)
{
	char err[ERRLEN], rec[128], cfg[512];
	struct plugin_instance *inst = NULL, *slow = NULL;
	const struct plugin_handler *h;
	struct tj_task t;
	int64_t t0;

	snprintf(rec, sizeof(rec), "%s/record.log", tmpdir);
	snprintf(cfg, sizeof(cfg),
	         "{\"fail_first\":2,\"reason\":\"not yet\",\"retry_after_ms\":5,"
	         "\"record_file\":\"%s\"}",
	         rec);
	CHECK_INT(create("fx_behave", "r1", cfg, err, &inst), 0);
	if (inst == NULL)
		return;
	h = plugin_instance_handler(inst, "fx_behave");
	init_task(&t, "{}", 1);
	CHECK_INT(plugin_call(h, &t), TJ_RETRY);
	CHECK_STR(t.fail_reason, "not yet");
	CHECK_INT(t.retry_after_ms, 5);
	t.attempt = 2;
	CHECK_INT(plugin_call(h, &t), TJ_RETRY);
	t.attempt = 3;
	CHECK_INT(plugin_call(h, &t), TJ_DONE);
	CHECK_TRUE(t.fail_reason == NULL);
	CHECK_INT(count_lines(rec, "TASKS:7 tasks.test 1\n"), 1);
	CHECK_INT(count_lines(rec, "TASKS:7 tasks.test 3\n"), 1);
	CHECK_INT(count_lines(rec, NULL), 3);
	task_release(&t);

	/* Payload overrides: "fail" and "retry", whatever the config says. */
	init_task(&t, "fail", 9);
	CHECK_INT(plugin_call(h, &t), TJ_FAIL);
	CHECK_STR(t.fail_reason, "payload asked to fail");
	task_release(&t);
	init_task(&t, "retry", 9);
	CHECK_INT(plugin_call(h, &t), TJ_RETRY);
	CHECK_STR(t.fail_reason, "not yet");
	task_release(&t);
	init_task(&t, "retryx", 9);
	CHECK_INT(plugin_call(h, &t), TJ_DONE);
	task_release(&t);
	plugin_instance_destroy(inst);
	unlink(rec);
	inst = NULL;

	/* Bad config is refused by its init. */
	CHECK_INT(create("fx_behave", "r1", "{\"verdict\":\"maybe\"}", err, &inst), -EINVAL);
	CHECK_INT(create("fx_behave", "r1", "{\"sleep_ms\":\"x\"}", err, &inst), -EINVAL);

	CHECK_INT(create("fx_behave", "r1", "{\"sleep_ms\":60}", err, &slow), 0);
	if (slow != NULL) {
		init_task(&t, "{}", 1);
		t0 = clock_mono_ms();
		CHECK_INT(plugin_call(plugin_instance_handler(slow, "fx_behave"), &t), TJ_DONE);
		CHECK_RANGE(clock_mono_ms() - t0, 55, 5000);
		plugin_instance_destroy(slow);
	}
}

TEST(behave_fixture_crashes_on_the_asked_attempt)
{
	char err[ERRLEN];
	struct plugin_instance *inst = NULL;
	const struct plugin_handler *h;
	struct tj_task t;
	int status = 0;
	pid_t pid;

	CHECK_INT(create("fx_behave", "r1", "{\"crash_on_attempt\":2}", err, &inst), 0);
	if (inst == NULL)
		return;
	h = plugin_instance_handler(inst, "fx_behave");
	init_task(&t, "{}", 1);
	CHECK_INT(plugin_call(h, &t), TJ_DONE);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		t.attempt = 2;
		plugin_call(h, &t);
		_exit(0); /* not reached when the fixture works */
	}
	CHECK_TRUE(pid > 0);
	if (pid > 0) {
		CHECK_INT(waitpid(pid, &status, 0), pid);
		CHECK_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	task_release(&t);
	plugin_instance_destroy(inst);
}

TEST(refuses_unsafe_or_missing_files)
{
	char err[ERRLEN], src[PATH_MAX], dst[256], lnk[128];
	struct plugin_instance *inst = NULL;

	fixture_path("fx_noop", src, sizeof(src));
	snprintf(dst, sizeof(dst), "%s/fx_noop.so", tmpdir);
	CHECK_INT(copy_file(src, dst, 0666), 0);
	CHECK_INT(chmod(dst, 0666), 0); /* umask may have cleared o+w */
	CHECK_INT(plugin_instance_create(tmpdir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
	          -EPERM);
	CHECK_CONTAINS(err, "writable by its group and others (mode 0666, owner uid");
	CHECK_CONTAINS(err, "chmod go-w");
	CHECK_CONTAINS(err, dst);
	/* The same copy loads once it is safe: the refusal was the mode. */
	CHECK_INT(chmod(dst, 0644), 0);
	CHECK_INT(plugin_instance_create(tmpdir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
	          0);
	plugin_instance_destroy(inst);
	inst = NULL;

	snprintf(lnk, sizeof(lnk), "%s/fx_link.so", tmpdir);
	CHECK_INT(symlink(dst, lnk), 0);
	CHECK_INT(plugin_instance_create(tmpdir, "fx_link", "r1", "{}", 2, err, sizeof(err), &inst),
	          -EPERM);
	CHECK_CONTAINS(err, "symbolic link");
	unlink(lnk);

	snprintf(lnk, sizeof(lnk), "%s/x.so", tmpdir);
	CHECK_INT(mkdir(lnk, 0755), 0);
	CHECK_INT(plugin_instance_create(tmpdir, "x", "r1", "{}", 2, err, sizeof(err), &inst),
	          -EPERM);
	CHECK_CONTAINS(err, "not a regular file");
	rmdir(lnk);

	CHECK_INT(plugin_instance_create(tmpdir, "absent", "r1", "{}", 2, err, sizeof(err), &inst),
	          -ENOENT);
	CHECK_CONTAINS(err, "does not exist");

	/* Not a shared object: dlerror() plus the ldd hint. */
	snprintf(lnk, sizeof(lnk), "%s/junk.so", tmpdir);
	CHECK_INT(copy_file("/proc/self/cmdline", lnk, 0644), 0);
	CHECK_INT(plugin_instance_create(tmpdir, "junk", "r1", "{}", 2, err, sizeof(err), &inst),
	          -ENOEXEC);
	CHECK_CONTAINS(err, "cannot load");
	CHECK_FALSE(strstr(err, "/proc/self/fd/") != NULL);
	snprintf(dst, sizeof(dst), "check its dependencies with: ldd %s", lnk);
	CHECK_CONTAINS(err, dst);
	unlink(lnk);
	snprintf(dst, sizeof(dst), "%s/fx_noop.so", tmpdir);
	unlink(dst);

	CHECK_INT(
	    plugin_instance_create(tmpdir, "../etc/x", "r1", "{}", 2, err, sizeof(err), &inst),
	    -EINVAL);
	CHECK_INT(plugin_instance_create(tmpdir, "", "r1", "{}", 2, err, sizeof(err), &inst),
	          -EINVAL);
	CHECK_TRUE(inst == NULL);
}

TEST(refuses_group_writable_files_and_directories_and_strangers)
{
	char err[ERRLEN], src[PATH_MAX], dir[128], dst[256], want[512];
	struct plugin_instance *inst = NULL;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/shared", tmpdir);
	CHECK_INT(mkdir(dir, 0755), 0);
	snprintf(dst, sizeof(dst), "%s/fx_noop.so", dir);
	CHECK_INT(copy_file(fixture_path("fx_noop", src, sizeof(src)), dst, 0664), 0);
	CHECK_INT(plugin_instance_create(dir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
	          -EPERM);
	snprintf(want, sizeof(want),
	         "refusing %s: it is writable by its group (mode 0664, owner uid", dst);
	CHECK_CONTAINS(err, want);

	/* The file is fine, its directory is not. */
	CHECK_INT(chmod(dst, 0644), 0);
	CHECK_INT(chmod(dir, 0775), 0);
	CHECK_INT(plugin_instance_create(dir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
	          -EPERM);
	snprintf(want, sizeof(want), "its directory %s is writable by its group (mode 0775", dir);
	CHECK_CONTAINS(err, want);
	CHECK_TRUE(inst == NULL);
	CHECK_INT(chmod(dir, 0755), 0);
	CHECK_INT(plugin_instance_create(dir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
	          0);
	plugin_instance_destroy(inst);
	inst = NULL;

	/* Owned by someone who is neither root nor us (needs root to set up). */
	if (geteuid() == 0 && chown(dst, 4242, 4242) == 0) {
		CHECK_INT(
		    plugin_instance_create(dir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
		    -EPERM);
		CHECK_CONTAINS(err,
		               "it is owned by uid 4242 (mode 0644), not by root or the engine's "
		               "user");
		CHECK_INT(chown(dst, 0, 0), 0);
		CHECK_INT(stat(dst, &st), 0);
	}
	unlink(dst);
	rmdir(dir);
}

TEST(refused_plugin_code_never_runs_in_the_engine)
{
	char err[ERRLEN], marker[128], path[PATH_MAX], line[32];
	struct plugin_instance *inst = NULL;
	struct plugin_probe p;
	FILE *f;
	int lines = 0;

	snprintf(marker, sizeof(marker), "%s/marker", tmpdir);
	setenv("TJ_FX_MARKER", marker, 1);
	CHECK_INT(create("fx_ctor_marker", "r1", "{}", err, &inst), -EPROTO);
	CHECK_CONTAINS(err, "was built for ABI");
	CHECK_INT(plugin_probe_file(fixture_path("fx_ctor_marker", path, sizeof(path)), err,
	                            sizeof(err), &p),
	          -EPROTO);
	unsetenv("TJ_FX_MARKER");
	CHECK_FALSE(mapped(path));
	/* Its constructor did run, twice, each time in a probe process. */
	f = fopen(marker, "r");
	CHECK_TRUE(f != NULL);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		lines++;
		CHECK_TRUE(atoi(line) > 0);
		CHECK_TRUE(atoi(line) != (int)getpid());
	}
	if (f != NULL)
		fclose(f);
	CHECK_INT(lines, 2);
	unlink(marker);
	check_no_forbidden_fixture_code_ran();
}

TEST(the_file_checked_is_the_file_loaded)
{
	char err[ERRLEN], src[PATH_MAX], dir[128], dst[256], impostor[256], script[256];
	char body[3 * PATH_MAX], worker[PATH_MAX];
	struct plugin_instance *inst = NULL;
	const char *real = getenv("TASKJET_WORKER");
	struct stat st;
	FILE *f;

	if (real == NULL) {
		testing_fail(__FILE__, __LINE__, "TASKJET_WORKER is not set");
		return;
	}
	snprintf(worker, sizeof(worker), "%s", real);
	snprintf(dir, sizeof(dir), "%s/swap", tmpdir);
	CHECK_INT(mkdir(dir, 0755), 0);
	snprintf(dst, sizeof(dst), "%s/fx_noop.so", dir);
	snprintf(impostor, sizeof(impostor), "%s/.impostor", dir);
	CHECK_INT(copy_file(fixture_path("fx_noop", src, sizeof(src)), dst, 0644), 0);
	CHECK_INT(copy_file(fixture_path("fx_behave", src, sizeof(src)), impostor, 0644), 0);
	/* The probe program swaps the file after the loader opened it. */
	snprintf(script, sizeof(script), "%s/swapping-worker", tmpdir);
	snprintf(body, sizeof(body), "#!/bin/sh\nmv -f '%s' '%s'\nexec '%s' \"$@\"\n", impostor,
	         dst, worker);
	f = fopen(script, "w");
	CHECK_TRUE(f != NULL);
	if (f == NULL)
		return;
	fputs(body, f);
	fclose(f);
	CHECK_INT(chmod(script, 0755), 0);
	setenv("TASKJET_WORKER", script, 1);
	CHECK_INT(plugin_instance_create(dir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
	          0);
	setenv("TASKJET_WORKER", worker, 1);
	/* The swap happened, yet what runs is what was checked. */
	CHECK_TRUE(stat(impostor, &st) < 0 && errno == ENOENT);
	if (inst != NULL) {
		CHECK_STR(plugin_instance_info(inst)->name, "fx_noop");
		CHECK_TRUE(plugin_instance_handler(inst, "fx_noop") != NULL);
		CHECK_TRUE(plugin_instance_handler(inst, "fx_behave") == NULL);
	}
	plugin_instance_destroy(inst);
	/* Loaded by path now, the impostor is refused for its name. */
	inst = NULL;
	CHECK_INT(plugin_instance_create(dir, "fx_noop", "r1", "{}", 2, err, sizeof(err), &inst),
	          -ENOEXEC);
	CHECK_CONTAINS(err, "calls itself \"fx_behave\"");
	unlink(script);
	unlink(dst);
	rmdir(dir);
}

TEST(refuses_config_that_is_not_an_object)
{
	char err[ERRLEN];
	struct plugin_instance *inst = NULL;

	CHECK_INT(create("fx_noop", "r1", "[1,2]", err, &inst), -EINVAL);
	CHECK_CONTAINS(err, "not a JSON object");
	CHECK_INT(create("fx_noop", "r1", "{\"a\":", err, &inst), -EINVAL);
	CHECK_TRUE(inst == NULL);
	/* No config at all, or an empty text, is an empty object. */
	CHECK_INT(create("fx_noop", "r1", NULL, err, &inst), 0);
	plugin_instance_destroy(inst);
	inst = NULL;
	CHECK_INT(create("fx_noop", "r1", "", err, &inst), 0);
	plugin_instance_destroy(inst);
}

TEST(probe_reads_descriptor_without_init)
{
	char err[ERRLEN], path[PATH_MAX], want[64];
	struct plugin_instance *inst = NULL;
	struct plugin_probe p;

	memset(&p, 0, sizeof(p));
	CHECK_INT(plugin_probe_file(fixture_path("fx_fini_counter", path, sizeof(path)), err,
	                            sizeof(err), &p),
	          0);
	CHECK_STR(p.name, "fx_fini_counter");
	CHECK_STR(p.version, "2.3.4");
	CHECK_STR(p.description, "counts fini calls");
	CHECK_INT(p.abi_major, TJ_ABI_MAJOR);
	CHECK_INT(p.abi_minor, TJ_ABI_MINOR);
	CHECK_FALSE(mapped(path));

	/* Its init would fail (and its fini complain): probing runs neither. */
	CHECK_INT(plugin_probe_file(fixture_path("fx_init_fails", path, sizeof(path)), err,
	                            sizeof(err), &p),
	          0);
	CHECK_STR(p.name, "fx_init_fails");

	CHECK_INT(plugin_probe_file(fixture_path("fx_wrong_major", path, sizeof(path)), err,
	                            sizeof(err), &p),
	          -EPROTO);
	snprintf(want, sizeof(want), "ABI %u.%u, this engine speaks %u.%u", TJ_ABI_MAJOR + 1,
	         TJ_ABI_MINOR, TJ_ABI_MAJOR, TJ_ABI_MINOR);
	CHECK_CONTAINS(err, want);
	CHECK_INT(
	    plugin_probe_file(fixture_path("fx_no_init", path, sizeof(path)), err, sizeof(err), &p),
	    -ENOEXEC);
	CHECK_INT(plugin_probe_file("/etc/passwd", err, sizeof(err), &p), -EINVAL);
	CHECK_INT(plugin_probe_file("nowhere.so", err, sizeof(err), &p), -ENOENT);

	/* Probing a file that an instance holds leaves the instance's
	 * reference alone: still mapped after, gone after destroy. */
	CHECK_INT(create("fx_noop", "r1", "{}", err, &inst), 0);
	CHECK_INT(
	    plugin_probe_file(fixture_path("fx_noop", path, sizeof(path)), err, sizeof(err), &p),
	    0);
	CHECK_TRUE(mapped(path));
	plugin_instance_destroy(inst);
	CHECK_FALSE(mapped(path));
	check_no_forbidden_fixture_code_ran();
}

int
main(void)
{
	char reached[4200];

	tmpdir = testing_tmpdir();
	if (tmpdir == NULL)
		return testing_bail_out("cannot make a temporary directory");
	/* Where the fixtures record code that must not run (fx_reached.h). */
	snprintf(reached, sizeof(reached), "%s/reached", tmpdir);
	setenv("TJ_FX_REACHED", reached, 1);
	RUN(loads_behave_and_calls_its_handler);
	RUN(refuses_other_abi_major_naming_both_versions);
	RUN(refuses_newer_abi_minor_naming_both_versions);
	RUN(refuses_missing_symbols_and_wrong_name);
	RUN(failed_init_drops_registrations_and_skips_fini);
	RUN(registration_rules_hold_in_init);
	RUN(fini_runs_once_per_successful_init);
	RUN(two_instances_share_the_file_but_not_config);
	RUN(behave_fixture_honours_its_config);
	RUN(behave_fixture_crashes_on_the_asked_attempt);
	RUN(refuses_unsafe_or_missing_files);
	RUN(refuses_group_writable_files_and_directories_and_strangers);
	RUN(refused_plugin_code_never_runs_in_the_engine);
	RUN(the_file_checked_is_the_file_loaded);
	RUN(refuses_config_that_is_not_an_object);
	RUN(probe_reads_descriptor_without_init);
	return testing_done();
}
