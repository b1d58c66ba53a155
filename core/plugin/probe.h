/* SPDX-License-Identifier: MIT */
/*
 * Reading a plugin's descriptor in a throwaway process: dlopen runs a
 * shared object's constructors, so the engine asks the worker program (mode
 * "probe") to load the file and report what its tj_plugin_info says. A
 * plugin refused on that report never runs any code in the engine.
 *
 * Thread-safe; each probe is its own process.
 */
#ifndef TASKJET_PROBE_H
#define TASKJET_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a probe found in the file. */
struct probe_report {
	bool loaded; /* false: dlopen failed; error says why */
	bool has_info, has_init, has_fini;
	uint32_t abi_major, abi_minor;
	/* Read only when abi_major is this engine's (the layout may differ). */
	char name[128];
	char version[64];
	char description[256];
	char error[512];
};

/*
 * Probe the plugin file open at `fd` (borrowed) in a child process, bounded
 * in time. `stem` and `path` name it in messages. 0 with *report filled
 * (which may say the file is no plugin); or -errno when the probe itself
 * failed: the worker program is missing, or the plugin's code crashed or
 * hung while loading (-ENOEXEC); err says why.
 */
int probe_run(int fd, const char *stem, const char *path, char *err, size_t errlen,
              struct probe_report *report);

/* The probe side: answer the engine's request on `sock` with `report`.
 * 0 or -errno. */
int probe_answer(int sock, const struct probe_report *report);

#endif
