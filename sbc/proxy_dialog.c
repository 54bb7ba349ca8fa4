/* proxy_dialog: the dialogs the proxy confirmed — what it takes to end them itself — and the
 * media timeouts that make it do so with a BYE both ways. */
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
#include "sdp.h"

/* Copies a header value into dst (NUL-terminated, truncated to fit). */
static void copy_header(const struct sip_msg *m, const char *name, char *dst, size_t cap)
{
	size_t len;
	const char *v = sipmsg_header(m, name, &len);

	snprintf(dst, cap, "%.*s", v != NULL ? (int)len : 0, v != NULL ? v : "");
}

/* Records the dialog a 2xx to INVITE b/f confirmed, with what it takes to end it ourselves
 * (media timeout): both parties' targets, real paths and tagged header values. */
void proxy_note_dialog(struct proxy *p, struct proxy_fork *f, struct proxy_branch *b,
		       struct sip_msg *m)
{
	size_t clen, ulen;
	const char *cid = sipmsg_call_id(m, &clen), *uri;
	char caller[128] = "", callee[128] = "";

	sipmsg_from_aor(m, caller, sizeof(caller));
	sipmsg_to_aor(m, callee, sizeof(callee));
	if (dialog_add(p->dialogs, cid, clen, sipmsg_from_tag(m), sipmsg_to_tag(m), caller, callee,
		       loop_now(p->cfg.loop)) != 0)
		return;
	struct dialog *d = dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(m), sipmsg_to_tag(m));

	if (d == NULL || d->party[0].nameaddr[0] != '\0')
		return; /* a retransmitted 2xx: already filled in */
	struct dialog_party *a = &d->party[0], *z = &d->party[1];

	if (sipmsg_contact_uri(f->req, 0, &uri, &ulen) == 0)
		snprintf(a->target, sizeof(a->target), "%.*s", (int)ulen, uri);
	if (f->st != NULL) {
		const struct txn_peer *tp = txn_peer(f->st);

		a->hop = tp->addr;
		a->transport = (int)tp->transport;
		a->conn_id = tp->conn_id;
	}
	copy_header(f->req, "From", a->nameaddr, sizeof(a->nameaddr));
	a->cseq = sipmsg_cseq(f->req);
	if (sipmsg_contact_uri(m, 0, &uri, &ulen) == 0)
		snprintf(z->target, sizeof(z->target), "%.*s", (int)ulen, uri);
	if (b->ct != NULL) {
		const struct txn_peer *tp = txn_peer(b->ct);

		z->hop = tp->addr;
		z->transport = (int)tp->transport;
		z->conn_id = tp->conn_id;
	}
	copy_header(m, "To", z->nameaddr, sizeof(z->nameaddr));
	d->media = p->cfg.media != NULL && sipmsg_sdp(f->req, &(const char *){0}, &(size_t){0});
	/* Another branch answered first (RFC 3261 §16.7 step 5: every 2xx goes up): this dialog
	 * has no media of its own on the relay; the caller will end it. */
	d->stray = f->final_sent;
	if (p->cfg.dialog_timeout_s > 0)
		d->expire_ms = loop_now(p->cfg.loop) + (uint64_t)p->cfg.dialog_timeout_s * 1000;
	if (d->stray)
		d->media = false;
}

bool proxy_bye_ends_media(struct proxy *p, const struct sip_msg *m)
{
	size_t clen;
	const char *cid = sipmsg_call_id(m, &clen);
	const struct dialog *d =
		dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(m), sipmsg_to_tag(m));

	return d == NULL || !d->stray;
}

