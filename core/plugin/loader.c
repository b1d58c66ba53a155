/* SPDX-License-Identifier: MIT */
/* The plugin loader: file checks, dlopen, descriptor checks, init and fini. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin/host_api.h"
#include "plugin/loader.h"
#include "task/task.h"
#include "util/xalloc.h"

typedef int (*init_fn)(tj_plugin *self, const struct tj_host_api *api, void **userdata_r);
typedef void (*fini_fn)(void *userdata);

/*
 * One dlopen()ed file, shared by every instance (route) that uses it. We
 * keep exactly one dlopen reference per entry and count instances here, so
 * the file is dlclose()d exactly when its last instance is destroyed.
 */
struct loaded_file {
	char *path;
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

static void TJ_PRINTF(3, 4) set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Refuse anything but a regular file that only trusted users can write.
 * Symbolic links are refused too (as collectd does): the file we vetted
 * must be the file we map, and a link could point out of the plugin
 * directory. Install the real file, not a link to it.
 */
static int
check_file(const char *stem, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		int rc = -errno;

		if (rc == -ENOENT)
			set_err(err, errlen, "plugin %s: %s does not exist", stem, path);
		else
			set_err(err, errlen, "plugin %s: cannot stat %s: %s", stem, path,
			        strerror(-rc));
		return rc;
	}
	if (S_ISLNK(st.st_mode)) {
		set_err(err, errlen,
		        "plugin %s: refusing %s: it is a symbolic link; install the "
		        "plugin file itself",
		        stem, path);
		return -EPERM;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "plugin %s: refusing %s: not a regular file", stem, path);
		return -EPERM;
	}
	if (st.st_mode & S_IWOTH) {
		set_err(err, errlen, "plugin %s: refusing %s: it is world-writable (chmod o-w it)",
		        stem, path);
		return -EPERM;
	}
	return 0;
}

/* Check the descriptor against this engine. Runs no plugin code. */
static int
check_info(const char *stem, const char *path, const struct tj_plugin_info *info, char *err,
           size_t errlen)
{
	/* A different major may lay the descriptor out differently: trust only
	 * its first two fields and name the plugin by its file. */
	if (info->abi_major != TJ_ABI_MAJOR || info->abi_minor > TJ_ABI_MINOR) {
		set_err(err, errlen,
		        "plugin %s (%s) was built for ABI %u.%u, this engine speaks "
		        "%u.%u; rebuild it against this engine's <taskjet/plugin.h>",
		        stem, path, (unsigned)info->abi_major, (unsigned)info->abi_minor,
		        TJ_ABI_MAJOR, TJ_ABI_MINOR);
		return -EPROTO;
	}
	if (info->name == NULL || strcmp(info->name, stem) != 0) {
		set_err(err, errlen,
		        "plugin %s (%s) calls itself \"%s\"; the descriptor name must "
		        "equal the file name without .so",
		        stem, path, info->name != NULL ? info->name : "(null)");
		return -ENOEXEC;
	}
	return 0;
}

/*
 * Take a reference on the file at `path` (already vetted by check_file),
 * loading and checking it on first use. `want_init`: refuse a file without
 * tj_plugin_init (probing only reads the descriptor, but a plugin without
 * init is still broken, so both refuse it).
 */
static int
file_acquire(const char *stem, const char *path, char *err, size_t errlen,
             struct loaded_file **file_r)
{
	struct loaded_file *f;
	const struct tj_plugin_info *info;
	void *dl = NULL;
	int rc = 0;

	pthread_mutex_lock(&files_lock);
	for (f = files; f != NULL; f = f->next) {
		if (strcmp(f->path, path) == 0) {
			f->refs++;
			*file_r = f;
			goto out;
		}
	}

	dlerror();
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		const char *why = dlerror();

