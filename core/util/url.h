/* SPDX-License-Identifier: MIT */
/* Server URLs as they may be shown: never with the user info in them. */
#ifndef TASKJET_URL_H
#define TASKJET_URL_H

#include <stddef.h>

/*
 * Copy `urls` (one URL or a comma-separated list) into buf with each
 * URL's user info ("user:password@", "token@") replaced by "***@", so a
 * secret in a URL never reaches a log, a status line or an error. Always
 * NUL-terminates (truncating if needed); returns buf. Thread-safe.
 */
char *url_redact(const char *urls, char *buf, size_t len);

#endif
