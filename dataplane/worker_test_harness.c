/* worker_test_harness: the EAL, ring port, worker and exception set-up shared by worker_test and
 * worker_addr_test, and the helpers that craft frames, drive the worker and check what it sends.
 * The worker owns two media addresses, 192.0.2.1 (index 0) and 192.0.2.2 (index 1). */
#include "worker_test_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <ftw.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include "port.h"

const uint8_t MAC_US[6] = {0x02, 0, 0, 0, 0, 0x01};
const uint8_t MAC_GW[6] = {0x02, 0, 0, 0, 0, 0xfe};
const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x50};
const uint8_t MAC_X[6] = {0x02, 0, 0, 0, 0, 0x77};

struct t T;

uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return a.s_addr;
}

/* Our own RFC 1071 checksum, independent of DPDK's and classify.c's. */
uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i < len; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint16_t udp_csum(const uint8_t *f)
{
	const uint8_t *u = f + 34;
	uint16_t ulen = get16(u + 4);
	uint32_t pseudo = 0;

	for (int i = 0; i < 8; i += 2)
		pseudo += (uint32_t)(f[26 + i] << 8 | f[27 + i]);
	pseudo += 17 + ulen;
	return ref_csum(u, ulen, pseudo);
}

/* Ethernet + IPv4 + UDP from smac/sip:sport to dip:dport with all checksums right. */
size_t build_udp_to(uint8_t *f, const uint8_t *smac, const char *sip, uint16_t sport,
		    const char *dip, uint16_t dport, const uint8_t *payload, size_t plen)
{
	uint8_t *ip = f + 14, *u = f + 34;
	uint32_t s = ip4(sip), d = ip4(dip);
	uint16_t c;

	memcpy(f, MAC_US, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(28 + plen));
	put16(ip + 4, 0x1234);
	ip[8] = 61;
	ip[9] = 17;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, ref_csum(ip, 20, 0));
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + plen));
	put16(u + 6, 0);
	memcpy(u + 8, payload, plen);
	c = udp_csum(f);
	put16(u + 6, c ? c : 0xffff);
	return 42 + plen;
}

size_t build_udp(uint8_t *f, const uint8_t *smac, const char *sip, uint16_t sport, uint16_t dport,
		 const uint8_t *payload, size_t plen)
{
	return build_udp_to(f, smac, sip, sport, "192.0.2.1", dport, payload, plen);
}

/* An ARP packet (op 1: request, 2: reply) from smac/sip about tip, sent to dmac, which is also the
 * target hardware address of a reply (a request's is zero): 42 bytes. */
size_t arp_frame(uint8_t *f, uint16_t op, const uint8_t *smac, const char *sip, const uint8_t *dmac,
		 const char *tip)
{
	uint32_t s = ip4(sip), t = ip4(tip);

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, op);
	memcpy(f + 22, smac, 6);
	memcpy(f + 28, &s, 4);
	if (op == 1)
		memset(f + 32, 0, 6);
	else
		memcpy(f + 32, dmac, 6);
	memcpy(f + 38, &t, 4);
	return 42;
}

/* Who has target? from 192.0.2.77 (MAC_X), broadcast, padded to the Ethernet minimum. */
size_t arp_request(uint8_t *f, const char *target)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	arp_frame(f, 1, MAC_X, "192.0.2.77", bcast, target);
	memset(f + 42, 0, 18);
	return 60;
}

/* ICMP echo request from 192.0.2.77 (MAC_X) to dst: identifier 0x4242, sequence seq, data of
 * dlen bytes (odd lengths too), both checksums right. */
size_t icmp_echo(uint8_t *f, const char *dst, uint16_t seq, const char *data, size_t dlen)
{
	uint8_t *ip = f + 14, *ic = f + 34;
	uint32_t s = ip4("192.0.2.77"), d = ip4(dst);

	memcpy(f, MAC_US, 6);
	memcpy(f + 6, MAC_X, 6);
	put16(f + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + dlen));
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	put16(ip + 10, ref_csum(ip, 20, 0));
	ic[0] = 8;
	ic[1] = 0;
	put16(ic + 2, 0);
	put16(ic + 4, 0x4242);
	put16(ic + 6, seq);
	memcpy(ic + 8, data, dlen);
	put16(ic + 2, ref_csum(ic, 8 + dlen, 0));
	return 14 + 20 + 8 + dlen;
}

size_t rtp(uint8_t *p, uint16_t seq)
{
	memset(p, 0xd5, 172);
	p[0] = 0x80;
	p[1] = 0;
	put16(p + 2, seq);
	memset(p + 4, 0, 8);
	p[11] = 7;
	return 172;
}

/* An RTCP receiver report without report blocks (RFC 3550 §6.4.2). */
size_t rtcp(uint8_t *p)
{
	static const uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0, 7};

	memcpy(p, rr, sizeof(rr));
	return sizeof(rr);
}

