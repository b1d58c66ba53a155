/* SPDX-License-Identifier: MIT */
/* The cause of a failed connect: refused, timeout, name, TLS, authorization. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nats/connerr.h"

#define DEFAULT_PORT "4222"
/* One diagnostic dial waits at most this long (or the connect timeout). */
#define DIAL_MAX_MS 2000

/* Append to why at *o; keeps NUL termination. */
static void add(char *why, size_t len, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
add(char *why, size_t len, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*o + 1 >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(why + *o, len - *o, fmt, ap);
	va_end(ap);
	if (n > 0)
		*o = *o + (size_t)n < len ? *o + (size_t)n : len - 1;
}

/* Split one URL ("nats://user:pw@host:4222", "[::1]:4222", "host") into
 * host and port; false if it has no host. */
static bool
split_url(const char *url, size_t n, char *host, size_t host_len, char *port, size_t port_len)
{
	const char *end = url + n, *p = url, *at = NULL, *colon;
	const char *scheme = strstr(url, "://");
	size_t hn;

	while (p < end && *p == ' ')
		p++;
	if (scheme != NULL && scheme < end)
		p = scheme + 3;
	for (const char *q = p; q < end && *q != '/'; q++)
		if (*q == '@')
			at = q;
	if (at != NULL)
		p = at + 1;
	for (const char *q = p; q < end; q++)
		if (*q == '/') {
			end = q;
			break;
		}
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close == NULL)
			return false;
		hn = (size_t)(close - p - 1);
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		p++;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		hn = (size_t)((colon != NULL ? colon : end) - p);
	}
	if (hn == 0 || hn >= host_len)
		return false;
	memcpy(host, p, hn);
	host[hn] = '\0';
	if (colon != NULL && (size_t)(end - colon - 1) > 0 &&
	    (size_t)(end - colon - 1) < port_len) {
		memcpy(port, colon + 1, (size_t)(end - colon - 1));
		port[end - colon - 1] = '\0';
	} else {
		snprintf(port, port_len, "%s", DEFAULT_PORT);
	}
	return true;
}

/* One TCP dial of `ai` within timeout_ms: 0 (it answered), or -errno. */
static int
dial(const struct addrinfo *ai, int64_t timeout_ms)
{
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, err = 0, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return -errno;
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	if (rc < 0) {
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		rc = poll(&pfd, 1, (int)timeout_ms);
		if (rc == 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
		if (rc < 0) {
			rc = -errno;
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			err = errno;
		rc = -err;
	}
out:
	close(fd);
	return rc;
}

/* "127.0.0.1:4222" or "[::1]:4222" for an address. */
static void
addr_text(const struct addrinfo *ai, char *buf, size_t len)
{
	char h[NI_MAXHOST], s[NI_MAXSERV];

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, h, sizeof(h), s, sizeof(s),
	                NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return;
	}
	snprintf(buf, len, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, s);
}

/* Why one server could not be reached; its cause as -errno. */
static int
diagnose_server(const char *url, size_t n, int64_t timeout_ms, char *why, size_t len, size_t *o)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char host[256], port[16], where[300];
	int gai, rc = -ECONNREFUSED, first = 0;

	if (!split_url(url, n, host, sizeof(host), port, sizeof(port))) {
		add(why, len, o, "no host in the URL");
		return -EINVAL;
	}
	gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		add(why, len, o, "cannot resolve host name %s: %s", host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -EHOSTUNREACH;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int r = dial(ai, timeout_ms);

		addr_text(ai, where, sizeof(where));
		if (ai != res)
			add(why, len, o, ", ");
		if (r == -ECONNREFUSED)
			add(why, len, o, "connection refused by %s (nothing listens there)", where);
		else if (r == -ETIMEDOUT)
			add(why, len, o,
			    "no answer from %s within %lld ms (host down, or a firewall "
			    "drops the packets)",
			    where, (long long)timeout_ms);
		else if (r == 0)
			add(why, len, o, "%s accepts connections now, but did not a moment ago",
			    where);
		else
			add(why, len, o, "%s: %s", where, strerror(-r));
		if (first == 0 && r != 0)
			first = r == -ENETUNREACH ? -EHOSTUNREACH : r;
	}
	freeaddrinfo(res);
	if (first == -ECONNREFUSED || first == -ETIMEDOUT || first == -EHOSTUNREACH)
		rc = first;
	return rc;
}

static int
describe_unreachable(const char *urls, int64_t timeout_ms, char *why, size_t len)
{
	size_t o = 0;
	int rc = 0, count = 0;

	if (timeout_ms <= 0 || timeout_ms > DIAL_MAX_MS)
		timeout_ms = DIAL_MAX_MS;
	for (const char *p = urls; *p != '\0';) {
		size_t n;
		int r;

		p += strspn(p, ", ");
		n = strcspn(p, ", ");
		if (n == 0)
			break;
		if (count++ > 0)
			add(why, len, &o, "; ");
		r = diagnose_server(p, n, timeout_ms, why, len, &o);
		if (rc == 0)
			rc = r;
		p += n;
	}
	return rc != 0 ? rc : -ECONNREFUSED;
}

/* libnats' "SSL handshake error: 20:unable to get local issuer
 * certificate:depth=0:cert=/CN=x:issuer=/CN=y" (or "62:hostname
 * mismatch:expected=h:cert=/CN=x") as a sentence. */
