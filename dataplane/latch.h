/* latch: the pure state machine that decides which remote source a relay leg accepts media from
 * and where it sends media back (symmetric RTP latching, safe against RTP bleed). */
#ifndef SBC_DATAPLANE_LATCH_H
#define SBC_DATAPLANE_LATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* Which stream of the leg a packet belongs to. Without rtcp-mux RTCP has its own port (RTP port + 1
 * by default, RFC 3550 §11) and its own latch state; with rtcp-mux (RFC 5761 §4) RTP and RTCP
 * share one port and one state. */
enum latch_comp {
	LATCH_COMP_RTP = 0,
	LATCH_COMP_RTCP = 1,
};

/* Policy flags (enum latch_expect.flags). The default (0) is the safe mode: sources constrained to
 * what signalling knows, port learned from the first acceptable packet, strict afterwards. */
#define LATCH_F_RTCP_MUX      (1u << 0) /* RTCP arrives on the RTP port (RFC 5761) */
#define LATCH_F_STRICT_SOURCE (1u << 1) /* ng "strict-source": see latch_check() */
#define LATCH_F_ASYMMETRIC    (1u << 2) /* ng "asymmetric": latch the address only, send to SDP */
#define LATCH_F_LEARN_ANY     (1u << 3) /* loose: any source may latch within learn_window_ms */
#define LATCH_F_ALLOW_REBIND  (1u << 4) /* loose: same address, new port may replace the latch */

/* Where the trusted address came from; it decides whether the SDP port is also a source port. */
enum latch_origin {
	LATCH_ORIGIN_SDP = 0, /* ng "trust-address": the SDP c= address, endpoint not NAT'd */
	LATCH_ORIGIN_SIP_SOURCE = 1, /* ng "SIP-source-address": received-from, endpoint NAT'd */
};

/* What signalling knows about the remote endpoint of one leg, set on offer/answer and on every
 * re-offer. */
struct latch_expect {
	struct addr_ip addr; /* the only address media may come from while learning, and where media
				goes before a source is latched; family 0 = nothing known (no media) */
	uint16_t rtp_port;   /* SDP m= port; 0 = stream rejected or disabled (RFC 3264 §6) */
	uint16_t rtcp_port;  /* SDP a=rtcp port (RFC 3605), 0 = rtp_port + 1 */
	uint8_t origin;	     /* enum latch_origin */
	uint8_t flags;	     /* LATCH_F_* */
	uint32_t learn_window_ms; /* LATCH_F_LEARN_ANY: after each (re-)offer */
	uint32_t rebind_idle_ms;  /* LATCH_F_ALLOW_REBIND: silence of the latched port required */
};

enum latch_state {
	LATCH_STATE_LEARNING = 0,
	LATCH_STATE_LATCHED = 1,
};

/* Result of latch_check(). Values below LATCH_DROP_NO_SOURCE accept the packet. */
enum latch_verdict {
	LATCH_ACCEPT = 0,     /* from the latched source */
	LATCH_LEARNED,	      /* accepted and latched just now: report to control */
	LATCH_REBOUND,	      /* accepted and moved the latch to a new port (ALLOW_REBIND) */
	LATCH_DROP_NO_SOURCE, /* nothing expected: no address known or the stream is rejected */
	LATCH_DROP_STRANGER,  /* the source address is not acceptable */
	LATCH_DROP_PORT,      /* right address, wrong port (NAT rebinding, a neighbour behind the
				     same NAT, or not the SDP port under strict-source) */
	LATCH_VERDICT_COUNT,
};

/* Per-stream state; private to latch.c, embedded here so that a flow can hold it by value. Times
 * are the low 32 bits of the caller's millisecond clock and are compared modulo 2^32, so intervals
 * up to ~24 days are exact (the latch only measures windows and silences of seconds). */
struct latch_stream {
	uint32_t src_ip;       /* network order; valid with has_src */
	uint16_t src_port;     /* host order */
	uint8_t state;	       /* enum latch_state */
	bool has_src;	       /* src valid: latched, or kept from the previous generation */
	uint32_t last_seen_ms; /* last accepted packet, 0 = never */
};

