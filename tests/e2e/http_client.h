/* SPDX-License-Identifier: MIT */
/*
 * A minimal HTTP client for tests of the operator endpoint: one request on
 * a fresh loopback connection, the response read until the server closes
 * or a deadline passes. No keep-alive, no chunked decoding (the endpoint
 * sends Content-Length). Thread-safe (no shared state).
 */
#ifndef TASKJET_TEST_HTTP_CLIENT_H
#define TASKJET_TEST_HTTP_CLIENT_H

/*
 * Send `request` (the whole text, "GET / HTTP/1.0\r\n...\r\n\r\n") to
 * 127.0.0.1:port and read the answer for at most timeout_ms. Returns the
 * status code, -ETIMEDOUT, or -errno; *response_r (may be NULL) receives the
 * malloc'd response, headers and body, NUL-terminated.
 */
int http_request(int port, const char *request, int timeout_ms, char **response_r);

/* GET `path` with HTTP/1.0; the status, or -errno; *body_r (may be NULL)
 * the malloc'd body. */
int http_get(int port, const char *path, int timeout_ms, char **body_r);

#endif
