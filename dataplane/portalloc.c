/* portalloc: hands out RTP/RTCP relay port pairs on one or more media addresses, each pair owned by
 * the worker whose rx queue the NIC's RSS steers that port to. */
#include "portalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

const uint8_t portalloc_rss_key_default[PORTALLOC_RSS_KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

#define PAIR_NONE UINT16_MAX

/* One (address, worker) pool: a FIFO ring of pair indices (within the address) over its slice of
 * the shared ring array. */
struct pool {
	uint16_t *ring;
	uint32_t cap;
	uint32_t head;
	uint32_t count;
};

struct portalloc {
	uint16_t first;	 /* RTP port of pair 0 (even) */
	uint32_t npairs; /* per address, at most 32768 */
	unsigned workers;
	unsigned naddrs;
	uint16_t *owner;     /* per pair: worker, or PAIR_NONE when RTP and RTCP hash apart */
	uint8_t *used;	     /* per (address, pair): 1 while handed out */
	uint16_t *rings;     /* all pools' rings, naddrs * usable pairs entries in total */
	uint32_t *addr_free; /* per address: free pairs over all its pools */
	struct pool pools[]; /* [addr * workers + worker] */
};

uint32_t portalloc_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *in, size_t in_len)
{
	uint32_t hash = 0, window;
	size_t next_bit = 32;

	if (key_len < in_len + 4)
		return 0;
	/* The window holds key bits [k, k + 32) where k is the input bit being looked at; each set
	 * input bit XORs the window into the result (Microsoft RSS specification, "Verifying the
	 * Toeplitz hash"). */
	window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	for (size_t i = 0; i < in_len; i++) {
		for (int b = 7; b >= 0; b--) {
			if ((in[i] >> b) & 1u)
				hash ^= window;
			window = window << 1 | ((key[next_bit / 8] >> (7 - next_bit % 8)) & 1u);
			next_bit++;
		}
	}
	return hash;
}

uint32_t portalloc_port_hash(const uint8_t *key, size_t key_len, uint16_t port)
{
	const uint8_t in[2] = {(uint8_t)(port >> 8), (uint8_t)port};

	return portalloc_toeplitz(key, key_len, in, sizeof(in));
}

static bool is_pow2(unsigned v)
{
	return v && !(v & (v - 1));
}

int portalloc_rss_key_pairsafe(uint8_t *key, size_t key_len, unsigned reta_size)
{
	unsigned r = 0;

	if (key_len < 6 || !is_pow2(reta_size) || reta_size > 65536)
		return -EINVAL;
	while ((1u << r) < reta_size)
		r++;
	/* p and p + 1 differ only in the last input bit (bit 15 of the port), so their hashes
	 * differ by the window at key bits [15, 47). The NIC indexes the RETA with the low r hash
	 * bits, i.e. key bits [47 - r, 47): clearing them puts both ports in the same entry. */
	for (unsigned k = 47 - r; k < 47; k++)
		key[k / 8] &= (uint8_t) ~(0x80u >> (k % 8));
	return 0;
}

