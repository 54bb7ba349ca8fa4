/* txn: the RFC 3261 §17 transaction layer of a stateful proxy — server and client transactions,
 * their matching and timers — fed with pre-parsed message facts, so it never parses SIP itself.
 * This file holds the state machines and the layer; txn_table.c the keys and the hash table,
 * txn_timer.c the life cycle and the timers. */
#include "txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "txn_priv.h"

void txn_config_default(struct txn_config *cfg)
{
	cfg->t1_ms = 500;
	cfg->t2_ms = 4000;
	cfg->t4_ms = 5000;
	cfg->timer_d_ms = 32000;
	/* RFC 3261 §16.6 step 11: timer C MUST be larger than 3 minutes. */
	cfg->timer_c_ms = 185000;
}

/* A right-sized copy of buf, or NULL. */
static char *copy_bytes(const char *buf, size_t len)
{
	char *c;

	if (len > UINT32_MAX)
		return NULL;
	c = malloc(len ? len : 1);
	if (c != NULL)
		memcpy(c, buf, len);
	return c;
}

/* Adopts bytes a TU callback malloc'd (100 Trying, ACK), shrunk to their length: a builder may
 * have allocated more room than it wrote, and these live as long as the transaction. */
static void keep_adopted(struct txn *t, char *buf, size_t len)
{
	char *c = len > 0 ? realloc(buf, len) : NULL;

	txn_keep(t, c != NULL ? c : buf, len);
}

/* ---- server side ---- */

static int server_request(struct txn_layer *tl, const struct txn_msg *m, const char *buf,
			  size_t len, const struct txn_peer *src)
{
	char key[TXN_KEY_MAX];
	bool is_ack = strcmp(m->method, "ACK") == 0;
	bool is_invite = strcmp(m->method, "INVITE") == 0;
	size_t key_len = txn_server_key(m, is_ack ? "INVITE" : m->method, key);
	struct txn *t;

	if (key_len == 0)
		return -EINVAL;
	t = txn_table_find(&tl->table, key, key_len);
	if (t != NULL && is_ack) {
		if (t->state == TXN_STATE_COMPLETED) {
			/* §17.2.1: the ACK for our non-2xx final; timer I absorbs its copies. */
			tl->stats.acks_absorbed++;
			t->state = TXN_STATE_CONFIRMED;
			loop_timer_stop(tl->lp, &t->t_retx);
			txn_keep(t, NULL, 0); /* Confirmed only absorbs ACKs, it sends nothing */
			txn_arm(t, &t->t_end, txn_reliable(t) ? 0 : tl->cfg.t4_ms);
			return TXN_INPUT_ABSORBED;
		}
		if (t->state == TXN_STATE_CONFIRMED) {
			tl->stats.acks_absorbed++;
			return TXN_INPUT_ABSORBED;
		}
		/* Any other ACK (for a 2xx, RFC 6026 §8.7) belongs to the TU. */
		tl->ops.request(tl->arg, NULL, m, buf, len, src);
		return TXN_INPUT_STATELESS;
	}
	if (t != NULL) {
		/* A retransmission (§17.2.1, §17.2.2): answer with the last response, if any. In
		 * Accepted the 2xx retransmissions come from downstream, not from here. */
		tl->stats.retransmits_absorbed++;
		if (t->buf != NULL &&
		    (t->state == TXN_STATE_PROCEEDING || t->state == TXN_STATE_COMPLETED)) {
			txn_hold(t);
			tl->stats.retransmits_sent++;
			if (txn_send_bytes(t, t->buf, t->buf_len) < 0)
				txn_terminate(t);
			txn_release(t);
		}
		return TXN_INPUT_ABSORBED;
	}
	if (is_ack) {
		tl->ops.request(tl->arg, NULL, m, buf, len, src);
		return TXN_INPUT_STATELESS;
	}
	t = txn_alloc(tl, key, key_len, true, is_invite, src);
	if (t == NULL)
		return -ENOMEM;
	t->state = is_invite ? TXN_STATE_PROCEEDING : TXN_STATE_TRYING;
	txn_table_insert(tl, t);
	tl->stats.server_created++;
	txn_hold(t);
	if (is_invite && tl->ops.make_trying != NULL) {
		/* §16.2 / §17.2.1: a proxy answers an INVITE with 100 Trying at once, so the previous
		 * hop stops retransmitting. */
		size_t tlen = 0;
		char *trying = tl->ops.make_trying(tl->arg, buf, len, &tlen);

		if (trying != NULL) {
			keep_adopted(t, trying, tlen); /* ownership: the transaction frees it */
			t->last_status = 100;
			if (txn_send_bytes(t, t->buf, t->buf_len) < 0)
				LOG_DEBUG("txn: 100 Trying not sent");
		}
	}
	tl->ops.request(tl->arg, t, m, buf, len, src);
	txn_release(t);
	return TXN_INPUT_NEW;
}

