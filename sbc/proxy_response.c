/* proxy_response: responses on their way back (RFC 3261 §16.7) — Via removal, NAT fixups,
 * the dataplane's answer to their SDP, and aggregation of the branches' finals. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fixup.h"
#include "log.h"
#include "media.h"
#include "policy.h"
#include "proxy_priv.h"

/* RFC 3261 §16.7 step 6: 6xx first, then the lowest class; within a class the first seen. */
static bool better(int status, int best)
{
	if (best == 0)
		return true;
	if (status >= 600 || best >= 600)
		return status >= 600 && best < 600;
	return status / 100 < best / 100;
}

static void send_upstream(struct proxy_fork *f, int status, const char *buf, size_t len)
{
	if (f->st != NULL)
		txn_respond(f->st, status, buf, len);
}

static void finish_if_done(struct proxy *p, struct proxy_fork *f)
{
	if (f->final_sent)
		return;
	for (size_t i = 0; i < f->nbranches; i++)
		if (!f->branches[i].done)
			return;
	f->final_sent = true;
	if (f->best != NULL)
		send_upstream(f, f->best_status, f->best, f->best_len);
	else
		proxy_reply(p, f->st, f->req, NULL, 408, NULL);
	/* Every final failure of an initial INVITE releases the media it had engaged; a refused
	 * re-INVITE or UPDATE (To tag) keeps the call as it was (RFC 3261 §14.1): the last accepted
	 * offer/answer goes back on the dataplane, which took the re-offer already. */
	if (p->cfg.media != NULL && sipmsg_to_tag(f->req) == NULL && f->invite)
		media_delete(p->cfg.media, f->req);
	else if (p->cfg.media != NULL && sipmsg_to_tag(f->req) != NULL && f->offer != NULL &&
		 f->offer->sdp != NULL)
		proxy_restore_media(p, f);
}

/* The branch whose 2xx the dataplane answered (it holds the relay's SDP), or NULL. */
static const struct proxy_branch *answered_branch(const struct proxy_fork *f)
{
	for (size_t i = 0; i < f->nbranches; i++)
		if (f->branches[i].relay_sdp != NULL)
			return &f->branches[i];
	return NULL;
}

const char *proxy_media_branch(struct proxy *p, struct proxy_fork *f, struct proxy_branch *b)
{
	/* An initial INVITE's media has one record per branch; later exchanges go to the record
	 * of the branch that won. */
	if (sipmsg_to_tag(f->req) == NULL)
		return b->branch;
	return proxy_dialog_branch(p, f->req);
}

/* The first 2xx to an initial INVITE on branch b: the dataplane records the other branches'
 * offers made are released (their CANCELs follow). */
static void release_losers(struct proxy *p, struct proxy_fork *f, const struct proxy_branch *b)
{
	char call_id[256];
	size_t clen;
	const char *cid = sipmsg_call_id(f->req, &clen);

	if (f->media_won || p->cfg.media == NULL || sipmsg_to_tag(f->req) != NULL)
		return;
	f->media_won = true;
	if (clen >= sizeof(call_id))
		return;
	memcpy(call_id, cid, clen);
	call_id[clen] = '\0';
	for (size_t i = 0; i < f->nbranches; i++) {
		struct proxy_branch *o = &f->branches[i];

		if (o == b || !o->media)
			continue;
		media_delete_branch(p->cfg.media, call_id, sipmsg_from_tag(f->req), o->branch);
		o->media = false;
	}
	/* What a refused re-offer restores goes to the winner's record. */
	if (f->offer != NULL)
		snprintf(f->offer->branch, sizeof(f->offer->branch), "%s", b->branch);
	if (f->answer != NULL)
		snprintf(f->answer->branch, sizeof(f->answer->branch), "%s", b->branch);
}

