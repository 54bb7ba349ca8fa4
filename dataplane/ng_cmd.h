/* ng_cmd: the rtpengine ng commands (ping, offer, answer, delete, query, list, statistics) over the
 * call store; the relay itself is reached only through struct ng_ops, so this layer runs and is
 * tested without the EAL. */
#ifndef SBC_DATAPLANE_NG_CMD_H
#define SBC_DATAPLANE_NG_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "bencode.h"
#include "latch.h"
#include "ng_call.h"

/* One leg's counters as the relay reports them. */
struct ng_leg_stats {
	uint64_t packets, bytes, errors; /* received from the party (errors: dropped) */
	uint64_t last_ms;		 /* last accepted packet (the caller's clock), 0 = never */
};

/* What ng_cmd needs from the relay. All are called on the control lcore. */
struct ng_ops {
	/* Reserves a stream: two RTP/RTCP port pairs on one worker and one media address: sp->addr
	 * when it is below NG_ADDR_ANY (the call's other streams are there), else the relay picks
	 * one and sets sp->addr. Returns 0 or -errno (-ENOSPC: no ports left). */
	int (*stream_new)(void *arg, struct ng_stream_ports *sp);
	/* Removes both legs from their worker and returns the ports. */
	void (*stream_free)(void *arg, const struct ng_stream_ports *sp);
	/* Installs (update false) or re-offers (update true) leg `leg` of a stream: the flow on
	 * sp->port[leg] relays to sp->port[!leg] under exp. Returns 0 or -errno. */
	int (*leg_set)(void *arg, const struct ng_stream_ports *sp, unsigned leg,
		       const struct latch_expect *exp, bool update);
	/* The counters of an installed leg. Returns 0 or -ENOENT. */
	int (*leg_stats)(void *arg, const struct ng_stream_ports *sp, unsigned leg,
			 struct ng_leg_stats *out);
	/* A call record (a call, or one forked branch of it: ng_call_branch()) had no media for
	 * the configured time (reported once per record). May be NULL. */
	void (*media_timeout)(void *arg, const struct ng_call *call, uint64_t idle_ms);
};

/* ng_stream_ports.addr for stream_new: no address chosen yet. */
#define NG_ADDR_ANY 0xff

struct ng_cmd_cfg {
	/* The media addresses, index = ng_stream_ports.addr; a stream's address is written into SDP
	 * (n_media 0 counts as 1). */
	unsigned n_media;
	struct addr_ip media_addr[NG_CALL_MAX_ADDRS];
	uint32_t delete_delay_s;  /* default for "delete" without a delay (0 = immediate) */
	uint32_t media_timeout_s; /* 0 = off */
	uint32_t latch_policy;	  /* LATCH_F_LEARN_ANY / LATCH_F_ALLOW_REBIND or 0 */
	uint32_t learn_window_ms, rebind_idle_ms;
	unsigned buckets; /* call hash buckets (power of two); 0 = 4096 */
};

/* The clock of a request: monotonic ms for timers, Unix seconds for what replies show. */
struct ng_now {
	uint64_t ms;
	int64_t unix_s;
};

struct ng_cmd;

/* Returns NULL with errno. ops and arg must outlive the object. Control lcore only, as all
 * below. */
struct ng_cmd *ng_cmd_new(const struct ng_cmd_cfg *cfg, const struct ng_ops *ops, void *arg);

/* Applies a new policy (delete delay, media timeout, latch policy and windows) from cfg to later
 * requests; the media addresses and buckets are kept. */
void ng_cmd_reconfigure(struct ng_cmd *nc, const struct ng_cmd_cfg *cfg);

/* Frees every call (releasing their streams through ops) and the object. */
void ng_cmd_free(struct ng_cmd *nc);

/* Runs one decoded request and writes the reply dictionary into w (always a dictionary: "result"
 * is "ok", "pong" or "error" with an "error-reason"). Returns 0, or the writer's error when the
 * reply did not fit. */
int ng_cmd_handle(struct ng_cmd *nc, const struct bencode_item *dict, const struct ng_now *now,
		  struct bencode_writer *w);

/* Writes an error reply {"result": "error", "error-reason": reason}. */
int ng_cmd_error(struct bencode_writer *w, const char *reason);

/* Deletes calls whose delete delay ran out and reports media timeouts. Call about once a
 * second. */
void ng_cmd_timer(struct ng_cmd *nc, uint64_t now_ms);

/* A worker latched the source of the leg on RTP port `port` of media address addr. */
void ng_cmd_latched(struct ng_cmd *nc, unsigned addr, uint16_t port, const struct addr_port *src);

/* The media address of index addr (the first one for an index out of range). */
const struct addr_ip *ng_cmd_media_addr(const struct ng_cmd *nc, unsigned addr);

/* The call store (for the control socket's "sessions": one entry per record). */
const struct ng_calls *ng_cmd_calls(const struct ng_cmd *nc);

/* Runs ops->leg_stats on a call's leg (for listings). */
int ng_cmd_leg_stats(const struct ng_cmd *nc, const struct ng_stream *st, unsigned leg,
		     struct ng_leg_stats *out);

#endif
