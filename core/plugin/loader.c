/* SPDX-License-Identifier: MIT */
/* The plugin loader: file checks, a probe, dlopen, descriptor checks, init and fini. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/host_api.h"
#include "plugin/loader.h"
#include "plugin/probe.h"
#include "task/task.h"
#include "util/xalloc.h"

typedef int (*init_fn)(tj_plugin *self, const struct tj_host_api *api, void **userdata_r);
typedef void (*fini_fn)(void *userdata);

/*
 * One dlopen()ed file, shared by every instance (route) that uses it. We
 * keep exactly one dlopen reference per entry and count instances here, so
 * the file is dlclose()d exactly when its last instance is destroyed. It is
 * found again by device and inode, and loaded through a descriptor it keeps:
 * dlopen knows it as "/proc/self/fd/<fd>", a name no other file may take
 * while the object is loaded.
 */
struct loaded_file {
	char *path; /* for messages */
	dev_t dev;
	ino_t ino;
	int fd;
	void *dl;
	const struct tj_plugin_info *info;
	init_fn init;
	fini_fn fini; /* NULL: the plugin has none */
	unsigned refs;
	struct loaded_file *next;
};

struct plugin_instance {
	struct tj_plugin self; /* first: handlers point back at it */
	struct loaded_file *file;
};

/* Only the main thread loads and unloads, but a lock costs nothing here and
 * keeps a stray probe from another thread safe. */
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loaded_file *files;
/* Set in a worker process, which is itself the throwaway process. */
static bool sandboxed;

static void TJ_PRINTF(3, 4) set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "uid 1000 (alice)", or just the uid when it has no name. */
static void
describe_owner(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *found = NULL;
	char space[1024];

	if (getpwuid_r(uid, &pw, space, sizeof(space), &found) == 0 && found != NULL)
		snprintf(buf, len, "uid %u (%s)", (unsigned)uid, found->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
}

/*
 * Only root and the engine's own user may be able to change what the engine
 * runs: refuse a plugin file (dir NULL), or the directory `dir` holding it,
 * that someone else owns or that its group or others may write.
 */
static int
check_trusted(const char *stem, const char *path, const char *dir, const struct stat *st, char *err,
              size_t errlen)
{
	const char *what = dir != NULL ? "its directory " : "it";
	char owner[160], engine[160];
	unsigned mode = (unsigned)(st->st_mode & 07777);

	describe_owner(st->st_uid, owner, sizeof(owner));
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		describe_owner(geteuid(), engine, sizeof(engine));
		set_err(err, errlen,
		        "plugin %s: refusing %s: %s%s is owned by %s (mode %04o), not by root or "
		        "the engine's user, %s",
		        stem, path, what, dir != NULL ? dir : "", owner, mode, engine);
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		set_err(err, errlen,
		        "plugin %s: refusing %s: %s%s is writable by %s (mode %04o, owner %s); "
		        "only its owner may write it (chmod go-w %s)",
		        stem, path, what, dir != NULL ? dir : "",
		        (st->st_mode & S_IWGRP) == 0   ? "others"
		        : (st->st_mode & S_IWOTH) == 0 ? "its group"
		                                       : "its group and others",
		        mode, owner, dir != NULL ? dir : path);
		return -EPERM;
	}
	return 0;
}

/*
 * Open `dir`/`stem`.so once, for good: the directory and the file are
 * checked through the descriptors that are then used, so nothing can be
 * swapped in between. Symbolic links are refused (as collectd does): the
 * file we vetted must be the file we map, and a link could point out of
 * the plugin directory. Install the real file, not a link to it.
 */
static int
open_checked(const char *dir, const char *stem, const char *path, char *err, size_t errlen,
             int *fd_r)
{
	char file[160];
	struct stat st;
	int dfd, fd = -1, rc = 0;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT || rc == -ENOTDIR)
			set_err(err, errlen,
			        "plugin %s: %s does not exist (no plugin directory %s)", stem, path,
			        dir);
		else
			set_err(err, errlen, "plugin %s: cannot open the plugin directory %s: %s",
			        stem, dir, strerror(-rc));
		goto out;
	}
	rc = check_trusted(stem, path, dir, &st, err, errlen);
	if (rc < 0)
		goto out;
	snprintf(file, sizeof(file), "%s.so", stem);
	/* O_NONBLOCK: a FIFO planted under the name must not block the open. */
	fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			set_err(err, errlen, "plugin %s: %s does not exist", stem, path);
		else if (rc == -ELOOP)
			set_err(err, errlen,
			        "plugin %s: refusing %s: it is a symbolic link; install the "
			        "plugin file itself",
			        stem, path);
		else
			set_err(err, errlen, "plugin %s: cannot open %s: %s", stem, path,
			        strerror(-rc));
		if (rc == -ELOOP)
			rc = -EPERM;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		set_err(err, errlen, "plugin %s: cannot stat %s: %s", stem, path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "plugin %s: refusing %s: not a regular file", stem, path);
		rc = -EPERM;
		goto out;
	}
	rc = check_trusted(stem, path, NULL, &st, err, errlen);
	if (rc < 0)
		goto out;
	*fd_r = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* Check a descriptor's fields against this engine. Runs no plugin code. */
