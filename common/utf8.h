/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 as RFC 3629 defines it: at most four bytes, no overlong forms, no
 * surrogates (U+D800..U+DFFF), nothing past U+10FFFF. Pure functions over
 * borrowed bytes: no state, thread-safe.
 */
#ifndef TASKJET_UTF8_H
#define TASKJET_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The replacement character U+FFFD, which text output puts where bytes are
 * not UTF-8. */
#define UTF8_REPLACEMENT 0xfffdu

/* Length (1..4) of the one well-formed sequence at the start of the `len`
 * bytes at `s`, or 0 if they do not start with one (invalid or cut short).
 * If cp_r is not NULL it receives the code point. */
size_t utf8_decode(const void *s, size_t len, uint32_t *cp_r);

/* Are all `len` bytes at `s` well-formed UTF-8? (A NUL byte is U+0000.) */
bool utf8_valid(const void *s, size_t len);

/* Are they text: well-formed UTF-8 without a NUL byte? This is what the JSON
 * writer sends as a string; other bytes go out as base64 (common/jsonw.h). */
bool utf8_is_text(const void *s, size_t len);

/* Write the UTF-8 form of `cp` to out[0..3]; returns its length (1..4), or 0
 * for a surrogate or a value past U+10FFFF (nothing written). */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
