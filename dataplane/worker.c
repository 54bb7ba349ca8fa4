/* worker: the relay hot path, one iteration at a time (see worker.h for the contract). */
#include "worker.h"

#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "dp_msg.h"
#include "session.h"

#define WORKER_MSG_BURST  32
#define EVENT_INTERVAL_MS 1000 /* per flow, for rejected-source and neighbour-miss events */
#define OUT_TTL		  64   /* we terminate and re-originate the datagram (RFC 1122 §3.2.1.7) */

struct worker_neigh {
	uint32_t ip;
	uint8_t mac[6];
};

struct worker {
	struct worker_cfg cfg;
	struct rte_eth_dev_tx_buffer *txb;
	struct worker_stats stats; /* worker: rw; control: ro (relaxed loads) */
	unsigned neigh_count, neigh_next;
	struct worker_neigh neigh[WORKER_NEIGH_MAX];
	/* By the last byte of an address: the index of the media address ending in it, ADDR_NONE,
	 * or ADDR_SCAN when several do (then the addresses are compared one by one). */
	int8_t addr_by_low[256];
} __rte_cache_aligned;

#define ADDR_NONE (-1)
#define ADDR_SCAN (-2)

/* One writer per counter (this worker), so a relaxed load + store is an atomic increment. */
#define STAT_ADD(w, field, v) session_counter_add(&(w)->stats.field, (v))

static void tx_error_cb(struct rte_mbuf **pkts, uint16_t unsent, void *userdata)
{
	struct worker *w = userdata;

	rte_pktmbuf_free_bulk(pkts, unsent);
	STAT_ADD(w, tx_dropped, unsent);
}

struct worker *worker_new(const struct worker_cfg *cfg)
{
	int socket = rte_eth_dev_socket_id(cfg->port_id);
	struct worker *w;

	if (!cfg->msg_in || !cfg->msg_out || !cfg->exc || !cfg->sessions || cfg->n_media == 0 ||
	    cfg->n_media > SESSION_MAX_ADDRS) {
		errno = EINVAL;
		return NULL;
	}
	w = rte_zmalloc_socket("dp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (!w) {
		errno = ENOMEM;
		return NULL;
	}
	w->cfg = *cfg;
	memset(w->addr_by_low, ADDR_NONE, sizeof(w->addr_by_low));
	for (unsigned i = 0; i < cfg->n_media; i++) {
		int8_t *e = &w->addr_by_low[((const uint8_t *)&cfg->media_ip[i])[3]];

		*e = *e == ADDR_NONE ? (int8_t)i : ADDR_SCAN;
	}
	w->txb = rte_zmalloc_socket("dp_worker_txb", RTE_ETH_TX_BUFFER_SIZE(WORKER_BURST), 0,
				    socket);
	if (!w->txb) {
		rte_free(w);
		errno = ENOMEM;
		return NULL;
	}
	rte_eth_tx_buffer_init(w->txb, WORKER_BURST);
	rte_eth_tx_buffer_set_err_callback(w->txb, tx_error_cb, w);
	return w;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	worker_flush(w);
	rte_free(w->txb);
	rte_free(w);
}

void worker_flush(struct worker *w)
{
	uint16_t n = rte_eth_tx_buffer_flush(w->cfg.port_id, w->cfg.tx_queue, w->txb);

	if (n)
		STAT_ADD(w, tx, n);
}