static int
check_descriptor(const char *stem, const char *path, unsigned major, unsigned minor,
                 const char *name, char *err, size_t errlen)
{
	/* A different major may lay the descriptor out differently: trust only
	 * its first two fields and name the plugin by its file. */
	if (major != TJ_ABI_MAJOR || minor > TJ_ABI_MINOR) {
		set_err(err, errlen,
		        "plugin %s (%s) was built for ABI %u.%u, this engine speaks "
		        "%u.%u; rebuild it against this engine's <taskjet/plugin.h>",
		        stem, path, major, minor, TJ_ABI_MAJOR, TJ_ABI_MINOR);
		return -EPROTO;
	}
	if (name == NULL || strcmp(name, stem) != 0) {
		set_err(err, errlen,
		        "plugin %s (%s) calls itself \"%s\"; the descriptor name must "
		        "equal the file name without .so",
		        stem, path, name != NULL ? name : "(null)");
		return -ENOEXEC;
	}
	return 0;
}

static void
set_no_info(const char *stem, const char *path, char *err, size_t errlen)
{
	set_err(err, errlen,
	        "plugin %s (%s) has no tj_plugin_info descriptor; is it a "
	        "taskjet plugin? (declare it with TJ_PLUGIN_DECLARE)",
	        stem, path);
}

static void
set_no_init(const char *stem, const char *path, char *err, size_t errlen)
{
	set_err(err, errlen, "plugin %s (%s) does not export tj_plugin_init, which is required",
	        stem, path);
}

static void
set_dlopen_failed(const char *stem, const char *path, const char *why, char *err, size_t errlen)
{
	const char *p = why;

	/* dlerror names the file as we opened it, "/proc/self/fd/N: ...";
	 * the path was said already. */
	if (p != NULL && strncmp(p, "/proc/self/fd/", 14) == 0) {
		p += 14;
		while (*p >= '0' && *p <= '9')
			p++;
		if (strncmp(p, ": ", 2) == 0)
			why = p + 2;
	}
	set_err(err, errlen, "plugin %s: cannot load %s: %s; check its dependencies with: ldd %s",
	        stem, path, why != NULL && why[0] != '\0' ? why : "unknown error", path);
}

/* Judge a probe's report as file_acquire judges the loaded descriptor. */
static int
check_report(const char *stem, const char *path, const struct probe_report *r, char *err,
             size_t errlen)
{
	int rc;

	if (!r->loaded) {
		set_dlopen_failed(stem, path, r->error, err, errlen);
		return -ENOEXEC;
	}
	if (!r->has_info) {
		set_no_info(stem, path, err, errlen);
		return -ENOEXEC;
	}
	rc = check_descriptor(stem, path, r->abi_major, r->abi_minor,
	                      r->abi_major == TJ_ABI_MAJOR ? r->name : NULL, err, errlen);
	if (rc < 0)
		return rc;
	if (!r->has_init) {
		set_no_init(stem, path, err, errlen);
		return -ENOEXEC;
	}
	return 0;
}

