/* proxy_fork: the life cycle of a proxied request's fork — made, sent out to its branches as
 * client transactions (RFC 3261 §16.6), its branches cancelled, and slimmed, detached or freed
 * once nothing needs it any more. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "media.h"
#include "proxy_priv.h"

struct media_sdp *proxy_fork_sdp(struct media_sdp **s)
{
	if (*s == NULL)
		*s = calloc(1, sizeof(**s));
	return *s;
}

static void sdp_drop(struct media_sdp **s)
{
	if (*s == NULL)
		return;
	media_sdp_clear(*s);
	free(*s);
	*s = NULL;
}

void proxy_fork_maybe_free(struct proxy_fork *f)
{
	if (f->st != NULL || f->media_pending > 0)
		return;
	for (size_t i = 0; i < f->nbranches; i++)
		if (f->branches[i].ct != NULL)
			return;
	if (f->req == NULL)
		f->p->nslim--;
	sipmsg_free(f->req);
	free(f->best);
	for (size_t i = 0; i < f->nbranches; i++)
		free(f->branches[i].relay_sdp);
	sdp_drop(&f->offer);
	sdp_drop(&f->answer);
	f->p->nforks--;
	free(f);
}

/* True when every branch of f has its final response (or its transaction ended). */
static bool branches_done(const struct proxy_fork *f)
{
	for (size_t i = 0; i < f->nbranches; i++)
		if (!f->branches[i].done && f->branches[i].ct != NULL)
			return false;
	return true;
}

/* An answered INVITE fork keeps its transactions (the server one sends the callee's 2xx
 * retransmissions up, RFC 6026) for 32 s, but only the branches' relay SDP matters for those:
 * the request, the best failure and the offer/answer copies go. */
static void fork_slim(struct proxy_fork *f)
{
	sipmsg_free(f->req);
	f->req = NULL;
	free(f->best);
	f->best = NULL;
	f->best_len = 0;
	sdp_drop(&f->offer);
	sdp_drop(&f->answer);
	f->p->nslim++;
}

void proxy_fork_settle(struct proxy_fork *f)
{
	bool over = f->final_sent && f->media_pending == 0 && f->offers == NULL && branches_done(f);

	if (over && f->invite && f->answered && f->req != NULL)
		fork_slim(f);
	/* A non-INVITE transaction's server side answers request retransmissions from its stored
	 * final, and its client sides need nothing from the fork: keeping the request and the fork
	 * for Timer J/K (32 s on UDP) only costs memory. */
	if (over && !f->invite) {
		if (f->st != NULL) {
			txn_set_user(f->st, NULL);
			f->st = NULL;
		}
		for (size_t i = 0; i < f->nbranches; i++) {
			if (f->branches[i].ct != NULL) {
				txn_set_user(f->branches[i].ct, NULL);
				f->branches[i].ct = NULL;
			}
		}
	}
	proxy_fork_maybe_free(f);
}

/* Sends the request of f (with its common edits) to each target as its own client transaction:
 * our Via with the target's branch (or a new one) on top (RFC 3261 §16.6 step 8), the target's
 * Request-URI, and the relay's SDP made for it. */
static int fork_out(struct proxy *p, struct proxy_fork *f, const struct target *t, size_t n)
{
	size_t started = 0;

	for (size_t i = 0; i < n && f->nbranches < f->maxbranches; i++) {
		const struct addr_port *self = proxy_self_for(p, t[i].dst.addr.ip.family);
		char branch[PROXY_BRANCH_LEN], via[256], ip[ADDR_STRLEN];
		struct txn_msg tm;
		size_t len;

		if (t[i].branch[0] != '\0')
			snprintf(branch, sizeof(branch), "%s", t[i].branch);
		else if (txn_make_branch(p->tl, branch, sizeof(branch)) != 0)
			continue;
		addr_port_format(self, ip, sizeof(ip));
		snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s;rport",
			 proxy_transport_token(t[i].dst.transport), ip, branch);
		unsigned int mark = sipmsg_edit_mark(f->req);

		if (sipmsg_push_via(f->req, via) != 0 ||
		    (t[i].uri[0] != '\0' && sipmsg_set_ruri(f->req, t[i].uri) != 0) ||
		    (t[i].sdp != NULL && sipmsg_set_sdp(f->req, t[i].sdp, t[i].sdp_len) != 0)) {
			sipmsg_edit_rollback(f->req, mark);
			continue;
		}
		char *buf = sipmsg_serialize(f->req, &len);

		sipmsg_edit_rollback(f->req, mark);
		if (buf == NULL || proxy_facts_of(f->req, &tm) != 0) {
			free(buf);
			continue;
		}
		snprintf(tm.branch, sizeof(tm.branch), "%s", branch);
		snprintf(tm.sent_by_host, sizeof(tm.sent_by_host), "%s", ip);
		struct proxy_branch *b = &f->branches[f->nbranches];

		memset(b, 0, sizeof(*b));
		b->fork = f;
		snprintf(b->branch, sizeof(b->branch), "%s", branch);
		b->media = t[i].media;
		b->ct = txn_client_new(p->tl, &tm, buf, len, &t[i].dst);
		free(buf);
		if (b->ct == NULL) {
			LOG_INFO("forwarding to branch %zu failed: %s", i, strerror(errno));
			continue;
		}
		txn_set_user(b->ct, b);
		f->nbranches++;
		started++;
		p->st.forwarded++;
	}
	return started > 0 ? 0 : -EHOSTUNREACH;
}

