/* ng_call: the control lcore's store of calls driven over ng: by call-id (one record per forked
 * branch, several records may share a call-id), and by relay port for events from the workers. */
#ifndef SBC_DATAPLANE_NG_CALL_H
#define SBC_DATAPLANE_NG_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "latch.h"

#define NG_CALL_MAX_STREAMS 16 /* m= sections per call */
#define NG_CALL_MAX_ADDRS   64 /* media addresses (= SESSION_MAX_ADDRS) */

/* The relay ports of one stream: leg 0 faces the party of the call's first from-tag (the caller),
 * leg 1 the other party. port[leg] is the RTP port that party sends to (RTCP: + 1) on media
 * address `addr` (an index into the dataplane's addresses; every stream of a call has the same);
 * both pairs are owned by one worker. */
struct ng_stream_ports {
	uint8_t worker;
	uint8_t addr;
	uint16_t port[2];
};

/* Where a leg latched, from the worker's LATCHED event (the worker path is IPv4 only). */
struct ng_latched {
	uint32_t ip; /* network order */
	uint16_t port;
};

/* The address of l as a struct addr_ip. */
static inline struct addr_ip ng_latched_ip(const struct ng_latched *l)
{
	struct addr_ip ip = {.family = AF_INET};

	ip.v4.s_addr = l->ip;
	return ip;
}

/* What control keeps of a leg's struct latch_expect, packed into 28 bytes: the address as
 * family + bytes, the policy durations in units of 10 ms rounded up (as the worker's latch keeps
 * them, so nothing is lost). */
struct ng_call_exp {
	uint8_t family; /* AF_INET, AF_INET6 or 0 (nothing known) */
	uint8_t origin; /* enum latch_origin */
	uint8_t flags;	/* LATCH_F_* */
	uint16_t rtp_port, rtcp_port;
	uint16_t learn_window_10ms, rebind_idle_10ms;
	uint8_t ip[16]; /* 4 bytes for AF_INET */
};

/* Packs e into out, and back. */
void ng_call_exp_pack(struct ng_call_exp *out, const struct latch_expect *e);
void ng_call_exp_unpack(const struct ng_call_exp *in, struct latch_expect *e);

/* 96 bytes: a call's first stream lives inside its struct ng_call (one allocation per call). */
struct ng_stream {
	struct ng_call_exp exp[2]; /* what signalling said about each party */
	struct ng_latched latched_src[2];
	struct ng_stream_ports ports;
	bool leg_set[2]; /* the leg's flow is installed on the worker */
	bool offer_mux;	 /* the last offer carried a=rtcp-mux */
	bool latched[2]; /* from the workers' LATCHED events (RTP or muxed) */
	bool answered;	 /* an answer was applied: a re-offer is staged until the next answer */
	char type[11];	 /* "audio", "video", ... (truncated) */
};

/* A call record (a call, or one forked branch of it): one allocation holding the call-id, the
 * first tag, room for a short second tag, the via-branch it was created with (only when it has
 * one) and the first stream (docs/PERFORMANCE.md, memory per session). */
struct ng_call {
	char *call_id;
	char *tag[2]; /* tag[0]: the first offer's from-tag; tag[1]: the other party's, or NULL */
	struct ng_stream *streams;
	uint64_t last_signal_ms;
	uint64_t delete_at_ms; /* 0: not scheduled for deletion */
	/* private to ng_call.c */
	struct ng_call *hnext, *prev, *next;
	/* public again */
	uint32_t created_unix; /* seconds (unsigned: good until 2106) */
	uint8_t nstreams;
	bool timed_out; /* media timeout reported */
	/* private to ng_call.c */
	uint8_t cap;	     /* streams that fit at `streams` */
	uint8_t tag_room[2]; /* bytes for tag[i] in str[], NUL included (fixed at creation) */
	uint8_t bits;	     /* tag[i] malloc'd (bit i), has a branch, has a staged re-offer */
	struct ng_stream first;
	char str[]; /* call-id, tag[0]'s room, tag[1]'s room, the via-branch if any */
};