/* dlopen's name for a descriptor of ours. */
static void
fd_name(int fd, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* dlsym for a function: ISO C forbids object-to-function pointer casts;
 * POSIX guarantees dlsym results convert, so copy the bytes. */
static void
function_symbol(void *dl, const char *name, void *fn_r, size_t size)
{
	void *sym = dlsym(dl, name);

	memset(fn_r, 0, size);
	if (sym != NULL)
		memcpy(fn_r, &sym, size);
}

/*
 * Take a reference on the file open at `fd` (vetted by open_checked; the
 * caller keeps its descriptor), loading and checking it on first use. In
 * the engine the descriptor is first read by a probe process, so a refused
 * file runs no code here; in a worker (sandboxed) the worker is the probe.
 */
static int
file_acquire(const char *stem, const char *path, int fd, char *err, size_t errlen,
             struct loaded_file **file_r)
{
	struct loaded_file *f = NULL;
	const struct tj_plugin_info *info;
	struct probe_report report;
	char name[64];
	struct stat st;
	void *dl = NULL;
	int held = -1, rc = 0;

	if (fstat(fd, &st) < 0) {
		rc = -errno;
		set_err(err, errlen, "plugin %s: cannot stat %s: %s", stem, path, strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&files_lock);
	for (f = files; f != NULL; f = f->next) {
		if (f->dev == st.st_dev && f->ino == st.st_ino) {
			f->refs++;
			*file_r = f;
			goto out;
		}
	}
	if (!sandboxed) {
		rc = probe_run(fd, stem, path, err, errlen, &report);
		if (rc == 0)
			rc = check_report(stem, path, &report, err, errlen);
		if (rc < 0)
			goto out;
	}

	held = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (held < 0) {
		rc = -errno;
		set_err(err, errlen, "plugin %s: cannot load %s: %s", stem, path, strerror(-rc));
		goto out;
	}
	fd_name(held, name, sizeof(name));
	dlerror();
	dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		set_dlopen_failed(stem, path, dlerror(), err, errlen);
		rc = -ENOEXEC;
		goto out;
	}
	/* Checked again on the loaded object: the probe only saved the
	 * engine from running a refused plugin's code. */
	info = dlsym(dl, "tj_plugin_info");
	if (info == NULL) {
		set_no_info(stem, path, err, errlen);
		rc = -ENOEXEC;
		goto out;
	}
	rc = check_descriptor(stem, path, info->abi_major, info->abi_minor,
	                      info->abi_major == TJ_ABI_MAJOR ? info->name : NULL, err, errlen);
	if (rc < 0)
		goto out;
	f = xcalloc(1, sizeof(*f));
	function_symbol(dl, "tj_plugin_init", &f->init, sizeof(f->init));
	function_symbol(dl, "tj_plugin_fini", &f->fini, sizeof(f->fini));
	if (f->init == NULL) {
		set_no_init(stem, path, err, errlen);
		free(f);
		f = NULL;
		rc = -ENOEXEC;
		goto out;
	}
	f->path = xstrdup(path);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->fd = held;
	f->dl = dl;
	f->info = info;
	f->refs = 1;
	f->next = files;
	files = f;
	dl = NULL;
	held = -1;
	*file_r = f;
out:
	if (dl != NULL)
		dlclose(dl);
	if (held >= 0)
		close(held);
	pthread_mutex_unlock(&files_lock);
	return rc;
}

static void
file_release(struct loaded_file *file)
{
	struct loaded_file **pp;
	char name[64];
	void *still;

	if (file == NULL)
		return;
	pthread_mutex_lock(&files_lock);
	if (--file->refs > 0) {
		pthread_mutex_unlock(&files_lock);
		return;
	}
	for (pp = &files; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == file) {
			*pp = file->next;
			break;
		}
	}
	pthread_mutex_unlock(&files_lock);
	if (dlclose(file->dl) != 0)
		log_warn("plugin file %s: dlclose: %s", file->path, dlerror());
	/*
	 * glibc may keep an object loaded after dlclose (unique symbols,
	 * thread-local destructors). It would still answer to its name
	 * "/proc/self/fd/<fd>", so that descriptor number must never name
	 * another file: keep it open for the process's life then.
	 */
	fd_name(file->fd, name, sizeof(name));
	still = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
	if (still != NULL) {
		dlclose(still);
		log_debug("plugin file %s stays mapped after dlclose; keeping fd %d", file->path,
		          file->fd);
	} else {
		close(file->fd);
	}
	free(file->path);
	free(file);
}

/* A plugin name is a file stem inside the plugin directory, nothing more. */
static bool
stem_valid(const char *name)
{
	return name != NULL && name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL &&
	       strlen(name) < 128;
}

static char *
plugin_path(const char *dir, const char *name)
{
	size_t plen = strlen(dir) + strlen(name) + sizeof("/.so");
	char *path = xmalloc(plen);

	snprintf(path, plen, "%s/%s.so", dir, name);
	return path;
}

