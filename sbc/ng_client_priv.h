/* ng_client_priv: the ng client's shared layout and internal functions, for ng_client.c (request
 * framing, retransmission, replies, sockets, life cycle) and ng_client_pick.c (where a request
 * goes: weights, health and pings, the calls tied to each dataplane). */
#ifndef SBC_NG_CLIENT_PRIV_H
#define SBC_NG_CLIENT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log.h"
#include "loop.h"
#include "ng_client.h"

#define NG_DGRAM_MAX  65536 /* a UDP payload always fits */
#define NG_WEIGHT_MAX 1000000u

struct ng_req {
	struct ng_req *next; /* hash chain */
	struct ng_client *c;
	uint64_t id;
	int dp;
	enum ng_cmd cmd;
	bool partial; /* a delete of one branch (via-branch): the call stays tied */
	struct loop_timer timer;
	uint64_t deadline_ms;
	uint32_t interval_ms; /* until the next retransmission */
	uint32_t retrans;     /* retransmissions sent */
	ng_client_cb cb;
	void *arg;
	char *call_id; /* in data after the datagram; NULL for commands without a call */
	size_t len;    /* of the datagram */
	char data[];
};

/* A call tied to its dataplane. */
struct ng_call {
	struct ng_call *next;
	int dp;
	bool confirmed; /* the dataplane answered ok for this call at least once */
	char call_id[];
};

struct ng_dp {
	struct ng_dataplane_cfg cfg;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd; /* the client's socket of this family */
	bool up;
	int64_t wrr_current; /* smooth weighted round robin state */
	uint64_t ping_id;    /* the ping in flight, 0 when none */
	uint64_t last_reply_ms;
	uint32_t consecutive_timeouts;
	size_t calls, pending;
	uint64_t requests, retransmits, replies, errors, timeouts, send_errors;
};

struct ng_client {
	struct loop *lp;
	struct ng_client_cfg cfg;
	int fd4, fd6;
	struct ng_dp dps[NG_CLIENT_MAX_DATAPLANES];
	size_t ndp;
	char prefix[20]; /* cookie prefix, unique per client so that the dataplane's reply cache
			  * never hands an earlier run's reply to this one */
	size_t prefix_len;
	uint64_t next_id;

	struct ng_req **reqs; /* by id */
	size_t req_buckets, nreqs;
	struct ng_call **calls; /* by call-id */
	size_t call_buckets, ncalls;

	struct loop_timer ping_timer;
	uint64_t stray_replies, bad_replies;
	struct log_ratelimit rl_stray, rl_send;
	char rbuf[NG_DGRAM_MAX];
};

/* ---- ng_client.c ---- */

/* Doubles a chained hash table (*tab of *nb buckets) when it holds more than *nb entries.
 * next_off is the chain link's offset in an entry, key_of gives an entry's hash. Returns 0, or
 * -ENOMEM only when the table has no buckets yet (a full table still works, only slower). */
int ng_client_rehash(void ***tab, size_t *nb, size_t count, size_t next_off,
		     uint64_t (*key_of)(const void *));

/* Frames p under a new cookie, sends it to dataplane dp and arms its retransmission timer,
 * without looking at the call table. Returns 0 (*idp, may be NULL, gets the id; cb will be
 * called once) or -EINVAL, -EMSGSIZE, -ENOMEM (cb never called). */
int ng_client_submit(struct ng_client *c, int dp, const struct ng_params *p, ng_client_cb cb,
		     void *arg, uint64_t *idp);

/* ---- ng_client_pick.c ---- */

/* The dataplane a request goes to: the one p's call is tied to, else one picked by weight among
 * those in rotation; a first offer then ties its call there (*tied set: untie it with
 * ng_client_forget if the request is not sent). Returns the index, -EHOSTUNREACH (none in
 * rotation) or -ENOMEM. */
int ng_client_pick(struct ng_client *c, const struct ng_params *p, bool *tied);

/* Request r (with a call-id) ended with status: a delete unties its call, a failed first offer
 * too (unless other offers of the call are still out), an ok confirms the tie. */
void ng_client_pick_done(struct ng_client *c, const struct ng_req *r, enum ng_status status);

/* Request r was cancelled: frees its ping slot, and a whole-call delete unties its call. */
void ng_client_pick_cancelled(struct ng_client *c, const struct ng_req *r);

/* Dataplane dp answered a request in flight: back in rotation if it was out. */
void ng_client_pick_answered(struct ng_client *c, int dp);

/* A request to dataplane dp timed out: out of rotation after cfg.fail_after in a row. */
void ng_client_pick_timed_out(struct ng_client *c, int dp);

/* Starts the health pings (the first go out at once). Returns 0 or the loop's error. */
int ng_client_pick_start(struct ng_client *c);

/* Stops the pings and frees the call table (pending pings are freed with the requests). */
void ng_client_pick_free(struct ng_client *c);

#endif
