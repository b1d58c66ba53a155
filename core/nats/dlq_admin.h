/* SPDX-License-Identifier: MIT */
/*
 * The DLQ stream on JetStream: the jetstream backend's dlq_* operations
 * (list, get, delete, purge). What a letter means, filters and replay are
 * in task/dlq.h and task/backend.c; this file only stores and fetches.
 * Free of libnats types (a connection is the opaque struct natsconn).
 * Any thread (libnats connections are thread-safe); results are the
 * caller's.
 */
#ifndef TASKJET_DLQ_ADMIN_H
#define TASKJET_DLQ_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "task/dlq.h"

struct natsconn;

/*
 * Scan the DLQ stream from f->from_seq (or its first sequence) up to its
 * last sequence at the start of the scan, keeping letters that match `f`
 * (NULL: all) until the limit. Letters deleted meanwhile are skipped, and
 * so is every message not under "<subject_prefix>." (another deployment's
 * letters in a shared stream).
 * Without the payload the entries carry no headers or payload. -ENOENT if
 * the DLQ stream does not exist, -EIO (or another -errno) if the server
 * failed.
 */
int dlq_admin_list(struct natsconn *nc, const struct cfg_dlq *dlq, const struct dlq_filter *f,
                   bool with_payload, struct dlq_list *list_r);

/* The letter at `seq` with every header and the payload. -ENOENT if the
 * sequence holds nothing; -ENOMSG if it holds a message that is not a
 * letter under this config's subject prefix (another deployment's letter
 * in a shared stream, or a part of a letter stored in parts). */
int dlq_admin_get(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq,
                  struct dlq_entry **entry_r);

/* Delete the letter at `seq`. -ENOENT if it is already gone; -ENOMSG (as
 * dlq_admin_get(), nothing deleted) if it is no letter of this config. */
int dlq_admin_delete(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq);

/*
 * For a sequence dlq_admin_get() answered -ENOMSG: is it a part of one of
 * this config's letters stored in parts? 0 and *letter_r = the sequence of
 * the letter (its manifest, found within DLQ_PART_SCAN_MAX sequences after
 * the part), or 0 when no manifest names it (a write cut short). -ENOMSG
 * if it is not a part of ours (another deployment's message); -ENOENT if
 * the sequence holds nothing; other -errno if the server failed.
 */
#define DLQ_PART_SCAN_MAX 4096
int dlq_admin_part_of(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq,
                      uint64_t *letter_r);

/*
 * Remove every letter on original subjects matching `subject` (NULL: all)
 * with a sequence below `before_seq` (0: no bound) in one server call.
 * Letters stored after a scan are thus kept. 0 or -errno.
 */
int dlq_admin_purge_subject(struct natsconn *nc, const struct cfg_dlq *dlq, const char *subject,
                            uint64_t before_seq);

#endif
