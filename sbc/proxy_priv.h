/* proxy_priv: the proxy core's shared layout and internal functions, for proxy.c (requests),
 * proxy_fork.c (the forks' life cycle), proxy_media.c (a request's media), proxy_response.c
 * (responses) and proxy_dialog.c (dialog state, media timeouts). */
#ifndef SBC_PROXY_PRIV_H
#define SBC_PROXY_PRIV_H

#include "dialog.h"
#include "log.h"
#include "media.h"
#include "proxy.h"
#include "txn.h"

/* Parallel forking to more contacts than this is cut (RFC 3261 §16.6 leaves the bound to us). */
#define PROXY_MAX_BRANCHES 8

/* Enough for the branches txn_make_branch makes. */
#define PROXY_BRANCH_LEN 40

struct proxy_fork;
struct proxy_offers;

struct proxy_branch {
	char branch[PROXY_BRANCH_LEN]; /* the branch of our Via: the via-branch of its media */
	/* The relay's SDP given to this branch's 2xx: its retransmissions get it again (never the
	 * callee's own SDP, which would bypass the relay). malloc'd, NULL when none. */
	char *relay_sdp;
	size_t relay_sdp_len;
	struct proxy_fork *fork;
	struct txn *ct;	    /* NULL once terminated */
	int status;	    /* last status received */
	bool cancel_wanted; /* cancel as soon as a provisional arrives (RFC 3261 §9.1) */
	bool cancelled;
	bool done;  /* a final response arrived */
	bool media; /* the dataplane holds a record for this branch (its via-branch) */
};

/* One request being proxied: its server transaction and its client branches. */
struct proxy_fork {
	struct proxy *p;
	struct txn *st; /* NULL once terminated */
	/* The request as received, with the common edits. NULL once an INVITE fork is slim: its
	 * 2xx went up and every branch is done, so only 2xx retransmissions still come (RFC 6026
	 * Accepted), and those need no more than their branch's relay_sdp. */
	struct sip_msg *req;
	bool invite;
	bool final_sent;
	bool answered;	/* a 2xx went upstream */
	bool media_won; /* a 2xx chose the branch whose media stays; the others' are released */
	unsigned int
		media_pending; /* engagements (request or responses) waiting for the dataplane */
	/* The request's own SDP at the dataplane (one offer per branch of an initial INVITE, one
	 * engagement otherwise) before anything is forwarded; NULL once it is through. */
	struct proxy_offers *offers;
	struct proxy_fork *onext, *oprev; /* the proxy's list of forks with offers */
	/* The offer and answer as their senders wrote them (before the relay's SDP replaced them),
	 * with where they came from: what a refused re-offer restores (media_restore). malloc'd
	 * when there is one (proxy_fork_sdp), NULL otherwise. */
	struct media_sdp *offer, *answer;
	int best_status;
	char *best;
	size_t best_len;
	size_t nbranches;
	size_t maxbranches;		/* slots in branches: the targets when it was made */
	struct proxy_branch branches[]; /* never moved: transactions point at them */
};

struct proxy_stats_counters {
	uint64_t requests, responses, invalid, replied_invalid, forwarded, local_replies;
	uint64_t auth_challenges, auth_failures, not_found, registrations, media_timeouts;
	uint64_t dialogs_expired;
};

struct proxy {
	struct proxy_cfg cfg;
	struct txn_layer *tl;
	struct dialog_table *dialogs;
	/* The message being handled: set by proxy_recv around txn_input so that the transaction
	 * callbacks use the parsed message instead of parsing again. */
	struct sip_msg *cur;
	struct txn_peer cur_src;
	struct proxy_stats_counters st;
	uint64_t tag_seq;
	struct log_ratelimit rl_invalid;
	struct proxy_fork *offering; /* forks whose request is at the dataplane */
	size_t nforks;		     /* forks alive (for tests and leak hunting) */
	size_t nslim;		     /* of which slim (INVITEs answered, f->req freed) */
};

struct target {
	char uri[512]; /* new Request-URI, empty: keep */
	struct txn_peer dst;
	char branch[PROXY_BRANCH_LEN]; /* our Via's branch for it, empty: make one */
	const char *sdp;	       /* the relay's SDP for it, NULL: keep the request's */
	size_t sdp_len;
	bool media; /* the dataplane holds a record for its via-branch */
};

/* Internal functions (loop thread only), defined where named: proxy.c unless said. */

/* True when h is one of our listening addresses (port 5060 when absent). */
bool proxy_is_self_host(const struct proxy *p, const struct sip_host *h);
const struct addr_port *proxy_self_for(const struct proxy *p, int family);
const char *proxy_transport_token(enum sip_transport t);
int proxy_send_to(struct proxy *p, const struct txn_peer *dst, const char *buf, size_t len);
void proxy_make_tag(struct proxy *p, char *out, size_t len);
void proxy_reply(struct proxy *p, struct txn *st, const struct sip_msg *m,
		 const struct txn_peer *src, int code, const char *extra);
