/* worker: one relay worker lcore's poll loop body: control messages, rx burst, classify, latch,
 * rewrite towards the other leg, buffered tx; ARP and ICMP handed to control. */
#ifndef SBC_DATAPLANE_WORKER_H
#define SBC_DATAPLANE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "classify.h"
#include "latch.h"
#include "session.h"

struct rte_ring;
struct session_table;

#define WORKER_BURST	 32
#define WORKER_NEIGH_MAX 32 /* next hops a worker knows (a gateway and a few on-link hosts) */

struct worker_cfg {
	unsigned id;
	uint16_t port_id;
	uint16_t rx_queue;
	uint16_t tx_queue;
	struct rte_ring *msg_in;  /* control -> worker (dp_msg) */
	struct rte_ring *msg_out; /* worker -> control events (dp_msg) */
	struct rte_ring *exc;	  /* worker -> control: ARP and ICMP mbufs (SP/SC) */
	/* control -> worker: frames to send (ARP, ICMP), may be NULL. A tx queue is not
	 * thread-safe, so the control lcore never transmits itself. */
	struct rte_ring *tx_in;
	struct session_table *sessions; /* owned by the caller, used only by this worker */
	uint8_t media_mac[6];
	bool sw_udp_csum;    /* verify UDP checksums in software unless the NIC says GOOD */
	uint32_t gateway_ip; /* network order; 0 = every destination is on-link */
	/* The media addresses (network order), index i = address i of the session table and of
	 * dp_msg.addr; a destination is on-link when it is in any address's subnet. */
	unsigned n_media; /* 1..SESSION_MAX_ADDRS */
	uint32_t media_ip[SESSION_MAX_ADDRS];
	uint32_t netmask[SESSION_MAX_ADDRS]; /* network order */
};

/* Worker counters. worker: rw; control: ro through worker_stats_read(). */
struct worker_stats {
	uint64_t polls, rx, relayed, tx, tx_dropped;
	uint64_t exc, exc_dropped;
	uint64_t ctl_tx; /* frames sent for the control lcore */
	uint64_t drop_classify[CLASSIFY_DROP_COUNT];
	uint64_t drop_latch[LATCH_VERDICT_COUNT];
	uint64_t drop_multiseg;	   /* chained mbufs (the relay handles single segments) */
	uint64_t drop_not_ours;	   /* not addressed to any of the media addresses */
	uint64_t drop_no_flow;	   /* no live relay port (or RTCP port of an rtcp-mux leg) */
	uint64_t drop_media;	   /* payload malformed for what its first byte says */
	uint64_t drop_no_dest;	   /* the other leg has nowhere to send yet */
	uint64_t drop_no_neigh;	   /* next hop MAC unknown (control was asked to ARP) */
	uint64_t msgs, msg_errors; /* control messages handled / refused */
	uint64_t events_dropped;   /* event ring full */
};

struct worker;

/* Allocates a worker (cache aligned, on the port's socket) and its tx buffer. Returns NULL and
 * sets errno. Control lcore, start-up. */
struct worker *worker_new(const struct worker_cfg *cfg);

/* Flushes and frees. The worker must not be polling. */
void worker_free(struct worker *w);

/* One iteration: up to 32 control messages, one rx burst of up to 32 frames, each classified and
 * relayed, dropped (counted) or handed to the exception ring. Frames go out through a tx buffer:
 * call worker_flush() regularly (every ~100 us). now_ms is the caller's clock, read once per call.
 * Returns the number of frames and messages handled (0 = idle). Worker lcore only; never blocks,
 * allocates, locks, logs or makes a system call. */
unsigned worker_poll(struct worker *w, uint64_t now_ms);

/* Sends what the tx buffer holds. Worker lcore only. */
void worker_flush(struct worker *w);

/* Copies the counters (each read atomically). Any thread. */
void worker_stats_read(const struct worker *w, struct worker_stats *out);

#endif
