/* SPDX-License-Identifier: MIT */
/* Process exit codes (sysexits.h values), documented in `taskjet --help`. */
#ifndef TASKJET_EXITCODE_H
#define TASKJET_EXITCODE_H

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_OTHER = 1,
	EXIT_USAGE = 64,
	EXIT_UNAVAILABLE = 69,
	EXIT_CONFIG = 78
};

#endif