/* A fork of req with room for n branches (its targets). */
struct proxy_fork *proxy_fork_new(struct proxy *p, struct txn *st, struct sip_msg *req, size_t n)
{
	if (n == 0)
		n = 1;
	if (n > PROXY_MAX_BRANCHES)
		n = PROXY_MAX_BRANCHES;
	struct proxy_fork *f = calloc(1, sizeof(*f) + n * sizeof(f->branches[0]));

	if (f == NULL)
		return NULL;
	f->maxbranches = n;
	p->nforks++;
	f->p = p;
	f->st = st;
	f->req = req;
	f->invite = sipmsg_method_is(req, "INVITE");
	txn_set_user(st, f);
	return f;
}

/* Undoes proxy_fork_new of a fork that has done nothing yet. */
void proxy_fork_undo(struct proxy_fork *f)
{
	txn_set_user(f->st, NULL);
	f->p->nforks--;
	free(f);
}

/* Starts the branches of fork f; nowhere reachable means 503 upstream (RFC 3261 §16.9). */
void proxy_fork_start(struct proxy *p, struct proxy_fork *f, const struct target *t, size_t n)
{
	if (fork_out(p, f, t, n) == 0)
		return;
	if (f->st != NULL)
		proxy_reply(p, f->st, f->req, NULL, 503, NULL);
	f->final_sent = true;
	if (f->invite && p->cfg.media != NULL && proxy_initial_offer(f->req))
		media_delete(p->cfg.media, f->req);
	proxy_fork_settle(f);
}

/* Forwards m (owned: kept by the fork or freed here) to the targets. */
void proxy_forward(struct proxy *p, struct txn *st, struct sip_msg *m, const struct target *t,
		   size_t n)
{
	struct proxy_fork *f;

	if (st == NULL) {
		/* An ACK for a 2xx: forwarded statelessly (RFC 3261 §16.7 / §16.11). */
		char branch[64], via[256], ip[ADDR_STRLEN];
		size_t len;

		txn_make_branch(p->tl, branch, sizeof(branch));
		addr_port_format(proxy_self_for(p, t[0].dst.addr.ip.family), ip, sizeof(ip));
		snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s",
			 proxy_transport_token(t[0].dst.transport), ip, branch);
		if (sipmsg_push_via(m, via) == 0 &&
		    (t[0].uri[0] == '\0' || sipmsg_set_ruri(m, t[0].uri) == 0)) {
			char *buf = sipmsg_serialize(m, &len);

			if (buf != NULL)
				proxy_send_to(p, &t[0].dst, buf, len);
			free(buf);
			p->st.forwarded++;
		}
		sipmsg_free(m);
		return;
	}
	f = proxy_fork_new(p, st, m, n);
	if (f == NULL) {
		proxy_reply(p, st, m, NULL, 500, NULL);
		sipmsg_free(m);
		return;
	}
	proxy_fork_start(p, f, t, n);
}

/* Sends a CANCEL for branch b, built from the request as forwarded (RFC 3261 §9.1). */
void proxy_cancel_branch(struct proxy *p, struct proxy_branch *b)
{
	size_t rlen, clen;
	const char *rq = b->ct != NULL ? txn_request(b->ct, &rlen) : NULL;
	struct sip_error err;
	struct sip_msg *fw = rq != NULL ? sipmsg_parse(rq, rlen, SIP_TRANSPORT_UDP, &err) : NULL;
	char *cancel = fw != NULL ? sipmsg_cancel_for(fw, &clen) : NULL;
	struct txn_msg cm;

	if (cancel != NULL && proxy_facts_of(fw, &cm) == 0) {
		snprintf(cm.method, sizeof(cm.method), "CANCEL");
		/* Its 200 needs no handling: the new transaction has no user data. */
		txn_client_new(p->tl, &cm, cancel, clen, txn_peer(b->ct));
		b->cancelled = true;
	}
	free(cancel);
	sipmsg_free(fw);
}

void proxy_cancel_others(struct proxy *p, struct proxy_fork *f, const struct proxy_branch *keep)
{
	for (size_t i = 0; i < f->nbranches; i++) {
		struct proxy_branch *b = &f->branches[i];

		if (b == keep || b->done || b->cancelled || b->ct == NULL || b->status < 100)
			continue;
		proxy_cancel_branch(p, b);
	}
}
