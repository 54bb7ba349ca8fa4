/* exception: ARP and ICMP echo for the media addresses, and next-hop resolution (control lcore). */
#include "exception.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "neigh.h"

struct exception {
	struct exception_cfg cfg;
	struct neigh_table *nt;
	struct exception_stats stats;
};

struct exception *exception_new(const struct exception_cfg *cfg)
{
	struct exception *ex;

	if (cfg->n_media == 0 || cfg->n_media > SESSION_MAX_ADDRS) {
		errno = EINVAL;
		return NULL;
	}
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return NULL;
	ex->cfg = *cfg;
	ex->nt = neigh_new(cfg->neigh_cap ? cfg->neigh_cap : 256);
	if (!ex->nt) {
		free(ex);
		return NULL;
	}
	return ex;
}

void exception_free(struct exception *ex)
{
	if (!ex)
		return;
	neigh_free(ex->nt);
	free(ex);
}

static void send_frame(struct exception *ex, struct rte_mbuf *m)
{
	if (rte_ring_sp_enqueue(ex->cfg.tx_ring, m) != 0) {
		ex->stats.tx_failed++;
		rte_pktmbuf_free(m);
	}
}

static bool is_ours(const struct exception *ex, uint32_t ip)
{
	for (unsigned i = 0; i < ex->cfg.n_media; i++)
		if (ex->cfg.media_ip[i] == ip)
			return true;
	return false;
}

static void learned(struct exception *ex, uint32_t ip, const uint8_t *mac, bool create,
		    uint64_t now_ms)
{
	if (ip == 0 || is_ours(ex, ip))
		return;
	if (neigh_learn(ex->nt, ip, mac, create, now_ms)) {
		ex->stats.arp_learned++;
		if (ex->cfg.on_neigh)
			ex->cfg.on_neigh(ex->cfg.arg, ip, mac);
	}
}

static void arp_input(struct exception *ex, struct rte_mbuf *m, uint64_t now_ms)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	struct rte_arp_ipv4 *a = &arp->arp_data;
	uint32_t sip = a->arp_sip, tip = a->arp_tip;

	if (!is_ours(ex, tip)) {
		ex->stats.ignored++;
		rte_pktmbuf_free(m);
		return;
	}
	/* RFC 826 "merge": we are the target, so the sender's mapping is worth keeping. */
	learned(ex, sip, a->arp_sha.addr_bytes, true, now_ms);
	if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
		rte_pktmbuf_free(m);
		return;
	}
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	a->arp_tha = a->arp_sha;
	a->arp_tip = sip;
	memcpy(a->arp_sha.addr_bytes, ex->cfg.media_mac, 6);
	a->arp_sip = tip;
	eth->dst_addr = eth->src_addr;
	memcpy(eth->src_addr.addr_bytes, ex->cfg.media_mac, 6);
	ex->stats.arp_replied++;
	send_frame(ex, m);
}

/* RFC 792 echo: the reply carries the request's identifier, sequence and data. */
static void icmp_input(struct exception *ex, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	size_t hlen = rte_ipv4_hdr_len(ip);
	size_t tot = rte_be_to_cpu_16(ip->total_length);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + hlen);
	uint32_t tmp;

	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0 ||
	    !is_ours(ex, ip->dst_addr)) {
		ex->stats.ignored++;
		rte_pktmbuf_free(m);
		return;
	}
	if (m->pkt_len > sizeof(*eth) + tot)
		rte_pktmbuf_trim(m, (uint16_t)(m->pkt_len - sizeof(*eth) - tot));
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, tot - hlen);
	tmp = ip->src_addr;
	ip->src_addr = ip->dst_addr; /* the media address it was sent to */
	ip->dst_addr = tmp;
	ip->time_to_live = 64;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	eth->dst_addr = eth->src_addr;
	memcpy(eth->src_addr.addr_bytes, ex->cfg.media_mac, 6);
	ex->stats.icmp_replied++;
	send_frame(ex, m);
}

void exception_input(struct exception *ex, struct rte_mbuf *m, uint64_t now_ms)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		arp_input(ex, m, now_ms);
	else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		icmp_input(ex, m);
	else {
		ex->stats.ignored++;
		rte_pktmbuf_free(m);
	}
}

static void arp_request(void *arg, uint32_t ip)
{
	struct exception *ex = arg;
	struct rte_mbuf *m = rte_pktmbuf_alloc(ex->cfg.mp);
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	uint32_t sip = ex->cfg.media_ip[0];

	for (unsigned i = 0; i < ex->cfg.n_media; i++) {
		if ((ip & ex->cfg.netmask[i]) == (ex->cfg.media_ip[i] & ex->cfg.netmask[i])) {
			sip = ex->cfg.media_ip[i];
			break;
		}
	}
	if (!m) {
		ex->stats.tx_failed++;
		return;
	}
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(*arp));
	if (!eth) {
		ex->stats.tx_failed++;
		rte_pktmbuf_free(m);
		return;
	}
	arp = (struct rte_arp_hdr *)(eth + 1);
	memset(eth->dst_addr.addr_bytes, 0xff, 6);
	memcpy(eth->src_addr.addr_bytes, ex->cfg.media_mac, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	memcpy(arp->arp_data.arp_sha.addr_bytes, ex->cfg.media_mac, 6);
	arp->arp_data.arp_sip = sip;
	memset(arp->arp_data.arp_tha.addr_bytes, 0, 6);
	arp->arp_data.arp_tip = ip;
	ex->stats.arp_requests++;
	send_frame(ex, m);
}

void exception_resolve(struct exception *ex, uint32_t ip, uint64_t now_ms)
{
	uint8_t mac[6];

	if (neigh_lookup(ex->nt, ip, mac)) {
		if (ex->cfg.on_neigh)
			ex->cfg.on_neigh(ex->cfg.arg, ip, mac);
		return;
	}
	if (neigh_resolve(ex->nt, ip, now_ms))
		arp_request(ex, ip);
}

void exception_timer(struct exception *ex, uint64_t now_ms)
{
	neigh_timer(ex->nt, now_ms, arp_request, ex);
}

bool exception_neigh_lookup(const struct exception *ex, uint32_t ip, uint8_t mac[6])
{
	return neigh_lookup(ex->nt, ip, mac);
}

void exception_stats_read(const struct exception *ex, struct exception_stats *out)
{
	*out = ex->stats;
}