int
plugin_file_open(const char *dir, const char *name, char *err, size_t errlen, int *fd_r)
{
	char *path;
	int rc;

	if (dir == NULL || dir[0] == '\0' || !stem_valid(name)) {
		set_err(err, errlen, "plugin \"%s\": invalid plugin name or directory",
		        name != NULL ? name : "(null)");
		return -EINVAL;
	}
	path = plugin_path(dir, name);
	rc = open_checked(dir, name, path, err, errlen, fd_r);
	free(path);
	return rc;
}

void
plugin_loader_set_sandboxed(void)
{
	sandboxed = true;
}

int
plugin_instance_create_fd(int fd, const char *name, const char *path, const char *route_name,
                          const char *config_json, size_t config_len, char *err, size_t errlen,
                          struct plugin_instance **inst_r)
{
	struct plugin_instance *inst = NULL;
	struct loaded_file *file = NULL;
	bool self_ready = false;
	int rc;

	if (!stem_valid(name) || route_name == NULL) {
		set_err(err, errlen, "plugin \"%s\": invalid plugin name",
		        name != NULL ? name : "(null)");
		rc = -EINVAL;
		goto out;
	}
	rc = file_acquire(name, path, fd, err, errlen, &file);
	if (rc < 0)
		goto out;

	inst = xcalloc(1, sizeof(*inst));
	inst->file = file;
	if (config_json == NULL || config_len == 0) {
		config_json = "{}";
		config_len = 2;
	}
	rc = host_api_instance_init(&inst->self, name, route_name, config_json, config_len);
	if (rc < 0) {
		set_err(err, errlen, "plugin %s (route %s): its config is not a JSON object", name,
		        route_name);
		goto out;
	}
	self_ready = true;

	inst->self.in_init = true;
	rc = file->init(&inst->self, &host_api_table, &inst->self.userdata);
	inst->self.in_init = false;
	if (rc != 0) {
		/* The plugin logged its reason; we name the plugin and the code.
		 * A positive return breaks the contract: treat it as -EINVAL. */
		set_err(err, errlen, "plugin %s (route %s): tj_plugin_init failed: %s (%d)", name,
		        route_name, rc < 0 ? strerror(-rc) : "positive return", rc);
		if (rc > 0)
			rc = -EINVAL;
		goto out;
	}
	if (inst->self.handler_count == 0) {
		set_err(err, errlen, "plugin %s (route %s): tj_plugin_init registered no handler",
		        name, route_name);
		/* Init succeeded, so its state is freed the normal way. */
		if (file->fini != NULL)
			file->fini(inst->self.userdata);
		rc = -EINVAL;
		goto out;
	}
	*inst_r = inst;
	inst = NULL;
	file = NULL;
out:
	if (inst != NULL) {
		/* Failed init: drop what it registered; fini is not called. */
		if (self_ready)
			host_api_instance_release(&inst->self);
		free(inst);
	}
	file_release(file);
	return rc;
}

int
plugin_instance_create(const char *dir, const char *name, const char *route_name,
                       const char *config_json, size_t config_len, char *err, size_t errlen,
                       struct plugin_instance **inst_r)
{
	char *path = NULL;
	int fd = -1, rc;

	if (route_name == NULL) {
		set_err(err, errlen, "plugin \"%s\": no route", name != NULL ? name : "(null)");
		return -EINVAL;
	}
	rc = plugin_file_open(dir, name, err, errlen, &fd);
	if (rc < 0)
		return rc;
	path = plugin_path(dir, name);
	rc = plugin_instance_create_fd(fd, name, path, route_name, config_json, config_len, err,
	                               errlen, inst_r);
	free(path);
	close(fd);
	return rc;
}

void
plugin_instance_destroy(struct plugin_instance *inst)
{
	if (inst == NULL)
		return;
	if (inst->file->fini != NULL)
		inst->file->fini(inst->self.userdata);
	host_api_instance_release(&inst->self);
	file_release(inst->file);
	free(inst);
}

const struct plugin_handler *
plugin_instance_handler(const struct plugin_instance *inst, const char *name)
{
	if (inst == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < inst->self.handler_count; i++)
		if (strcmp(inst->self.handlers[i].name, name) == 0)
			return &inst->self.handlers[i];
	return NULL;
}

size_t
plugin_instance_handler_count(const struct plugin_instance *inst)
{
	return inst != NULL ? inst->self.handler_count : 0;
}