int proxy_facts_of(const struct sip_msg *m, struct txn_msg *tm);
struct sip_msg *proxy_take_current(struct proxy *p);
/* proxy_fork.c: frees f when no transaction and no engagement refers to it any more. */
void proxy_fork_maybe_free(struct proxy_fork *f);
/* proxy_fork.c: *s, allocated (empty) when NULL; NULL when out of memory. */
struct media_sdp *proxy_fork_sdp(struct media_sdp **s);
/* proxy_fork.c: frees f when nothing refers to it any more. Once its final response went
 * upstream and its branches are all done, a non-INVITE fork is first detached from its
 * transactions (they absorb retransmissions alone; late responses find no fork), and an answered
 * INVITE fork is slimmed to what its 2xx retransmissions need. f may be gone on return. */
void proxy_fork_settle(struct proxy_fork *f);
/* proxy_fork.c: a fork of req (owned by it from now on) on server transaction st, with room for
 * n branches; NULL when out of memory (req stays the caller's). */
struct proxy_fork *proxy_fork_new(struct proxy *p, struct txn *st, struct sip_msg *req, size_t n);
/* proxy_fork.c: undoes proxy_fork_new of a fork that has done nothing yet (its server
 * transaction forgets it; its request stays the caller's). */
void proxy_fork_undo(struct proxy_fork *f);
/* proxy_fork.c: sends f's request to the n targets t; none reachable: 503 upstream and f
 * settles (it may be gone on return). */
void proxy_fork_start(struct proxy *p, struct proxy_fork *f, const struct target *t, size_t n);
/* proxy_fork.c: forwards m (owned: kept by a fork or freed) to the targets; statelessly when st
 * is NULL (an ACK for a 2xx, to t[0] only). */
void proxy_forward(struct proxy *p, struct txn *st, struct sip_msg *m, const struct target *t,
		   size_t n);
/* proxy_fork.c: CANCEL branch b; CANCEL every branch of f that rings, but keep. */
void proxy_cancel_branch(struct proxy *p, struct proxy_branch *b);
void proxy_cancel_others(struct proxy *p, struct proxy_fork *f, const struct proxy_branch *keep);
/* proxy_media.c: true for an INVITE that opens a dialog (no To tag) with an SDP offer. */
bool proxy_initial_offer(const struct sip_msg *m);
/* proxy_media.c: forwards the current message (taken from p) to the n targets t, first through
 * the dataplane when it carries SDP that opens or changes a session. */
void proxy_route_out(struct proxy *p, struct txn *st, const struct txn_peer *src, bool natted,
		     const struct target *t, size_t n);
/* proxy_media.c: at shutdown, forgets the engagements still waiting and frees their forks. */
void proxy_offering_drop_all(struct proxy *p);
/* proxy_dialog.c: record the dialog a 2xx confirmed; note an in-dialog request's CSeq. */
void proxy_note_dialog(struct proxy *p, struct proxy_fork *f, struct proxy_branch *b,
		       struct sip_msg *m);
void proxy_note_cseq(struct proxy *p, const struct sip_msg *m);
/* proxy_dialog.c: false for a BYE of a dialog that a second branch's 2xx confirmed after the call
 * was answered (its media is the answered call's, which this BYE does not end). */
bool proxy_bye_ends_media(struct proxy *p, const struct sip_msg *m);
/* proxy_dialog.c: the offer/answer of fork f completed with a 2xx: remember it in its dialog. */
void proxy_note_media(struct proxy *p, struct proxy_fork *f, const struct sip_msg *resp);
/* proxy_dialog.c: re-INVITE/UPDATE f was refused: put the last accepted media back. */
void proxy_restore_media(struct proxy *p, struct proxy_fork *f);
/* proxy_dialog.c: the via-branch of the record of the dialog of in-dialog message m at the
 * dataplane (the branch that won its INVITE), or NULL when unknown. */
const char *proxy_dialog_branch(struct proxy *p, const struct sip_msg *m);
/* proxy_response.c: the via-branch for the SDP of a response on branch b of f. */
const char *proxy_media_branch(struct proxy *p, struct proxy_fork *f, struct proxy_branch *b);
/* proxy_dialog.c: an in-dialog offer or answer went through: is the call on hold now? */
void proxy_note_sdp(struct proxy *p, const struct sip_msg *m);
/* proxy_response.c: the transaction layer's response upcall. */
void proxy_ops_response(void *arg, struct txn *ct, int status, const struct txn_msg *tm,
			const char *buf, size_t len);

#endif