void inject(const uint8_t *f, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(T.mp);
	char *d;

	assert_non_null(m);
	d = rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(d);
	memcpy(d, f, len);
	assert_int_equal(rte_ring_enqueue(T.rx, m), 0);
}

void on_neigh(void *arg, uint32_t ip, const uint8_t mac[6])
{
	struct t *t = arg;
	struct dp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DP_MSG_NEIGH_UPDATE;
	m.u.neigh.ip = ip;
	memcpy(m.u.neigh.mac, mac, 6);
	assert_true(dp_msg_send(t->ch.to_worker, &m));
}

/* What the control lcore does between worker iterations: exceptions and events. */
void control(void)
{
	struct rte_mbuf *m;
	struct dp_msg ev[32];
	unsigned n;

	while (rte_ring_dequeue(T.exc, (void **)&m) == 0)
		exception_input(T.ex, m, T.now);
	n = dp_msg_recv(T.ch.to_control, ev, 32);
	for (unsigned i = 0; i < n; i++) {
		switch (ev[i].type) {
		case DP_EV_LATCHED:
			T.latched++;
			T.last_latched = ev[i];
			break;
		case DP_EV_REJECTED:
			T.rejected++;
			break;
		case DP_EV_FREED:
			T.freed++;
			break;
		case DP_EV_NEIGH_MISS:
			exception_resolve(T.ex, ev[i].u.neigh.ip, T.now);
			break;
		default:
			fail_msg("unexpected event %u", ev[i].type);
		}
	}
}

void pump(void)
{
	T.now += 10;
	for (int i = 0; i < 3; i++) {
		worker_poll(T.w, T.now);
		worker_flush(T.w);
		control();
	}
}

/* Takes the next frame the port sent into buf; returns its length or 0 when none. */
size_t take(uint8_t *buf)
{
	struct rte_mbuf *m;
	size_t len;

	if (rte_ring_dequeue(T.tx, (void **)&m) != 0)
		return 0;
	assert_int_equal(m->nb_segs, 1);
	len = m->pkt_len;
	memcpy(buf, rte_pktmbuf_mtod(m, void *), len);
	rte_pktmbuf_free(m);
	return len;
}

unsigned pending(void)
{
	return rte_ring_count(T.tx);
}

void flush_all(void)
{
	uint8_t buf[2048];

	while (take(buf))
		;
}

/* Checks a relayed frame (sent from our address sip): Ethernet, addresses, ports, TTL, both checksums, the payload intact. */
void check_relayed_from(const uint8_t *f, size_t len, const char *sip, const uint8_t *dmac,
			const char *dip, uint16_t sport, uint16_t dport, const uint8_t *payload,
			size_t plen)
{
	uint32_t s = ip4(sip), d = ip4(dip);

	assert_int_equal(len, 42 + plen);
	assert_memory_equal(f, dmac, 6);
	assert_memory_equal(f + 6, MAC_US, 6);
	assert_int_equal(get16(f + 12), 0x0800);
	assert_memory_equal(f + 26, &s, 4);
	assert_memory_equal(f + 30, &d, 4);
	assert_int_equal(f[22], 64);
	assert_int_equal(ref_csum(f + 14, 20, 0), 0);
	assert_int_equal(get16(f + 34), sport);
	assert_int_equal(get16(f + 36), dport);
	assert_int_equal(get16(f + 38), 8 + plen);
	assert_int_not_equal(get16(f + 40), 0);
	assert_int_equal(udp_csum(f), 0);
	assert_memory_equal(f + 42, payload, plen);
}

void check_relayed(const uint8_t *f, size_t len, const uint8_t *dmac, const char *dip,
		   uint16_t sport, uint16_t dport, const uint8_t *payload, size_t plen)
{
	check_relayed_from(f, len, "192.0.2.1", dmac, dip, sport, dport, payload, plen);
}

void expect_leg(struct latch_expect *e, const char *ip, uint16_t rtp_port, uint8_t origin,
		uint32_t flags)
{
	memset(e, 0, sizeof(*e));
	e->addr.family = AF_INET;
	e->addr.v4.s_addr = ip4(ip);
	e->rtp_port = rtp_port;
	e->origin = origin;
	e->flags = flags;
}

void add_flow_on(unsigned addr, uint16_t port, uint16_t peer, uint32_t id,
		 const struct latch_expect *e)
{
	struct dp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DP_MSG_FLOW_ADD;
	m.addr = (uint8_t)addr;
	m.port = port;
	m.peer_port = peer;
	m.id = id;
	m.u.exp = *e;
	assert_true(dp_msg_send(T.ch.to_worker, &m));
}

void add_flow(uint16_t port, uint16_t peer, uint32_t id, const struct latch_expect *e)
{
	add_flow_on(0, port, peer, id, e);
}

