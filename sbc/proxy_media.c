/* proxy_media: a request's SDP at the dataplane before the request is forwarded — one offer per
 * branch of a forked initial INVITE, one engagement for a re-offer, PRACK or UPDATE, and a late
 * offer's answer in an ACK — and what happens to the fork when the dataplane has answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "proxy_priv.h"

/* True for an INVITE that opens a dialog (no To tag) with an SDP offer. */
bool proxy_initial_offer(const struct sip_msg *m)
{
	return sipmsg_method_is(m, "INVITE") && sipmsg_to_tag(m) == NULL &&
	       sipmsg_sdp(m, &(const char *){0}, &(size_t){0});
}

/* An ACK with SDP waiting for the dataplane before it is forwarded (it cannot be refused: it goes
 * on with whatever SDP it has). */
struct proxy_pending_ack {
	struct proxy *p;
	struct sip_msg *m;
	struct target t;
};

static void on_ack_media(void *arg, int status, const char *relay_sdp, size_t len)
{
	struct proxy_pending_ack *q = arg;

	(void)status;
	(void)relay_sdp;
	(void)len;
	proxy_forward(q->p, NULL, q->m, &q->t, 1);
	free(q);
}

/* One engagement of a request's SDP: per branch for a forked initial INVITE. */
struct proxy_offer_leg {
	struct proxy_fork *f;
	struct media_req *req; /* NULL once answered */
	int status;	       /* -1 while waiting, then media_cb's status */
	char *sdp;	       /* the relay's SDP, malloc'd */
	size_t len;
};

/* A request's SDP at the dataplane: where it goes once the dataplane answered. */
struct proxy_offers {
	size_t n;    /* targets */
	size_t nreq; /* engagements: one per target for an initial INVITE, else one for all */
	size_t waiting;
	struct target t[PROXY_MAX_BRANCHES];
	struct proxy_offer_leg leg[PROXY_MAX_BRANCHES];
};

static void offers_free(struct proxy_offers *o)
{
	for (size_t i = 0; i < o->nreq; i++)
		free(o->leg[i].sdp);
	free(o);
}

/* Takes f off the proxy's list of forks with offers. */
static void offering_unlink(struct proxy *p, struct proxy_fork *f)
{
	if (f->oprev != NULL)
		f->oprev->onext = f->onext;
	else
		p->offering = f->onext;
	if (f->onext != NULL)
		f->onext->oprev = f->oprev;
	f->onext = f->oprev = NULL;
}

/* At shutdown: the engagements still waiting are forgotten (their callbacks never come). */
void proxy_offering_drop_all(struct proxy *p)
{
	while (p->offering != NULL) {
		struct proxy_fork *f = p->offering;
		struct proxy_offers *o = f->offers;

		offering_unlink(p, f);
		for (size_t i = 0; i < o->nreq; i++) {
			if (o->leg[i].req != NULL) {
				media_cancel(p->cfg.media, o->leg[i].req);
				f->media_pending--;
			}
		}
		f->offers = NULL;
		offers_free(o);
		proxy_fork_maybe_free(f);
	}
}

/* Every engagement of f's request is answered: forward to the targets whose SDP the dataplane
 * took, or answer upstream when none (or when the INVITE was cancelled meanwhile). */
static void offers_done(struct proxy *p, struct proxy_fork *f)
{
	struct proxy_offers *o = f->offers;
	bool initial = proxy_initial_offer(f->req);

	f->offers = NULL;
	offering_unlink(p, f);
	if (f->final_sent) {
		/* A CANCEL came while the dataplane had the offer (RFC 3261 §9.2: 487 went up
		 * already): nothing is forwarded, and what the dataplane made is released. */
		if (initial)
			media_delete(p->cfg.media, f->req);
		else if (sipmsg_to_tag(f->req) != NULL && f->offer != NULL && f->offer->sdp != NULL)
			proxy_restore_media(p, f);
		offers_free(o);
		proxy_fork_settle(f);
		return;
	}
	struct target t[PROXY_MAX_BRANCHES];
	size_t n = 0;
	int failure = 0;

	for (size_t i = 0; i < o->n; i++) {
		const struct proxy_offer_leg *l = &o->leg[o->nreq == o->n ? i : 0];

		if (l->status != 0) {
			/* Refused for this branch: it is not tried (488 wins over 500). */
			if (failure != 488)
				failure = l->status;
			continue;
		}
		t[n] = o->t[i];
		t[n].sdp = l->sdp;
		t[n].sdp_len = l->len;
		t[n].media = initial;
		n++;
	}
	if (n == 0) {
		if (f->st != NULL)
			proxy_reply(p, f->st, f->req, NULL, failure != 0 ? failure : 500, NULL);
		f->final_sent = true;
		/* A refused re-offer leaves the established call's media alone. */
		if (sipmsg_to_tag(f->req) == NULL)
			media_delete(p->cfg.media, f->req);
		offers_free(o);
		proxy_fork_settle(f);
		return;
	}
	proxy_fork_start(p, f, t, n); /* the targets point into o until it returns */
	offers_free(o);
}

