/* session: a worker's flow table, one flow per relay leg, found by the media address (its index) and
 * the local UDP port a packet was sent to (a direct array over addresses x the relay port range). */
#ifndef SBC_DATAPLANE_SESSION_H
#define SBC_DATAPLANE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "latch.h"

/* Media addresses one dataplane owns (each gets the whole relay port range); an address is named
 * by its index 0..n-1 in the flow table, the port allocator, worker messages and the call store. */
#define SESSION_MAX_ADDRS 64

/* One leg of a relayed stream: the remote endpoint that sends to this leg's relay ports (RTP port,
 * and RTP + 1 for RTCP unless rtcp-mux). Media received here leaves from the peer leg's ports
 * towards the peer's latched destination. 88 bytes, IPv4 only (see struct latch): a session of
 * two legs costs 176 bytes here (docs/PERFORMANCE.md, memory per session).
 *
 * Ownership: every field is written by the owning worker only. The counters and last_seen_ms are
 * also read by the control lcore for stats and media timeouts, with relaxed atomic loads (see
 * session_flow_read()); everything else is the worker's alone. */
struct session_flow {
	struct latch latch; /* the remote endpoint's latch */
	uint16_t port;	    /* this leg's RTP port (even) */
	uint16_t peer_port; /* the other leg's RTP port (on the same media address) */
	uint8_t mac[6];	    /* the Ethernet source of the packets latched from mac_ip */
	bool has_mac;
	bool used;	 /* the slot holds a flow (release/acquire: control reads counters) */
	uint32_t mac_ip; /* network order */
	/* Low 32 bits of the ms clock of the last REJECTED event about this leg and of the last
	 * NEIGH_MISS event for media towards it: one rate limit (an event a second) for both. */
	uint32_t last_event_ms;
	/* worker: rw; control: ro (relaxed atomics). 32-bit packet counts wrap after 2^32 packets
	 * (~2.7 years of 50 packets/s). */
	uint32_t pkts_in, drops;
	uint32_t last_seen_ms; /* low 32 bits of the ms clock of the last accepted packet */
	uint64_t bytes_in;
};

/* What control reads of a flow (a consistent-enough snapshot: each field is read atomically). */
struct session_flow_stats {
	uint64_t pkts_in, bytes_in, drops;
	uint64_t last_seen_ms; /* full ms clock (rebuilt from the low 32 bits), 0 = never */
};

struct session_table;

/* A table for relay ports port_min..port_max (pairs start at even ports) on each of naddrs media
 * addresses (1..SESSION_MAX_ADDRS): one slot per (address, port pair), slot id
 * addr * pairs + (port - first even port) / 2. Allocated once (untouched pages cost nothing) on the
 * control lcore before the worker starts. Returns NULL with errno EINVAL or ENOMEM. */
struct session_table *session_table_new(unsigned naddrs, uint16_t port_min, uint16_t port_max);
void session_table_free(struct session_table *st);

/* The flow owning local port (its RTP or RTCP port) on media address addr, or NULL when the
 * address or port is outside the table or no flow is installed. *comp says which port of the pair
 * it was (RTP for the even one). Worker only; O(1), no allocation. */
struct session_flow *session_lookup(struct session_table *st, unsigned addr, uint16_t port,
				    enum latch_comp *comp);

/* A hint: starts loading the flow entry of (addr, port) into the cache (nothing when outside the
 * table). Worker only; never faults. */
void session_prefetch(const struct session_table *st, unsigned addr, uint16_t port);

/* Installs a flow on RTP port `port` of address addr relaying to peer_port (same address) under
 * the expectation exp (events about it name the address and the port). Returns 0, -EINVAL
 * (address out of range, port not an even port of the range) or -EEXIST. Worker only. */
int session_add(struct session_table *st, unsigned addr, uint16_t port, uint16_t peer_port,
		const struct latch_expect *exp, uint64_t now_ms);

/* A re-offer: new expectation, learning reopened (latch_update). Returns the new latch generation
 * or -ENOENT. Worker only. */
int session_update(struct session_table *st, unsigned addr, uint16_t port,
		   const struct latch_expect *exp, uint64_t now_ms);

/* Removes the flow on (addr, port). Returns 0 or -ENOENT. Worker only. */
int session_del(struct session_table *st, unsigned addr, uint16_t port);

/* Installed flows. */
unsigned session_count(const struct session_table *st);

/* Media addresses and port pairs per address of the table. */
unsigned session_addrs(const struct session_table *st);
uint32_t session_pairs(const struct session_table *st);

/* Reads the shared counters of the flow on (addr, port) from any thread; now_ms (the same clock as
 * the worker's, not older than the flow's last packet by more than ~24 days) rebuilds
 * last_seen_ms. Returns 0 or -ENOENT. */
int session_flow_read(const struct session_table *st, unsigned addr, uint16_t port, uint64_t now_ms,
		      struct session_flow_stats *out);

/* Adds v to a shared counter; called by the owning worker only (relaxed store: one writer). */
static inline void session_counter_add(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

static inline void session_counter_add32(uint32_t *c, uint32_t v)
{
	__atomic_store_n(c, *c + v, __ATOMIC_RELAXED);
}

#endif
