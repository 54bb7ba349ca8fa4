/* txn: the RFC 3261 §17 transaction layer of a stateful proxy — server and client transactions,
 * their matching and timers — fed with pre-parsed message facts, so it never parses SIP itself. */
#include "txn.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct txn {
	struct txn_layer *tl;
	struct txn *hnext; /* hash chain */
	uint32_t hash;
	bool server, invite;
	enum txn_state state;
	struct txn_peer peer;
	char *req; /* client: the request, resent by timers A/E */
	size_t req_len;
	/* server: the last response, resent on request retransmissions and by timer G;
	 * client INVITE: the ACK for a non-2xx final, resent when the final is retransmitted */
	char *out;
	size_t out_len;
	int last_status;
	uint32_t retx_ms;	  /* current A/E/G interval */
	struct loop_timer t_retx; /* A, E or G */
	struct loop_timer t_end;  /* B, F, H (timeouts), D, I, J, K, L, M (lingering) */
	struct loop_timer t_c;	  /* proxy timer C */
	bool c_fired;		  /* the guard after timer C is running on t_end */
	unsigned int hold;	  /* callers inside the layer working on this transaction */
	void *user;
	size_t key_len;
	char key[]; /* "S|..." or "C|...": see key_build */
};

struct txn_layer {
	struct loop *lp;
	struct txn_config cfg;
	struct txn_ops ops;
	void *arg;
	struct txn **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	uint32_t branch_salt;
	uint64_t branch_seq;
	struct txn_stats stats;
};

/* Longest key: prefix, method, the RFC 2543 fields and sent-by, with separators. */
#define TXN_KEY_MAX                                                                          \
	(8 + sizeof(((struct txn_msg *)0)->method) + sizeof(((struct txn_msg *)0)->branch) + \
	 sizeof(((struct txn_msg *)0)->call_id) + sizeof(((struct txn_msg *)0)->from_tag) +  \
	 sizeof(((struct txn_msg *)0)->sent_by_host) + 32)

void txn_config_default(struct txn_config *cfg)
{
	cfg->t1_ms = 500;
	cfg->t2_ms = 4000;
	cfg->t4_ms = 5000;
	cfg->timer_d_ms = 32000;
	/* RFC 3261 §16.6 step 11: timer C MUST be larger than 3 minutes. */
	cfg->timer_c_ms = 185000;
}

static bool reliable(const struct txn *t)
{
	return t->peer.transport != SIP_TRANSPORT_UDP;
}

static uint64_t t64(const struct txn_layer *tl)
{
	return 64u * (uint64_t)tl->cfg.t1_ms;
}

/* ---- keys and the table ---- */

static bool has_cookie(const char *branch)
{
	return strncmp(branch, TXN_BRANCH_COOKIE, sizeof(TXN_BRANCH_COOKIE) - 1) == 0;
}

static size_t key_append(char *key, size_t off, const char *s, bool lower)
{
	for (; *s != '\0' && off < TXN_KEY_MAX - 2; s++)
		key[off++] = lower ? (char)tolower((unsigned char)*s) : *s;
	key[off++] = '|';
	key[off] = '\0';
	return off;
}

/* The matching key of a request for server transactions (RFC 3261 §17.2.3): branch, sent-by and
 * method, ACK counting as INVITE. Without the magic cookie (RFC 2543 peers) Call-ID, From tag and
 * CSeq number stand in for the branch; To tag and Request-URI are left out, which is enough to
 * tell transactions of one peer apart. Returns the length, 0 when the facts are missing. */