/* An in-dialog request: remember the highest CSeq each party used (RFC 3261 §12.2.1.1). */
void proxy_note_cseq(struct proxy *p, const struct sip_msg *m)
{
	size_t clen;
	const char *cid = sipmsg_call_id(m, &clen);
	struct dialog *d = dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(m), sipmsg_to_tag(m));

	if (d == NULL)
		return;
	const char *ft = sipmsg_from_tag(m);
	struct dialog_party *who =
		ft != NULL && strcmp(ft, d->from_tag) == 0 ? &d->party[0] : &d->party[1];

	if (sipmsg_cseq(m) > who->cseq)
		who->cseq = sipmsg_cseq(m);
	/* Any request in the dialog (a session refresh, RFC 4028, or any other) shows it alive. */
	if (p->cfg.dialog_timeout_s > 0)
		d->expire_ms = loop_now(p->cfg.loop) + (uint64_t)p->cfg.dialog_timeout_s * 1000;
}

/* Sends a BYE to party `to` of d on behalf of the other party (RFC 3261 §15.1.1). */
static void send_bye(struct proxy *p, struct dialog *d, int to, const char *why)
{
	struct dialog_party *dst = &d->party[to], *from = &d->party[1 - to];
	struct txn_peer peer = {dst->hop, (enum sip_transport)dst->transport, dst->conn_id};
	char branch[64], ip[ADDR_STRLEN], buf[4096];
	struct txn_msg tm = {0};

	if (dst->target[0] == '\0' || dst->hop.ip.family == 0 ||
	    txn_make_branch(p->tl, branch, sizeof(branch)) != 0)
		return;
	addr_port_format(proxy_self_for(p, dst->hop.ip.family), ip, sizeof(ip));
	/* From carries the sender's tag, To ours-to-reach; the CSeq continues the sender's. */
	int n = snprintf(buf, sizeof(buf),
			 "BYE %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=%s;rport\r\n"
			 "Max-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
			 "CSeq: %u BYE\r\nReason: SIP;cause=408;text=\"%s\"\r\n"
			 "Content-Length: 0\r\n\r\n",
			 dst->target, proxy_transport_token(peer.transport), ip, branch,
			 from->nameaddr, dst->nameaddr, d->call_id, from->cseq + 1, why);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	from->cseq++;
	tm.is_request = true;
	snprintf(tm.method, sizeof(tm.method), "BYE");
	tm.cseq = from->cseq;
	snprintf(tm.branch, sizeof(tm.branch), "%s", branch);
	snprintf(tm.sent_by_host, sizeof(tm.sent_by_host), "%s", ip);
	snprintf(tm.call_id, sizeof(tm.call_id), "%s", d->call_id);
	/* Its responses need no handling: the transaction has no user data. */
	txn_client_new(p->tl, &tm, buf, (size_t)n, &peer);
}

/* RFC 3264 §8.4: a stream is on hold when it is sendonly, recvonly or inactive, or (RFC 2543
 * style) its connection address is 0.0.0.0; a session is when every active stream is. */
static bool sdp_on_hold(const struct sip_msg *m)
{
	const char *body;
	size_t len;
	struct sdp *sdp;
	bool hold = true, any = false;

	if (!sipmsg_sdp(m, &body, &len) || sdp_parse(body, len, &sdp, NULL) != 0)
		return false;
	for (size_t i = 0; i < sdp_media_count(sdp); i++) {
		const struct sdp_media *md = sdp_media_at(sdp, i);

		if (md->port == 0)
			continue;
		any = true;
		if (md->dir == SDP_DIR_SENDRECV && !sdp_conn_is_hold(md->eff_conn))
			hold = false;
	}
	sdp_free(sdp);
	return any && hold;
}

void proxy_note_sdp(struct proxy *p, const struct sip_msg *m)
{
	size_t clen;
	const char *cid = sipmsg_call_id(m, &clen);
	struct dialog *d = dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(m), sipmsg_to_tag(m));

	if (d == NULL || !sipmsg_sdp(m, &(const char *){0}, &(size_t){0}))
		return;
	d->on_hold = sdp_on_hold(m);
	d->sdp_ms = loop_now(p->cfg.loop);
	d->hold_deadline_ms = 0;
}

static void end_dialog(struct proxy *p, struct dialog *d, const char *why)
{
	send_bye(p, d, 1, why);
	send_bye(p, d, 0, why);
	if (p->cfg.media != NULL && !d->stray)
		media_delete_call(p->cfg.media, d->call_id, d->from_tag);
	dialog_remove(p->dialogs, d);
}

