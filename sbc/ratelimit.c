/* ratelimit: per-source-IP token buckets in a bounded table, and temporary bans after repeated
 * failed authentications, so a flood or a password guesser cannot take the proxy down. */
#include "ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

/* How many least-recently-seen entries eviction looks at to spare a banned one: a spray from many
 * addresses must not push the bans of the guessers out of the table. */
#define RATELIMIT_EVICT_SCAN 8
/* Token amounts are kept in thousandths so that refill needs no division or floating point. */
#define MILLI 1000u

struct rl_entry {
	struct rl_entry *hnext;
	struct rl_entry *lru_prev, *lru_next; /* lru_prev is more recently seen */
	struct addr_ip ip;
	uint32_t hash;
	uint64_t tokens_m; /* thousandths of a message */
	uint64_t refilled_ms;
	uint64_t fail_start_ms;
	uint32_t fails;
	uint64_t ban_until_ms; /* 0: not banned */
};

struct ratelimit {
	struct ratelimit_config cfg;
	struct rl_entry **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	struct rl_entry *lru_head, *lru_tail; /* head: most recently seen */
	uint32_t seed;
	struct ratelimit_stats stats;
};

void ratelimit_config_default(struct ratelimit_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->rate_per_s = 50;
	cfg->burst = 100;
	cfg->max_sources = 65536;
	cfg->auth_fail_max = 10;
	cfg->auth_fail_window_ms = 60000;
	cfg->ban_ms = 600000;
}

