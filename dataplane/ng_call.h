/* ng_call: the control lcore's store of calls driven over ng: by call-id, and by relay port for
 * events from the workers. */
#ifndef SBC_DATAPLANE_NG_CALL_H
#define SBC_DATAPLANE_NG_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "latch.h"

#define NG_CALL_MAX_STREAMS 16 /* m= sections per call */

/* The relay ports of one stream: leg 0 faces the party of the call's first from-tag (the caller),
 * leg 1 the other party. port[leg] is the RTP port that party sends to (RTCP: + 1); both pairs
 * are owned by one worker. */
struct ng_stream_ports {
	unsigned worker;
	uint16_t port[2];
};

struct ng_stream {
	struct ng_stream_ports ports;
	bool leg_set[2];	    /* the leg's flow is installed on the worker */
	struct latch_expect exp[2]; /* what signalling said about each party */
	bool offer_mux;		    /* the last offer carried a=rtcp-mux */
	bool latched[2];	    /* from the workers' LATCHED events (RTP or muxed) */
	struct addr_port latched_src[2];
	char type[12]; /* "audio", "video", ... (truncated) */
};

struct ng_call {
	char *call_id;
	char *tag[2]; /* tag[0]: the first offer's from-tag; tag[1]: the other party's, or NULL */
	unsigned nstreams;
	struct ng_stream *streams;
	uint64_t created_ms, last_signal_ms;
	int64_t created_unix;
	uint64_t delete_at_ms; /* 0: not scheduled for deletion */
	bool timed_out;	       /* media timeout reported */
	uint64_t last_media_ms;
	/* private to ng_call.c */
	struct ng_call *hnext, *prev, *next;
};

struct ng_calls;

/* A store with a fixed hash table of `buckets` (a power of two). Returns NULL with errno. Control
 * lcore only, as all below. */
struct ng_calls *ng_calls_new(unsigned buckets);

/* Frees the store and every call left in it (without touching the relay). */
void ng_calls_free(struct ng_calls *cs);

struct ng_call *ng_calls_find(const struct ng_calls *cs, const char *id, size_t len);

/* A new call with tag[0] = from_tag and no streams. Returns NULL with errno ENOMEM. */
struct ng_call *ng_calls_add(struct ng_calls *cs, const char *id, size_t id_len,
			     const char *from_tag, size_t tag_len, uint64_t now_ms,
			     int64_t now_unix);

/* Unlinks and frees a call (its ports must have been released by the caller). */
void ng_calls_remove(struct ng_calls *cs, struct ng_call *call);

/* Replaces call->tag[i] (NULL/0 clears). Returns 0 or -ENOMEM. */
int ng_call_set_tag(struct ng_call *call, unsigned i, const char *tag, size_t len);

/* Which party tag is: 0, 1 or -1. */
int ng_call_tag_index(const struct ng_call *call, const char *tag, size_t len);

/* Makes room for n streams (never shrinks). Returns 0 or -ENOMEM/-E2BIG. */
int ng_call_reserve(struct ng_call *call, unsigned n);

/* Indexes port (a leg's RTP port) -> call for worker events; call NULL removes. */
void ng_calls_index_port(struct ng_calls *cs, uint16_t port, struct ng_call *call);
struct ng_call *ng_calls_by_port(const struct ng_calls *cs, uint16_t port);

/* Iteration in creation order; the current call may be removed while iterating if the caller
 * fetched next first. */
struct ng_call *ng_calls_first(const struct ng_calls *cs);
struct ng_call *ng_calls_next(const struct ng_call *call);

unsigned ng_calls_count(const struct ng_calls *cs);
uint64_t ng_calls_total(const struct ng_calls *cs); /* calls ever created */

#endif
