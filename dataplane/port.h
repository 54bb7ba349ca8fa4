/* port: sets up one DPDK ethdev for the relay: its mbuf pool, one rx and one tx queue per worker
 * plus a tx queue for the control lcore, and RSS on the UDP destination port when several workers
 * share it. */
#ifndef SBC_DATAPLANE_PORT_H
#define SBC_DATAPLANE_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include "portalloc.h"

struct rte_mempool;

#define PORT_RETA_MAX 512

/* How the port steers, for portalloc_new(): with enabled false everything arrives on queue 0. */
struct port_rss {
	bool enabled;
	uint8_t key[PORTALLOC_RSS_KEY_LEN];
	uint16_t reta[PORT_RETA_MAX];
	unsigned reta_size;
};

/* A packet mbuf pool of n mbufs (n is sized explicitly so that it fits --no-huge -m 256) with a
 * per-lcore cache. Returns NULL and sets errno (rte_errno). Start-up only. */
struct rte_mempool *port_mempool_new(const char *name, unsigned n, int socket);

/* Configures and starts port_id with one rx and one tx queue per worker (queue w belongs to
 * worker w; the control lcore's frames, ARP and ICMP answers, go out through a worker). With
 * several workers the device must support RSS on IPv4/UDP: then it hashes the UDP destination port
 * only (RTE_ETH_RSS_L4_DST_ONLY) under a pair-safe key and a round-robin RETA, written to *rss.
 * Returns 0, -ENOTSUP (several workers but no RSS) or another -errno from the ethdev layer.
 * Start-up only. */
int port_setup(uint16_t port_id, unsigned workers, struct rte_mempool *mp, struct port_rss *rss);

/* Stops and closes the port. */
void port_close(uint16_t port_id);

#endif