/* xorshift64* (Vigna): a small deterministic generator for the shuffle; not for secrets. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static int queue_of(const struct portalloc_cfg *cfg, const uint8_t *key, size_t key_len,
		    uint16_t port)
{
	uint32_t idx = portalloc_port_hash(key, key_len, port) & (cfg->reta_size - 1);

	return cfg->reta ? cfg->reta[idx] : (int)(idx % cfg->workers);
}

static int check_cfg(const struct portalloc_cfg *cfg)
{
	if (cfg->workers == 0 || cfg->workers > PORTALLOC_MAX_WORKERS)
		return -EINVAL;
	if (cfg->naddrs > PORTALLOC_MAX_ADDRS)
		return -EINVAL;
	if (cfg->port_min == 0 || cfg->port_min > cfg->port_max)
		return -EINVAL;
	if (cfg->workers > 1) {
		if (cfg->rss_key && cfg->rss_key_len < 6)
			return -EINVAL;
		if (!is_pow2(cfg->reta_size) || cfg->reta_size > 65536)
			return -EINVAL;
	}
	return 0;
}

struct portalloc *portalloc_new(const struct portalloc_cfg *cfg)
{
	struct portalloc *pa;
	const uint8_t *key = cfg->rss_key ? cfg->rss_key : portalloc_rss_key_default;
	size_t key_len = cfg->rss_key ? cfg->rss_key_len : sizeof(portalloc_rss_key_default);
	uint32_t first = (cfg->port_min + 1u) & ~1u, npairs, off, usable;
	unsigned naddrs = cfg->naddrs ? cfg->naddrs : 1, npools;
	uint64_t rnd = cfg->seed;

	if (check_cfg(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	npairs = first + 1 <= cfg->port_max ? (cfg->port_max - first - 1) / 2 + 1 : 0;
	if (npairs == 0) {
		errno = EINVAL;
		return NULL;
	}
	npools = naddrs * cfg->workers;
	pa = calloc(1, sizeof(*pa) + npools * sizeof(pa->pools[0]));
	if (!pa)
		goto fail;
	pa->first = (uint16_t)first;
	pa->npairs = npairs;
	pa->workers = cfg->workers;
	pa->naddrs = naddrs;
	pa->owner = malloc(npairs * sizeof(*pa->owner));
	pa->used = calloc((size_t)naddrs * npairs, sizeof(*pa->used));
	pa->addr_free = calloc(naddrs, sizeof(*pa->addr_free));
	if (!pa->owner || !pa->used || !pa->addr_free)
		goto fail;

	/* Owner of each pair, then the pool sizes, then the pools filled in port order. */
	usable = 0;
	for (uint32_t i = 0; i < npairs; i++) {
		uint16_t rtp = (uint16_t)(first + 2 * i);
		int q = 0;

		if (cfg->workers > 1) {
			q = queue_of(cfg, key, key_len, rtp);
			if (q != queue_of(cfg, key, key_len, (uint16_t)(rtp + 1)))
				q = -1;
		}
		pa->owner[i] = q >= 0 && q < (int)cfg->workers ? (uint16_t)q : PAIR_NONE;
		if (pa->owner[i] == PAIR_NONE)
			continue;
		usable++;
		for (unsigned a = 0; a < naddrs; a++)
			pa->pools[a * cfg->workers + (unsigned)q].cap++;
	}
	if (usable == 0) {
		/* No pair keeps RTP and RTCP on one queue: the key needs portalloc_rss_key_pairsafe()
		 * or the RETA does not name these workers' queues. */
		portalloc_free(pa);
		errno = EINVAL;
		return NULL;
	}
	pa->rings = malloc((size_t)naddrs * usable * sizeof(*pa->rings));
	if (!pa->rings)
		goto fail;
	off = 0;
	for (unsigned k = 0; k < npools; k++) {
		pa->pools[k].ring = pa->rings + off;
		off += pa->pools[k].cap;
	}
	for (unsigned a = 0; a < naddrs; a++) {
		pa->addr_free[a] = usable;
		for (uint32_t i = 0; i < npairs; i++) {
			struct pool *p;

			if (pa->owner[i] == PAIR_NONE)
				continue;
			p = &pa->pools[a * cfg->workers + pa->owner[i]];
			p->ring[p->count++] = (uint16_t)i;
		}
	}
	if (rnd) {
		for (unsigned k = 0; k < npools; k++) {
			struct pool *p = &pa->pools[k];

			for (uint32_t i = p->count; i > 1; i--) {
				uint32_t j = (uint32_t)(next_rand(&rnd) % i);
				uint16_t t = p->ring[i - 1];

				p->ring[i - 1] = p->ring[j];
				p->ring[j] = t;
			}
		}
	}
	return pa;