struct ng_calls;

/* A store with a fixed hash table of `buckets` (a power of two). Returns NULL with errno. Control
 * lcore only, as all below. */
struct ng_calls *ng_calls_new(unsigned buckets);

/* Frees the store and every call left in it (without touching the relay). */
void ng_calls_free(struct ng_calls *cs);

/* The newest record of call-id id, or NULL; ng_calls_find_next() gives the next older record of
 * the same call-id (NULL after the oldest). */
struct ng_call *ng_calls_find(const struct ng_calls *cs, const char *id, size_t len);
struct ng_call *ng_calls_find_next(const struct ng_call *call);

/* A new record with tag[0] = from_tag, no streams, and the via-branch `branch` (len 0: none; kept
 * for the record's life). Returns NULL with errno ENOMEM. */
struct ng_call *ng_calls_add(struct ng_calls *cs, const char *id, size_t id_len,
			     const char *from_tag, size_t tag_len, const char *branch,
			     size_t branch_len, uint64_t now_ms, int64_t now_unix);

/* The via-branch the record was created with (NUL-terminated), or NULL. */
const char *ng_call_branch(const struct ng_call *call);

/* True when the record was created with exactly this via-branch (len > 0). */
bool ng_call_branch_is(const struct ng_call *call, const char *branch, size_t len);

/* Unlinks and frees a call record and its staged re-offer (its ports must have been released by
 * the caller). */
void ng_calls_remove(struct ng_calls *cs, struct ng_call *call);

/* Replaces call->tag[i] (NULL/0 clears). Returns 0 or -ENOMEM. */
int ng_call_set_tag(struct ng_call *call, unsigned i, const char *tag, size_t len);

/* Which party tag is: 0, 1 or -1. */
int ng_call_tag_index(const struct ng_call *call, const char *tag, size_t len);

/* Makes room for n streams (never shrinks). Returns 0 or -ENOMEM/-E2BIG. */
int ng_call_reserve(struct ng_call *call, unsigned n);

/* Indexes (media address index, port) (a leg's RTP port, and so its RTCP port) -> call for worker
 * events; call NULL removes. addr < NG_CALL_MAX_ADDRS. */
void ng_calls_index_leg(struct ng_calls *cs, unsigned addr, uint16_t port, struct ng_call *call);
struct ng_call *ng_calls_by_leg(const struct ng_calls *cs, unsigned addr, uint16_t port);

/* The same on address 0. */
void ng_calls_index_port(struct ng_calls *cs, uint16_t port, struct ng_call *call);
struct ng_call *ng_calls_by_port(const struct ng_calls *cs, uint16_t port);

/* Iteration in creation order; the current call may be removed while iterating if the caller
 * fetched next first. */
struct ng_call *ng_calls_first(const struct ng_calls *cs);
struct ng_call *ng_calls_next(const struct ng_call *call);

unsigned ng_calls_count(const struct ng_calls *cs);   /* records (branches) */
unsigned ng_calls_callids(const struct ng_calls *cs); /* distinct call-ids */
uint64_t ng_calls_total(const struct ng_calls *cs);   /* records ever created */

/* A re-offer of an established stream waiting for its answer: the offerer's leg and the
 * expectation to install then. Kept outside the record (allocated only while pending). */
struct ng_call_staged {
	uint16_t mask; /* bit i: stream i has a staged expectation */
	uint8_t leg[NG_CALL_MAX_STREAMS];
	struct ng_call_exp exp[NG_CALL_MAX_STREAMS];
};

/* The staged re-offer of call, or NULL; with create, a new empty one when there is none (NULL
 * with errno ENOMEM). Owned by the store until ng_calls_staged_drop() or the record's removal. */
struct ng_call_staged *ng_calls_staged(struct ng_calls *cs, struct ng_call *call, bool create);
void ng_calls_staged_drop(struct ng_calls *cs, struct ng_call *call);

#endif
