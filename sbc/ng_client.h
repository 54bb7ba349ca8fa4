/* ng_client: the non-blocking rtpengine "ng" client of sbc-sip — builds requests, sends them over
 * UDP to one of several weighted dataplanes, retransmits and times them out on loop timers, keeps
 * each call on its dataplane and takes dataplanes that stop answering out of rotation. */
#ifndef SBC_NG_CLIENT_H
#define SBC_NG_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr.h"
#include "bencode.h"
#include "loop.h"

struct ng_client;

/* The commands docs/ng-protocol.md lists. */
enum ng_cmd {
	NG_CMD_PING,
	NG_CMD_OFFER,
	NG_CMD_ANSWER,
	NG_CMD_DELETE,
	NG_CMD_QUERY,
	NG_CMD_LIST,
	NG_CMD_STATISTICS,
};

/* Bits of ng_params.flags: each becomes one string of the "flags" list. */
#define NG_FLAG_SIP_SOURCE_ADDRESS (1u << 0) /* NAT'd party: latch to received-from */
#define NG_FLAG_TRUST_ADDRESS	   (1u << 1) /* the SDP address is the party's real one */
#define NG_FLAG_SYMMETRIC	   (1u << 2)
#define NG_FLAG_ASYMMETRIC	   (1u << 3)
#define NG_FLAG_STRICT_SOURCE	   (1u << 4)

/* Bits of ng_params.replace: the "replace" list. */
#define NG_REPLACE_ORIGIN	      (1u << 0)
#define NG_REPLACE_SESSION_CONNECTION (1u << 1)

/* One request. Strings are NUL-terminated, NULL means "not sent"; nothing is kept after
 * ng_client_request() returns. Zero-initialise and fill what the command needs. */
struct ng_params {
	enum ng_cmd cmd;
	const char *call_id;
	const char *from_tag;
	const char *to_tag;
	const char *via_branch;
	const char *sdp; /* sdp_len bytes, need not be NUL-terminated */
	size_t sdp_len;
	const struct addr_ip *received_from; /* where the SIP message came from */
	uint32_t flags;			     /* NG_FLAG_* */
	uint32_t replace;		     /* NG_REPLACE_* */
	bool ice_remove;		     /* "ICE": "remove" */
	bool has_delete_delay;		     /* send "delete delay": delete_delay_s */
	uint32_t delete_delay_s;
	uint32_t limit; /* list: at most this many call-ids; 0 = not sent */
};

/* Writes the bencoded dictionary of p into w (which may already hold the "cookie SP" prefix).
 * Returns 0, -EINVAL (a command that needs a call-id has none, or an unset received_from family)
 * or the writer's sticky error. */
int ng_params_encode(const struct ng_params *p, struct bencode_writer *w);

/* True when cmd needs a call-id (every command but ping, list and statistics). */
bool ng_params_has_call(enum ng_cmd cmd);

/* Bytes that are always enough for ng_params_encode(p) plus a cookie. */
size_t ng_params_size(const struct ng_params *p);

enum ng_status {
	NG_STATUS_OK,	     /* "result": "ok" (or "pong" to a ping) */
	NG_STATUS_ERROR,     /* "result": "error"; error_reason says why */
	NG_STATUS_TIMEOUT,   /* no reply within the timeout, retransmissions included */
	NG_STATUS_BAD_REPLY, /* a reply under our cookie that is not a valid ng reply */
};

/* What a request ended with. Every pointer is valid only during the callback. */
struct ng_reply {
	enum ng_status status;
	int dataplane;			 /* index in the configuration */
	const struct bencode_item *dict; /* the decoded reply (OK and ERROR), else NULL */
	const char *error_reason;	 /* ERROR: the peer's text; otherwise a static text */
	size_t error_reason_len;
	const char *sdp; /* the reply's "sdp" when present, else NULL */
	size_t sdp_len;
};

/* Called exactly once per request that ng_client_request*() accepted, unless it is cancelled or
 * the client freed first. It may start and cancel requests; it must not free the client. */
typedef void (*ng_client_cb)(void *arg, const struct ng_reply *r);

struct ng_dataplane_cfg {
	struct addr_port addr; /* the dataplane's ng listen address */
	uint32_t weight;       /* share of new calls; 0 = only calls already there (and pings) */
};

