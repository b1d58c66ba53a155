/* SPDX-License-Identifier: MIT */
/* Handler verdicts to backend actions: ack, delayed nak, or dead letter. */
#include <errno.h>
#include <string.h>

#include "util/clock.h"
#include "task/disposition.h"
#include "task/dlq.h"
#include "util/log.h"

#define DEFAULT_DLQ_RETRY_DELAY_MS 5000
#define DEFAULT_GIVEN_BACK_DELAY_MS 1000

/* Routes are const to their readers; the counters are their one mutable
 * part, and only ever touched atomically. */
#define STATS_INC(route, field)                                                                \
	do {                                                                                   \
		if ((route) != NULL)                                                           \
			__atomic_fetch_add(&((struct route_stats *)&(route)->stats)->field, 1, \
			                   __ATOMIC_RELAXED);                                  \
	} while (0)

static void
log_ctx_init(struct log_ctx *ctx, const struct route *route, const struct tj_task *task)
{
	memset(ctx, 0, sizeof(*ctx));
	if (route != NULL && route->cfg != NULL) {
		ctx->route = route->cfg->name;
		ctx->plugin = route->cfg->plugin;
	}
	ctx->seq = task->stream_seq;
	ctx->attempt = task->attempt;
	ctx->task = task->id;
	ctx->subject = task->subject;
}

/* strerror() may share a buffer between threads; the GNU strerror_r()
 * (we build with _GNU_SOURCE) does not. */
static const char *
err_text(int rc, char *buf, size_t len)
{
	return strerror_r(-rc, buf, len);
}

static void
note_error(struct disp_result *res, int rc)
{
	if (rc < 0 && res->error == 0)
		res->error = rc;
}

/* Shared by both entry points: write the letter, and only once the store
 * has it, term the original; otherwise nak so the task comes back. */
static int
dead_letter(const struct disp_env *env, const struct route *route, struct tj_task *task,
            enum dlq_reason reason, const char *error, struct disp_result *res)
{
	struct backend *b = env->backend;
	struct dlq_letter letter = { 0 };
	struct log_ctx ctx;
	char ebuf[128];
	const char *plugin = NULL, *orig_id;
	int64_t now, delay;
	int rc;

	log_ctx_init(&ctx, route, task);
	ctx.reason = dlq_reason_name(reason);
	res->reason = reason;
	if (route != NULL && route->cfg != NULL)
		plugin = route->cfg->plugin;
	now = env->now_wall_ms != NULL ? env->now_wall_ms() : clock_wall_ms();

	/* The publisher's id: the letter's own Nats-Msg-Id is "dlq-...". */
	orig_id = b->ops->header != NULL ? b->ops->header(b, task, "Nats-Msg-Id") : NULL;
	rc = dlq_letter_build(env->dlq, task, orig_id, plugin, reason, error, now, &letter);
	if (rc == 0)
		rc = b->ops->dead_letter(b, task, &letter.rec);
	if (rc == -ENAMETOOLONG) {
		/* The store cannot name the letter's subject, this time or
		 * ever: retrying would loop forever. The fallback subject
		 * keeps the letter; its header keeps the task's subject. */
		size_t len = strlen(letter.rec.subject);

		dlq_letter_fall_back(env->dlq, &letter);
		log_write(TJ_LOG_WARNING, &ctx,
		          "dead letter for %s goes under %s: its subject (%zu bytes) is longer "
		          "than the store can take; Taskjet-Original-Subject keeps it",
		          task->id, letter.rec.subject, len);
		rc = b->ops->dead_letter(b, task, &letter.rec);
	}
	if (rc == 0) {
		res->outcome = DISP_DEAD_LETTERED;
		rc = b->ops->term(b, task);
		if (rc < 0) {
			/* The letter is stored under a deduplicating id, so the
			 * redelivery this causes cannot produce a second one. */
			note_error(res, rc);
			ctx.error = err_text(rc, ebuf, sizeof(ebuf));
			log_write(TJ_LOG_ERR, &ctx, "term %s after dead letter: %s", task->id,
			          ctx.error);
			goto out;
		}
		STATS_INC(route, dead_lettered[reason]);
		log_write(TJ_LOG_DEBUG, &ctx, "dead-lettered %s to %s (%s)", task->id,
		          letter.rec.subject, dlq_reason_name(reason));
		goto out;
	}

	/* No confirmed letter: terming now would lose the task. */
	note_error(res, rc);
	STATS_INC(route, dlq_failures);
	delay = env->dlq_retry_delay_ms > 0 ? env->dlq_retry_delay_ms : DEFAULT_DLQ_RETRY_DELAY_MS;
	res->outcome = DISP_DLQ_FAILED;
	res->delay_ms = delay;
	ctx.error = err_text(rc, ebuf, sizeof(ebuf));
	log_write(TJ_LOG_ERR, &ctx, "dead letter for %s (%s) failed: %s; retrying in %lld ms",
	          task->id, dlq_reason_name(reason), ctx.error, (long long)delay);
	rc = b->ops->nak(b, task, delay);
	if (rc < 0) {
		note_error(res, rc);
		log_write(TJ_LOG_ERR, &ctx, "nak %s: %s", task->id,
		          err_text(rc, ebuf, sizeof(ebuf)));
	}
out:
	dlq_letter_release(&letter);
	return rc;
}

/* Nak `task` after `delay` ms as `outcome`; log a failed nak. */
static int
nak(const struct disp_env *env, const struct route *route, struct tj_task *task,
    enum disp_outcome outcome, int64_t delay, struct disp_result *res)
{
	struct backend *b = env->backend;
	struct log_ctx ctx;
	char ebuf[128];
	int rc;

