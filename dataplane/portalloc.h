/* portalloc: hands out RTP/RTCP relay port pairs on one or more media addresses (each with the whole
 * port range), each pair owned by the worker whose rx queue the NIC's RSS steers that port to. */
#ifndef SBC_DATAPLANE_PORTALLOC_H
#define SBC_DATAPLANE_PORTALLOC_H

#include <stddef.h>
#include <stdint.h>

#define PORTALLOC_MAX_WORKERS 128
#define PORTALLOC_MAX_ADDRS   64 /* = SESSION_MAX_ADDRS */
#define PORTALLOC_RSS_KEY_LEN 40 /* the usual Toeplitz key size (Intel, Mellanox, virtio) */

/* The Toeplitz key of Microsoft's RSS specification, also many NICs' power-on default. Note that
 * with it an RTP port and the next port never land on the same queue in a 2^k-queue RETA filled
 * round robin: see portalloc_rss_key_pairsafe(). */
extern const uint8_t portalloc_rss_key_default[PORTALLOC_RSS_KEY_LEN];

struct portalloc_cfg {
	uint16_t port_min; /* inclusive range; RTP ports are the even p with port_min <= p and */
	uint16_t port_max; /* p + 1 <= port_max; port 0 is never used */
	unsigned workers;  /* 1..PORTALLOC_MAX_WORKERS; worker w polls rx queue w */
	unsigned naddrs;   /* media addresses 1..PORTALLOC_MAX_ADDRS (0 = 1), each with the range */
	/* RSS as programmed on the NIC with RTE_ETH_RSS_L4_DST_ONLY (hash input: the UDP destination
	 * port, 2 bytes in network order). Ignored with one worker. */
	const uint8_t *rss_key; /* NULL: portalloc_rss_key_default */
	size_t rss_key_len;	/* at least 6 bytes */
	const uint16_t *reta;	/* reta[i] = rx queue; NULL: reta[i] = i % workers */
	unsigned reta_size;	/* power of two, 1..65536 (e.g. 128 or 512) */
	uint64_t seed;		/* shuffles the hand-out order so ports are hard to guess; 0 =
				   ascending */
};

struct portalloc;

/* Builds the allocator: on every address, every pair whose RTP and RTCP ports both hash to worker
 * w's queue goes to that address's pool of w (other pairs are never handed out; RSS looks at the
 * port only, so a port belongs to the same worker on every address). Returns NULL with errno
 * EINVAL (bad range, bad RSS parameters, or no usable pair at all) or ENOMEM. Control lcore only,
 * as are all calls below. */
struct portalloc *portalloc_new(const struct portalloc_cfg *cfg);

void portalloc_free(struct portalloc *pa);

/* Takes a free pair on address addr from worker's pool, the one freed longest ago (FIFO, so that a
 * late packet of an ended call does not reach the next call on that port). Sets *rtp_port (RTCP
 * is rtp_port + 1). Returns 0, -EINVAL for a bad address or worker, or -ENOSPC when the pool is
 * empty. O(1). */
int portalloc_get(struct portalloc *pa, unsigned addr, unsigned worker, uint16_t *rtp_port);

/* Returns a pair taken with portalloc_get() to its pool. Returns 0, or -EINVAL when (addr,
 * rtp_port) is not a pair that is currently handed out (double free, RTCP port, out of range).
 * O(1). */
int portalloc_put(struct portalloc *pa, unsigned addr, uint16_t rtp_port);

/* The worker owning port (the RTP or the RTCP port of a usable pair; the same on every address),
 * or -ENOENT. */
int portalloc_worker_of(const struct portalloc *pa, uint16_t port);

/* The address with the most free pairs (lowest index on ties, so new calls go round the addresses
 * as they fill evenly), or -ENOSPC when all are empty. O(addresses). */
int portalloc_pick_addr(const struct portalloc *pa);

/* The worker with the most free pairs on addr (lowest index on ties), or -ENOSPC when all are
 * empty (or addr is bad). */
int portalloc_pick_worker(const struct portalloc *pa, unsigned addr);

/* Media addresses of the allocator. */
unsigned portalloc_addrs(const struct portalloc *pa);

/* Free pairs in worker's pool on addr; free pairs on addr over all workers; all pairs a worker
 * owns on one address (0 for a bad address or worker). */
unsigned portalloc_available(const struct portalloc *pa, unsigned addr, unsigned worker);
unsigned portalloc_addr_available(const struct portalloc *pa, unsigned addr);
unsigned portalloc_capacity(const struct portalloc *pa, unsigned worker);

/* The Toeplitz hash (Microsoft RSS specification) of in[0..in_len) under key; key_len must be at
 * least in_len + 4 (returns 0 otherwise). Pure; any thread. */
uint32_t portalloc_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len);

/* The RSS hash a NIC computes for a UDP packet to port with RTE_ETH_RSS_L4_DST_ONLY. */
uint32_t portalloc_port_hash(const uint8_t *key, size_t key_len, uint16_t port);

/* Clears the key bits that make port p and p + 1 (p even) differ in the low log2(reta_size) hash
 * bits, so that every pair lands in one RETA entry and all pairs are usable; the dataplane programs
 * this key on the NIC. Returns 0 or -EINVAL (key shorter than 6 bytes, reta_size not a power of
 * two or above 2^16). */
int portalloc_rss_key_pairsafe(uint8_t *key, size_t key_len, unsigned reta_size);

#endif
