/* SPDX-License-Identifier: MIT */
/*
 * Why a first connect failed, in words an operator can act on. libnats
 * 3.4.1 reports every unreachable server as "No server available" (no
 * matter whether the name did not resolve, nothing listened, or nothing
 * answered) and TLS and authorization failures in its own terms; this
 * names the cause, and for an unreachable server finds it by resolving
 * and dialling each server once more. Main thread (it may take up to the
 * connect timeout per server).
 */
#ifndef TASKJET_CONNERR_H
#define TASKJET_CONNERR_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "config/config.h"

/*
 * Describe the failure `s` of connecting to `urls` (as configured, user
 * info and all; never shown) with `cfg`'s settings; `library_text` is
 * libnats' last error without its source-file prefix. Writes one line
 * into `why` (no URL user info, no secrets) and returns the cause:
 * -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH (name resolution or routing),
 * -EPROTO (TLS), -EACCES (authorization), else -EIO.
 */
int connerr_describe(natsStatus s, const char *library_text, const char *urls,
                     const struct cfg_nats *cfg, int64_t timeout_ms, char *why, size_t len);

#endif
