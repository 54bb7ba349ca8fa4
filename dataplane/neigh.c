/* neigh: neighbour table with ARP resolution state (retries, failure hold-down, refresh). */
#include "neigh.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct neigh_entry {
	uint32_t ip;
	uint8_t state; /* enum neigh_state, 0 = free */
	uint8_t tries;
	uint8_t mac[6];
	uint64_t next_ms;    /* next request (incomplete, reachable: refresh) or end of hold-down */
	uint64_t updated_ms; /* last change, for replacement */
};

struct neigh_table {
	unsigned cap;
	struct neigh_entry e[];
};

struct neigh_table *neigh_new(unsigned cap)
{
	struct neigh_table *nt;

	if (cap == 0 || cap > 65536) {
		errno = EINVAL;
		return NULL;
	}
	nt = calloc(1, sizeof(*nt) + cap * sizeof(nt->e[0]));
	if (nt)
		nt->cap = cap;
	return nt;
}

void neigh_free(struct neigh_table *nt)
{
	free(nt);
}

static struct neigh_entry *find(const struct neigh_table *nt, uint32_t ip)
{
	for (unsigned i = 0; i < nt->cap; i++)
		if (nt->e[i].state && nt->e[i].ip == ip)
			return (struct neigh_entry *)&nt->e[i];
	return NULL;
}

/* A free slot, else the oldest unresolved entry, else the least recently updated one. */
static struct neigh_entry *victim(struct neigh_table *nt)
{
	struct neigh_entry *best = NULL;

	for (unsigned i = 0; i < nt->cap; i++) {
		struct neigh_entry *e = &nt->e[i];

		if (!e->state)
			return e;
		if (!best || (e->state != NEIGH_REACHABLE && best->state == NEIGH_REACHABLE) ||
		    ((e->state == NEIGH_REACHABLE) == (best->state == NEIGH_REACHABLE) &&
		     e->updated_ms < best->updated_ms))
			best = e;
	}
	return best;
}

bool neigh_lookup(const struct neigh_table *nt, uint32_t ip, uint8_t mac[6])
{
	const struct neigh_entry *e = find(nt, ip);

	if (!e || e->state != NEIGH_REACHABLE)
		return false;
	memcpy(mac, e->mac, 6);
	return true;
}

bool neigh_learn(struct neigh_table *nt, uint32_t ip, const uint8_t mac[6], bool create,
		 uint64_t now_ms)
{
	struct neigh_entry *e = find(nt, ip);
	bool changed;

	if (!e) {
		if (!create)
			return false;
		e = victim(nt);
		memset(e, 0, sizeof(*e));
		e->ip = ip;
	}
	changed = e->state != NEIGH_REACHABLE || memcmp(e->mac, mac, 6) != 0;
	memcpy(e->mac, mac, 6);
	e->state = NEIGH_REACHABLE;
	e->tries = 0;
	e->next_ms = now_ms + NEIGH_REFRESH_MS;
	e->updated_ms = now_ms;
	return changed;
}

bool neigh_resolve(struct neigh_table *nt, uint32_t ip, uint64_t now_ms)
{
	struct neigh_entry *e = find(nt, ip);

	if (e && e->state == NEIGH_REACHABLE)
		return false;
	if (e && e->state == NEIGH_INCOMPLETE)
		return false;
	if (e && e->state == NEIGH_FAILED && now_ms < e->next_ms)
		return false;
	if (!e) {
		e = victim(nt);
		memset(e, 0, sizeof(*e));
		e->ip = ip;
	}
	e->state = NEIGH_INCOMPLETE;
	e->tries = 1;
	e->next_ms = now_ms + NEIGH_RETRY_MS;
	e->updated_ms = now_ms;
	return true;
}

void neigh_timer(struct neigh_table *nt, uint64_t now_ms, void (*send)(void *arg, uint32_t ip),
		 void *arg)
{
	for (unsigned i = 0; i < nt->cap; i++) {
		struct neigh_entry *e = &nt->e[i];

		if (!e->state || now_ms < e->next_ms)
			continue;
		switch (e->state) {
		case NEIGH_INCOMPLETE:
			if (e->tries >= NEIGH_TRIES) {
				e->state = NEIGH_FAILED;
				e->next_ms = now_ms + NEIGH_FAILED_MS;
				continue;
			}
			e->tries++;
			e->next_ms = now_ms + NEIGH_RETRY_MS;
			send(arg, e->ip);
			break;
		case NEIGH_REACHABLE:
			/* Ask again but keep using the known MAC meanwhile; an answer refreshes it. */
			e->next_ms = now_ms + NEIGH_REFRESH_MS;
			send(arg, e->ip);
			break;
		default:
			break;
		}
	}
}

enum neigh_state neigh_state(const struct neigh_table *nt, uint32_t ip)
{
	const struct neigh_entry *e = find(nt, ip);

	return e ? (enum neigh_state)e->state : 0;
}