static size_t server_key(const struct txn_msg *m, const char *method, char *key)
{
	char num[16];
	size_t off = 0;

	if (m->sent_by_host[0] == '\0' || method[0] == '\0')
		return 0;
	if (has_cookie(m->branch)) {
		off = key_append(key, off, "S", false);
		off = key_append(key, off, method, false);
		off = key_append(key, off, m->branch, false);
	} else {
		if (m->call_id[0] == '\0')
			return 0;
		off = key_append(key, off, "S2543", false);
		off = key_append(key, off, method, false);
		off = key_append(key, off, m->call_id, false);
		off = key_append(key, off, m->from_tag, false);
		snprintf(num, sizeof(num), "%u", m->cseq);
		off = key_append(key, off, num, false);
	}
	/* RFC 3261 §19.1.4: host names compare case-insensitively. The port is compared as written
	 * (0 when absent): retransmissions, and a CANCEL (§9.1), repeat the request's Via. */
	off = key_append(key, off, m->sent_by_host, true);
	snprintf(num, sizeof(num), "%u", m->sent_by_port);
	return key_append(key, off, num, false);
}

/* The key of a client transaction (RFC 3261 §17.1.3): our branch and the CSeq method. */
static size_t client_key(const struct txn_msg *m, char *key)
{
	size_t off = 0;

	if (m->branch[0] == '\0' || m->method[0] == '\0')
		return 0;
	off = key_append(key, off, "C", false);
	off = key_append(key, off, m->method, false);
	return key_append(key, off, m->branch, false);
}

static uint32_t key_hash(const char *key, size_t len)
{
	/* FNV-1a: keys hold peer-chosen branches, but a chain only costs time, never correctness. */
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h;
}

static struct txn *table_find(const struct txn_layer *tl, const char *key, size_t len)
{
	uint32_t h = key_hash(key, len);

	for (struct txn *t = tl->buckets[h & (tl->nbuckets - 1)]; t != NULL; t = t->hnext)
		if (t->hash == h && t->key_len == len && memcmp(t->key, key, len) == 0)
			return t;
	return NULL;
}

static void table_grow(struct txn_layer *tl)
{
	size_t n = tl->nbuckets * 2;
	struct txn **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < tl->nbuckets; i++) {
		struct txn *t = tl->buckets[i], *next;

		for (; t != NULL; t = next) {
			next = t->hnext;
			t->hnext = b[t->hash & (n - 1)];
			b[t->hash & (n - 1)] = t;
		}
	}
	free(tl->buckets);
	tl->buckets = b;
	tl->nbuckets = n;
}

static void table_insert(struct txn_layer *tl, struct txn *t)
{
	struct txn **head;

	if (tl->count >= tl->nbuckets)
		table_grow(tl);
	head = &tl->buckets[t->hash & (tl->nbuckets - 1)];
	t->hnext = *head;
	*head = t;
	tl->count++;
	tl->stats.active = tl->count;
}

static void table_remove(struct txn_layer *tl, struct txn *t)
{
	struct txn **pp = &tl->buckets[t->hash & (tl->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			tl->count--;
			tl->stats.active = tl->count;
			return;
		}
	}
}

/* ---- life cycle ---- */

static void on_retx(struct loop *lp, void *arg);
static void on_end(struct loop *lp, void *arg);
static void on_timer_c(struct loop *lp, void *arg);

static struct txn *txn_alloc(struct txn_layer *tl, const char *key, size_t key_len, bool server,
			     bool invite, const struct txn_peer *peer)
{
	struct txn *t = calloc(1, sizeof(*t) + key_len + 1);

	if (t == NULL)
		return NULL;
	t->tl = tl;
	t->server = server;
	t->invite = invite;
	t->peer = *peer;
	t->key_len = key_len;
	memcpy(t->key, key, key_len);
	t->hash = key_hash(key, key_len);
	loop_timer_init(&t->t_retx, on_retx, t);
	loop_timer_init(&t->t_end, on_end, t);
	loop_timer_init(&t->t_c, on_timer_c, t);
	return t;
}

static void txn_destroy(struct txn *t)
{
	struct loop *lp = t->tl->lp;

	loop_timer_stop(lp, &t->t_retx);
	loop_timer_stop(lp, &t->t_end);
	loop_timer_stop(lp, &t->t_c);
	free(t->req);
	free(t->out);
	free(t);
}

/* Terminates t: out of the table, timers off, the TU told. The memory goes when the last holder
 * releases it, so callers up the stack may still look at t. */