/* Sends response m (NULL: a locally made 408/503) of branch b up, aggregating finals. */
static void deliver(struct proxy *p, struct proxy_branch *b, int status, struct sip_msg *m)
{
	struct proxy_fork *f = b->fork;
	char *out = NULL;
	size_t olen = 0;

	if (m != NULL) {
		out = sipmsg_serialize(m, &olen);
		if (out == NULL)
			return;
	}
	if (status < 200) {
		if (!f->final_sent && out != NULL)
			send_upstream(f, status, out, olen);
	} else if (status < 300) {
		/* Every 2xx goes up at once (§16.7 step 5); the other branches are cancelled. */
		if (f->invite)
			release_losers(p, f, b);
		f->answered = true;
		if (out != NULL) {
			send_upstream(f, status, out, olen);
			if (f->invite && m != NULL) {
				proxy_note_dialog(p, f, b, m);
				proxy_note_sdp(p, m);
			}
			if (m != NULL && f->offer != NULL && f->offer->sdp != NULL &&
			    f->answer != NULL && f->answer->sdp != NULL)
				proxy_note_media(p, f, m);
			else if (sipmsg_method_is(f->req, "BYE")) {
				size_t clen;
				const char *cid = sipmsg_call_id(f->req, &clen);
				struct dialog *d =
					dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(f->req),
						    sipmsg_to_tag(f->req));

				if (d != NULL)
					dialog_remove(p->dialogs, d);
			}
		}
		f->final_sent = true;
		if (f->invite)
			proxy_cancel_others(p, f, b);
	} else {
		if (better(status, f->best_status)) {
			free(f->best);
			f->best = out;
			f->best_len = olen;
			f->best_status = status;
			out = NULL;
			if (f->best == NULL) {
				/* A locally generated 408/503 (§17.1.1.2, §16.9). */
				char tag[48];

				proxy_make_tag(p, tag, sizeof(tag));
				f->best = sipmsg_response(f->req, status,
							  sipmsg_reason_phrase(status), tag, NULL,
							  &f->best_len);
			}
		}
		if (status >= 600 && f->invite)
			proxy_cancel_others(p, f, b);
		finish_if_done(p, f);
	}
	free(out);
}

/* A response waiting for the dataplane's answer to its SDP. */
struct proxy_pending_resp {
	struct proxy *p;
	struct proxy_branch *b;
	int status;
	struct sip_msg *m;
	bool offer; /* the response's SDP is the offer (the request had none) */
};

static void on_response_media(void *arg, int status, const char *relay_sdp, size_t len)
{
	struct proxy_pending_resp *q = arg;
	struct proxy_fork *f = q->b->fork;

	if (status == 0 && q->status >= 200 && relay_sdp != NULL && q->b->relay_sdp == NULL &&
	    (q->b->relay_sdp = malloc(len)) != NULL) {
		memcpy(q->b->relay_sdp, relay_sdp, len);
		q->b->relay_sdp_len = len;
	}

	/* An offer in a response to an initial INVITE made a record for this branch. */
	if (status == 0 && q->offer && sipmsg_to_tag(f->req) == NULL)
		q->b->media = true;
	/* A response that already went out from the callee cannot be refused here: it goes on
	 * unchanged when the dataplane failed (and the failure is counted and logged). */
	f->media_pending--;
	proxy_note_sdp(q->p, q->m); /* an in-dialog answer: hold or resume */
	deliver(q->p, q->b, q->status, q->m);
	sipmsg_free(q->m);
	free(q);
	/* Last: an UPDATE or PRACK fork whose final this was is freed here. */
	proxy_fork_settle(f);
}

