/* latch: the pure state machine that decides which remote source a relay leg accepts media from
 * and where it sends media back (symmetric RTP latching, safe against RTP bleed). */
#include "latch.h"

#include <string.h>
#include <sys/socket.h>

/* With rtcp-mux both components live in the RTP stream (RFC 5761 §4: same port, same source). */
static unsigned stream_index(const struct latch *l, enum latch_comp comp)
{
	if (comp == LATCH_COMP_RTCP && !(l->flags & LATCH_F_RTCP_MUX))
		return LATCH_COMP_RTCP;
	return LATCH_COMP_RTP;
}

/* The SDP port for a stream: RFC 3605 a=rtcp when given, else RTP + 1 (RFC 3550 §11); with
 * rtcp-mux the RTP port. 0 when the stream is rejected. */
static uint16_t sdp_port(const struct latch *l, unsigned idx)
{
	if (l->rtp_port == 0)
		return 0;
	if (idx == LATCH_COMP_RTP)
		return l->rtp_port;
	if (l->rtcp_port)
		return l->rtcp_port;
	return l->rtp_port == UINT16_MAX ? 0 : (uint16_t)(l->rtp_port + 1);
}

/* Milliseconds from then to now on the truncated clock; 0 when now is before then (a clock that
 * went backwards never counts as elapsed time). */
static uint32_t elapsed_ms(uint32_t now, uint32_t then)
{
	uint32_t d = now - then;

	return (int32_t)d < 0 ? 0 : d;
}

static bool window_open(struct latch *l, uint32_t now)
{
	if (!(l->flags & LATCH_F_LEARN_ANY) || l->window_closed)
		return false;
	if (elapsed_ms(now, l->gen_start_ms) < (uint32_t)l->learn_window_10ms * 10)
		return true;
	/* Once closed it stays closed until the next offer, also when the 32-bit clock wraps. */
	l->window_closed = true;
	return false;
}

