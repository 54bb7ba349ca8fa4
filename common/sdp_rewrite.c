/* sdp_rewrite: writes a parsed SDP again with the relay's addresses and ports (RFC 3264 offers and
 * answers through a media relay), copying every other line byte for byte. */
#include "sdp_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The output buffer; once full, further writes are counted as overflow and dropped. */
struct out {
	char *p;
	size_t len, cap;
	bool overflow;
	bool open_line; /* the last line written has no line ending yet */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_eol(struct out *o, enum sdp_eol eol)
{
	if (eol == SDP_EOL_CRLF)
		put(o, "\r\n", 2);
	else if (eol == SDP_EOL_LF)
		put(o, "\n", 1);
	o->open_line = eol == SDP_EOL_NONE;
}

static void put_uint(struct out *o, unsigned int v)
{
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%u", v);

	put(o, tmp, (size_t)n);
}

/* "IN IP4 192.0.2.1" or "IN IP6 2001:db8::1" (RFC 8866 §5.7: the addrtype follows the address). */
static void put_conn(struct out *o, const struct addr_ip *ip, const char *text)
{
	put_str(o, ip->family == AF_INET6 ? "IN IP6 " : "IN IP4 ");
	put_str(o, text);
}

/* An added line takes the line ending of the line it follows. When the output so far ends without
 * one (that line was the body's unterminated last line), the body's usual ending is written first
 * so the added line never runs into the previous one. */
static void start_added_line(struct out *o, const struct sdp *sdp)
{
	if (o->open_line)
		put_eol(o, sdp->default_eol);
}

static void copy_line(struct out *o, const struct sdp *sdp, const struct sdp_line *l)
{
	put(o, sdp->buf + l->off, l->len);
	put_eol(o, (enum sdp_eol)l->eol);
}

/* What the rewriter decided per m= section before writing. */
struct media_plan {
	const struct addr_ip *addr; /* NULL: leave the section's addresses */
	char text[INET6_ADDRSTRLEN];
	bool untouched; /* the request entry is all zero */
	bool add_conn;	/* give the section its own c= */
	bool add_rtcp;	/* append a=rtcp with the new RTCP port */
};

struct plan {
	const struct addr_ip *session_addr;
	char session_text[INET6_ADDRSTRLEN];
	struct media_plan media[SDP_MAX_MEDIA];
};

static bool family_ok(const struct addr_ip *ip, bool zero_ok)
{
	return ip->family == AF_INET || ip->family == AF_INET6 || (zero_ok && ip->family == 0);
}

static int make_plan(const struct sdp *sdp, const struct sdp_rewrite *rw, struct plan *pl)
{
	const struct sdp_conn *sc = sdp->session_conn;

	if (rw->media_count != sdp->media_count || (rw->media_count > 0 && rw->media == NULL))
		return -EINVAL;
	if (!family_ok(&rw->session_addr, true))
		return -EINVAL;
	memset(pl, 0, sizeof(*pl));
	if (rw->session_addr.family != 0)
		pl->session_addr = &rw->session_addr;
	else if (rw->media_count > 0 && rw->media[0].addr.family != 0)
		pl->session_addr = &rw->media[0].addr;
	if (pl->session_addr != NULL)
		addr_format(pl->session_addr, pl->session_text, sizeof(pl->session_text));
	for (size_t i = 0; i < rw->media_count; i++) {
		const struct sdp_rewrite_media *rm = &rw->media[i];
		const struct sdp_media *m = &sdp->media[i].pub;
		struct media_plan *mp = &pl->media[i];
		unsigned int rtp;

		if (!family_ok(&rm->addr, true))
			return -EINVAL;
		mp->untouched = rm->addr.family == 0 && rm->rtp_port == 0 && rm->rtcp_port == 0;
		if (rm->addr.family != 0) {
			mp->addr = &rm->addr;
			addr_format(mp->addr, mp->text, sizeof(mp->text));
		}
		/* RFC 8866 §5.7: a section without its own c= uses the session-level one. It gets its
		 * own when there is none, or when the session-level one will carry another address.
		 * A section that inherits a kept hold address stays on hold. */
		if (mp->addr != NULL && m->conn == NULL) {
			if (sc == NULL)
				mp->add_conn = true;
			else if (rw->keep_hold && sdp_conn_is_hold(sc))
				mp->add_conn = false;
			else
				mp->add_conn = pl->session_addr == NULL ||
					       !addr_equal(pl->session_addr, mp->addr);
		}
		/* RFC 3605 §2.1: without a=rtcp the peer sends RTCP to the RTP port + 1, so a new RTCP
		 * port anywhere else has to be said. A rejected stream (port 0) needs none. */
		rtp = rm->rtp_port != 0 ? rm->rtp_port : m->port;
		mp->add_rtcp = rm->rtcp_port != 0 && !m->has_rtcp && m->port != 0 &&
			       (unsigned int)rm->rtcp_port != rtp + 1;
	}
	return 0;
}

static void write_origin(struct out *o, const struct sdp *sdp, const struct sdp_rewrite *rw,
			 const struct plan *pl, const struct sdp_line *l)
{
	const char *s = sdp->buf + l->off;

	if (!rw->rewrite_origin || pl->session_addr == NULL) {
		copy_line(o, sdp, l);
		return;
	}
	/* Keep <username> <sess-id> <sess-version> and their spacing; replace the address triple. */
	put(o, s, (size_t)(sdp->origin.nettype.p - s));
	put_conn(o, pl->session_addr, pl->session_text);
	put_eol(o, (enum sdp_eol)l->eol);
}

static void write_conn(struct out *o, const struct sdp *sdp, const struct sdp_rewrite *rw,
		       const struct plan *pl, const struct sdp_line *l)
{
	const struct sdp_conn *c = &sdp->conns[l->aux];
	const struct addr_ip *ip = c->media < 0 ? pl->session_addr : pl->media[c->media].addr;
	const char *text = c->media < 0 ? pl->session_text : pl->media[c->media].text;

	/* RFC 3264 §8.4: "c=IN IP4 0.0.0.0" is the old way to put a stream on hold. */
	if (ip == NULL || (rw->keep_hold && sdp_conn_is_hold(c))) {
		copy_line(o, sdp, l);
		return;
	}
	/* The relay address is unicast: a multicast "/ttl/n" suffix does not carry over. */
	put(o, "c=", 2);
	put_conn(o, ip, text);
	put_eol(o, (enum sdp_eol)l->eol);
}

static void write_media(struct out *o, const struct sdp *sdp, const struct sdp_rewrite *rw,
			const struct sdp_line *l)
{
	const struct sdp_media_priv *mp = &sdp->media[l->media];
	uint16_t port = rw->media[l->media].rtp_port;
	const char *s = sdp->buf + l->off;
	size_t tail = mp->port_off + mp->port_len;

	/* RFC 3264 §6: a port of 0 rejects the stream and must stay 0 in what we forward. */
	if (mp->pub.port == 0 || port == 0) {
		copy_line(o, sdp, l);
		return;
	}
	put(o, s, mp->port_off - l->off);
	put_uint(o, port);
	put(o, sdp->buf + tail, l->off + l->len - tail);
	put_eol(o, (enum sdp_eol)l->eol);
}

static void write_rtcp(struct out *o, const struct sdp *sdp, const struct sdp_rewrite *rw,
		       const struct plan *pl, const struct sdp_line *l)
{
	const struct sdp_media_priv *mp = &sdp->media[l->media];
	const struct sdp_rewrite_media *rm = &rw->media[l->media];
	const struct media_plan *mpl = &pl->media[l->media];
	const char *s = sdp->buf + l->off;

	if (mpl->untouched) {
		copy_line(o, sdp, l);
		return;
	}
	/* No RTCP port from the relay (rtcp-mux, or RTCP not relayed): the old one would point the
	 * peer at a port nobody serves, so the line goes. */
	if (rm->rtcp_port == 0)
		return;
	/* Keep "a=rtcp:" as written; the port changes, and so does an address when there is one. */
	put(o, s, mp->rtcp_port_off - l->off);
	put_uint(o, rm->rtcp_port);
	if (mp->pub.rtcp_has_addr && mpl->addr != NULL &&
	    !(rw->keep_hold && sdp_conn_is_hold(&mp->pub.rtcp_addr))) {
		put(o, " ", 1);
		put_conn(o, mpl->addr, mpl->text);
	} else {
		put(o, sdp->buf + mp->rtcp_port_end, l->off + l->len - mp->rtcp_port_end);
	}
	put_eol(o, (enum sdp_eol)l->eol);
}

static void write_added_conn(struct out *o, const struct sdp *sdp, const struct media_plan *mp,
			     const struct sdp_line *anchor)
{
	start_added_line(o, sdp);
	put(o, "c=", 2);
	put_conn(o, mp->addr, mp->text);
	put_eol(o, (enum sdp_eol)anchor->eol);
}

static void write_added_rtcp(struct out *o, const struct sdp *sdp, uint16_t port,
			     const struct sdp_line *anchor)
{
	start_added_line(o, sdp);
	put(o, "a=rtcp:", 7);
	put_uint(o, port);
	put_eol(o, (enum sdp_eol)anchor->eol);
}

size_t sdp_rewrite_max_len(const struct sdp *sdp)
{
	/* Each rewritten or added item grows by less than 80 bytes: an IPv6 address replacing a
	 * one-letter host, five port digits, a line ending. */
	return sdp->len + 80 * (1 + sdp->conn_count + 4 * sdp->media_count);
}

ssize_t sdp_rewrite(const struct sdp *sdp, const struct sdp_rewrite *rw, char *out, size_t out_len)
{
	struct out o = {.p = out, .cap = out_len};
	struct plan pl;
	int rc;

	if (sdp == NULL || rw == NULL || (out == NULL && out_len > 0))
		return -EINVAL;
	rc = make_plan(sdp, rw, &pl);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < sdp->line_count; i++) {
		const struct sdp_line *l = &sdp->lines[i];

		switch (l->kind) {
		case SDP_LINE_ORIGIN:
			write_origin(&o, sdp, rw, &pl, l);
			break;
		case SDP_LINE_CONN:
			write_conn(&o, sdp, rw, &pl, l);
			break;
		case SDP_LINE_MEDIA:
			write_media(&o, sdp, rw, l);
			break;
		case SDP_LINE_RTCP:
			write_rtcp(&o, sdp, rw, &pl, l);
			break;
		case SDP_LINE_ICE:
			/* RFC 8839: the relay terminates the media path, so the endpoint's candidates
			 * and credentials mean nothing to the other side. */
			if (!rw->remove_ice)
				copy_line(&o, sdp, l);
			break;
		default:
			copy_line(&o, sdp, l);
			break;
		}
		if (l->media < 0)
			continue;
		const struct sdp_media_priv *mp = &sdp->media[l->media];

		if (i == mp->conn_anchor && pl.media[l->media].add_conn)
			write_added_conn(&o, sdp, &pl.media[l->media], l);
		if (i + 1 == mp->end_line && pl.media[l->media].add_rtcp)
			write_added_rtcp(&o, sdp, rw->media[l->media].rtcp_port, l);
	}
	if (o.overflow)
		return -ENOSPC;
	return (ssize_t)o.len;
}
