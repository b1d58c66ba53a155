/* SPDX-License-Identifier: MIT */
/*
 * The env the endpoint serves from (config, engine, backend, metrics) and
 * its swap at a reload. A request holds the env for its handler's run; a
 * swap makes the new env current at once and then waits until nobody
 * holds the old one, so the reload may free it. Holders count by the
 * parity of the epoch they began in: those of the epoch being closed are
 * the ones to wait for, and new ones count in the other half.
 */
#include <pthread.h>
#include <stdlib.h>

#include "http/internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A request still on the old env after this long is left to it. */
#define SWAP_WAIT_MS 30000

void
http_env_init(struct http_server *s, const struct http_env *env)
{
	s->env = xmalloc(sizeof(*s->env));
	*s->env = *env;
	s->reload = env->reload;
	s->reload_ctx = env->reload_ctx;
	pthread_mutex_init(&s->env_lock, NULL);
	pthread_cond_init(&s->env_idle, NULL);
}

void
http_env_destroy(struct http_server *s)
{
	free(s->env);
	pthread_cond_destroy(&s->env_idle);
	pthread_mutex_destroy(&s->env_lock);
}

const struct http_env *
http_env_hold(struct http_server *s, unsigned *ticket_r)
{
	const struct http_env *env;

	pthread_mutex_lock(&s->env_lock);
	*ticket_r = s->env_epoch & 1;
	s->env_users[*ticket_r]++;
	env = s->env;
	pthread_mutex_unlock(&s->env_lock);
	return env;
}

void
http_env_release(struct http_server *s, unsigned ticket)
{
	pthread_mutex_lock(&s->env_lock);
	if (--s->env_users[ticket] == 0)
		pthread_cond_broadcast(&s->env_idle);
	pthread_mutex_unlock(&s->env_lock);
}

bool
http_shutting_down(struct http_server *s)
{
	unsigned ticket;
	const struct http_env *env = http_env_hold(s, &ticket);
	bool stopping = engine_stopping(env->engine);

	http_env_release(s, ticket);
	return stopping;
}

void
http_run_handler(struct http_server *s, struct http_request *req)
{
	unsigned ticket;

	if ((req->route->flags & HTTP_ROUTE_NO_ENV) != 0) {
		req->route->handle(s, req, &req->reply);
		return;
	}
	req->env = http_env_hold(s, &ticket);
	req->route->handle(s, req, &req->reply);
	http_env_release(s, ticket);
	req->env = NULL;
}

void
http_set_env(struct http_server *s, const struct http_env *env)
{
	struct http_env *next, *old;
	struct timespec until;
	unsigned closing;

	if (s == NULL)
		return;
	next = xmalloc(sizeof(*next));
	*next = *env;
	next->reload = s->reload;
	next->reload_ctx = s->reload_ctx;
	clock_mono_deadline(SWAP_WAIT_MS, &until);
	pthread_mutex_lock(&s->env_lock);
	old = s->env;
	s->env = next;
	closing = s->env_epoch++ & 1;
	while (s->env_users[closing] > 0 &&
	       pthread_cond_clockwait(&s->env_idle, &s->env_lock, CLOCK_MONOTONIC, &until) == 0)
		;
	if (s->env_users[closing] > 0) {
		log_warn("http: %u request(s) still on the previous config after %d s",
		         s->env_users[closing], SWAP_WAIT_MS / 1000);
		old = NULL; /* they may still read it: keep it */
	}
	pthread_mutex_unlock(&s->env_lock);
	free(old);
}