static void terminate(struct txn *t)
{
	struct txn_layer *tl = t->tl;

	if (t->state == TXN_STATE_TERMINATED)
		return;
	t->state = TXN_STATE_TERMINATED;
	loop_timer_stop(tl->lp, &t->t_retx);
	loop_timer_stop(tl->lp, &t->t_end);
	loop_timer_stop(tl->lp, &t->t_c);
	table_remove(tl, t);
	t->hold++;
	if (tl->ops.terminated != NULL)
		tl->ops.terminated(tl->arg, t);
	t->hold--;
	if (t->hold == 0)
		txn_destroy(t);
}

static void hold(struct txn *t)
{
	t->hold++;
}

static void release(struct txn *t)
{
	if (--t->hold == 0 && t->state == TXN_STATE_TERMINATED)
		txn_destroy(t);
}

static void arm(struct txn *t, struct loop_timer *timer, uint64_t ms)
{
	/* Only ENOMEM can fail; a transaction without its timer would live forever, so end it. */
	if (loop_timer_start(t->tl->lp, timer, ms) != 0) {
		LOG_ERR("txn: no memory for a timer, transaction ended");
		terminate(t);
	}
}

static int send_bytes(struct txn *t, const char *buf, size_t len)
{
	int rc = t->tl->ops.send(t->tl->arg, &t->peer, buf, len);

	if (rc < 0)
		t->tl->stats.transport_errors++;
	return rc;
}

static int keep_copy(char **dst, size_t *dst_len, const char *buf, size_t len)
{
	char *c = malloc(len ? len : 1);

	if (c == NULL)
		return -ENOMEM;
	memcpy(c, buf, len);
	free(*dst);
	*dst = c;
	*dst_len = len;
	return 0;
}

/* A made-up final for the TU (408 timeout, 503 transport error), then the end. */
static void client_fail(struct txn *t, int status)
{
	struct txn_layer *tl = t->tl;

	if (status == 408)
		tl->stats.timeouts++;
	t->last_status = status;
	t->state = TXN_STATE_COMPLETED; /* no further input is passed up while the TU runs */
	tl->ops.response(tl->arg, t, status, NULL, NULL, 0);
	terminate(t);
}

/* ---- timers ---- */

static void on_retx(struct loop *lp, void *arg)
{
	struct txn *t = arg;
	struct txn_layer *tl = t->tl;
	uint32_t t2 = tl->cfg.t2_ms;

	(void)lp;
	hold(t);
	if (t->server) {
		/* Timer G (§17.2.1): resend the non-2xx final, interval doubling up to T2. */
		if (t->state == TXN_STATE_COMPLETED && t->out != NULL) {
			tl->stats.retransmits_sent++;
			if (send_bytes(t, t->out, t->out_len) < 0) {
				terminate(t); /* §17.2.4 */
			} else {
				t->retx_ms = t->retx_ms * 2 < t2 ? t->retx_ms * 2 : t2;
				arm(t, &t->t_retx, t->retx_ms);
			}
		}
	} else if (t->state == TXN_STATE_CALLING || t->state == TXN_STATE_TRYING ||
		   t->state == TXN_STATE_PROCEEDING) {
		tl->stats.retransmits_sent++;
		if (send_bytes(t, t->req, t->req_len) < 0) {
			client_fail(t, 503); /* §17.1.4, §16.9 */
		} else {
			if (t->invite)
				/* Timer A (§17.1.1.2): doubles with no cap; timer B ends it. */
				t->retx_ms *= 2;
			else if (t->state == TXN_STATE_PROCEEDING)
				/* Timer E in Proceeding fires every T2 (§17.1.2.2). */
				t->retx_ms = t2;
			else
				t->retx_ms = t->retx_ms * 2 < t2 ? t->retx_ms * 2 : t2;
			arm(t, &t->t_retx, t->retx_ms);
		}
	}
	release(t);
}

