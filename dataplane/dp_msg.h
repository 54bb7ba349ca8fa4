/* dp_msg: the fixed-size messages between the control lcore and a worker, and the pair of
 * single-producer/single-consumer rings that carry them. */
#ifndef SBC_DATAPLANE_DP_MSG_H
#define SBC_DATAPLANE_DP_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "latch.h"

struct rte_ring;

#define DP_MSG_SIZE 64

enum dp_msg_type {
	/* control -> worker */
	DP_MSG_FLOW_ADD = 1, /* addr, port, peer_port, u.exp: install a leg */
	DP_MSG_FLOW_UPDATE,  /* addr, port, u.exp: re-offer, reopens learning */
	DP_MSG_FLOW_DEL,     /* addr, port: remove a leg; the worker answers DP_EV_FREED */
	DP_MSG_NEIGH_UPDATE, /* u.neigh: the MAC of a next hop (ARP resolved it) */
	/* worker -> control */
	DP_EV_LATCHED,	  /* addr, port, generation, u.ev: a source latched (or rebound) */
	DP_EV_REJECTED,	  /* addr, port, u.ev: a source was dropped (at most one per second) */
	DP_EV_FREED,	  /* addr, port, id: the leg is gone (id echoes the FLOW_DEL's) */
	DP_EV_NEIGH_MISS, /* u.neigh.ip: media waits for this next hop's MAC (ARP it) */
};

struct dp_msg {
	uint8_t type; /* enum dp_msg_type */
	uint8_t addr; /* media address index of the leg (both legs of a stream share it) */
	uint16_t port;
	uint16_t peer_port;
	uint16_t worker;
	uint32_t id; /* FLOW_DEL -> FREED: echoed; the events about a flow carry its port here */
	uint32_t generation;
	union {
		struct latch_expect exp;
		struct {
			uint32_t ip; /* network order */
			uint8_t mac[6];
		} neigh;
		struct {
			struct addr_port src;
			uint8_t comp;	 /* enum latch_comp */
			uint8_t verdict; /* enum latch_verdict */
		} ev;
		uint8_t raw[DP_MSG_SIZE - 16];
	} u;
};

_Static_assert(sizeof(struct dp_msg) == DP_MSG_SIZE, "dp_msg must be one cache line");

/* The two rings between control and one worker. */
struct dp_chan {
	struct rte_ring *to_worker;  /* control produces, the worker consumes */
	struct rte_ring *to_control; /* the worker produces, control consumes */
};

/* Creates both rings ("<prefix>_c2w<worker>", "<prefix>_w2c<worker>") with `size` slots each (a
 * power of two) on socket. Returns 0 or -errno (rte_errno). Control lcore, at start-up. */
int dp_chan_init(struct dp_chan *ch, const char *prefix, unsigned worker, unsigned size,
		 int socket);

/* Frees both rings (NULL rings are fine). */
void dp_chan_free(struct dp_chan *ch);

/* Enqueues one message; false when the ring is full (nothing is written). Only the ring's single
 * producer may call it. Never blocks. */
bool dp_msg_send(struct rte_ring *r, const struct dp_msg *m);

/* Dequeues up to n messages into out; returns how many. Only the ring's single consumer. */
unsigned dp_msg_recv(struct rte_ring *r, struct dp_msg *out, unsigned n);

#endif
