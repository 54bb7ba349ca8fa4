/* media: engages the dataplane for SDP-bearing messages — offer and answer over the ng protocol
 * with the NAT verdict and where the SIP came from, SDP replaced by the relay's — and releases it
 * when a call ends. */
#ifndef SBC_MEDIA_H
#define SBC_MEDIA_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "ng_client.h"
#include "sipmsg.h"

struct media;
struct media_req;

/* One side's SDP as its sender wrote it, and where the SIP carrying it came from. */
struct media_sdp {
	char *sdp; /* malloc'd, NULL when none */
	size_t len;
	char tag[128];	 /* the sender's dialog tag */
	char branch[40]; /* the via-branch of the dataplane's record ("" when none) */
	struct addr_port src;
	bool natted;
};

/* Copies the SDP of m into out (replacing what it held). tag is the sender's tag. */
void media_sdp_capture(struct media_sdp *out, const struct sip_msg *m, const char *tag,
		       const struct addr_port *src, bool natted);
void media_sdp_clear(struct media_sdp *s);

/* Puts back an earlier offer/answer exchange of call_id on its dataplane (a re-offer was
 * refused, RFC 3261 §14.1: the session stays as it was): the offer, then the answer, both with
 * the offer's via-branch. Fire and forget. */
void media_restore(struct media *md, const char *call_id, const struct media_sdp *offer,
		   const struct media_sdp *answer);

enum media_op {
	MEDIA_OFFER,
	MEDIA_ANSWER,
};

/* Called once when an engagement ends: status 0 means the SDP of the message was replaced by the
 * relay's (relay_sdp, valid during the call, is that SDP); otherwise it is the SIP response to
 * send upstream instead (488 when the dataplane refused the SDP, 500 when it did not answer). */
typedef void (*media_cb)(void *arg, int status, const char *relay_sdp, size_t relay_sdp_len);

/* Uses ng (not owned). Returns NULL with errno. */
struct media *media_new(struct ng_client *ng);
void media_free(struct media *md);

/* How an engagement is sent and what it does to its message. */
struct media_opts {
	/* The via-branch sent: which of the call's records (one per forked branch) it is for. NULL
	 * or "": none (the dataplane goes by the tags). */
	const char *via_branch;
	/* m is left as it is: the relay's SDP is only handed to cb (one offer per forked branch,
	 * each branch getting its own). Otherwise m's SDP is replaced by the relay's. */
	bool keep_sdp;
};

/* Sends an offer or answer for the SDP of m (which must stay alive until cb): call-id, from-tag,
 * to-tag, o->via_branch, the SDP, received-from = src, and the NAT verdict as a flag — natted:
 * SIP-source-address (latch to where the SIP came from), else trust-address — with the origin and
 * session connection replaced and ICE candidates removed. o may be NULL (no via-branch, m's SDP
 * replaced). Returns 0 (cb will be called, and *req names the engagement until then) or -errno
 * (cb will not). */
int media_engage(struct media *md, enum media_op op, struct sip_msg *m, const struct media_opts *o,
		 const struct addr_port *src, bool natted, media_cb cb, void *arg,
		 struct media_req **req);

/* Forgets an engagement whose owner goes away before cb: cb is not called. */
void media_cancel(struct media *md, struct media_req *req);

/* Releases the call of m (its Call-ID and From tag) on its dataplane; fire and forget. */
void media_delete(struct media *md, const struct sip_msg *m);

/* Releases call call_id (From tag from_tag) on its dataplane; fire and forget. */
void media_delete_call(struct media *md, const char *call_id, const char *from_tag);

/* Releases only the record of call call_id made for the offer with via-branch via_branch (a
 * forked branch that lost); the call's other records stay. Fire and forget. */
void media_delete_branch(struct media *md, const char *call_id, const char *from_tag,
			 const char *via_branch);

/* Counters for the control socket. */
uint64_t media_engaged(const struct media *md);
uint64_t media_failed(const struct media *md);

#endif