void proxy_sweep(struct proxy *p)
{
	uint64_t now = loop_now(p->cfg.loop);
	struct dialog *due[64];
	size_t n = dialog_collect_due(p->dialogs, now, due, 64);

	for (size_t i = 0; i < n; i++) {
		if (due[i]->hold_deadline_ms != 0 && due[i]->hold_deadline_ms <= now) {
			LOG_NOTICE("call %s stayed on hold without media for %u s: ending it",
				   due[i]->call_id, p->cfg.hold_timeout_s);
			p->st.media_timeouts++;
			end_dialog(p, due[i], "no media on hold");
		} else {
			LOG_NOTICE("call %s (%s -> %s): no request in the dialog for %u s, it "
				   "expired: ending it with BYE both ways",
				   due[i]->call_id, due[i]->caller, due[i]->callee,
				   p->cfg.dialog_timeout_s);
			p->st.dialogs_expired++;
			end_dialog(p, due[i], "dialog expired");
		}
	}
}

void proxy_media_timeout(struct proxy *p, const char *call_id, const char *from_tag,
			 const char *to_tag)
{
	struct dialog *d = dialog_find(p->dialogs, call_id, strlen(call_id), from_tag, to_tag);

	if (d == NULL) {
		LOG_INFO("media timeout for call %s: no such dialog", call_id);
		return;
	}
	/* Holding is not hanging up: a held call gets the longer hold timeout. */
	if (d->on_hold && p->cfg.hold_timeout_s > 0) {
		if (d->hold_deadline_ms == 0) {
			d->hold_deadline_ms = d->sdp_ms + (uint64_t)p->cfg.hold_timeout_s * 1000;
			LOG_INFO("call %s is on hold: no media is expected, ending it only after "
				 "%u s",
				 call_id, p->cfg.hold_timeout_s);
		}
		return;
	}
	LOG_NOTICE("call %s (%s -> %s) has had no media: ending it with BYE both ways", call_id,
		   d->caller, d->callee);
	p->st.media_timeouts++;
	end_dialog(p, d, "media timeout");
}

json_t *proxy_dialogs(struct proxy *p)
{
	return dialog_dump(p->dialogs, loop_now(p->cfg.loop));
}

void proxy_note_media(struct proxy *p, struct proxy_fork *f, const struct sip_msg *resp)
{
	size_t clen;
	const char *cid = sipmsg_call_id(resp, &clen);
	struct dialog *d =
		dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(resp), sipmsg_to_tag(resp));

	if (d == NULL || f->offer == NULL || f->answer == NULL)
		return;
	/* The fork's copies become the dialog's: the exchange a refused re-offer goes back to. */
	media_sdp_clear(&d->last_offer);
	media_sdp_clear(&d->last_answer);
	d->last_offer = *f->offer;
	d->last_answer = *f->answer;
	free(f->offer);
	free(f->answer);
	f->offer = f->answer = NULL;
}

void proxy_restore_media(struct proxy *p, struct proxy_fork *f)
{
	size_t clen;
	const char *cid = sipmsg_call_id(f->req, &clen);
	struct dialog *d =
		dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(f->req), sipmsg_to_tag(f->req));

	if (d == NULL || d->last_offer.sdp == NULL || d->last_answer.sdp == NULL)
		return;
	LOG_INFO("call %s: re-offer refused, restoring its media", d->call_id);
	media_restore(p->cfg.media, d->call_id, &d->last_offer, &d->last_answer);
}

const char *proxy_dialog_branch(struct proxy *p, const struct sip_msg *m)
{
	size_t clen;
	const char *cid = sipmsg_call_id(m, &clen);
	struct dialog *d = dialog_find(p->dialogs, cid, clen, sipmsg_from_tag(m), sipmsg_to_tag(m));

	if (d == NULL || d->last_offer.branch[0] == '\0')
		return NULL;
	return d->last_offer.branch;
}
