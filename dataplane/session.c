/* session: a worker's flow table, one flow per relay leg, indexed by (media address index,
 * local UDP port). */
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct session_table {
	uint16_t base;	 /* first even port of the range */
	uint32_t slots;	 /* port pairs per address */
	unsigned naddrs; /* media addresses */
	unsigned count;
	struct session_flow *flows; /* [naddrs * slots], one per (address, port pair) */
};

struct session_table *session_table_new(unsigned naddrs, uint16_t port_min, uint16_t port_max)
{
	struct session_table *st;
	uint32_t base = (uint32_t)port_min + (port_min & 1u);

	if (naddrs == 0 || naddrs > SESSION_MAX_ADDRS || port_min == 0 || base + 1 > port_max) {
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->base = (uint16_t)base;
	st->slots = ((uint32_t)port_max - base + 1) / 2;
	st->naddrs = naddrs;
	/* calloc: pages of the array are touched only as flows are installed on them. */
	st->flows = calloc((size_t)naddrs * st->slots, sizeof(*st->flows));
	if (!st->flows) {
		free(st);
		return NULL;
	}
	return st;
}

void session_table_free(struct session_table *st)
{
	if (!st)
		return;
	free(st->flows);
	free(st);
}

static struct session_flow *slot(const struct session_table *st, unsigned addr, uint16_t port,
				 unsigned *odd)
{
	uint32_t off;

	if (port < st->base || addr >= st->naddrs)
		return NULL;
	off = (uint32_t)port - st->base;
	if (off / 2 >= st->slots)
		return NULL;
	if (odd)
		*odd = off & 1u;
	return &st->flows[(size_t)addr * st->slots + off / 2];
}

struct session_flow *session_lookup(struct session_table *st, unsigned addr, uint16_t port,
				    enum latch_comp *comp)
{
	unsigned odd = 0;
	struct session_flow *f = slot(st, addr, port, &odd);

	if (!f || !f->used)
		return NULL;
	*comp = odd ? LATCH_COMP_RTCP : LATCH_COMP_RTP;
	return f;
}

void session_prefetch(const struct session_table *st, unsigned addr, uint16_t port)
{
	const struct session_flow *f = slot(st, addr, port, NULL);

	if (f) {
		/* An entry spans two cache lines (88 bytes, not aligned to 64). */
		__builtin_prefetch(f);
		__builtin_prefetch((const char *)f + sizeof(*f) - 1);
	}
}

int session_add(struct session_table *st, unsigned addr, uint16_t port, uint16_t peer_port,
		const struct latch_expect *exp, uint64_t now_ms)
{
	unsigned odd = 0;
	struct session_flow *f = slot(st, addr, port, &odd);

	if (!f || odd)
		return -EINVAL;
	if (f->used)
		return -EEXIST;
	memset(f, 0, sizeof(*f));
	latch_init(&f->latch, exp, now_ms);
	f->port = port;
	f->peer_port = peer_port;
	__atomic_store_n(&f->used, true, __ATOMIC_RELEASE);
	st->count++;
	return 0;
}

int session_update(struct session_table *st, unsigned addr, uint16_t port,
		   const struct latch_expect *exp, uint64_t now_ms)
{
	unsigned odd = 0;
	struct session_flow *f = slot(st, addr, port, &odd);

	if (!f || odd || !f->used)
		return -ENOENT;
	return (int)latch_update(&f->latch, exp, now_ms);
}

int session_del(struct session_table *st, unsigned addr, uint16_t port)
{
	unsigned odd = 0;
	struct session_flow *f = slot(st, addr, port, &odd);

	if (!f || odd || !f->used)
		return -ENOENT;
	__atomic_store_n(&f->used, false, __ATOMIC_RELEASE);
	st->count--;
	return 0;
}

unsigned session_count(const struct session_table *st)
{
	return st->count;
}

unsigned session_addrs(const struct session_table *st)
{
	return st->naddrs;
}

uint32_t session_pairs(const struct session_table *st)
{
	return st->slots;
}

int session_flow_read(const struct session_table *st, unsigned addr, uint16_t port, uint64_t now_ms,
		      struct session_flow_stats *out)
{
	unsigned odd = 0;
	struct session_flow *f = slot(st, addr, port, &odd);
	uint32_t last, ago;

	if (!f || odd || !__atomic_load_n(&f->used, __ATOMIC_ACQUIRE))
		return -ENOENT;
	out->pkts_in = __atomic_load_n(&f->pkts_in, __ATOMIC_RELAXED);
	out->bytes_in = __atomic_load_n(&f->bytes_in, __ATOMIC_RELAXED);
	out->drops = __atomic_load_n(&f->drops, __ATOMIC_RELAXED);
	last = __atomic_load_n(&f->last_seen_ms, __ATOMIC_RELAXED);
	out->last_seen_ms = 0;
	if (out->pkts_in) {
		/* The worker stored the low 32 bits of the same clock: the distance back from now
		 * modulo 2^32 is exact for any silence shorter than ~24 days (a packet stamped
		 * "after" now by a racing worker counts as now). */
		ago = (uint32_t)now_ms - last;
		out->last_seen_ms = (int32_t)ago < 0 || ago > now_ms ? now_ms : now_ms - ago;
	}
	return 0;
}