static void on_end(struct loop *lp, void *arg)
{
	struct txn *t = arg;

	(void)lp;
	hold(t);
	if (!t->server && (t->state == TXN_STATE_CALLING || t->state == TXN_STATE_TRYING ||
			   t->state == TXN_STATE_PROCEEDING))
		/* Timer B or F (§17.1.1.2, §17.1.2.2), or the guard after timer C (§16.8): the TU
		 * acts as if a 408 had arrived. */
		client_fail(t, 408);
	else
		/* H (no ACK came, §17.2.1), I, J, D, K, or L/M of RFC 6026: the transaction has
		 * absorbed what it had to. */
		terminate(t);
	release(t);
}

static void on_timer_c(struct loop *lp, void *arg)
{
	struct txn *t = arg;
	struct txn_layer *tl = t->tl;

	(void)lp;
	if (t->state != TXN_STATE_PROCEEDING || t->c_fired)
		return;
	hold(t);
	/* RFC 3261 §16.8: the proxy cancels a branch that rang too long. If no final follows within
	 * 64*T1 the branch is given up as a 408, as §9.1 does for a CANCELled INVITE. */
	t->c_fired = true;
	arm(t, &t->t_end, t64(tl));
	if (tl->ops.timer_c != NULL && t->state == TXN_STATE_PROCEEDING)
		tl->ops.timer_c(tl->arg, t);
	release(t);
}

/* ---- server side ---- */

