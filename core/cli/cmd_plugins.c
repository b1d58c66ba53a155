/* SPDX-License-Identifier: MIT */
/* taskjet plugins: what is in the plugin directory, and what would load. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
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

int
cmd_plugins(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *dir = NULL;
	struct cfg *cfg = NULL;
	char **names = NULL;
	size_t count = 0;
	struct dirent *de;
	int opt, status = EXIT_OK;
	DIR *d = NULL;

	while ((opt = getopt_long(argc, argv, "c:d:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'h':
			fputs(plugins_usage, stdout);
			return EXIT_OK;
		default:
			fputs(plugins_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(plugins_usage, stderr);
		return EXIT_USAGE;
	}
	if (dir == NULL) {
		status = cli_load_config(config, &cfg);
		if (status != EXIT_OK)
			goto out;
		status = cli_enter_state_dir(cfg);
		if (status != EXIT_OK)
			goto out;
		dir = cfg->plugin_dir;
	}
	/* Plugins log their init complaints; keep them off the listing. */
	log_setup(0, LOG_FORMAT_TEXT, NULL);
	d = opendir(dir);
	if (d == NULL) {
		fprintf(stderr, "taskjet plugins: %s: %s\n", dir, strerror(errno));
		status = EXIT_CONFIG;
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 3 && strcmp(de->d_name + n - 3, ".so") == 0) {
			names = xrealloc(names, count + 1, sizeof(*names));
			names[count++] = xstrdup(de->d_name);
		}
	}
	/* qsort's array must not be NULL, even for 0 elements (C11 7.22.5). */
	if (count > 0)
		qsort(names, count, sizeof(*names), compare_names);
	printf("plugin directory %s: %zu plugin%s\n", dir, count, count == 1 ? "" : "s");
	for (size_t i = 0; i < count; i++)
		if (show_plugin(dir, names[i], cfg) < 0)
			status = EXIT_FAILURE_OTHER;
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	if (d != NULL)
		closedir(d);
	cfg_free(cfg);
	return status;
}