void del_flow_on(unsigned addr, uint16_t port, uint32_t id)
{
	struct dp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DP_MSG_FLOW_DEL;
	m.addr = (uint8_t)addr;
	m.port = port;
	m.id = id;
	assert_true(dp_msg_send(T.ch.to_worker, &m));
}

void del_flow(uint16_t port, uint32_t id)
{
	del_flow_on(0, port, id);
}

void add_call(uint16_t pa, uint16_t pb, uint32_t flags)
{
	struct latch_expect ea, eb;

	expect_leg(&ea, "203.0.113.9", 27910, LATCH_ORIGIN_SIP_SOURCE, flags);
	expect_leg(&eb, "192.0.2.50", 40000, LATCH_ORIGIN_SDP, flags);
	add_flow(pa, pb, pa, &ea);
	add_flow(pb, pa, pb, &eb);
	pump();
}
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup_runtime(void)
{
	char dir[128];

	if (!T.prefix[0])
		return;
	snprintf(dir, sizeof(dir), "/var/run/dpdk/%s", T.prefix);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int setup_fail(int line)
{
	fprintf(stderr, "worker test harness: set-up failed at line %d: %s\n", line,
		rte_strerror(rte_errno));
	return -1;
}

int wt_setup(void **state)
{
	char pfx[96];
	char *argv[] = {"worker_test", "--no-huge",	    "-m", "256", "--no-pci", pfx, "-l",
			"0",	       "--log-level=error", NULL};
	struct port_rss rss;
	struct worker_cfg wc;
	struct exception_cfg ec;
	int rc;

	(void)state;
	snprintf(T.prefix, sizeof(T.prefix), "dp_worker_test_%d", (int)getpid());
	snprintf(pfx, sizeof(pfx), "--file-prefix=%s", T.prefix);
	atexit(cleanup_runtime);
	if (rte_eal_init(9, argv) < 0)
		return setup_fail(__LINE__);
	T.mp = port_mempool_new("wt_mp", 2047, 0);
	T.rx = rte_ring_create("wt_rx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	T.tx = rte_ring_create("wt_tx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	T.exc = rte_ring_create("wt_exc", 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	T.ctl_tx = rte_ring_create("wt_ctltx", 256, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!T.mp || !T.rx || !T.tx || !T.exc || !T.ctl_tx)
		return setup_fail(__LINE__);
	rc = rte_eth_from_rings("wt_port", &T.rx, 1, &T.tx, 1, 0);
	if (rc < 0)
		return setup_fail(__LINE__);
	T.port = (uint16_t)rc;
	if (port_setup(T.port, 1, T.mp, &rss) != 0 || rss.enabled)
		return setup_fail(__LINE__);
	if (dp_chan_init(&T.ch, "wt", 0, 256, 0) != 0)
		return setup_fail(__LINE__);
	T.st = session_table_new(2, 30000, 30099);
	memset(&wc, 0, sizeof(wc));
	wc.port_id = T.port;
	wc.rx_queue = 0;
	wc.tx_queue = 0;
	wc.msg_in = T.ch.to_worker;
	wc.msg_out = T.ch.to_control;
	wc.exc = T.exc;
	wc.tx_in = T.ctl_tx;
	wc.sessions = T.st;
	wc.n_media = 2;
	wc.media_ip[0] = ip4("192.0.2.1");
	wc.media_ip[1] = ip4("192.0.2.2");
	memcpy(wc.media_mac, MAC_US, 6);
	wc.gateway_ip = ip4("192.0.2.254");
	wc.netmask[0] = wc.netmask[1] = ip4("255.255.255.0");
	wc.sw_udp_csum = true;
	T.w = worker_new(&wc);
	memset(&ec, 0, sizeof(ec));
	ec.tx_ring = T.ctl_tx;
	ec.n_media = wc.n_media;
	memcpy(ec.media_ip, wc.media_ip, sizeof(ec.media_ip));
	memcpy(ec.netmask, wc.netmask, sizeof(ec.netmask));
	memcpy(ec.media_mac, MAC_US, 6);
	ec.mp = T.mp;
	ec.on_neigh = on_neigh;
	ec.arg = &T;
	T.ex = exception_new(&ec);
	if (!T.st || !T.w || !T.ex)
		return setup_fail(__LINE__);
	T.now = 1000000;
	/* The gateway is known (A's media comes through it); B is resolved by ARP in the test. */
	on_neigh(&T, ip4("192.0.2.254"), MAC_GW);
	return 0;
}

int wt_teardown(void **state)
{
	(void)state;
	flush_all();
	worker_free(T.w);
	exception_free(T.ex);
	session_table_free(T.st);
	port_close(T.port);
	dp_chan_free(&T.ch);
	rte_eal_cleanup();
	cleanup_runtime();
	return 0;
}