int txn_respond(struct txn *t, int status, const char *buf, size_t len)
{
	struct txn_layer *tl = t->tl;
	int rc;

	if (!t->server || status < 100 || status > 699)
		return -EINVAL;
	if (t->invite) {
		if (t->state == TXN_STATE_ACCEPTED && status >= 200 && status < 300)
			/* RFC 6026 §7.1: 2xx retransmissions from the TU pass through Accepted. */
			return txn_send_bytes(t, buf, len);
		if (t->state != TXN_STATE_PROCEEDING)
			return -EINVAL;
	} else if (t->state != TXN_STATE_TRYING && t->state != TXN_STATE_PROCEEDING) {
		return -EINVAL;
	}
	if (status >= 300 || !t->invite || status < 200) {
		char *c = copy_bytes(buf, len);

		if (c == NULL)
			return -ENOMEM;
		txn_keep(t, c, len);
	} else {
		/* RFC 6026 §7.1: Accepted resends nothing (the TU's 2xx retransmissions pass through,
		 * the INVITE's are absorbed silently), so the provisional kept so far goes. */
		txn_keep(t, NULL, 0);
	}
	txn_hold(t);
	t->last_status = (int16_t)status;
	rc = txn_send_bytes(t, buf, len);
	if (rc < 0) {
		txn_terminate(t); /* §17.2.4 */
		txn_release(t);
		return rc;
	}
	if (status < 200) {
		t->state = TXN_STATE_PROCEEDING;
	} else if (t->invite && status < 300) {
		/* RFC 6026 §7.1: Accepted (timer L) instead of RFC 3261's immediate end, so that the
		 * INVITE's retransmissions are still absorbed while the 2xx travels. */
		t->state = TXN_STATE_ACCEPTED;
		txn_arm(t, &t->t_end, txn_t64(tl));
	} else if (t->invite) {
		/* §17.2.1: timer G over UDP, timer H always. */
		t->state = TXN_STATE_COMPLETED;
		if (!txn_reliable(t)) {
			t->retx_ms = tl->cfg.t1_ms;
			txn_arm(t, &t->t_retx, t->retx_ms);
		}
		if (t->state == TXN_STATE_COMPLETED)
			txn_arm(t, &t->t_end, txn_t64(tl));
	} else {
		/* §17.2.2: timer J, 64*T1 over UDP, zero over streams. */
		t->state = TXN_STATE_COMPLETED;
		txn_arm(t, &t->t_end, txn_reliable(t) ? 0 : txn_t64(tl));
	}
	txn_release(t);
	return 0;
}

static bool waits_on_peer(const struct txn *t, void *arg)
{
	const struct txn_peer *peer = arg;

	return !t->server && t->peer.transport == peer->transport &&
	       t->peer.addr.port == peer->addr.port &&
	       addr_equal(&t->peer.addr.ip, &peer->addr.ip) &&
	       (t->state == TXN_STATE_CALLING || t->state == TXN_STATE_TRYING ||
		t->state == TXN_STATE_PROCEEDING);
}