	res->outcome = outcome;
	res->delay_ms = delay;
	rc = b->ops->nak(b, task, delay);
	if (rc < 0) {
		log_ctx_init(&ctx, route, task);
		note_error(res, rc);
		log_write(TJ_LOG_ERR, &ctx, "nak %s: %s", task->id,
		          err_text(rc, ebuf, sizeof(ebuf)));
	}
	return rc;
}

int
disp_apply_verdict(const struct disp_env *env, const struct route *route, struct tj_task *task,
                   int verdict, struct disp_result *result_r)
{
	struct disp_result res = { 0 };
	struct backend *b;
	struct log_ctx ctx;
	char ebuf[128];
	int rc;

	if (env == NULL || env->backend == NULL || route == NULL || route->cfg == NULL ||
	    task == NULL) {
		rc = -EINVAL;
		goto out;
	}
	b = env->backend;
	log_ctx_init(&ctx, route, task);

	switch (verdict) {
	case TJ_DONE:
		res.outcome = DISP_ACKED;
		rc = b->ops->ack(b, task);
		if (rc < 0) {
			note_error(&res, rc);
			log_write(TJ_LOG_ERR, &ctx, "ack %s: %s", task->id,
			          err_text(rc, ebuf, sizeof(ebuf)));
			break;
		}
		STATS_INC(route, acked);
		break;
	case TJ_RETRY:
		/* Signed compare: a max_attempts <= 0 means no retries at all. */
		if ((int64_t)task->attempt >= (int64_t)route->cfg->max_attempts) {
			rc = dead_letter(env, route, task, DLQ_REASON_ATTEMPTS_EXHAUSTED, NULL,
			                 &res);
			break;
		}
		rc = nak(env, route, task, DISP_RETRIED,
		         task->retry_after_ms >= 0
		             ? task->retry_after_ms
		             : retry_backoff_ms(&route->cfg->backoff, task->attempt, &env->rng),
		         &res);
		if (rc == 0)
			STATS_INC(route, retried);
		break;
	case TJ_FAIL:
		rc = dead_letter(env, route, task, DLQ_REASON_HANDLER_FAILED, NULL, &res);
		break;
	default:
		log_write(TJ_LOG_ERR, &ctx, "handler returned %d, taken as failure", verdict);
		rc = dead_letter(env, route, task, DLQ_REASON_HANDLER_FAILED, NULL, &res);
		break;
	}
	if (result_r != NULL)
		*result_r = res;
out:
	return rc;
}

int
disp_apply_call(const struct disp_env *env, const struct route *route, struct tj_task *task,
                const struct disp_call *call, struct disp_result *result_r)
{
	struct disp_result res = { 0 };
	enum dlq_reason reason = DLQ_REASON_CRASHED;
	int64_t delay;
	int rc;

	if (call == NULL)
		return -EINVAL;
	if (call->end == DISP_CALL_RETURNED)
		return disp_apply_verdict(env, route, task, call->verdict, result_r);
	if (env == NULL || env->backend == NULL || route == NULL || route->cfg == NULL ||
	    task == NULL)
		return -EINVAL;
	switch (call->end) {
	case DISP_CALL_TIMED_OUT:
		reason = DLQ_REASON_TIMED_OUT;
		STATS_INC(route, timed_out);
		/* fall through */
	case DISP_CALL_CRASHED:
		if (reason == DLQ_REASON_CRASHED)
			STATS_INC(route, crashed);
		/* The handler gave no verdict, hence no retry hint: the
		 * route's backoff, and its attempts, as for TJ_RETRY. */
		if ((int64_t)task->attempt >= (int64_t)route->cfg->max_attempts) {
			rc = dead_letter(env, route, task, reason, call->cause, &res);
			break;
		}
		delay = retry_backoff_ms(&route->cfg->backoff, task->attempt, &env->rng);
		rc = nak(env, route, task, DISP_RETRIED, delay, &res);
		if (rc == 0)
			STATS_INC(route, retried);
		break;
	case DISP_CALL_NOT_RUN:
		delay = env->given_back_delay_ms > 0 ? env->given_back_delay_ms
		                                     : DEFAULT_GIVEN_BACK_DELAY_MS;
		rc = nak(env, route, task, DISP_GIVEN_BACK, delay, &res);
		if (rc == 0)
			STATS_INC(route, given_back);
		break;
	case DISP_CALL_STOPPED:
		/* Another instance (or our next start) takes it at once. */
		rc = nak(env, route, task, DISP_GIVEN_BACK, 0, &res);
		if (rc == 0)
			STATS_INC(route, given_back);
		break;
	case DISP_CALL_LATE:
	default:
		/* Settling now could settle a delivery the server already made
		 * again to someone else; it comes back after ack_wait. */
		res.outcome = DISP_LEFT;
		rc = 0;
		break;
	}
	if (result_r != NULL)
		*result_r = res;
	return rc;
}

int
disp_dead_letter(const struct disp_env *env, const struct route *route, struct tj_task *task,
                 enum dlq_reason reason, const char *error, struct disp_result *result_r)
{
	struct disp_result res = { 0 };
	int rc;

	if (env == NULL || env->backend == NULL || task == NULL ||
	    dlq_reason_name(reason) == NULL) {
		rc = -EINVAL;
		goto out;
	}
	rc = dead_letter(env, route, task, reason, error, &res);
	if (result_r != NULL)
		*result_r = res;
out:
	return rc;
}