void proxy_ops_response(void *arg, struct txn *ct, int status, const struct txn_msg *tm,
			const char *buf, size_t len)
{
	struct proxy *p = arg;
	struct proxy_branch *b = txn_user(ct);
	struct sip_msg *m = buf != NULL ? p->cur : NULL;
	struct fixup_result fx = {0};

	(void)tm;
	(void)len;
	/* The 200 to one of our CANCELs, or a late response to a fork already freed. */
	if (b == NULL)
		return;
	struct proxy_fork *f = b->fork;

	p->st.responses++;
	b->status = status;
	if (status >= 200)
		b->done = true;
	if (status < 200 && b->cancel_wanted && !b->cancelled) {
		/* The CANCEL waited for this first provisional (RFC 3261 §9.1). */
		proxy_cancel_branch(p, b);
		return;
	}
	if (status == 100)
		return; /* §16.7 step 5: never forwarded */
	if (m != NULL) {
		/* RFC 3261 §16.7 step 3: our Via goes; the responder's Contact gets its NAT fixups. */
		struct nat_ctx nc = {p->cur_src.addr, p->cur_src.transport,
				     policy_trusted(p->cfg.policy), NULL};

		sipmsg_pop_via(m);
		fixup_apply(m, &nc, policy_settings(p->cfg.policy)->nat_test_mask, &fx);
	}
	const char *sdp;
	size_t sdp_len;

	if (f->req == NULL) {
		/* A slim fork (its 2xx went up, every branch done) only sees the callee's 2xx again:
		 * it goes up with the relay's SDP of its branch, as the first did. */
		if (m != NULL && status >= 200 && status < 300) {
			size_t olen;
			char *out;

			if (b->relay_sdp != NULL && sipmsg_sdp(m, &sdp, &sdp_len))
				sipmsg_set_sdp(m, b->relay_sdp, b->relay_sdp_len);
			out = sipmsg_serialize(m, &olen);
			if (out != NULL)
				send_upstream(f, status, out, olen);
			free(out);
		}
		return;
	}
	/* Another branch's 2xx after the call was answered goes up too (RFC 3261 §16.7 step 5), but
	 * its record went with the first 2xx: it carries the answered branch's relay SDP, so the
	 * callee's own address never reaches the caller and no media bypasses the relay. The caller
	 * ends that dialog (a stray one: its BYE leaves the call's media alone). */
	if (m != NULL && status >= 200 && status < 300 && f->invite && f->final_sent &&
	    b->relay_sdp == NULL && sipmsg_sdp(m, &sdp, &sdp_len)) {
		const struct proxy_branch *w = answered_branch(f);

		if (w != NULL && (b->relay_sdp = malloc(w->relay_sdp_len)) != NULL) {
			memcpy(b->relay_sdp, w->relay_sdp, w->relay_sdp_len);
			b->relay_sdp_len = w->relay_sdp_len;
		}
	}
	/* A 2xx the callee sends again (its ACK was late) carries its own SDP: it gets the relay's
	 * SDP of the first one, so media never bypasses the relay. */
	if (m != NULL && status >= 200 && status < 300 && b->relay_sdp != NULL &&
	    sipmsg_sdp(m, &sdp, &sdp_len)) {
		sipmsg_set_sdp(m, b->relay_sdp, b->relay_sdp_len);
		deliver(p, b, status, m);
		proxy_fork_settle(f);
		return;
	}
	if (m != NULL && p->cfg.media != NULL && status < 300 && !f->final_sent &&
	    (f->invite || sipmsg_method_is(f->req, "UPDATE")) && sipmsg_sdp(m, &sdp, &sdp_len)) {
		/* The SDP of a 18x/2xx answers the request's offer, or is the offer itself when the
		 * INVITE had none (late offer, answered in the ACK). */
		struct proxy_pending_resp *q = calloc(1, sizeof(*q));
		enum media_op op = sipmsg_sdp(f->req, &sdp, &sdp_len) ? MEDIA_ANSWER : MEDIA_OFFER;

		if (q != NULL) {
			if (op == MEDIA_ANSWER && status < 300 &&
			    proxy_fork_sdp(&f->answer) != NULL)
				media_sdp_capture(f->answer, m, sipmsg_to_tag(m), &p->cur_src.addr,
						  fx.natted != 0);
			struct media_opts mo = {.via_branch = proxy_media_branch(p, f, b)};

			*q = (struct proxy_pending_resp){p, b, status, proxy_take_current(p),
							 op == MEDIA_OFFER};
			f->media_pending++;
			if (media_engage(p->cfg.media, op, q->m, &mo, &p->cur_src.addr,
					 fx.natted != 0, on_response_media, q, NULL) == 0)
				return;
			f->media_pending--;
			m = q->m;
			p->cur = m; /* proxy_recv frees it again */
			free(q);
		}
	}
	deliver(p, b, status, m);
	proxy_fork_settle(f); /* a non-INVITE fork whose final went up goes now */
}
