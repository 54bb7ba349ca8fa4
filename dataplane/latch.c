/* latch: the pure state machine that decides which remote source a relay leg accepts media from
 * and where it sends media back (symmetric RTP latching, safe against RTP bleed). */
#include "latch.h"

#include <string.h>

/* With rtcp-mux both components live in the RTP stream (RFC 5761 §4: same port, same source). */
static unsigned stream_index(const struct latch *l, enum latch_comp comp)
{
	if (comp == LATCH_COMP_RTCP && !(l->exp.flags & LATCH_F_RTCP_MUX))
		return LATCH_COMP_RTCP;
	return LATCH_COMP_RTP;
}

/* The SDP port for a stream: RFC 3605 a=rtcp when given, else RTP + 1 (RFC 3550 §11); with
 * rtcp-mux the RTP port. 0 when the stream is rejected. */
static uint16_t sdp_port(const struct latch *l, unsigned idx)
{
	if (l->exp.rtp_port == 0)
		return 0;
	if (idx == LATCH_COMP_RTP)
		return l->exp.rtp_port;
	if (l->exp.rtcp_port)
		return l->exp.rtcp_port;
	return l->exp.rtp_port == UINT16_MAX ? 0 : (uint16_t)(l->exp.rtp_port + 1);
}

static bool same_endpoint(const struct addr_port *a, const struct addr_port *b)
{
	return a->port == b->port && addr_equal(&a->ip, &b->ip);
}

static bool window_open(const struct latch *l, uint64_t now_ms)
{
	uint64_t elapsed = now_ms > l->gen_start_ms ? now_ms - l->gen_start_ms : 0;

	return (l->exp.flags & LATCH_F_LEARN_ANY) && elapsed < l->exp.learn_window_ms;
}

static void reset_streams(struct latch *l)
{
	for (unsigned i = 0; i < 2; i++) {
		struct latch_stream *s = &l->stream[i];

		s->state = LATCH_STATE_LEARNING;
		/* Keep a latched source as the destination only while signalling still vouches for
		 * its address; a loose-mode latch on another address is forgotten. */
		if (s->has_src && !addr_equal(&s->src.ip, &l->exp.addr))
			s->has_src = false;
	}
}

void latch_init(struct latch *l, const struct latch_expect *exp, uint64_t now_ms)
{
	memset(l, 0, sizeof(*l));
	l->exp = *exp;
	l->generation = 1;
	l->gen_start_ms = now_ms;
}

uint32_t latch_update(struct latch *l, const struct latch_expect *exp, uint64_t now_ms)
{
	l->exp = *exp;
	l->generation++;
	l->gen_start_ms = now_ms;
	reset_streams(l);
	return l->generation;
}

static enum latch_verdict drop(struct latch *l, enum latch_verdict v)
{
	l->drops[v]++;
	return v;
}

/* May src's address start a latch on stream idx while learning? */
static bool learn_addr_ok(const struct latch *l, unsigned idx, const struct addr_ip *ip,
			  uint64_t now_ms)
{
	const struct latch_stream *sib;

	if (l->exp.addr.family && addr_equal(ip, &l->exp.addr))
		return true;
	if (!(l->exp.flags & LATCH_F_LEARN_ANY))
		return false;
	/* Loose mode: RTCP follows the address RTP latched to (and vice versa), even after the
	 * window, so that both streams end up on the same host. */
	sib = &l->stream[idx ^ 1u];
	if (!(l->exp.flags & LATCH_F_RTCP_MUX) && sib->state == LATCH_STATE_LATCHED)
		return addr_equal(ip, &sib->src.ip);
	return window_open(l, now_ms);
}

enum latch_verdict latch_check(struct latch *l, enum latch_comp comp, const struct addr_port *src,
			       uint64_t now_ms)
{
	unsigned idx = stream_index(l, comp);
	struct latch_stream *s = &l->stream[idx];
	bool asym = l->exp.flags & LATCH_F_ASYMMETRIC;

	if (l->exp.rtp_port == 0)
		return drop(l, LATCH_DROP_NO_SOURCE);

	if (s->state == LATCH_STATE_LATCHED) {
		if (same_endpoint(src, &s->src) || (asym && addr_equal(&src->ip, &s->src.ip))) {
			s->last_seen_ms = now_ms;
			return LATCH_ACCEPT;
		}
		if (!addr_equal(&src->ip, &s->src.ip))
			return drop(l, LATCH_DROP_STRANGER);
		/* Same address, other port: a NAT that rebound the mapping, or another host behind
		 * the same NAT or CGNAT. Only policy may accept it, and only after silence. */
		if ((l->exp.flags & LATCH_F_ALLOW_REBIND) && now_ms >= s->last_seen_ms &&
		    now_ms - s->last_seen_ms >= l->exp.rebind_idle_ms) {
			s->src = *src;
			s->last_seen_ms = now_ms;
			return LATCH_REBOUND;
		}
		return drop(l, LATCH_DROP_PORT);
	}

	if (!learn_addr_ok(l, idx, &src->ip, now_ms)) {
		if (!l->exp.addr.family && !window_open(l, now_ms))
			return drop(l, LATCH_DROP_NO_SOURCE);
		return drop(l, LATCH_DROP_STRANGER);
	}
	/* strict-source on an endpoint that is not behind NAT: the SDP tells the exact source
	 * (symmetric RTP, RFC 4961), so nothing is learned. Behind NAT the SDP port says nothing
	 * about the source port, and asymmetric endpoints send from other ports by definition. */
	if ((l->exp.flags & LATCH_F_STRICT_SOURCE) && l->exp.origin == LATCH_ORIGIN_SDP && !asym &&
	    src->port != sdp_port(l, idx))
		return drop(l, LATCH_DROP_PORT);
	s->state = LATCH_STATE_LATCHED;
	s->has_src = true;
	s->src = *src;
	s->last_seen_ms = now_ms;
	return LATCH_LEARNED;
}

bool latch_dest(const struct latch *l, enum latch_comp comp, struct addr_port *out)
{
	unsigned idx = stream_index(l, comp);
	const struct latch_stream *s = &l->stream[idx];
	uint16_t port = sdp_port(l, idx);

	if (port == 0)
		return false;
	if (s->has_src && !(l->exp.flags & LATCH_F_ASYMMETRIC)) {
		*out = s->src;
		return true;
	}
	if (!l->exp.addr.family)
		return false;
	out->ip = l->exp.addr;
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

uint64_t latch_last_seen(const struct latch *l)
{
	uint64_t a = l->stream[0].last_seen_ms, b = l->stream[1].last_seen_ms;

	return a > b ? a : b;
}

uint32_t latch_drops(const struct latch *l, enum latch_verdict v)
{
	return v < LATCH_VERDICT_COUNT ? l->drops[v] : 0;
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
