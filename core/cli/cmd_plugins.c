/* SPDX-License-Identifier: MIT */
/* taskjet plugins: what is in the plugin directory, and what would load. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char plugins_usage[] =
    "Usage: taskjet plugins [-c FILE] [-d DIR]\n"
    "\n"
    "List the plugins in the plugin directory (the config's plugin_dir, or\n"
    "DIR) with name, version, ABI version and registered handlers, and say\n"
    "why any of them would be refused. A plugin is initialised with the\n"
    "config of the first route that uses it, else with {}; one that no\n"
    "route uses and that needs settings is listed without its handlers.\n"
    "\n"
    "  -c, --config FILE  config file (default: $TASKJET_CONFIG, else\n"
    "                     " SYSCONFDIR "/taskjet/taskjet.json)\n"
    "  -d, --dir DIR      plugin directory (no config needed)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 all load, 1 some would be refused, 64 usage, 78 config.\n";

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const struct cfg_route *
first_route_using(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; cfg != NULL && i < cfg->route_count; i++)
		if (strcmp(cfg->routes[i].plugin, name) == 0)
			return &cfg->routes[i];
	return NULL;
}

/*
 * Print one plugin's line; returns 0 if it would load. A plugin that no
 * route uses is tried with {}: if its init wants settings (the shipped ones
 * all want a state_dir), that says nothing about whether it loads, so it is
 * not counted as refused.
 */
static int
show_plugin(const char *dir, const char *file, const struct cfg *cfg)
{
	size_t stem_len = strlen(file) - 3;
	char path[4096], err[512], *stem = xstrndup(file, stem_len);
	struct plugin_instance *inst = NULL;
	const struct cfg_route *route;
	struct plugin_probe probe;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	rc = plugin_probe_file(path, err, sizeof(err), &probe);
	if (rc < 0) {
		printf("%-16s REFUSED  %s\n", stem, err);
		goto out;
	}
	route = first_route_using(cfg, stem);
	rc = plugin_instance_create(dir, stem, route ? route->name : "(none)",
	                            route ? route->config_json : "{}",
	                            route ? route->config_json_len : 2, err, sizeof(err), &inst);
	printf("%-16s %-8s ABI %u.%u  %s\n", probe.name, probe.version, probe.abi_major,
	       probe.abi_minor, probe.description);
	if (rc < 0 && route == NULL) {
		printf("%-16s   handlers: unknown, no route configures it (init "
		       "with {}: %s)\n",
		       "", err);
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		printf("%-16s   REFUSED  init failed with its route's config: %s\n", "", err);
		goto out;
	}
	printf("%-16s   handlers:", "");
	for (size_t i = 0; i < plugin_instance_handler_count(inst); i++)
		printf(" %s", plugin_instance_handler_name(inst, i));
	printf("\n");
out:
	plugin_instance_destroy(inst);
	free(stem);
	return rc;
}

/* The *.so files of `dir`, sorted; *names_r is the caller's to free (each
 * name and the array). 0 or -errno. */
static int
list_plugin_files(const char *dir, char ***names_r, size_t *count_r)
{
	char **names = NULL;
	size_t count = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 3 && strcmp(de->d_name + n - 3, ".so") == 0) {
			names = xrealloc(names, count + 1, sizeof(*names));
			names[count++] = xstrdup(de->d_name);
		}
	}
	closedir(d);
	/* qsort's array must not be NULL, even for 0 elements (C11 7.22.5). */
	if (count > 0)
		qsort(names, count, sizeof(*names), compare_names);
	*names_r = names;
	*count_r = count;
	return 0;
}

struct plugins_args {
	const char *dir;
};

static const struct cli_option plugins_options[] = {
	CLI_OPT_CONFIG,
	CLI_OPTION("dir", required_argument, 'd'),
	CLI_OPT_END,
};

static int
plugins_option(struct cli_ctx *ctx, void *args, int key, char *value)
{
	struct plugins_args *a = args;

	(void)ctx;
	if (key == 'd')
		a->dir = value;
	return EXIT_OK;
}

static int
plugins_run(struct cli_ctx *ctx, void *args)
{
	const struct plugins_args *a = args;
	const char *dir = a->dir;
	struct cfg *cfg = NULL;
	char *scratch = NULL, *abs_dir = NULL;
	char **names = NULL;
	size_t count = 0;
	int status = EXIT_OK, rc;

	if (dir == NULL) {
		status = cli_load_config(ctx->opt.config, &cfg);
		if (status != EXIT_OK)
			goto out;
		dir = cfg->plugin_dir;
	} else if (dir[0] != '/' && (abs_dir = realpath(dir, NULL)) != NULL) {
		dir = abs_dir; /* before leaving the working directory */
	}
	/* A listing creates nothing: plugin init runs in a scratch directory. */
	status = cli_enter_scratch_dir(&scratch);
	if (status != EXIT_OK)
		goto out;
	/* Plugins log their init complaints; keep them off the listing. */
	log_setup(0, LOG_FORMAT_TEXT, NULL);
	rc = list_plugin_files(dir, &names, &count);
	if (rc < 0) {
		cli_error(ctx, "%s: %s", dir, strerror(-rc));
		status = EXIT_CONFIG;
		goto out;
	}
	printf("plugin directory %s: %zu plugin%s\n", dir, count, count == 1 ? "" : "s");
	for (size_t i = 0; i < count; i++)
		if (show_plugin(dir, names[i], cfg) < 0)
			status = EXIT_FAILURE_OTHER;
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	cli_leave_scratch_dir(scratch);
	free(abs_dir);
	cfg_free(cfg);
	return status;
}

static const struct plugins_args plugins_defaults = { 0 };

const struct cli_command cli_cmd_plugins = {
	.name = "plugins",
	.summary = "list the plugins in the plugin directory",
	.usage = plugins_usage,
	.options = plugins_options,
	CLI_ARGS(plugins_defaults),
	.option = plugins_option,
	.run = plugins_run,
};
