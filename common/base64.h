/* SPDX-License-Identifier: MIT */
/*
 * Base64 with the standard alphabet and '=' padding (RFC 4648 section 4),
 * the form dead-letter payloads take in JSON when they are not text. Pure
 * functions over caller buffers: no allocation, thread-safe.
 */
#ifndef TASKJET_BASE64_H
#define TASKJET_BASE64_H

#include <stddef.h>

/* Characters base64_encode() writes for `n` bytes (no NUL counted), or 0 if
 * that would not fit a size_t. */
size_t base64_encoded_len(size_t n);

/* Encode `n` bytes of `in` into base64_encoded_len(n) characters at `out`
 * (not NUL-terminated; the caller sized it). */
void base64_encode(const void *in, size_t n, char *out);

/* Bytes base64_decode() may write for `n` characters of input (an upper
 * bound: padding makes the real length up to two bytes shorter). */
size_t base64_decoded_max(size_t n);

/*
 * Decode `n` characters of `in` into `out` (base64_decoded_max(n) bytes of
 * room). Strict: the length is a multiple of 4, padding only at the end,
 * no white space, and the unused bits of the last group are zero, so every
 * byte string has exactly one accepted encoding. 0 with *out_len_r set, or
 * -EINVAL (out's content is then unspecified).
 */
int base64_decode(const char *in, size_t n, void *out, size_t *out_len_r);

#endif
