/* ratelimit: per-source-IP token buckets in a bounded table, and temporary bans after repeated
 * failed authentications, so a flood or a password guesser cannot take the proxy down. */
#ifndef SBC_RATELIMIT_H
#define SBC_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct ratelimit_config {
	uint32_t rate_per_s;	      /* sustained messages per second per source IP; 0: no limit */
	uint32_t burst;		      /* bucket depth (messages allowed at once) */
	uint32_t max_sources;	      /* table bound; the least recently seen source is evicted */
	uint32_t auth_fail_max;	      /* failures within the window that ban a source; 0: never */
	uint32_t auth_fail_window_ms; /* the window */
	uint32_t ban_ms;	      /* how long a ban lasts */
	struct addr_set exempt;	      /* sources never limited nor banned (trunks, monitoring) */
};

struct ratelimit_stats {
	uint64_t allowed;
	uint64_t limited;      /* refused because the bucket was empty */
	uint64_t banned_drops; /* refused because the source is banned */
	uint64_t bans;	       /* bans started */
	uint64_t evictions;    /* sources dropped from the full table */
	uint64_t sources;      /* sources tracked now */
};

struct ratelimit;

/* Defaults: 50 messages/s with a burst of 100, 65536 sources, ban for 10 minutes after 10 failed
 * authentications within 60 s, no exemptions. */
void ratelimit_config_default(struct ratelimit_config *cfg);

/* Creates a limiter (loop thread only). Returns NULL with errno (EINVAL for max_sources 0). */
struct ratelimit *ratelimit_new(const struct ratelimit_config *cfg);

void ratelimit_free(struct ratelimit *rl);

/* Replaces the configuration (on reload). Tracked sources are kept up to the new bound; their
 * buckets are clamped to the new burst. Returns 0 or -EINVAL. */
int ratelimit_reconfigure(struct ratelimit *rl, const struct ratelimit_config *cfg);

/* Accounts one message from ip at now_ms. Returns false when it must be dropped (banned, or its
 * bucket is empty). */
bool ratelimit_allow(struct ratelimit *rl, const struct addr_ip *ip, uint64_t now_ms);

/* True when ip is banned at now_ms (no token is taken). */
bool ratelimit_banned(struct ratelimit *rl, const struct addr_ip *ip, uint64_t now_ms);

/* Records a failed authentication from ip (a digest that did not verify, RFC 3261 §22). Returns
 * true when this failure started a ban. */
bool ratelimit_auth_failed(struct ratelimit *rl, const struct addr_ip *ip, uint64_t now_ms);

/* A successful authentication clears ip's failure count (not an existing ban). */
void ratelimit_auth_ok(struct ratelimit *rl, const struct addr_ip *ip);

/* Lifts a ban (operator action). Returns 0 or -ENOENT. */
int ratelimit_unban(struct ratelimit *rl, const struct addr_ip *ip);

void ratelimit_stats_get(const struct ratelimit *rl, struct ratelimit_stats *out);

#endif