static uint16_t to_10ms(uint32_t ms)
{
	uint32_t v = ms / 10 + (ms % 10 != 0);

	return v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

static void set_expect(struct latch *l, const struct latch_expect *exp)
{
	l->addr = exp->addr.family == AF_INET ? exp->addr.v4.s_addr : 0;
	l->rtp_port = exp->rtp_port;
	l->rtcp_port = exp->rtcp_port;
	l->flags = (uint8_t)exp->flags;
	l->origin = exp->origin;
	l->learn_window_10ms = to_10ms(exp->learn_window_ms);
	l->rebind_idle_10ms = to_10ms(exp->rebind_idle_ms);
	l->window_closed = false;
	/* IPv6 media has its own path (not yet): here the stream is treated as rejected, so that
	 * nothing is learned or sent for it, not even in a loose mode. */
	if (exp->addr.family == AF_INET6)
		l->rtp_port = 0;
}

static void reset_streams(struct latch *l)
{
	for (unsigned i = 0; i < 2; i++) {
		struct latch_stream *s = &l->stream[i];

		s->state = LATCH_STATE_LEARNING;
		/* Keep a latched source as the destination only while signalling still vouches for
		 * its address; a loose-mode latch on another address is forgotten. */
		if (s->has_src && (l->addr == 0 || s->src_ip != l->addr))
			s->has_src = false;
	}
}

void latch_init(struct latch *l, const struct latch_expect *exp, uint64_t now_ms)
{
	memset(l, 0, sizeof(*l));
	set_expect(l, exp);
	l->generation = 1;
	l->gen_start_ms = (uint32_t)now_ms;
}

uint32_t latch_update(struct latch *l, const struct latch_expect *exp, uint64_t now_ms)
{
	set_expect(l, exp);
	l->generation++;
	l->gen_start_ms = (uint32_t)now_ms;
	reset_streams(l);
	return l->generation;
}

/* May ip start a latch on stream idx while learning? */
static bool learn_addr_ok(struct latch *l, unsigned idx, uint32_t ip, uint32_t now)
{
	const struct latch_stream *sib;

	if (l->addr && ip == l->addr)
		return true;
	if (!(l->flags & LATCH_F_LEARN_ANY))
		return false;
	/* Loose mode: RTCP follows the address RTP latched to (and vice versa), even after the
	 * window, so that both streams end up on the same host. */
	sib = &l->stream[idx ^ 1u];
	if (!(l->flags & LATCH_F_RTCP_MUX) && sib->state == LATCH_STATE_LATCHED)
		return ip == sib->src_ip;
	return window_open(l, now);
}

enum latch_verdict latch_check4(struct latch *l, enum latch_comp comp, uint32_t ip, uint16_t port,
				uint64_t now_ms)
{
	unsigned idx = stream_index(l, comp);
	struct latch_stream *s = &l->stream[idx];
	bool asym = l->flags & LATCH_F_ASYMMETRIC;
	uint32_t now = (uint32_t)now_ms;

	if (l->rtp_port == 0)
		return LATCH_DROP_NO_SOURCE;

	if (s->state == LATCH_STATE_LATCHED) {
		if (ip == s->src_ip && (port == s->src_port || asym)) {
			s->last_seen_ms = now;
			return LATCH_ACCEPT;
		}
		if (ip != s->src_ip)
			return LATCH_DROP_STRANGER;
		/* Same address, other port: a NAT that rebound the mapping, or another host behind
		 * the same NAT or CGNAT. Only policy may accept it, and only after silence. */
		if ((l->flags & LATCH_F_ALLOW_REBIND) && (int32_t)(now - s->last_seen_ms) >= 0 &&
		    now - s->last_seen_ms >= (uint32_t)l->rebind_idle_10ms * 10) {
			s->src_port = port;
			s->last_seen_ms = now;
			return LATCH_REBOUND;
		}
		return LATCH_DROP_PORT;
	}

	if (!learn_addr_ok(l, idx, ip, now)) {
		if (!l->addr && !window_open(l, now))
			return LATCH_DROP_NO_SOURCE;
		return LATCH_DROP_STRANGER;
	}
	/* strict-source on an endpoint that is not behind NAT: the SDP tells the exact source
	 * (symmetric RTP, RFC 4961), so nothing is learned. Behind NAT the SDP port says nothing
	 * about the source port, and asymmetric endpoints send from other ports by definition. */
	if ((l->flags & LATCH_F_STRICT_SOURCE) && l->origin == LATCH_ORIGIN_SDP && !asym &&
	    port != sdp_port(l, idx))
		return LATCH_DROP_PORT;
	s->state = LATCH_STATE_LATCHED;
	s->has_src = true;
	s->src_ip = ip;
	s->src_port = port;
	s->last_seen_ms = now;
	return LATCH_LEARNED;
}

enum latch_verdict latch_check(struct latch *l, enum latch_comp comp, const struct addr_port *src,
			       uint64_t now_ms)
{
	if (src->ip.family != AF_INET) {
		/* Not an address this latch can hold: a stranger, unless nothing is expected. */
		if (l->rtp_port == 0 || (!l->addr && !window_open(l, (uint32_t)now_ms)))
			return LATCH_DROP_NO_SOURCE;
		return LATCH_DROP_STRANGER;
	}
	return latch_check4(l, comp, src->ip.v4.s_addr, src->port, now_ms);
}

bool latch_dest4(const struct latch *l, enum latch_comp comp, uint32_t *ip, uint16_t *port)
{
	unsigned idx = stream_index(l, comp);
	const struct latch_stream *s = &l->stream[idx];
	uint16_t p = sdp_port(l, idx);

	if (p == 0)
		return false;
	if (s->has_src && !(l->flags & LATCH_F_ASYMMETRIC)) {
		*ip = s->src_ip;
		*port = s->src_port;
		return true;
	}
	if (!l->addr)
		return false;
	*ip = l->addr;
	*port = p;
	return true;
}

bool latch_dest(const struct latch *l, enum latch_comp comp, struct addr_port *out)
{
	uint32_t ip;
	uint16_t port;

	if (!latch_dest4(l, comp, &ip, &port))
		return false;
	memset(out, 0, sizeof(*out));
	out->ip.family = AF_INET;
	out->ip.v4.s_addr = ip;
	out->port = port;
	return true;
}

uint32_t latch_generation(const struct latch *l)
{
	return l->generation;
}

enum latch_state latch_state(const struct latch *l, enum latch_comp comp)
{
	return (enum latch_state)l->stream[stream_index(l, comp)].state;
}

uint32_t latch_last_seen(const struct latch *l)
{
	uint32_t a = l->stream[0].last_seen_ms, b = l->stream[1].last_seen_ms;

	if (!a || !b)
		return a | b;
	return (int32_t)(a - b) > 0 ? a : b;
}

const char *latch_verdict_name(enum latch_verdict v)
{
	static const char *const names[LATCH_VERDICT_COUNT] = {
		[LATCH_ACCEPT] = "accept",
		[LATCH_LEARNED] = "learned",
		[LATCH_REBOUND] = "rebound",
		[LATCH_DROP_NO_SOURCE] = "drop-no-source",
		[LATCH_DROP_STRANGER] = "drop-stranger",
		[LATCH_DROP_PORT] = "drop-port",
	};

	return (unsigned)v < LATCH_VERDICT_COUNT ? names[v] : "?";
}