static void
describe_tls(const char *text, const struct cfg_nats *cfg, char *why, size_t len)
{
	const char *p = strstr(text, "handshake error: "), *reason, *rest;
	char what[160] = "", cert[200] = "", issuer[200] = "", expected[200] = "";
	size_t o = 0;

	p = p != NULL ? p + 17 : text;
	reason = strchr(p, ':');
	if (reason == NULL || p[strspn(p, "0123456789")] != ':') {
		add(why, len, &o, "TLS handshake failed: %s", p);
		return;
	}
	reason++;
	rest = strchr(reason, ':');
	snprintf(what, sizeof(what), "%.*s",
	         rest != NULL ? (int)(rest - reason) : (int)strlen(reason), reason);
	for (const char *f = rest; f != NULL && *f != '\0'; f = strchr(f + 1, ':')) {
		const char *v = f + 1, *e = strchr(v, ':');
		int vn = e != NULL ? (int)(e - v) : (int)strlen(v);

		if (strncmp(v, "cert=", 5) == 0)
			snprintf(cert, sizeof(cert), "%.*s", vn - 5, v + 5);
		else if (strncmp(v, "issuer=", 7) == 0)
			snprintf(issuer, sizeof(issuer), "%.*s", vn - 7, v + 7);
		else if (strncmp(v, "expected=", 9) == 0)
			snprintf(expected, sizeof(expected), "%.*s", vn - 9, v + 9);
	}
	add(why, len, &o,
	    "TLS verification failed: the server's certificate %s%s%s was not accepted: %s", cert,
	    issuer[0] != '\0' ? " issued by " : "", issuer, what);
	if (strstr(what, "mismatch") != NULL) {
		if (expected[0] != '\0')
			add(why, len, &o, " (expected %s)", expected);
		add(why, len, &o,
		    "; the certificate must name the host of the URL, or set nats.tls.server_name "
		    "to a name it holds");
	} else if (strstr(what, "issuer") != NULL || strstr(what, "self") != NULL ||
	           strstr(what, "chain") != NULL) {
		add(why, len, &o, "; %s",
		    cfg->tls.ca_file != NULL
		        ? "nats.tls.ca_file does not hold the CA that signed it"
		        : "set nats.tls.ca_file to the CA that signed it");
	}
}

int
connerr_describe(natsStatus s, const char *library_text, const char *urls,
                 const struct cfg_nats *cfg, int64_t timeout_ms, char *why, size_t len)
{
	size_t o = 0;

	why[0] = '\0';
	switch (s) {
	case NATS_NO_SERVER:
		return describe_unreachable(urls, timeout_ms, why, len);
	case NATS_TIMEOUT:
		add(why, len, &o,
		    "timed out after %lld ms: the server took the TCP connection but did not "
		    "answer as a NATS server (a wrong port, or a server too busy to answer)",
		    (long long)timeout_ms);
		return -ETIMEDOUT;
	case NATS_SSL_ERROR:
		describe_tls(library_text, cfg, why, len);
		return -EPROTO;
	case NATS_SECURE_CONNECTION_WANTED:
		add(why, len, &o,
		    "TLS is required here (nats.tls, or a tls:// URL) but the server does not "
		    "offer "
		    "it");
		return -EPROTO;
	case NATS_SECURE_CONNECTION_REQUIRED:
		add(why, len, &o, "the server requires TLS: add a nats.tls section");
		return -EPROTO;
	case NATS_CONNECTION_AUTH_FAILED:
	case NATS_NOT_PERMITTED:
		add(why, len, &o, "authorization failed: the server refused the credentials (%s); ",
		    library_text);
		if (cfg->password_file != NULL)
			add(why, len, &o, "check nats.user and nats.password_file");
		else if (cfg->token_file != NULL)
			add(why, len, &o, "check nats.token_file");
		else if (cfg->nkey_seed_file != NULL)
			add(why, len, &o, "check nats.nkey_seed_file");
		else if (cfg->creds_file != NULL)
			add(why, len, &o, "check nats.creds_file");
		else
			add(why, len, &o,
			    "check the user info of the URL, or configure nats.user and "
			    "password_file, token_file, nkey_seed_file or creds_file");
		return -EACCES;
	case NATS_IO_ERROR:
	case NATS_PROTOCOL_ERROR:
		/* With TLS, a server that verifies client certificates closes
		 * the connection right after the handshake when it refuses ours
		 * (or got none): libnats only sees the connection end. */
		if (cfg->tls.enabled || strncasecmp(urls, "tls://", 6) == 0 ||
		    strstr(library_text, "SSL") != NULL) {
			add(why, len, &o,
			    "TLS verification failed: the server closed the connection after the "
			    "handshake, so it did not accept %s",
			    cfg->tls.cert_file != NULL
			        ? "the client certificate (nats.tls.cert_file): is it signed by a "
			          "CA the server trusts?"
			        : "a connection without a client certificate: set "
			          "nats.tls.cert_file and key_file");
			return -EPROTO;
		}
		break;
	default:
		break;
	}
	add(why, len, &o, "%s (%s)", natsStatus_GetText(s), library_text);
	return -EIO;
}