fail:
	portalloc_free(pa);
	errno = ENOMEM;
	return NULL;
}

void portalloc_free(struct portalloc *pa)
{
	if (!pa)
		return;
	free(pa->rings);
	free(pa->addr_free);
	free(pa->used);
	free(pa->owner);
	free(pa);
}

int portalloc_get(struct portalloc *pa, unsigned addr, unsigned worker, uint16_t *rtp_port)
{
	struct pool *p;
	uint16_t pair;

	if (worker >= pa->workers || addr >= pa->naddrs)
		return -EINVAL;
	p = &pa->pools[addr * pa->workers + worker];
	if (p->count == 0)
		return -ENOSPC;
	pair = p->ring[p->head];
	p->head = p->head + 1 == p->cap ? 0 : p->head + 1;
	p->count--;
	pa->addr_free[addr]--;
	pa->used[(size_t)addr * pa->npairs + pair] = 1;
	*rtp_port = (uint16_t)(pa->first + 2 * pair);
	return 0;
}

/* The pair index of an RTP or RTCP port, or -1 when outside the range. */
static int32_t pair_of(const struct portalloc *pa, uint16_t port)
{
	uint32_t i;

	if (port < pa->first)
		return -1;
	i = (uint32_t)(port - pa->first) / 2;
	return i < pa->npairs ? (int32_t)i : -1;
}

int portalloc_put(struct portalloc *pa, unsigned addr, uint16_t rtp_port)
{
	int32_t i = pair_of(pa, rtp_port);
	struct pool *p;
	uint32_t tail;
	size_t u;

	if (i < 0 || (rtp_port & 1u) || addr >= pa->naddrs)
		return -EINVAL;
	u = (size_t)addr * pa->npairs + (uint32_t)i;
	if (!pa->used[u])
		return -EINVAL;
	pa->used[u] = 0;
	pa->addr_free[addr]++;
	p = &pa->pools[addr * pa->workers + pa->owner[i]];
	/* The ring cannot overflow: each pair is in it at most once and cap counts them all. */
	tail = p->head + p->count;
	if (tail >= p->cap)
		tail -= p->cap;
	p->ring[tail] = (uint16_t)i;
	p->count++;
	return 0;
}

int portalloc_worker_of(const struct portalloc *pa, uint16_t port)
{
	int32_t i = pair_of(pa, port);

	if (i < 0 || pa->owner[i] == PAIR_NONE)
		return -ENOENT;
	return pa->owner[i];
}

int portalloc_pick_addr(const struct portalloc *pa)
{
	int best = -ENOSPC;
	uint32_t most = 0;

	for (unsigned a = 0; a < pa->naddrs; a++) {
		if (pa->addr_free[a] > most) {
			most = pa->addr_free[a];
			best = (int)a;
		}
	}
	return best;
}

int portalloc_pick_worker(const struct portalloc *pa, unsigned addr)
{
	int best = -ENOSPC;
	uint32_t most = 0;

	if (addr >= pa->naddrs)
		return -ENOSPC;
	for (unsigned w = 0; w < pa->workers; w++) {
		if (pa->pools[addr * pa->workers + w].count > most) {
			most = pa->pools[addr * pa->workers + w].count;
			best = (int)w;
		}
	}
	return best;
}

unsigned portalloc_addrs(const struct portalloc *pa)
{
	return pa->naddrs;
}

unsigned portalloc_available(const struct portalloc *pa, unsigned addr, unsigned worker)
{
	if (worker >= pa->workers || addr >= pa->naddrs)
		return 0;
	return pa->pools[addr * pa->workers + worker].count;
}

unsigned portalloc_addr_available(const struct portalloc *pa, unsigned addr)
{
	return addr < pa->naddrs ? pa->addr_free[addr] : 0;
}

unsigned portalloc_capacity(const struct portalloc *pa, unsigned worker)
{
	return worker < pa->workers ? pa->pools[worker].cap : 0;
}