static void on_offer_leg(void *arg, int status, const char *relay_sdp, size_t len)
{
	struct proxy_offer_leg *l = arg;
	struct proxy_fork *f = l->f;

	l->req = NULL;
	l->status = status;
	if (status == 0) {
		l->sdp = malloc(len);
		if (l->sdp == NULL)
			l->status = 500;
		else
			memcpy(l->sdp, relay_sdp, len);
		l->len = len;
	}
	f->media_pending--;
	if (--f->offers->waiting == 0)
		offers_done(f->p, f);
}

/* Forwards the current message, first through the dataplane when it carries SDP that opens or
 * changes a session (RFC 3264 offer/answer in INVITE, re-INVITE, UPDATE, PRACK, ACK). An initial
 * INVITE that forks gets one offer per branch, each with the branch's via-branch, and each
 * branch its own relay SDP. */
void proxy_route_out(struct proxy *p, struct txn *st, const struct txn_peer *src, bool natted,
		     const struct target *t, size_t n)
{
	struct sip_msg *m = proxy_take_current(p);
	const char *sdp;
	size_t sdp_len;

	proxy_note_sdp(p, m); /* an in-dialog offer: hold or resume */

	if (p->cfg.media == NULL || !sipmsg_sdp(m, &sdp, &sdp_len) ||
	    !(sipmsg_method_is(m, "INVITE") || sipmsg_method_is(m, "UPDATE") ||
	      sipmsg_method_is(m, "PRACK") || sipmsg_method_is(m, "ACK"))) {
		proxy_forward(p, st, m, t, n);
		return;
	}
	const char *dialog_branch = sipmsg_to_tag(m) != NULL ? proxy_dialog_branch(p, m) : NULL;

	if (st == NULL) {
		/* An ACK with SDP answers the offer of a 2xx (late offer). */
		struct proxy_pending_ack *q = calloc(1, sizeof(*q));
		struct media_opts mo = {.via_branch = dialog_branch};

		if (q == NULL) {
			proxy_forward(p, st, m, t, 1);
			return;
		}
		*q = (struct proxy_pending_ack){.p = p, .m = m, .t = t[0]};
		if (media_engage(p->cfg.media, MEDIA_ANSWER, m, &mo, &src->addr, natted,
				 on_ack_media, q, NULL) != 0)
			on_ack_media(q, 500, NULL, 0);
		return;
	}
	struct proxy_fork *f = proxy_fork_new(p, st, m, n);
	struct proxy_offers *o = f != NULL ? calloc(1, sizeof(*o)) : NULL;

	if (o == NULL) {
		if (f != NULL)
			proxy_fork_undo(f);
		proxy_reply(p, st, m, NULL, 500, NULL);
		sipmsg_free(m);
		return;
	}
	bool initial = proxy_initial_offer(m);
	/* A PRACK with SDP answers the offer of a reliable 18x. */
	enum media_op op = sipmsg_method_is(m, "PRACK") ? MEDIA_ANSWER : MEDIA_OFFER;

	o->n = n;
	o->nreq = initial ? n : 1;
	o->waiting = o->nreq;
	for (size_t i = 0; i < n; i++) {
		o->t[i] = t[i];
		if (initial)
			txn_make_branch(p->tl, o->t[i].branch, sizeof(o->t[i].branch));
	}
	for (size_t i = 0; i < o->nreq; i++)
		o->leg[i] = (struct proxy_offer_leg){.f = f, .status = -1};
	f->offers = o;
	f->onext = p->offering;
	if (p->offering != NULL)
		p->offering->oprev = f;
	p->offering = f;
	f->media_pending += (unsigned int)o->nreq;
	if (op == MEDIA_OFFER) {
		struct media_sdp *offer = proxy_fork_sdp(&f->offer);

		if (offer != NULL)
			media_sdp_capture(offer, m, sipmsg_from_tag(m), &src->addr, natted);
		if (offer != NULL && dialog_branch != NULL)
			snprintf(offer->branch, sizeof(offer->branch), "%s", dialog_branch);
	}
	size_t nreq = o->nreq;

	for (size_t i = 0; i < nreq; i++) {
		struct proxy_offer_leg *l = &o->leg[i];
		struct media_opts mo = {
			/* A call that does not fork is one record: no via-branch for the dataplane to
			 * keep (docs/PERFORMANCE.md, memory per session). */
			.via_branch = initial ? (n > 1 ? o->t[i].branch : NULL) : dialog_branch,
			.keep_sdp = true,
		};

		if (media_engage(p->cfg.media, op, m, &mo, &src->addr, natted, on_offer_leg, l,
				 &l->req) != 0) {
			l->req = NULL;
			on_offer_leg(l, 500, NULL, 0); /* may finish (and free) o and f */
		}
	}
}