static uint32_t ip_hash(const struct ratelimit *rl, const struct addr_ip *ip)
{
	/* FNV-1a with a per-process seed: sources cannot aim their addresses at one chain. */
	const unsigned char *p = ip->family == AF_INET6 ? ip->v6.s6_addr : (const void *)&ip->v4;
	size_t n = ip->family == AF_INET6 ? 16 : 4;
	uint32_t h = 2166136261u ^ rl->seed;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static size_t buckets_for(uint32_t max_sources)
{
	size_t n = 16;

	while (n < max_sources && n < ((size_t)1 << 30))
		n *= 2;
	return n;
}

static int rehash(struct ratelimit *rl, size_t n)
{
	struct rl_entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return -ENOMEM;
	for (struct rl_entry *e = rl->lru_head; e != NULL; e = e->lru_next) {
		e->hnext = b[e->hash & (n - 1)];
		b[e->hash & (n - 1)] = e;
	}
	free(rl->buckets);
	rl->buckets = b;
	rl->nbuckets = n;
	return 0;
}

struct ratelimit *ratelimit_new(const struct ratelimit_config *cfg)
{
	struct ratelimit *rl;

	if (cfg->max_sources == 0) {
		errno = EINVAL;
		return NULL;
	}
	rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return NULL;
	rl->cfg = *cfg;
	if (getrandom(&rl->seed, sizeof(rl->seed), GRND_NONBLOCK) != (ssize_t)sizeof(rl->seed))
		rl->seed = (uint32_t)time(NULL);
	if (rehash(rl, buckets_for(cfg->max_sources)) != 0) {
		free(rl);
		errno = ENOMEM;
		return NULL;
	}
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	struct rl_entry *e, *next;

	if (rl == NULL)
		return;
	for (e = rl->lru_head; e != NULL; e = next) {
		next = e->lru_next;
		free(e);
	}
	free(rl->buckets);
	free(rl);
}

static void lru_unlink(struct ratelimit *rl, struct rl_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		rl->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		rl->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_head(struct ratelimit *rl, struct rl_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = rl->lru_head;
	if (rl->lru_head != NULL)
		rl->lru_head->lru_prev = e;
	rl->lru_head = e;
	if (rl->lru_tail == NULL)
		rl->lru_tail = e;
}

static void entry_remove(struct ratelimit *rl, struct rl_entry *e)
{
	struct rl_entry **pp = &rl->buckets[e->hash & (rl->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	lru_unlink(rl, e);
	free(e);
	rl->count--;
	rl->stats.sources = rl->count;
}

static struct rl_entry *entry_find(struct ratelimit *rl, const struct addr_ip *ip, uint32_t h)
{
	for (struct rl_entry *e = rl->buckets[h & (rl->nbuckets - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && addr_equal(&e->ip, ip))
			return e;
	return NULL;
}

static void evict_one(struct ratelimit *rl, uint64_t now_ms)
{
	struct rl_entry *e = rl->lru_tail, *victim = rl->lru_tail;

	for (int i = 0; e != NULL && i < RATELIMIT_EVICT_SCAN; i++, e = e->lru_prev) {
		if (e->ban_until_ms <= now_ms) {
			victim = e;
			break;
		}
	}
	if (victim != NULL) {
		rl->stats.evictions++;
		entry_remove(rl, victim);
	}
}

/* Finds ip's entry (moving it to the head of the LRU list) or creates it with a full bucket. */
static struct rl_entry *entry_get(struct ratelimit *rl, const struct addr_ip *ip, uint64_t now_ms,
				  bool create)
{
	uint32_t h = ip_hash(rl, ip);
	struct rl_entry *e = entry_find(rl, ip, h);

	if (e != NULL) {
		lru_unlink(rl, e);
		lru_push_head(rl, e);
		return e;
	}
	if (!create)
		return NULL;
	while (rl->count >= rl->cfg.max_sources)
		evict_one(rl, now_ms);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->ip = *ip;
	e->hash = h;
	e->tokens_m = (uint64_t)rl->cfg.burst * MILLI;
	e->refilled_ms = now_ms;
	e->hnext = rl->buckets[h & (rl->nbuckets - 1)];
	rl->buckets[h & (rl->nbuckets - 1)] = e;
	lru_push_head(rl, e);
	rl->count++;
	rl->stats.sources = rl->count;
	return e;
}

static bool exempt(const struct ratelimit *rl, const struct addr_ip *ip)
{
	return rl->cfg.exempt.count > 0 && addr_set_contains(&rl->cfg.exempt, ip);
}

bool ratelimit_banned(struct ratelimit *rl, const struct addr_ip *ip, uint64_t now_ms)
{
	struct rl_entry *e;

	if (exempt(rl, ip))
		return false;
	e = entry_find(rl, ip, ip_hash(rl, ip));
	return e != NULL && e->ban_until_ms > now_ms;
}

bool ratelimit_allow(struct ratelimit *rl, const struct addr_ip *ip, uint64_t now_ms)
{
	uint64_t cap = (uint64_t)rl->cfg.burst * MILLI;
	struct rl_entry *e;

	if (exempt(rl, ip)) {
		rl->stats.allowed++;
		return true;
	}
	e = entry_get(rl, ip, now_ms, true);
	if (e == NULL) {
		/* Out of memory: fail open, a full table must not silence legitimate users. */
		rl->stats.allowed++;
		return true;
	}
	if (e->ban_until_ms > now_ms) {
		rl->stats.banned_drops++;
		return false;
	}
	if (e->ban_until_ms != 0) {
		e->ban_until_ms = 0;
		e->fails = 0;
	}
	if (rl->cfg.rate_per_s == 0) {
		rl->stats.allowed++;
		return true;
	}
	if (now_ms > e->refilled_ms) {
		/* rate_per_s messages per 1000 ms = rate_per_s thousandths per millisecond. */
		uint64_t add = (now_ms - e->refilled_ms) * rl->cfg.rate_per_s;

		e->tokens_m = add >= cap || e->tokens_m + add >= cap ? cap : e->tokens_m + add;
		e->refilled_ms = now_ms;
	}
	if (e->tokens_m < MILLI) {
		rl->stats.limited++;
		return false;
	}
	e->tokens_m -= MILLI;
	rl->stats.allowed++;
	return true;
}

bool ratelimit_auth_failed(struct ratelimit *rl, const struct addr_ip *ip, uint64_t now_ms)
{
	struct rl_entry *e;

	if (rl->cfg.auth_fail_max == 0 || exempt(rl, ip))
		return false;
	e = entry_get(rl, ip, now_ms, true);
	if (e == NULL || e->ban_until_ms > now_ms)
		return false;
	if (e->fails == 0 || now_ms - e->fail_start_ms >= rl->cfg.auth_fail_window_ms) {
		e->fail_start_ms = now_ms;
		e->fails = 0;
	}
	if (++e->fails < rl->cfg.auth_fail_max)
		return false;
	e->fails = 0;
	e->ban_until_ms = now_ms + rl->cfg.ban_ms;
	rl->stats.bans++;
	return true;
}

void ratelimit_auth_ok(struct ratelimit *rl, const struct addr_ip *ip)
{
	struct rl_entry *e = entry_find(rl, ip, ip_hash(rl, ip));

	if (e != NULL)
		e->fails = 0;
}

int ratelimit_unban(struct ratelimit *rl, const struct addr_ip *ip)
{
	struct rl_entry *e = entry_find(rl, ip, ip_hash(rl, ip));

	if (e == NULL || e->ban_until_ms == 0)
		return -ENOENT;
	e->ban_until_ms = 0;
	e->fails = 0;
	return 0;
}

int ratelimit_reconfigure(struct ratelimit *rl, const struct ratelimit_config *cfg)
{
	uint64_t cap = (uint64_t)cfg->burst * MILLI;
	size_t n = buckets_for(cfg->max_sources);

	if (cfg->max_sources == 0)
		return -EINVAL;
	if (n != rl->nbuckets && rehash(rl, n) != 0)
		return -ENOMEM;
	rl->cfg = *cfg;
	while (rl->count > cfg->max_sources) {
		rl->stats.evictions++;
		entry_remove(rl, rl->lru_tail);
	}
	for (struct rl_entry *e = rl->lru_head; e != NULL; e = e->lru_next)
		if (e->tokens_m > cap)
			e->tokens_m = cap;
	return 0;
}

void ratelimit_stats_get(const struct ratelimit *rl, struct ratelimit_stats *out)
{
	*out = rl->stats;
}