const char *
plugin_instance_handler_name(const struct plugin_instance *inst, size_t i)
{
	if (inst == NULL || i >= inst->self.handler_count)
		return NULL;
	return inst->self.handlers[i].name;
}

const struct tj_plugin_info *
plugin_instance_info(const struct plugin_instance *inst)
{
	return inst != NULL ? inst->file->info : NULL;
}

const struct log_ctx *
plugin_instance_log_ctx(const struct plugin_instance *inst)
{
	return inst != NULL ? &inst->self.log_ctx : NULL;
}

int
plugin_call(const struct plugin_handler *handler, struct tj_task *task)
{
	tj_verdict verdict;

	if (handler == NULL || task == NULL)
		return -EINVAL;
	/* Each delivery starts with no hint, no reason and no follow-ups. */
	task_reset_verdict_state(task);
	host_api_set_current(handler->owner, task);
	verdict = handler->fn(task, handler->userdata);
	host_api_set_current(NULL, NULL);
	return (int)verdict;
}

int
plugin_probe_file(const char *path, char *err, size_t errlen, struct plugin_probe *probe)
{
	struct probe_report report;
	const char *base, *dot;
	char stem[128], *dir = NULL, *shown = NULL;
	size_t stem_len;
	int fd = -1, rc;

	if (path == NULL) {
		set_err(err, errlen, "plugin probe: no path");
		return -EINVAL;
	}
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	dot = strrchr(base, '.');
	if (dot == NULL || strcmp(dot, ".so") != 0 || dot == base ||
	    (size_t)(dot - base) >= sizeof(stem)) {
		set_err(err, errlen, "%s: not a plugin file name (<name>.so)", path);
		return -EINVAL;
	}
	stem_len = (size_t)(dot - base);
	memcpy(stem, base, stem_len);
	stem[stem_len] = '\0';
	/* The directory without its trailing slash ("/" stays "/"). */
	dir = base == path       ? xstrdup(".")
	      : base == path + 1 ? xstrdup("/")
	                         : xstrndup(path, (size_t)(base - path - 1));
	shown = plugin_path(dir, stem);

	rc = plugin_file_open(dir, stem, err, errlen, &fd);
	if (rc < 0)
		goto out;
	/* Only the probe process loads it: listing plugins runs none of
	 * their code in this process. */
	rc = probe_run(fd, stem, shown, err, errlen, &report);
	if (rc == 0)
		rc = check_report(stem, shown, &report, err, errlen);
	if (rc < 0)
		goto out;
	memset(probe, 0, sizeof(*probe));
	snprintf(probe->name, sizeof(probe->name), "%s", report.name);
	snprintf(probe->version, sizeof(probe->version), "%s", report.version);
	snprintf(probe->description, sizeof(probe->description), "%s", report.description);
	probe->abi_major = report.abi_major;
	probe->abi_minor = report.abi_minor;
out:
	if (fd >= 0)
		close(fd);
	free(shown);
	free(dir);
	return rc;
}

int
plugin_probe_here(int fd, struct probe_report *report)
{
	const struct tj_plugin_info *info;
	char name[64];
	void *dl;

	memset(report, 0, sizeof(*report));
	fd_name(fd, name, sizeof(name));
	dlerror();
	dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		const char *why = dlerror();

		snprintf(report->error, sizeof(report->error), "%s",
		         why != NULL ? why : "unknown error");
		return 0;
	}
	report->loaded = true;
	info = dlsym(dl, "tj_plugin_info");
	report->has_init = dlsym(dl, "tj_plugin_init") != NULL;
	report->has_fini = dlsym(dl, "tj_plugin_fini") != NULL;
	if (info != NULL) {
		report->has_info = true;
		report->abi_major = info->abi_major;
		report->abi_minor = info->abi_minor;
		/* Another major may lay out the rest differently. */
		if (info->abi_major == TJ_ABI_MAJOR) {
			snprintf(report->name, sizeof(report->name), "%s",
			         info->name != NULL ? info->name : "");
			snprintf(report->version, sizeof(report->version), "%s",
			         info->version != NULL ? info->version : "");
			snprintf(report->description, sizeof(report->description), "%s",
			         info->description != NULL ? info->description : "");
		}
	}
	/* Left loaded: the probe process exits right after answering. */
	return 0;
}

int
plugin_instance_file_stat(const struct plugin_instance *inst, struct stat *st_r)
{
	return fstat(inst->file->fd, st_r) < 0 ? -errno : 0;
}