void worker_stats_read(const struct worker *w, struct worker_stats *out)
{
	const uint64_t *src = (const uint64_t *)&w->stats;
	uint64_t *dst = (uint64_t *)out;

	/* struct worker_stats is only uint64_t counters. */
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

static void neigh_upsert(struct worker *w, uint32_t ip, const uint8_t *mac)
{
	for (unsigned i = 0; i < w->neigh_count; i++) {
		if (w->neigh[i].ip == ip) {
			memcpy(w->neigh[i].mac, mac, 6);
			return;
		}
	}
	if (w->neigh_count < WORKER_NEIGH_MAX) {
		w->neigh[w->neigh_count].ip = ip;
		memcpy(w->neigh[w->neigh_count++].mac, mac, 6);
		return;
	}
	w->neigh[w->neigh_next].ip = ip;
	memcpy(w->neigh[w->neigh_next].mac, mac, 6);
	w->neigh_next = (w->neigh_next + 1) % WORKER_NEIGH_MAX;
}

static const uint8_t *neigh_lookup(const struct worker *w, uint32_t ip)
{
	for (unsigned i = 0; i < w->neigh_count; i++)
		if (w->neigh[i].ip == ip)
			return w->neigh[i].mac;
	return NULL;
}

static void event(struct worker *w, const struct dp_msg *m)
{
	if (!dp_msg_send(w->cfg.msg_out, m))
		STAT_ADD(w, events_dropped, 1);
}

static void handle_msg(struct worker *w, const struct dp_msg *m, uint64_t now_ms)
{
	struct dp_msg ev;
	int rc = 0;

	switch (m->type) {
	case DP_MSG_FLOW_ADD:
		rc = session_add(w->cfg.sessions, m->addr, m->port, m->peer_port, &m->u.exp,
				 now_ms);
		break;
	case DP_MSG_FLOW_UPDATE:
		rc = session_update(w->cfg.sessions, m->addr, m->port, &m->u.exp, now_ms);
		rc = rc < 0 ? rc : 0;
		break;
	case DP_MSG_FLOW_DEL:
		rc = session_del(w->cfg.sessions, m->addr, m->port);
		if (rc == 0) {
			memset(&ev, 0, sizeof(ev));
			ev.type = DP_EV_FREED;
			ev.addr = m->addr;
			ev.port = m->port;
			ev.id = m->id;
			ev.worker = (uint16_t)w->cfg.id;
			event(w, &ev);
		}
		break;
	case DP_MSG_NEIGH_UPDATE:
		neigh_upsert(w, m->u.neigh.ip, m->u.neigh.mac);
		break;
	default:
		rc = -EINVAL;
		break;
	}
	STAT_ADD(w, msgs, 1);
	if (rc)
		STAT_ADD(w, msg_errors, 1);
}

static void flow_event(struct worker *w, const struct session_flow *f, unsigned addr, uint8_t type,
		       uint32_t src_ip, uint16_t src_port, enum latch_comp comp,
		       enum latch_verdict v)
{
	struct dp_msg ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.addr = (uint8_t)addr;
	ev.port = f->port;
	ev.peer_port = f->peer_port;
	ev.worker = (uint16_t)w->cfg.id;
	ev.id = f->port;
	ev.generation = latch_generation(&f->latch);
	ev.u.ev.src.ip.family = AF_INET;
	ev.u.ev.src.ip.v4.s_addr = src_ip;
	ev.u.ev.src.port = src_port;
	ev.u.ev.comp = (uint8_t)comp;
	ev.u.ev.verdict = (uint8_t)v;
	event(w, &ev);
}

/* Incremental checksum update (RFC 1624 eqn. 3): HC' = ~(~HC + ~m + m') in ones' complement
 * arithmetic, one term per changed 16-bit word. Words are taken in the host's byte order straight
 * from the packet, which is fine because the ones' complement sum commutes with byte swapping
 * (RFC 1071 §2(B)); acc collects the ~m + m' terms. */
static inline uint32_t csum_delta16(uint32_t acc, uint16_t old, uint16_t new_)
{
	return acc + (uint16_t)~old + new_;
}

static inline uint32_t csum_delta32(uint32_t acc, uint32_t old, uint32_t new_)
{
	acc = csum_delta16(acc, (uint16_t)old, (uint16_t)new_);
	return csum_delta16(acc, (uint16_t)(old >> 16), (uint16_t)(new_ >> 16));
}

static inline uint16_t csum_apply(uint16_t hc, uint32_t acc)
{
	acc += (uint16_t)~hc;
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

static void drop(struct rte_mbuf *m)
{
	rte_pktmbuf_free(m);
}

/* The index of media address ip (network order), or -1 when it is none of ours: the first
 * address is compared at once, the others are found by their last byte (one lookup and one
 * comparison; a scan only when several addresses share a last byte). */
static inline int addr_index(const struct worker *w, uint32_t ip)
{
	int c;

	if (likely(ip == w->cfg.media_ip[0]))
		return 0;
	c = w->addr_by_low[((const uint8_t *)&ip)[3]];
	if (c >= 0)
		return w->cfg.media_ip[c] == ip ? c : -1;
	if (c == ADDR_SCAN)
		for (unsigned i = 1; i < w->cfg.n_media; i++)
			if (w->cfg.media_ip[i] == ip)
				return (int)i;
	return -1;
}

/* Whether dst is in the subnet of any media address. */
static bool on_link(const struct worker *w, uint32_t dst)
{
	for (unsigned i = 0; i < w->cfg.n_media; i++)
		if ((dst & w->cfg.netmask[i]) == (w->cfg.media_ip[i] & w->cfg.netmask[i]))
			return true;
	return false;
}

/* The Ethernet destination for dst: the MAC latched packets of that address came from, else the
 * next hop's from the neighbour table. NULL when unknown (control is asked to resolve it). */
static const uint8_t *dest_mac(struct worker *w, struct session_flow *peer, uint32_t dst,
			       uint64_t now_ms)
{
	uint32_t hop = dst;
	const uint8_t *mac;

	if (peer->has_mac && peer->mac_ip == dst)
		return peer->mac;
	if (w->cfg.gateway_ip && !on_link(w, dst))
		hop = w->cfg.gateway_ip;
	mac = neigh_lookup(w, hop);
	if (!mac && (uint32_t)now_ms - peer->last_event_ms >= EVENT_INTERVAL_MS) {
		struct dp_msg ev;

		peer->last_event_ms = (uint32_t)now_ms;
		memset(&ev, 0, sizeof(ev));
		ev.type = DP_EV_NEIGH_MISS;
		ev.worker = (uint16_t)w->cfg.id;
		ev.u.neigh.ip = hop;
		event(w, &ev);
	}
	return mac;
}

/* Rewrites addresses, TTL and ports towards the destination, with both checksums right (never an
 * offload: the lab's veths and af_packet do not complete partial checksums). The IPv4 header
 * checksum was verified by classify_frame, so it is updated incrementally (RFC 1624); so is the
 * UDP checksum when it was verified (udp_verified: in software or by the NIC) and present. A UDP
 * datagram that came without a checksum (0, RFC 768) gets a full one. */
static void rewrite_l3l4(struct rte_ipv4_hdr *ip, struct rte_udp_hdr *udp, uint32_t src_ip,
			 uint32_t dst_ip, uint16_t sport, uint16_t dport, bool udp_verified)
{
	uint16_t old_ttl, new_ttl;
	uint32_t acc;

	memcpy(&old_ttl, &ip->time_to_live, 2); /* TTL and protocol: one 16-bit word */
	ip->time_to_live = OUT_TTL;
	memcpy(&new_ttl, &ip->time_to_live, 2);
	acc = csum_delta32(0, ip->src_addr, src_ip);
	acc = csum_delta32(acc, ip->dst_addr, dst_ip);
	ip->hdr_checksum = csum_apply(ip->hdr_checksum, csum_delta16(acc, old_ttl, new_ttl));
	if (udp_verified && udp->dgram_cksum != 0) {
		uint16_t c;

		/* The pseudo header's addresses and the two ports change; the rest does not. */
		acc = csum_delta16(acc, udp->src_port, sport);
		acc = csum_delta16(acc, udp->dst_port, dport);
		c = csum_apply(udp->dgram_cksum, acc);
		ip->src_addr = src_ip;
		ip->dst_addr = dst_ip;
		udp->src_port = sport;
		udp->dst_port = dport;
		/* A computed 0 is sent as all ones: 0 means "no checksum" (RFC 768). */
		udp->dgram_cksum = c ? c : 0xffff;
		return;
	}
	ip->src_addr = src_ip;
	ip->dst_addr = dst_ip;
	udp->src_port = sport;
	udp->dst_port = dport;
	udp->dgram_cksum = 0;
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

static void relay_udp(struct worker *w, struct rte_mbuf *m, const struct classify_result *cr,
		      bool udp_verified, uint64_t now_ms)
{
	uint8_t *frame = rte_pktmbuf_mtod(m, uint8_t *);
	struct session_flow *f, *peer;
	enum latch_comp comp, lcomp, pcomp;
	enum classify_media media;
	enum latch_verdict v;
	uint32_t dst_ip;
	uint16_t dst_port;
	const uint8_t *mac;
	uint16_t out_port;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	uint32_t frame_len;
	int addr = addr_index(w, cr->dst_ip);

	if (unlikely(addr < 0)) {
		STAT_ADD(w, drop_not_ours, 1);
		drop(m);
		return;
	}
	f = session_lookup(w->cfg.sessions, (unsigned)addr, cr->dst_port, &comp);
	if (!f) {
		STAT_ADD(w, drop_no_flow, 1);
		drop(m);
		return;
	}
	/* The peer's entry is needed for every packet that gets through: fetch it while the
	 * payload is checked and the latch decides. */
	peer = session_lookup(w->cfg.sessions, (unsigned)addr, f->peer_port, &pcomp);
	if (peer)
		rte_prefetch0(peer);
	media = classify_media(frame + cr->payload_off, cr->payload_len);
	/* A relay without ICE answers no STUN, and STUN must never latch a source. */
	if (media == CLASSIFY_MEDIA_BAD || media == CLASSIFY_MEDIA_STUN) {
		STAT_ADD(w, drop_media, 1);
		session_counter_add32(&f->drops, 1);
		drop(m);
		return;
	}
	lcomp = comp;
	if (latch_flags(&f->latch) & LATCH_F_RTCP_MUX) {
		/* RFC 5761 §4: with rtcp-mux everything arrives on the RTP port; RTCP is told apart
		 * by its packet type. The RTCP port of the pair is not in use. */
		if (comp == LATCH_COMP_RTCP) {
			STAT_ADD(w, drop_no_flow, 1);
			drop(m);
			return;
		}
		lcomp = media == CLASSIFY_MEDIA_RTCP ? LATCH_COMP_RTCP : LATCH_COMP_RTP;
	}
	v = latch_check4(&f->latch, lcomp, cr->src_ip, cr->src_port, now_ms);
	if (unlikely(v != LATCH_ACCEPT)) {
		if (!latch_verdict_accepts(v)) {
			STAT_ADD(w, drop_latch[v], 1);
			session_counter_add32(&f->drops, 1);
			if ((uint32_t)now_ms - f->last_event_ms >= EVENT_INTERVAL_MS) {
				f->last_event_ms = (uint32_t)now_ms;
				flow_event(w, f, (unsigned)addr, DP_EV_REJECTED, cr->src_ip,
					   cr->src_port, lcomp, v);
			}
			drop(m);
			return;
		}
		/* Replies go back through the hop the latched packets came from. */
		memcpy(f->mac, frame + 6, 6);
		f->mac_ip = cr->src_ip;
		f->has_mac = true;
		flow_event(w, f, (unsigned)addr, DP_EV_LATCHED, cr->src_ip, cr->src_port, lcomp, v);
	}
	session_counter_add32(&f->pkts_in, 1);
	session_counter_add(&f->bytes_in, cr->payload_len);
	__atomic_store_n(&f->last_seen_ms, (uint32_t)now_ms, __ATOMIC_RELAXED);

	pcomp = lcomp;
	if (!peer || !latch_dest4(&peer->latch, pcomp, &dst_ip, &dst_port)) {
		STAT_ADD(w, drop_no_dest, 1);
		drop(m);
		return;
	}
	mac = dest_mac(w, peer, dst_ip, now_ms);
	if (!mac) {
		STAT_ADD(w, drop_no_neigh, 1);
		drop(m);
		return;
	}
	out_port = peer->port;
	if (pcomp == LATCH_COMP_RTCP && !(latch_flags(&peer->latch) & LATCH_F_RTCP_MUX))
		out_port++;

	/* Ethernet padding after the IP datagram is not sent on. */
	frame_len = (uint32_t)cr->l4_off + 8u + cr->payload_len;
	if (m->pkt_len > frame_len)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - frame_len));
	memcpy(frame, mac, 6);
	memcpy(frame + 6, w->cfg.media_mac, 6);
	ip = (struct rte_ipv4_hdr *)(frame + cr->l3_off);
	udp = (struct rte_udp_hdr *)(frame + cr->l4_off);
	/* Both legs of a stream are on one address: the packet leaves from the one it came to. */
	rewrite_l3l4(ip, udp, cr->dst_ip, dst_ip, rte_cpu_to_be_16(out_port),
		     rte_cpu_to_be_16(dst_port), udp_verified);
	m->ol_flags = 0;
	STAT_ADD(w, relayed, 1);
	STAT_ADD(w, tx, rte_eth_tx_buffer(w->cfg.port_id, w->cfg.tx_queue, w->txb, m));
}

static void to_control(struct worker *w, struct rte_mbuf *m, uint32_t dst_ip)
{
	if (addr_index(w, dst_ip) < 0) {
		STAT_ADD(w, drop_not_ours, 1);
		drop(m);
		return;
	}
	if (rte_ring_sp_enqueue(w->cfg.exc, m) != 0) {
		STAT_ADD(w, exc_dropped, 1);
		drop(m);
		return;
	}
	STAT_ADD(w, exc, 1);
}

unsigned worker_poll(struct worker *w, uint64_t now_ms)
{
	struct dp_msg msgs[WORKER_MSG_BURST];
	struct rte_mbuf *pkts[WORKER_BURST];
	unsigned nmsg, nrx;

	STAT_ADD(w, polls, 1);
	nmsg = dp_msg_recv(w->cfg.msg_in, msgs, WORKER_MSG_BURST);
	for (unsigned i = 0; i < nmsg; i++)
		handle_msg(w, &msgs[i], now_ms);

	if (w->cfg.tx_in) {
		unsigned n =
			rte_ring_sc_dequeue_burst(w->cfg.tx_in, (void **)pkts, WORKER_BURST, NULL);

		for (unsigned i = 0; i < n; i++)
			STAT_ADD(w, tx,
				 rte_eth_tx_buffer(w->cfg.port_id, w->cfg.tx_queue, w->txb,
						   pkts[i]));
		if (n)
			STAT_ADD(w, ctl_tx, n);
		nmsg += n;
	}
	nrx = rte_eth_rx_burst(w->cfg.port_id, w->cfg.rx_queue, pkts, WORKER_BURST);
	if (nrx)
		STAT_ADD(w, rx, nrx);
	if (nrx > 0)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[0], void *));
	if (nrx > 1)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[1], void *));
	for (unsigned i = 0; i < nrx; i++) {
		struct rte_mbuf *m = pkts[i];
		struct classify_result cr;
		uint32_t flags = 0;
		bool nic_good;

		/* Two packets ahead: its headers. One ahead: its flow entry, found by the UDP
		 * destination port where it is for a plain IPv4 header (a hint only: classify
		 * decides later what the frame really is). */
		if (i + 2 < nrx)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2], void *));
		if (i + 1 < nrx && pkts[i + 1]->data_len >= 38) {
			const uint8_t *nf = rte_pktmbuf_mtod(pkts[i + 1], const uint8_t *);

			if (nf[12] == 0x08 && nf[13] == 0x00 && nf[14] == 0x45) {
				uint32_t dip;
				int a;

				memcpy(&dip, nf + 30, 4);
				a = addr_index(w, dip);
				if (a >= 0)
					session_prefetch(w->cfg.sessions, (unsigned)a,
							 (uint16_t)(nf[36] << 8 | nf[37]));
			}
		}
		if (m->nb_segs != 1) {
			STAT_ADD(w, drop_multiseg, 1);
			drop(m);
			continue;
		}
		nic_good =
			(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		if (w->cfg.sw_udp_csum && !nic_good)
			flags |= CLASSIFY_F_UDP_CSUM;
		switch (classify_frame(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, flags,
				       &cr)) {
		case CLASSIFY_UDP4:
			relay_udp(w, m, &cr, nic_good || (flags & CLASSIFY_F_UDP_CSUM), now_ms);
			break;
		case CLASSIFY_ARP:
		case CLASSIFY_ICMP4:
			to_control(w, m, cr.dst_ip);
			break;
		default:
			STAT_ADD(w, drop_classify[cr.drop < CLASSIFY_DROP_COUNT ? cr.drop : 0], 1);
			drop(m);
			break;
		}
	}
	return nmsg + nrx;
}
