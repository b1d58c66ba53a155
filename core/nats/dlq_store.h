/* SPDX-License-Identifier: MIT */
/*
 * How a dead letter lies in the DLQ stream. One that fits the server's
 * max_payload is one message on "<prefix>.<original subject>". One that
 * does not (the original task was near the limit, and the letter adds its
 * Taskjet-* headers) is stored whole in parts: the original headers and
 * payload, cut into messages on "<prefix>-chunks.<key>.<n>" (key unique to
 * this write), written first; then a manifest on the letter's own subject
 * with the Taskjet-* headers, Taskjet-Parts and Taskjet-Parts-Key, and no
 * payload. Readers put the parts back together; deleting a letter deletes
 * its parts. A letter is never lost to its size.
 *
 * NATS-internal: it includes <nats/nats.h>. Thread-safe.
 */
#ifndef TASKJET_DLQ_STORE_H
#define TASKJET_DLQ_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

#include "config/config.h"
#include "task/task.h"

struct natsconn;

/* Bookkeeping headers of a manifest; readers drop them. */
#define DLQ_PARTS_HEADER "Taskjet-Parts"
#define DLQ_PARTS_KEY_HEADER "Taskjet-Parts-Key"
/* Parts lie on "<prefix>" DLQ_PARTS_TOKEN ".<key>.<n>". */
#define DLQ_PARTS_TOKEN "-chunks"

/* "<prefix>-chunks.>": the DLQ stream's second subject. buf: >= 300. */
void dlq_store_parts_filter(const struct cfg_dlq *dlq, char *buf, size_t len);

/*
 * The longest letter subject a publish can carry. nats-server closes the
 * connection of a client whose protocol line ("HPUB <subject> <reply>
 * <sizes>") passes its max_control_line, 4096 bytes unless configured;
 * the rest is room for the reply inbox and the sizes.
 */
#define DLQ_STORE_SUBJECT_MAX (4096 - 256)

/*
 * Store `letter` (subject, headers, payload; borrowed) with message id
 * `msg_id` (the letter's, so a rewrite is deduplicated): as one message
 * when it fits, else in parts under a manifest. 0; -ENAMETOOLONG, sending
 * nothing, if its subject is longer than DLQ_STORE_SUBJECT_MAX; or a
 * js_publish_msg() error. Logs nothing.
 */
int dlq_store_write(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *letter,
                    const char *msg_id);

/* How many parts the stored message `m` points at; 0 for a whole letter. */
size_t dlq_store_parts(natsMsg *m);

/* What dlq_store_read() gives back: the original headers (pointing into
 * `blob`) and payload (in `blob`). Free with dlq_store_letter_free(). */
struct dlq_store_letter {
	char *blob;
	struct msg_header *headers;
	size_t header_count;
	const char *payload;
	size_t payload_len;
};

/* Read the parts of manifest `m` back. 0; -ENODATA if a part is missing or
 * they do not add up; -errno if the server failed. */
int dlq_store_read(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *m,
                   struct dlq_store_letter *letter_r);
void dlq_store_letter_free(struct dlq_store_letter *letter);

/* Split the parts put together, letter->blob (`len` bytes, owned by the
 * letter: "Key: value\r\n"... "\r\n" payload), in place into its headers
 * and payload. 0, or -ENODATA if it is not in that form; free the letter
 * either way. dlq_store_read()'s last step, public for tests/fuzz. */
int dlq_store_parse(struct dlq_store_letter *letter, size_t len);

/* Delete the parts manifest `m` points at (none: nothing to do). 0 or
 * -errno. */
int dlq_store_delete_parts(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *m);

#endif