/* One leg's latch, IPv4 only: 48 bytes, so that a worker flow stays within two cache lines and a
 * session within its memory budget (docs/PERFORMANCE.md). IPv6 media will have a latch of its
 * own on a separate worker path; here an IPv6 expectation means "nothing known" (every packet is
 * dropped as drop-no-source), and IPv6 sources are strangers. Owned and written by the worker
 * that owns the leg's ports; the control lcore never touches it (it sends the new expectation in a
 * message instead). Fields are private to latch.c: use the functions below. */
struct latch {
	uint32_t addr;	    /* latch_expect.addr, network order; 0 = nothing known */
	uint16_t rtp_port;  /* latch_expect.rtp_port */
	uint16_t rtcp_port; /* latch_expect.rtcp_port */
	uint8_t flags;	    /* LATCH_F_* */
	uint8_t origin;	    /* enum latch_origin */
	bool window_closed; /* LATCH_F_LEARN_ANY: the window was seen closed (never reopens) */
	/* learn_window_ms and rebind_idle_ms in units of 10 ms, rounded up (at most ~655 s; the
	 * media policy allows 600 s) */
	uint16_t learn_window_10ms;
	uint16_t rebind_idle_10ms;
	uint32_t generation;
	uint32_t gen_start_ms;	       /* low 32 bits */
	struct latch_stream stream[2]; /* by enum latch_comp; only [RTP] is used with rtcp-mux */
};

/* Starts learning under exp at generation 1. */
void latch_init(struct latch *l, const struct latch_expect *exp, uint64_t now_ms);

/* A re-offer (re-INVITE/UPDATE): installs exp, bumps the generation and reopens learning on every
 * stream. A stream's previously latched source stays the destination until a packet latches again,
 * but only if the new expectation still accepts its address; it is not accepted without being
 * relearned. Returns the new generation. */
uint32_t latch_update(struct latch *l, const struct latch_expect *exp, uint64_t now_ms);

/* Decides about a packet of component comp from src at now_ms, updating the state. Learning:
 * the source address must equal exp.addr (with LATCH_F_LEARN_ANY any address during the window,
 * and the address the sibling stream latched); under STRICT_SOURCE with
 * LATCH_ORIGIN_SDP the port must also be the SDP port (no learning at all). The first acceptable
 * packet latches address and port. Latched: only that exact address and port are accepted
 * (ASYMMETRIC: the address with any port; ALLOW_REBIND: a new port from the same address once the
 * latched port has been silent rebind_idle_ms). */
enum latch_verdict latch_check(struct latch *l, enum latch_comp comp, const struct addr_port *src,
			       uint64_t now_ms);

/* latch_check() for an IPv4 source: ip in network order, port in host order (the worker's path,
 * with no address structure to build per packet). */
enum latch_verdict latch_check4(struct latch *l, enum latch_comp comp, uint32_t ip, uint16_t port,
				uint64_t now_ms);

/* Where media for comp goes towards this endpoint: the latched source, else the source kept from
 * the previous generation, else exp.addr with the SDP port (ASYMMETRIC: always the latter).
 * Returns false when there is nowhere to send (no address or port 0). */
bool latch_dest(const struct latch *l, enum latch_comp comp, struct addr_port *out);

/* latch_dest() as an IPv4 address (network order) and port (host order). */
bool latch_dest4(const struct latch *l, enum latch_comp comp, uint32_t *ip, uint16_t *port);

/* The latch's LATCH_F_* flags. */
static inline uint32_t latch_flags(const struct latch *l)
{
	return l->flags;
}

/* The current generation: 1 after latch_init(), + 1 per latch_update(). Events the worker sends
 * about this latch carry it, so that control can ignore news about an older offer. */
uint32_t latch_generation(const struct latch *l);

/* The state of comp's stream. */
enum latch_state latch_state(const struct latch *l, enum latch_comp comp);

/* The low 32 bits of the last time any packet was accepted on this leg (0 = never). Drops are
 * counted per flow and per worker and verdict by the caller, not here. */
uint32_t latch_last_seen(const struct latch *l);

/* True when v lets the packet through. */
static inline bool latch_verdict_accepts(enum latch_verdict v)
{
	return v < LATCH_DROP_NO_SOURCE;
}

/* A short stable name for v ("accept", "learned", "drop-stranger", ...), for stats and logs. */
const char *latch_verdict_name(enum latch_verdict v);

#endif
