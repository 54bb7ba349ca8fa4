/* txn_timer: a transaction's life cycle (allocation, holds, termination) and its timers — RFC 3261
 * §17 timers A to K and RFC 6026's L and M on two loop timers per transaction, and the proxy's
 * timer C (§16.8) sharing the retransmission timer of an INVITE client transaction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "txn_priv.h"

static void on_retx(struct loop *lp, void *arg);
static void on_end(struct loop *lp, void *arg);

struct txn *txn_alloc(struct txn_layer *tl, const char *key, size_t key_len, bool server,
		      bool invite, const struct txn_peer *peer)
{
	struct txn *t;

	if (key_len > UINT16_MAX) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t) + key_len + 1);
	if (t == NULL)
		return NULL;
	t->tl = tl;
	t->server = server;
	t->invite = invite;
	t->peer = *peer;
	t->key_len = (uint16_t)key_len;
	memcpy(t->key, key, key_len);
	t->hash = txn_key_hash(key, key_len);
	loop_timer_init(&t->t_retx, on_retx, t);
	loop_timer_init(&t->t_end, on_end, t);
	return t;
}

void txn_destroy(struct txn *t)
{
	struct loop *lp = t->tl->lp;

	loop_timer_stop(lp, &t->t_retx);
	loop_timer_stop(lp, &t->t_end);
	free(t->buf);
	free(t);
}

/* Terminates t: out of the table, timers off, the TU told. The memory goes when the last holder
 * releases it, so callers up the stack may still look at t. */
void txn_terminate(struct txn *t)
{
	struct txn_layer *tl = t->tl;

	if (t->state == TXN_STATE_TERMINATED)
		return;
	t->state = TXN_STATE_TERMINATED;
	loop_timer_stop(tl->lp, &t->t_retx);
	loop_timer_stop(tl->lp, &t->t_end);
	txn_table_remove(tl, t);
	/* Nothing is sent any more: the bytes go now, even if a holder keeps t a little longer. */
	txn_keep(t, NULL, 0);
	t->hold++;
	if (tl->ops.terminated != NULL)
		tl->ops.terminated(tl->arg, t);
	t->hold--;
	if (t->hold == 0)
		txn_destroy(t);
}

void txn_hold(struct txn *t)
{
	t->hold++;
}

void txn_release(struct txn *t)
{
	if (--t->hold == 0 && t->state == TXN_STATE_TERMINATED)
		txn_destroy(t);
}

void txn_arm(struct txn *t, struct loop_timer *timer, uint64_t ms)
{
	/* Only ENOMEM can fail; a transaction without its timer would live forever, so end it. */
	if (loop_timer_start(t->tl->lp, timer, ms) != 0) {
		LOG_ERR("txn: no memory for a timer, transaction ended");
		txn_terminate(t);
	}
}

int txn_send_bytes(struct txn *t, const char *buf, size_t len)
{
	int rc = t->tl->ops.send(t->tl->arg, &t->peer, buf, len);

	if (rc < 0)
		t->tl->stats.transport_errors++;
	return rc;
}

void txn_keep(struct txn *t, char *buf, size_t len)
{
	free(t->buf);
	t->buf = buf;
	t->buf_len = buf != NULL ? (uint32_t)len : 0;
}

/* A made-up final for the TU (408 timeout, 503 transport error), then the end. */
void txn_client_fail(struct txn *t, int status)
{
	struct txn_layer *tl = t->tl;

	if (status == 408)
		tl->stats.timeouts++;
	t->last_status = (int16_t)status;
	t->state = TXN_STATE_COMPLETED; /* no further input is passed up while the TU runs */
	tl->ops.response(tl->arg, t, status, NULL, NULL, 0);
	txn_terminate(t);
}

/* RFC 3261 §16.8: the proxy cancels a branch that rang too long. If no final follows within 64*T1
 * the branch is given up as a 408, as §9.1 does for a CANCELled INVITE. */
static void timer_c(struct txn *t)
{
	struct txn_layer *tl = t->tl;

	if (t->c_fired)
		return;
	t->c_fired = true;
	txn_arm(t, &t->t_end, txn_t64(tl));
	if (tl->ops.timer_c != NULL && t->state == TXN_STATE_PROCEEDING)
		tl->ops.timer_c(tl->arg, t);
}

static void on_retx(struct loop *lp, void *arg)
{
	struct txn *t = arg;
	struct txn_layer *tl = t->tl;
	uint32_t t2 = tl->cfg.t2_ms;

	(void)lp;
	txn_hold(t);
	if (t->server) {
		/* Timer G (§17.2.1): resend the non-2xx final, interval doubling up to T2. */
		if (t->state == TXN_STATE_COMPLETED && t->buf != NULL) {
			tl->stats.retransmits_sent++;
			if (txn_send_bytes(t, t->buf, t->buf_len) < 0) {
				txn_terminate(t); /* §17.2.4 */
			} else {
				t->retx_ms = t->retx_ms * 2 < t2 ? t->retx_ms * 2 : t2;
				txn_arm(t, &t->t_retx, t->retx_ms);
			}
		}
	} else if (t->invite && t->state == TXN_STATE_PROCEEDING) {
		/* A provisional stopped timer A; this timer runs as timer C since. */
		timer_c(t);
	} else if (t->state == TXN_STATE_CALLING || t->state == TXN_STATE_TRYING ||
		   t->state == TXN_STATE_PROCEEDING) {
		tl->stats.retransmits_sent++;
		if (txn_send_bytes(t, t->buf, t->buf_len) < 0) {
			txn_client_fail(t, 503); /* §17.1.4, §16.9 */
		} else {
			if (t->invite)
				/* Timer A (§17.1.1.2): doubles with no cap; timer B ends it. */
				t->retx_ms *= 2;
			else if (t->state == TXN_STATE_PROCEEDING)
				/* Timer E in Proceeding fires every T2 (§17.1.2.2). */
				t->retx_ms = t2;
			else
				t->retx_ms = t->retx_ms * 2 < t2 ? t->retx_ms * 2 : t2;
			txn_arm(t, &t->t_retx, t->retx_ms);
		}
	}
	txn_release(t);
}

static void on_end(struct loop *lp, void *arg)
{
	struct txn *t = arg;

	(void)lp;
	txn_hold(t);
	if (!t->server && (t->state == TXN_STATE_CALLING || t->state == TXN_STATE_TRYING ||
			   t->state == TXN_STATE_PROCEEDING))
		/* Timer B or F (§17.1.1.2, §17.1.2.2), or the guard after timer C (§16.8): the TU
		 * acts as if a 408 had arrived. */
		txn_client_fail(t, 408);
	else
		/* H (no ACK came, §17.2.1), I, J, D, K, or L/M of RFC 6026: the transaction has
		 * absorbed what it had to. */
		txn_terminate(t);
	txn_release(t);
}
