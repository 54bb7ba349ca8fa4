/* ng_call: the call store of the ng server (hash by call-id, index by media address and relay
 * port). */
#include "ng_call.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* struct ng_call.bits */
#define B_TAG_HEAP(i)  (1u << (i)) /* tag[i] did not fit its room and is malloc'd */
#define B_BRANCH       (1u << 2)   /* a via-branch follows tag[1]'s room in str[] */
#define B_STAGED       (1u << 3)   /* a staged re-offer is in the store's side table */

#define STAGED_BUCKETS 64

/* A staged re-offer: rare and short-lived, so kept in a small side table instead of the record. */
struct staged_node {
	struct staged_node *next;
	struct ng_call *call;
	struct ng_call_staged s;
};

struct ng_calls {
	unsigned mask;
	unsigned count, callids;
	uint64_t total;
	struct ng_call *head, *tail;
	/* [NG_CALL_MAX_ADDRS * 32768]: (address, port pair (RTP even, RTCP odd)) -> its call. One
	 * calloc of 16 MB of address space: only the pages of pairs in use are ever touched. */
	struct ng_call **by_pair;
	struct staged_node *staged[STAGED_BUCKETS];
	struct ng_call *bucket[];
};

static uint16_t to_10ms(uint32_t ms)
{
	uint32_t v = ms / 10 + (ms % 10 != 0);

	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

void ng_call_exp_pack(struct ng_call_exp *out, const struct latch_expect *e)
{
	memset(out, 0, sizeof(*out));
	out->family = (uint8_t)e->addr.family;
	if (e->addr.family == AF_INET)
		memcpy(out->ip, &e->addr.v4, 4);
	else if (e->addr.family == AF_INET6)
		memcpy(out->ip, &e->addr.v6, 16);
	out->origin = e->origin;
	out->flags = e->flags;
	out->rtp_port = e->rtp_port;
	out->rtcp_port = e->rtcp_port;
	out->learn_window_10ms = to_10ms(e->learn_window_ms);
	out->rebind_idle_10ms = to_10ms(e->rebind_idle_ms);
}

void ng_call_exp_unpack(const struct ng_call_exp *in, struct latch_expect *e)
{
	memset(e, 0, sizeof(*e));
	e->addr.family = in->family;
	if (in->family == AF_INET)
		memcpy(&e->addr.v4, in->ip, 4);
	else if (in->family == AF_INET6)
		memcpy(&e->addr.v6, in->ip, 16);
	e->origin = in->origin;
	e->flags = in->flags;
	e->rtp_port = in->rtp_port;
	e->rtcp_port = in->rtcp_port;
	e->learn_window_ms = (uint32_t)in->learn_window_10ms * 10;
	e->rebind_idle_ms = (uint32_t)in->rebind_idle_10ms * 10;
}

/* FNV-1a: call-ids are chosen by the peers, but the table only costs time when they collide. */
static uint32_t hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

struct ng_calls *ng_calls_new(unsigned buckets)
{
	struct ng_calls *cs;

	if (buckets == 0 || (buckets & (buckets - 1))) {
		errno = EINVAL;
		return NULL;
	}
	cs = calloc(1, sizeof(*cs) + buckets * sizeof(cs->bucket[0]));
	if (!cs)
		return NULL;
	cs->mask = buckets - 1;
	cs->by_pair = calloc((size_t)NG_CALL_MAX_ADDRS * 32768, sizeof(*cs->by_pair));
	if (!cs->by_pair) {
		free(cs);
		return NULL;
	}
	return cs;
}

static void call_free(struct ng_call *c)
{
	for (unsigned i = 0; i < 2; i++)
		if (c->bits & B_TAG_HEAP(i))
			free(c->tag[i]);
	if (c->streams != &c->first)
		free(c->streams);
	free(c);
}

void ng_calls_free(struct ng_calls *cs)
{
	struct ng_call *c, *n;

	if (!cs)
		return;
	for (c = cs->head; c; c = n) {
		n = c->next;
		call_free(c);
	}
	for (unsigned b = 0; b < STAGED_BUCKETS; b++) {
		struct staged_node *s, *sn;

		for (s = cs->staged[b]; s; s = sn) {
			sn = s->next;
			free(s);
		}
	}
	free(cs->by_pair);
	free(cs);
}

static bool id_is(const struct ng_call *c, const char *id, size_t len)
{
	return strlen(c->call_id) == len && memcmp(c->call_id, id, len) == 0;
}

/* Records are pushed at the front of their bucket: the newest of a call-id comes first. */
struct ng_call *ng_calls_find(const struct ng_calls *cs, const char *id, size_t len)
{
	struct ng_call *c = cs->bucket[hash(id, len) & cs->mask];

	for (; c; c = c->hnext)
		if (id_is(c, id, len))
			return c;
	return NULL;
}

struct ng_call *ng_calls_find_next(const struct ng_call *call)
{
	size_t len = strlen(call->call_id);
	struct ng_call *c = call->hnext;

	for (; c; c = c->hnext)
		if (id_is(c, call->call_id, len))
			return c;
	return NULL;
}

static char *dup_n(const char *s, size_t len)
{
	char *d = malloc(len + 1);

	if (d) {
		memcpy(d, s, len);
		d[len] = 0;
	}
	return d;
}

/* Room kept in the call for the other party's tag, learned later (answer): enough for the tags
 * that common user agents generate; a longer one gets an allocation of its own. */
#define TAG_ROOM_MIN 16

struct ng_call *ng_calls_add(struct ng_calls *cs, const char *id, size_t id_len,
			     const char *from_tag, size_t tag_len, const char *branch,
			     size_t branch_len, uint64_t now_ms, int64_t now_unix)
{
	size_t room0 = tag_len + 1 > UINT8_MAX ? 0 : tag_len + 1;
	size_t room1 = room0 > TAG_ROOM_MIN ? room0 : TAG_ROOM_MIN;
	size_t broom = branch_len ? branch_len + 1 : 0;
	struct ng_call *c;
	uint32_t b;

	c = calloc(1, offsetof(struct ng_call, str) + id_len + 1 + room0 + room1 + broom);
	if (!c)
		return NULL;
	if (broom) {
		memcpy(c->str + id_len + 1 + room0 + room1, branch, branch_len);
		c->bits = B_BRANCH;
	}
	c->call_id = c->str;
	memcpy(c->call_id, id, id_len);
	c->tag_room[0] = (uint8_t)room0;
	c->tag_room[1] = (uint8_t)room1;
	c->streams = &c->first;
	c->cap = 1;
	if (room0) {
		c->tag[0] = c->str + id_len + 1;
		memcpy(c->tag[0], from_tag, tag_len);
	} else {
		c->tag[0] = dup_n(from_tag, tag_len);
		c->bits |= B_TAG_HEAP(0);
		if (!c->tag[0]) {
			free(c);
			errno = ENOMEM;
			return NULL;
		}
	}
	c->last_signal_ms = now_ms;
	c->created_unix = now_unix > 0 && now_unix <= UINT32_MAX ? (uint32_t)now_unix : 0;
	if (!ng_calls_find(cs, id, id_len))
		cs->callids++;
	b = hash(id, id_len) & cs->mask;
	c->hnext = cs->bucket[b];
	cs->bucket[b] = c;
	c->prev = cs->tail;
	if (cs->tail)
		cs->tail->next = c;
	else
		cs->head = c;
	cs->tail = c;
	cs->count++;
	cs->total++;
	return c;
}

void ng_calls_remove(struct ng_calls *cs, struct ng_call *c)
{
	struct ng_call **pp = &cs->bucket[hash(c->call_id, strlen(c->call_id)) & cs->mask];

	if (c->bits & B_STAGED)
		ng_calls_staged_drop(cs, c);
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		cs->tail = c->prev;
	for (unsigned i = 0; i < c->nstreams; i++) {
		const struct ng_stream_ports *sp = &c->streams[i].ports;

		for (unsigned l = 0; l < 2; l++)
			if (ng_calls_by_leg(cs, sp->addr, sp->port[l]) == c)
				ng_calls_index_leg(cs, sp->addr, sp->port[l], NULL);
	}
	cs->count--;
	if (!ng_calls_find(cs, c->call_id, strlen(c->call_id)))
		cs->callids--;
	call_free(c);
}

/* The inline room of tag i inside the call's allocation. */
static char *tag_slot(struct ng_call *call, unsigned i)
{
	size_t off = strlen(call->call_id) + 1;

	if (i == 1)
		off += call->tag_room[0];
	return call->str + off;
}

int ng_call_set_tag(struct ng_call *call, unsigned i, const char *tag, size_t len)
{
	char *d = NULL;

	if (tag && len && len < call->tag_room[i]) {
		if (call->bits & B_TAG_HEAP(i))
			free(call->tag[i]);
		call->bits = (uint8_t)(call->bits & ~B_TAG_HEAP(i));
		d = tag_slot(call, i);
		memcpy(d, tag, len);
		d[len] = 0;
		call->tag[i] = d;
		return 0;
	}
	if (tag && len) {
		d = dup_n(tag, len);
		if (!d)
			return -ENOMEM;
	}
	if (call->bits & B_TAG_HEAP(i))
		free(call->tag[i]);
	call->bits = (uint8_t)(d ? call->bits | B_TAG_HEAP(i) : call->bits & ~B_TAG_HEAP(i));
	call->tag[i] = d;
	return 0;
}

const char *ng_call_branch(const struct ng_call *call)
{
	if (!(call->bits & B_BRANCH))
		return NULL;
	return call->str + strlen(call->call_id) + 1 + call->tag_room[0] + call->tag_room[1];
}

bool ng_call_branch_is(const struct ng_call *call, const char *branch, size_t len)
{
	const char *b = ng_call_branch(call);

	return b && len && strlen(b) == len && memcmp(b, branch, len) == 0;
}

int ng_call_tag_index(const struct ng_call *call, const char *tag, size_t len)
{
	for (int i = 0; i < 2; i++)
		if (call->tag[i] && strlen(call->tag[i]) == len && !memcmp(call->tag[i], tag, len))
			return i;
	return -1;
}

int ng_call_reserve(struct ng_call *call, unsigned n)
{
	struct ng_stream *s;

	if (n <= call->cap)
		return 0;
	if (n > NG_CALL_MAX_STREAMS)
		return -E2BIG;
	if (call->streams == &call->first) {
		s = malloc(n * sizeof(*s));
		if (s)
			memcpy(s, &call->first, sizeof(*s));
	} else {
		s = realloc(call->streams, n * sizeof(*s));
	}
	if (!s)
		return -ENOMEM;
	memset(s + call->nstreams, 0, (n - call->nstreams) * sizeof(*s));
	call->streams = s;
	call->cap = (uint8_t)n;
	return 0;
}

void ng_calls_index_leg(struct ng_calls *cs, unsigned addr, uint16_t port, struct ng_call *call)
{
	if (addr < NG_CALL_MAX_ADDRS)
		cs->by_pair[(size_t)addr * 32768 + (port >> 1)] = call;
}

struct ng_call *ng_calls_by_leg(const struct ng_calls *cs, unsigned addr, uint16_t port)
{
	return addr < NG_CALL_MAX_ADDRS ? cs->by_pair[(size_t)addr * 32768 + (port >> 1)] : NULL;
}

void ng_calls_index_port(struct ng_calls *cs, uint16_t port, struct ng_call *call)
{
	ng_calls_index_leg(cs, 0, port, call);
}

struct ng_call *ng_calls_by_port(const struct ng_calls *cs, uint16_t port)
{
	return ng_calls_by_leg(cs, 0, port);
}

struct ng_call *ng_calls_first(const struct ng_calls *cs)
{
	return cs->head;
}

struct ng_call *ng_calls_next(const struct ng_call *call)
{
	return call->next;
}

unsigned ng_calls_count(const struct ng_calls *cs)
{
	return cs->count;
}

unsigned ng_calls_callids(const struct ng_calls *cs)
{
	return cs->callids;
}

uint64_t ng_calls_total(const struct ng_calls *cs)
{
	return cs->total;
}

static unsigned staged_bucket(const struct ng_call *call)
{
	uintptr_t p = (uintptr_t)call;

	return (unsigned)((p >> 4) ^ (p >> 10)) & (STAGED_BUCKETS - 1);
}

struct ng_call_staged *ng_calls_staged(struct ng_calls *cs, struct ng_call *call, bool create)
{
	struct staged_node **head = &cs->staged[staged_bucket(call)], *s;

	if (call->bits & B_STAGED)
		for (s = *head; s; s = s->next)
			if (s->call == call)
				return &s->s;
	if (!create)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->call = call;
	s->next = *head;
	*head = s;
	call->bits |= B_STAGED;
	return &s->s;
}

void ng_calls_staged_drop(struct ng_calls *cs, struct ng_call *call)
{
	struct staged_node **pp = &cs->staged[staged_bucket(call)], *s;

	if (!(call->bits & B_STAGED))
		return;
	for (; (s = *pp) != NULL; pp = &s->next) {
		if (s->call == call) {
			*pp = s->next;
			free(s);
			break;
		}
	}
	call->bits = (uint8_t)(call->bits & ~B_STAGED);
}