unsigned int txn_peer_failed(struct txn_layer *tl, const struct txn_peer *peer)
{
	unsigned int n = 0;
	size_t count = tl->table.count, nhit;
	struct txn **hit = count > 0 ? malloc(count * sizeof(*hit)) : NULL;
	struct txn *t;

	if (hit != NULL) {
		/* One walk of the table, then the failures: client_fail runs TU callbacks that may
		 * create or end transactions, so the hits are held (not freed under us) and each is
		 * checked again before it fails. */
		nhit = txn_table_collect(&tl->table, waits_on_peer, (void *)peer, hit, count);
		for (size_t i = 0; i < nhit; i++)
			txn_hold(hit[i]);
		for (size_t i = 0; i < nhit; i++) {
			t = hit[i];
			if (waits_on_peer(t, (void *)peer)) {
				tl->stats.transport_errors++;
				txn_client_fail(t, 503);
				n++;
			}
			txn_release(t);
		}
		free(hit);
		return n;
	}
	/* No memory for the list: restart the scan after each hit (quadratic, still correct). */
	while ((t = txn_table_first(&tl->table, waits_on_peer, (void *)peer)) != NULL) {
		tl->stats.transport_errors++;
		txn_hold(t);
		txn_client_fail(t, 503);
		txn_release(t);
		n++;
	}
	return n;
}

struct txn *txn_cancel_target(struct txn_layer *tl, const struct txn_msg *cancel)
{
	char key[TXN_KEY_MAX];
	/* §9.2: the CANCEL's branch and sent-by equal those of the INVITE it cancels. */
	size_t key_len = txn_server_key(cancel, "INVITE", key);
	struct txn *t;

	if (key_len == 0)
		return NULL;
	t = txn_table_find(&tl->table, key, key_len);
	return t != NULL && t->server ? t : NULL;
}

/* ---- client side ---- */