#define NG_CLIENT_MAX_DATAPLANES 16

/* Zero fields take the defaults in brackets. */
struct ng_client_cfg {
	const struct ng_dataplane_cfg *dataplanes;
	size_t n_dataplanes;	   /* 1..NG_CLIENT_MAX_DATAPLANES */
	uint32_t retrans_ms;	   /* first retransmission after this, then doubling [500] */
	uint32_t max_retrans;	   /* retransmissions per request [4] */
	uint32_t timeout_ms;	   /* from the first send to NG_STATUS_TIMEOUT [3000] */
	uint32_t ping_interval_ms; /* health pings to every dataplane [1000] */
	uint32_t fail_after;	   /* consecutive timeouts that take a dataplane out [1] */
	uint64_t seed;		   /* cookie prefix; 0 = from getrandom (unique per run) */
};

/* Parses "IP:PORT[=WEIGHT],..." (weight 1 when absent) into out[0..cap). Returns the number of
 * dataplanes, or -EINVAL for a bad item, -E2BIG past cap. */
int ng_client_parse_dataplanes(const char *s, struct ng_dataplane_cfg *out, size_t cap);

/* Creates the client: one UDP socket per address family used, watched on lp, and the ping timer
 * (the first pings go out at once). cfg is copied. Returns NULL with errno (EINVAL for a bad cfg).
 * Loop thread only, like every function here. */
struct ng_client *ng_client_new(struct loop *lp, const struct ng_client_cfg *cfg);

/* Drops every pending request without calling its callback, closes the sockets. NULL allowed. */
void ng_client_free(struct ng_client *c);

/* Sends p to the dataplane of p->call_id: the one the call is on, or for a call not seen yet one
 * picked by weight among the dataplanes in rotation (an offer then ties the call to it; when that
 * first offer fails, with an error, a timeout or a bad reply, the call is untied again — not on an
 * error while other offers of the call, a forked call's branches, are still out). A delete
 * unties the call when it ends, whatever its outcome, unless it names a via-branch (one branch of
 * a forked call: the rest of the call stays there). On success *id (may be NULL) gets the
 * request's id for ng_client_cancel and cb will be called exactly once; on failure cb is never
 * called. Returns 0, -EINVAL (bad params), -EMSGSIZE (larger than a UDP datagram), -EHOSTUNREACH
 * (no dataplane in rotation for a new call) or -ENOMEM. */
int ng_client_request(struct ng_client *c, const struct ng_params *p, ng_client_cb cb, void *arg,
		      uint64_t *id);

/* As ng_client_request, to dataplane index dp whatever its health and without affinity (list,
 * statistics, or a query of a given dataplane). Returns -EINVAL for a bad index too. */
int ng_client_request_to(struct ng_client *c, int dp, const struct ng_params *p, ng_client_cb cb,
			 void *arg, uint64_t *id);

/* Forgets request id (its owner went away): no more retransmissions, its callback is not called.
 * A cancelled offer leaves its call tied (the dataplane may have executed it: send the delete, or
 * ng_client_forget); a cancelled delete unties it. Returns 0 or -ENOENT (unknown, or already
 * completed). */
int ng_client_cancel(struct ng_client *c, uint64_t id);

/* Unties call_id from its dataplane (the call is gone without a delete). Returns 0 or -ENOENT. */
int ng_client_forget(struct ng_client *c, const char *call_id);

/* The dataplane index call_id is on, or -ENOENT. */
int ng_client_call_dataplane(const struct ng_client *c, const char *call_id);

/* True when dataplane dp is in rotation for new calls. */
bool ng_client_dataplane_up(const struct ng_client *c, int dp);

size_t ng_client_pending(const struct ng_client *c); /* requests in flight (pings included) */
size_t ng_client_calls(const struct ng_client *c);   /* calls tied to a dataplane */

/* A new JSON object for the control socket: {"pending", "calls", "stray_replies",
 * "bad_replies", "dataplanes": [{"address", "weight", "up", "calls", "pending", "requests",
 * "retransmits", "replies", "errors", "timeouts", "send_errors", "consecutive_timeouts",
 * "last_reply_age_ms"}]} (-1 before the first reply).
 * NULL when out of memory. */
json_t *ng_client_dump(const struct ng_client *c);

#endif