		set_err(err, errlen,
		        "plugin %s: cannot load %s: %s; check its dependencies "
		        "with: ldd %s",
		        stem, path, why != NULL ? why : "unknown error", path);
		rc = -ENOEXEC;
		goto out;
	}
	info = dlsym(dl, "tj_plugin_info");
	if (info == NULL) {
		set_err(err, errlen,
		        "plugin %s (%s) has no tj_plugin_info descriptor; is it a "
		        "taskjet plugin? (declare it with TJ_PLUGIN_DECLARE)",
		        stem, path);
		rc = -ENOEXEC;
		goto out;
	}
	rc = check_info(stem, path, info, err, errlen);
	if (rc < 0)
		goto out;

	f = xcalloc(1, sizeof(*f));
	/* ISO C forbids object-to-function pointer casts; POSIX guarantees
	 * dlsym results convert, so go through memcpy of the same size. */
	{
		void *sym = dlsym(dl, "tj_plugin_init");

		if (sym != NULL)
			memcpy(&f->init, &sym, sizeof(f->init));
		sym = dlsym(dl, "tj_plugin_fini");
		if (sym != NULL)
			memcpy(&f->fini, &sym, sizeof(f->fini));
	}
	if (f->init == NULL) {
		set_err(err, errlen,
		        "plugin %s (%s) does not export tj_plugin_init, which is "
		        "required",
		        stem, path);
		free(f);
		rc = -ENOEXEC;
		goto out;
	}
	f->path = xstrdup(path);
	f->dl = dl;
	f->info = info;
	f->refs = 1;
	f->next = files;
	files = f;
	dl = NULL;
	*file_r = f;
out:
	if (dl != NULL)
		dlclose(dl);
	pthread_mutex_unlock(&files_lock);
	return rc;
}

static void
file_release(struct loaded_file *file)
{
	struct loaded_file **pp;

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

int
plugin_instance_create(const char *dir, const char *name, const char *route_name,
                       const char *config_json, size_t config_len, char *err, size_t errlen,
                       struct plugin_instance **inst_r)
{
	struct plugin_instance *inst = NULL;
	struct loaded_file *file = NULL;
	bool self_ready = false;
	char *path = NULL;
	size_t plen;
	int rc;

	if (dir == NULL || dir[0] == '\0' || !stem_valid(name) || route_name == NULL) {
		set_err(err, errlen, "plugin \"%s\": invalid plugin name or directory",
		        name != NULL ? name : "(null)");
		rc = -EINVAL;
		goto out;
	}
	plen = strlen(dir) + strlen(name) + sizeof("/.so");
	path = xmalloc(plen);
	snprintf(path, plen, "%s/%s.so", dir, name);

	rc = check_file(name, path, err, errlen);
	if (rc < 0)
		goto out;
	rc = file_acquire(name, path, err, errlen, &file);
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
	free(path);
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
	struct loaded_file *file = NULL;
	const char *base, *dot;
	char stem[128], *local = NULL;
	size_t stem_len;
	int rc;

	if (path == NULL) {
		set_err(err, errlen, "plugin probe: no path");
		rc = -EINVAL;
		goto out;
	}
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	dot = strrchr(base, '.');
	if (dot == NULL || strcmp(dot, ".so") != 0 || dot == base ||
	    (size_t)(dot - base) >= sizeof(stem)) {
		set_err(err, errlen, "%s: not a plugin file name (<name>.so)", path);
		rc = -EINVAL;
		goto out;
	}
	stem_len = (size_t)(dot - base);
	memcpy(stem, base, stem_len);
	stem[stem_len] = '\0';
	/* Without a slash dlopen() would search the library path instead. */
	if (strchr(path, '/') == NULL) {
		size_t n = strlen(path) + 3;

		local = xmalloc(n);
		snprintf(local, n, "./%s", path);
		path = local;
	}

	rc = check_file(stem, path, err, errlen);
	if (rc < 0)
		goto out;
	rc = file_acquire(stem, path, err, errlen, &file);
	if (rc < 0)
		goto out;
	memset(probe, 0, sizeof(*probe));
	snprintf(probe->name, sizeof(probe->name), "%s", file->info->name);
	snprintf(probe->version, sizeof(probe->version), "%s",
	         file->info->version != NULL ? file->info->version : "");
	snprintf(probe->description, sizeof(probe->description), "%s",
	         file->info->description != NULL ? file->info->description : "");
	probe->abi_major = file->info->abi_major;
	probe->abi_minor = file->info->abi_minor;
out:
	file_release(file);
	free(local);
	return rc;
}
