/* exception: the control lcore's side of the media addresses: answers ARP for each and ICMP echo to
 * each, resolves next hops with ARP into a neighbour table and tells the workers. */
#ifndef SBC_DATAPLANE_EXCEPTION_H
#define SBC_DATAPLANE_EXCEPTION_H

#include <stdbool.h>
#include <stdint.h>

#include "session.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

struct exception_cfg {
	struct rte_ring *tx_ring; /* frames to send, drained by a worker (worker_cfg.tx_in) */
	/* The media addresses and their subnets (network order); an ARP request for a next hop goes
	 * out from the address whose subnet holds it (else the first). */
	unsigned n_media; /* 1..SESSION_MAX_ADDRS */
	uint32_t media_ip[SESSION_MAX_ADDRS];
	uint32_t netmask[SESSION_MAX_ADDRS];
	uint8_t media_mac[6];
	struct rte_mempool *mp; /* for ARP requests */
	unsigned neigh_cap;	/* neighbour table size; 0 = 256 */
	/* Called when a next hop's MAC is learned or changes (to send DP_MSG_NEIGH_UPDATE to every
	 * worker). */
	void (*on_neigh)(void *arg, uint32_t ip, const uint8_t mac[6]);
	void *arg;
};

struct exception_stats {
	uint64_t arp_replied, arp_learned, arp_requests, icmp_replied, ignored, tx_failed;
};

struct exception;

/* Returns NULL with errno. Control lcore only, as all below. */
struct exception *exception_new(const struct exception_cfg *cfg);
void exception_free(struct exception *ex);

/* Handles one frame a worker passed up (ARP or ICMP to a media address, already validated by
 * classify_frame). Consumes m: it is answered in place and sent, or freed. */
void exception_input(struct exception *ex, struct rte_mbuf *m, uint64_t now_ms);

/* A worker lacks ip's MAC (DP_EV_NEIGH_MISS): sends an ARP request unless one is pending. When
 * the MAC is already known, on_neigh is called again (a worker may have missed it). */
void exception_resolve(struct exception *ex, uint32_t ip, uint64_t now_ms);

/* ARP retries and refreshes; call every few hundred milliseconds. */
void exception_timer(struct exception *ex, uint64_t now_ms);

/* ip's MAC when known. */
bool exception_neigh_lookup(const struct exception *ex, uint32_t ip, uint8_t mac[6]);

void exception_stats_read(const struct exception *ex, struct exception_stats *out);

#endif