static int server_request(struct txn_layer *tl, const struct txn_msg *m, const char *buf,
			  size_t len, const struct txn_peer *src)
{
	char key[TXN_KEY_MAX];
	bool is_ack = strcmp(m->method, "ACK") == 0;
	bool is_invite = strcmp(m->method, "INVITE") == 0;
	size_t key_len = server_key(m, is_ack ? "INVITE" : m->method, key);
	struct txn *t;

	if (key_len == 0)
		return -EINVAL;
	t = table_find(tl, key, key_len);
	if (t != NULL && is_ack) {
		if (t->state == TXN_STATE_COMPLETED) {
			/* §17.2.1: the ACK for our non-2xx final; timer I absorbs its copies. */
			tl->stats.acks_absorbed++;
			t->state = TXN_STATE_CONFIRMED;
			loop_timer_stop(tl->lp, &t->t_retx);
			arm(t, &t->t_end, reliable(t) ? 0 : tl->cfg.t4_ms);
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
		if (t->out != NULL &&
		    (t->state == TXN_STATE_PROCEEDING || t->state == TXN_STATE_COMPLETED)) {
			hold(t);
			tl->stats.retransmits_sent++;
			if (send_bytes(t, t->out, t->out_len) < 0)
				terminate(t);
			release(t);
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
	table_insert(tl, t);
	tl->stats.server_created++;
	hold(t);
	if (is_invite && tl->ops.make_trying != NULL) {
		/* §16.2 / §17.2.1: a proxy answers an INVITE with 100 Trying at once, so the previous
		 * hop stops retransmitting. */
		size_t tlen = 0;
		char *trying = tl->ops.make_trying(tl->arg, buf, len, &tlen);

		if (trying != NULL) {
			free(t->out);
			t->out = trying; /* ownership: the transaction frees it */
			t->out_len = tlen;
			t->last_status = 100;
			if (send_bytes(t, trying, tlen) < 0)
				LOG_DEBUG("txn: 100 Trying not sent");
		}
	}
	tl->ops.request(tl->arg, t, m, buf, len, src);
	release(t);
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
			return send_bytes(t, buf, len);
		if (t->state != TXN_STATE_PROCEEDING)
			return -EINVAL;
	} else if (t->state != TXN_STATE_TRYING && t->state != TXN_STATE_PROCEEDING) {
		return -EINVAL;
	}
	if (status >= 300 || !t->invite || status < 200) {
		rc = keep_copy(&t->out, &t->out_len, buf, len);
		if (rc < 0)
			return rc;
	}
	hold(t);
	t->last_status = status;
	rc = send_bytes(t, buf, len);
	if (rc < 0) {
		terminate(t); /* §17.2.4 */
		release(t);
		return rc;
	}
	if (status < 200) {
		t->state = TXN_STATE_PROCEEDING;
	} else if (t->invite && status < 300) {
		/* RFC 6026 §7.1: Accepted (timer L) instead of RFC 3261's immediate end, so that the
		 * INVITE's retransmissions are still absorbed while the 2xx travels. */
		t->state = TXN_STATE_ACCEPTED;
		arm(t, &t->t_end, t64(tl));
	} else if (t->invite) {
		/* §17.2.1: timer G over UDP, timer H always. */
		t->state = TXN_STATE_COMPLETED;
		if (!reliable(t)) {
			t->retx_ms = tl->cfg.t1_ms;
			arm(t, &t->t_retx, t->retx_ms);
		}
		if (t->state == TXN_STATE_COMPLETED)
			arm(t, &t->t_end, t64(tl));
	} else {
		/* §17.2.2: timer J, 64*T1 over UDP, zero over streams. */
		t->state = TXN_STATE_COMPLETED;
		arm(t, &t->t_end, reliable(t) ? 0 : t64(tl));
	}
	release(t);
	return 0;
}

unsigned int txn_peer_failed(struct txn_layer *tl, const struct txn_peer *peer)
{
	unsigned int n = 0;
	bool again = true;

	/* client_fail runs TU callbacks that may create or end transactions, so the scan restarts
	 * after each hit; this is rare (a broken connection), so quadratic time does not matter. */
	while (again) {
		again = false;
		for (size_t i = 0; i < tl->nbuckets && !again; i++) {
			for (struct txn *t = tl->buckets[i]; t != NULL; t = t->hnext) {
				if (t->server || t->peer.transport != peer->transport ||
				    t->peer.addr.port != peer->addr.port ||
				    !addr_equal(&t->peer.addr.ip, &peer->addr.ip) ||
				    (t->state != TXN_STATE_CALLING &&
				     t->state != TXN_STATE_TRYING &&
				     t->state != TXN_STATE_PROCEEDING))
					continue;
				tl->stats.transport_errors++;
				hold(t);
				client_fail(t, 503);
				release(t);
				n++;
				again = true;
				break;
			}
		}
	}
	return n;
}

struct txn *txn_cancel_target(struct txn_layer *tl, const struct txn_msg *cancel)
{
	char key[TXN_KEY_MAX];
	/* §9.2: the CANCEL's branch and sent-by equal those of the INVITE it cancels. */
	size_t key_len = server_key(cancel, "INVITE", key);
	struct txn *t;

	if (key_len == 0)
		return NULL;
	t = table_find(tl, key, key_len);
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

	if (!m->is_request || strcmp(m->method, "ACK") == 0 || !has_cookie(m->branch)) {
		errno = EINVAL;
		return NULL;
	}
	key_len = client_key(m, key);
	if (key_len == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (table_find(tl, key, key_len) != NULL) {
		errno = EEXIST;
		return NULL;
	}
	t = txn_alloc(tl, key, key_len, false, strcmp(m->method, "INVITE") == 0, dst);
	if (t == NULL)
		return NULL;
	if (keep_copy(&t->req, &t->req_len, buf, len) < 0) {
		txn_destroy(t);
		errno = ENOMEM;
		return NULL;
	}
	rc = send_bytes(t, buf, len);
	if (rc < 0) {
		txn_destroy(t);
		errno = -rc;
		return NULL;
	}
	t->state = t->invite ? TXN_STATE_CALLING : TXN_STATE_TRYING;
	table_insert(tl, t);
	tl->stats.client_created++;
	/* §17.1.1.2 timers A and B, §17.1.2.2 timers E and F; no retransmission over streams. */
	t->retx_ms = tl->cfg.t1_ms;
	if (!reliable(t) && loop_timer_start(tl->lp, &t->t_retx, t->retx_ms) < 0)
		goto fail;
	if (loop_timer_start(tl->lp, &t->t_end, t64(tl)) < 0)
		goto fail;
	return t;

fail:
	table_remove(tl, t);
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
		char *ack = tl->ops.make_ack(tl->arg, t->req, t->req_len, buf, len, &alen);

		if (ack != NULL) {
			free(t->out);
			t->out = ack; /* ownership: kept to answer retransmitted finals */
			t->out_len = alen;
			send_bytes(t, ack, alen);
		}
	}
	t->state = TXN_STATE_COMPLETED;
	loop_timer_stop(tl->lp, &t->t_retx);
	loop_timer_stop(tl->lp, &t->t_c);
	/* Timer D: long enough for every retransmitted final over UDP, zero over streams. */
	arm(t, &t->t_end, reliable(t) ? 0 : tl->cfg.timer_d_ms);
}

static int client_response(struct txn_layer *tl, const struct txn_msg *m, const char *buf,
			   size_t len)
{
	char key[TXN_KEY_MAX];
	size_t key_len = client_key(m, key);
	struct txn *t;
	int st = m->status, rc = TXN_INPUT_PASSED;

	if (key_len == 0 || st < 100 || st > 699)
		return -EINVAL;
	t = table_find(tl, key, key_len);
	if (t == NULL || t->server) {
		/* §16.7 / §17.1.3: no transaction; the core forwards it statelessly. */
		tl->stats.stray_responses++;
		return TXN_INPUT_STATELESS;
	}
	hold(t);
	switch (t->state) {
	case TXN_STATE_CALLING:
	case TXN_STATE_TRYING:
	case TXN_STATE_PROCEEDING:
		t->last_status = st;
		if (st < 200) {
			t->state = TXN_STATE_PROCEEDING;
			if (t->invite) {
				/* §17.1.1.2: a provisional stops A and B; §16.7 step 2: it (re)starts
				 * timer C unless C already fired. */
				loop_timer_stop(tl->lp, &t->t_retx);
				if (!t->c_fired) {
					loop_timer_stop(tl->lp, &t->t_end);
					if (tl->cfg.timer_c_ms > 0)
						arm(t, &t->t_c, tl->cfg.timer_c_ms);
				}
			}
		} else if (t->invite && st < 300) {
			/* RFC 6026 §7.2: Accepted (timer M) passes 2xx retransmissions to the TU. */
			t->state = TXN_STATE_ACCEPTED;
			loop_timer_stop(tl->lp, &t->t_retx);
			loop_timer_stop(tl->lp, &t->t_c);
			arm(t, &t->t_end, t64(tl));
		} else if (t->invite) {
			client_final_non2xx_invite(t, buf, len);
		} else {
			/* §17.1.2.2: timer K, T4 over UDP, zero over streams. */
			t->state = TXN_STATE_COMPLETED;
			loop_timer_stop(tl->lp, &t->t_retx);
			arm(t, &t->t_end, reliable(t) ? 0 : tl->cfg.t4_ms);
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
		if (t->invite && st >= 300 && t->out != NULL) {
			/* §17.1.1.2: a retransmitted final is answered with the same ACK. */
			tl->stats.retransmits_sent++;
			send_bytes(t, t->out, t->out_len);
		}
		break;
	default:
		rc = TXN_INPUT_ABSORBED;
		break;
	}
	release(t);
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
	tl->nbuckets = 256;
	tl->buckets = calloc(tl->nbuckets, sizeof(*tl->buckets));
	if (tl->buckets == NULL) {
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
	for (size_t i = 0; i < tl->nbuckets; i++)
		while (tl->buckets[i] != NULL)
			terminate(tl->buckets[i]); /* unlinks it from the chain */
}

void txn_layer_free(struct txn_layer *tl)
{
	if (tl == NULL)
		return;
	for (size_t i = 0; i < tl->nbuckets; i++) {
		struct txn *t = tl->buckets[i], *next;

		for (; t != NULL; t = next) {
			next = t->hnext;
			txn_destroy(t);
		}
	}
	free(tl->buckets);
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
	*len = t->req_len;
	return t->req;
}

int txn_last_status(const struct txn *t)
{
	return t->last_status;
}

void txn_stats_get(const struct txn_layer *tl, struct txn_stats *out)
{
	*out = tl->stats;
}