struct txn *txn_client_new(struct txn_layer *tl, const struct txn_msg *m, const char *buf,
			   size_t len, const struct txn_peer *dst)
{
	char key[TXN_KEY_MAX];
	size_t key_len;
	struct txn *t;
	int rc;

	if (!m->is_request || strcmp(m->method, "ACK") == 0 || !txn_has_cookie(m->branch)) {
		errno = EINVAL;
		return NULL;
	}
	key_len = txn_client_key(m, key);
	if (key_len == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (txn_table_find(&tl->table, key, key_len) != NULL) {
		errno = EEXIST;
		return NULL;
	}
	t = txn_alloc(tl, key, key_len, false, strcmp(m->method, "INVITE") == 0, dst);
	if (t == NULL)
		return NULL;
	t->buf = copy_bytes(buf, len);
	if (t->buf == NULL) {
		txn_destroy(t);
		errno = ENOMEM;
		return NULL;
	}
	t->buf_len = (uint32_t)len;
	rc = txn_send_bytes(t, buf, len);
	if (rc < 0) {
		txn_destroy(t);
		errno = -rc;
		return NULL;
	}
	t->state = t->invite ? TXN_STATE_CALLING : TXN_STATE_TRYING;
	txn_table_insert(tl, t);
	tl->stats.client_created++;
	/* §17.1.1.2 timers A and B, §17.1.2.2 timers E and F; no retransmission over streams. */
	t->retx_ms = tl->cfg.t1_ms;
	if (!txn_reliable(t) && loop_timer_start(tl->lp, &t->t_retx, t->retx_ms) < 0)
		goto fail;
	if (loop_timer_start(tl->lp, &t->t_end, txn_t64(tl)) < 0)
		goto fail;
	return t;

fail:
	txn_table_remove(tl, t);
	txn_destroy(t);
	errno = ENOMEM;
	return NULL;
}

static void client_final_non2xx_invite(struct txn *t, const char *buf, size_t len)
{
	struct txn_layer *tl = t->tl;

	/* §17.1.1.3: the ACK for a non-2xx final is ours to send, hop by hop. */
	if (tl->ops.make_ack != NULL) {
		size_t alen = 0;
		char *ack = tl->ops.make_ack(tl->arg, t->buf, t->buf_len, buf, len, &alen);

		/* The request is not sent again: the ACK takes its place, kept to answer
		 * retransmitted finals. */
		txn_keep(t, NULL, 0);
		if (ack != NULL) {
			keep_adopted(t, ack, alen);
			txn_send_bytes(t, t->buf, t->buf_len);
		}
	} else {
		txn_keep(t, NULL, 0);
	}
	t->state = TXN_STATE_COMPLETED;
	loop_timer_stop(tl->lp, &t->t_retx); /* A or C */
	/* Timer D: long enough for every retransmitted final over UDP, zero over streams. */
	txn_arm(t, &t->t_end, txn_reliable(t) ? 0 : tl->cfg.timer_d_ms);
}

static int client_response(struct txn_layer *tl, const struct txn_msg *m, const char *buf,
			   size_t len)
{
	char key[TXN_KEY_MAX];
	size_t key_len = txn_client_key(m, key);
	struct txn *t;
	int st = m->status, rc = TXN_INPUT_PASSED;

	if (key_len == 0 || st < 100 || st > 699)
		return -EINVAL;
	t = txn_table_find(&tl->table, key, key_len);
	if (t == NULL || t->server) {
		/* §16.7 / §17.1.3: no transaction; the core forwards it statelessly. */
		tl->stats.stray_responses++;
		return TXN_INPUT_STATELESS;
	}
	txn_hold(t);
	switch (t->state) {
	case TXN_STATE_CALLING:
	case TXN_STATE_TRYING:
	case TXN_STATE_PROCEEDING:
		t->last_status = (int16_t)st;
		if (st < 200) {
			t->state = TXN_STATE_PROCEEDING;
			if (t->invite) {
				/* §17.1.1.2: a provisional stops A and B; §16.7 step 2: it (re)starts
				 * timer C unless C already fired. */
				loop_timer_stop(tl->lp, &t->t_retx);
				if (!t->c_fired) {
					loop_timer_stop(tl->lp, &t->t_end);
					if (tl->cfg.timer_c_ms > 0)
						/* Timer C runs on the timer A was on. */
						txn_arm(t, &t->t_retx, tl->cfg.timer_c_ms);
				}
			}
		} else if (t->invite && st < 300) {
			/* RFC 6026 §7.2: Accepted (timer M) passes 2xx retransmissions to the TU. */
			t->state = TXN_STATE_ACCEPTED;
			loop_timer_stop(tl->lp, &t->t_retx); /* A or C */
			txn_keep(t, NULL, 0);		     /* the request is not sent again */
			txn_arm(t, &t->t_end, txn_t64(tl));
		} else if (t->invite) {
			client_final_non2xx_invite(t, buf, len);
		} else {
			/* §17.1.2.2: timer K, T4 over UDP, zero over streams. */
			t->state = TXN_STATE_COMPLETED;
			loop_timer_stop(tl->lp, &t->t_retx);
			txn_keep(t, NULL, 0); /* Completed only absorbs retransmitted finals */
			txn_arm(t, &t->t_end, txn_reliable(t) ? 0 : tl->cfg.t4_ms);
		}
		if (t->state != TXN_STATE_TERMINATED)
			tl->ops.response(tl->arg, t, st, m, buf, len);
		break;
	case TXN_STATE_ACCEPTED:
		if (st >= 200 && st < 300) {
			tl->ops.response(tl->arg, t, st, m, buf, len);
		} else {
			rc = TXN_INPUT_ABSORBED;
		}
		break;
	case TXN_STATE_COMPLETED:
		rc = TXN_INPUT_ABSORBED;
		tl->stats.retransmits_absorbed++;
		if (t->invite && st >= 300 && t->buf != NULL) {
			/* §17.1.1.2: a retransmitted final is answered with the same ACK. */
			tl->stats.retransmits_sent++;
			txn_send_bytes(t, t->buf, t->buf_len);
		}
		break;
	default:
		rc = TXN_INPUT_ABSORBED;
		break;
	}
	txn_release(t);
	return rc;
}

/* ---- the layer ---- */

struct txn_layer *txn_layer_new(struct loop *lp, const struct txn_config *cfg,
				const struct txn_ops *ops, void *arg)
{
	struct txn_layer *tl;

	if (lp == NULL || ops == NULL || ops->send == NULL || ops->request == NULL ||
	    ops->response == NULL || cfg == NULL || cfg->t1_ms == 0 || cfg->t2_ms < cfg->t1_ms) {
		errno = EINVAL;
		return NULL;
	}
	tl = calloc(1, sizeof(*tl));
	if (tl == NULL)
		return NULL;
	if (txn_table_init(&tl->table, 256) != 0) {
		free(tl);
		errno = ENOMEM;
		return NULL;
	}
	tl->lp = lp;
	tl->cfg = *cfg;
	tl->ops = *ops;
	tl->arg = arg;
	/* The salt keeps branches of successive runs apart (RFC 3261 §8.1.1.7: unique over time). */
	if (getrandom(&tl->branch_salt, sizeof(tl->branch_salt), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(tl->branch_salt))
		tl->branch_salt = (uint32_t)time(NULL) ^ ((uint32_t)getpid() << 16);
	return tl;
}

void txn_layer_shutdown(struct txn_layer *tl)
{
	struct txn_table *tb = &tl->table;
	size_t i = 0;

	/* Bucket by bucket, with no rehash running; the terminated upcalls may add or end
	 * transactions (then a rehash may start, and is finished before going on). */
	while (tb->count > 0) {
		txn_table_settle(tb);
		if (i >= tb->ncur)
			i = 0;
		if (tb->cur[i] != NULL)
			txn_terminate(tb->cur[i]); /* unlinks it from the chain */
		else
			i++;
	}
}

void txn_layer_free(struct txn_layer *tl)
{
	if (tl == NULL)
		return;
	txn_table_settle(&tl->table);
	for (size_t i = 0; i < tl->table.ncur; i++) {
		struct txn *t = tl->table.cur[i], *next;

		for (; t != NULL; t = next) {
			next = t->hnext;
			txn_destroy(t);
		}
	}
	txn_table_free(&tl->table);
	free(tl);
}

int txn_input(struct txn_layer *tl, const struct txn_msg *m, const char *buf, size_t len,
	      const struct txn_peer *src)
{
	if (m->method[0] == '\0')
		return -EINVAL;
	if (m->is_request)
		return server_request(tl, m, buf, len, src);
	return client_response(tl, m, buf, len);
}

int txn_make_branch(struct txn_layer *tl, char *out, size_t len)
{
	int n = snprintf(out, len, TXN_BRANCH_COOKIE "%08x%016llx", tl->branch_salt,
			 (unsigned long long)++tl->branch_seq);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

void txn_set_user(struct txn *t, void *user)
{
	t->user = user;
}

void *txn_user(const struct txn *t)
{
	return t->user;
}

enum txn_state txn_get_state(const struct txn *t)
{
	return t->state;
}

bool txn_is_server(const struct txn *t)
{
	return t->server;
}

bool txn_is_invite(const struct txn *t)
{
	return t->invite;
}

const struct txn_peer *txn_peer(const struct txn *t)
{
	return &t->peer;
}

const char *txn_request(const struct txn *t, size_t *len)
{
	/* A client keeps its request only until a final arrives (then nothing is sent again, or
	 * only the ACK of a non-2xx final). */
	bool waiting = t->state == TXN_STATE_CALLING || t->state == TXN_STATE_TRYING ||
		       t->state == TXN_STATE_PROCEEDING;

	if (t->server || !waiting || t->buf == NULL) {
		*len = 0;
		return NULL;
	}
	*len = t->buf_len;
	return t->buf;
}

int txn_last_status(const struct txn *t)
{
	return t->last_status;
}

void txn_stats_get(const struct txn_layer *tl, struct txn_stats *out)
{
	*out = tl->stats;
}

void txn_layer_table_info(const struct txn_layer *tl, size_t *buckets, size_t *rehash_left)
{
	*buckets = tl->table.ncur;
	*rehash_left = tl->table.old != NULL ? tl->table.nold - tl->table.moved : 0;
}
