/* worker_test: the relay path on in-process ring ports (rte_eth_from_rings() with separate rx and
 * tx rings): crafted frames in, what comes out checked byte by byte. Needs root for the EAL. The
 * set-up and helpers are in worker_test_harness.c; several media addresses: worker_addr_test.c. */
#include <stdio.h>
#include <unistd.h>

#include <rte_mbuf.h>

#include "worker_test_harness.h"

static void test_relay_both_ways(void **state)
{
	uint8_t f[2048], out[2048], pl[256];
	size_t len, plen;
	struct worker_stats ws;
	struct session_flow_stats fs;

	(void)state;
	add_call(30000, 30002, 0);
	assert_int_equal(session_count(T.st), 2);

	/* A's first packet latches its NAT port; B's MAC is not known yet: ARP for it. */
	plen = rtp(pl, 1);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 52500, 30000, pl, plen));
	pump();
	assert_int_equal(T.latched, 1);
	assert_int_equal(T.last_latched.port, 30000);
	assert_int_equal(T.last_latched.u.ev.src.port, 52500);
	/* Only the ARP request went out (sent by the worker for control), not the media. */
	assert_int_equal(pending(), 1);
	len = take(out);
	assert_int_equal(len, 42);
	assert_memory_equal(out, "\xff\xff\xff\xff\xff\xff", 6);
	assert_int_equal(get16(out + 12), 0x0806);
	assert_int_equal(get16(out + 20), 1);
	assert_memory_equal(out + 38, (uint32_t[]){ip4("192.0.2.50")}, 4);

	/* B answers the ARP request; now A's media reaches B from relay port 30002. */
	inject(f, arp_frame(f, 2, MAC_B, "192.0.2.50", MAC_US, "192.0.2.1"));
	pump();
	plen = rtp(pl, 2);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 52500, 30000, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_B, "192.0.2.50", 30002, 40000, pl, plen);

	/* B to A: from 30000 to A's latched NAT port, through the MAC A's packets came from. */
	plen = rtp(pl, 100);
	inject(f, build_udp(f, MAC_B, "192.0.2.50", 40000, 30002, pl, plen));
	pump();
	assert_int_equal(T.latched, 2);
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30000, 52500, pl, plen);

	/* RTCP on port + 1, each direction latching its own NAT port. */
	plen = rtcp(pl);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 52501, 30001, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_B, "192.0.2.50", 30003, 40001, pl, plen);
	inject(f, build_udp(f, MAC_B, "192.0.2.50", 40001, 30003, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30001, 52501, pl, plen);
	assert_int_equal(T.latched, 4);

	/* Ethernet padding after the datagram is not relayed. */
	plen = rtcp(pl);
	len = build_udp(f, MAC_B, "192.0.2.50", 40001, 30003, pl, plen);
	memset(f + len, 0, 10);
	inject(f, len + 10);
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30001, 52501, pl, plen);

	assert_int_equal(session_flow_read(T.st, 0, 30000, T.now, &fs), 0);
	assert_int_equal(fs.pkts_in, 3);
	assert_true(fs.last_seen_ms > 1000000 && fs.last_seen_ms < T.now);
	worker_stats_read(T.w, &ws);
	assert_int_equal(ws.relayed, 5);
	assert_int_equal(ws.drop_no_neigh, 1);
	assert_int_equal(pending(), 0);

	del_flow(30000, 30000);
	del_flow(30002, 30002);
	pump();
	assert_int_equal(T.freed, 2);
	assert_int_equal(session_count(T.st), 0);
	/* After delete nothing is relayed. */
	plen = rtp(pl, 3);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 52500, 30000, pl, plen));
	pump();
	assert_int_equal(pending(), 0);
	worker_stats_read(T.w, &ws);
	assert_int_equal(ws.drop_no_flow, 1);
}

/* Adds v to the 16-bit word at p in ones' complement arithmetic (RFC 1071). */
static void add16(uint8_t *p, uint16_t v)
{
	uint32_t x = (uint32_t)get16(p) + v;

	put16(p, (uint16_t)((x & 0xffff) + (x >> 16)));
}

/* Changes pl so that the UDP datagram from sip:sport to 192.0.2.1:dport carrying it sums to all
 * ones without its checksum field, i.e. its computed checksum is 0 and goes out as 0xffff
 * (RFC 768). The sum does not depend on which address or port is the source, so the relayed
 * datagram between the same two endpoints has the same property. */
static void zero_sum_payload(uint8_t *pl, size_t plen, const char *sip, uint16_t sport,
			     uint16_t dport)
{
	uint8_t f[2048];

	build_udp(f, MAC_GW, sip, sport, dport, pl, plen);
	put16(f + 40, 0);
	add16(pl + 20, udp_csum(f));
	build_udp(f, MAC_GW, sip, sport, dport, pl, plen);
	assert_int_equal(get16(f + 40), 0xffff);
}

/* The UDP checksum is updated incrementally (RFC 1624) from a verified input checksum: a result
 * of 0 is sent as 0xffff, an input checksum of 0xffff (a computed 0) is a valid start, and a
 * datagram without a checksum (0) gets a full one. */
static void test_udp_checksum_edges(void **state)
{
	uint8_t f[2048], out[2048], pl[256];
	size_t len, plen;

	(void)state;
	add_call(30000, 30002, 0);
	plen = rtp(pl, 1);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 52500, 30000, pl, plen));
	pump();
	flush_all(); /* A latched; the ARP request for B */
	plen = rtp(pl, 100);
	inject(f, build_udp(f, MAC_B, "192.0.2.50", 40000, 30002, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30000, 52500, pl, plen);

	/* The relayed datagram (192.0.2.1:30000 -> 203.0.113.9:52500) sums to zero. */
	plen = rtp(pl, 101);
	zero_sum_payload(pl, plen, "203.0.113.9", 52500, 30000);
	inject(f, build_udp(f, MAC_B, "192.0.2.50", 40000, 30002, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30000, 52500, pl, plen);
	assert_int_equal(get16(out + 40), 0xffff);

	/* The received datagram sums to zero: its checksum field is 0xffff. */
	plen = rtp(pl, 102);
	zero_sum_payload(pl, plen, "192.0.2.50", 40000, 30002);
	len = build_udp(f, MAC_B, "192.0.2.50", 40000, 30002, pl, plen);
	assert_int_equal(get16(f + 40), 0xffff);
	inject(f, len);
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30000, 52500, pl, plen);

	/* No checksum at all on input. */
	plen = rtp(pl, 103);
	len = build_udp(f, MAC_B, "192.0.2.50", 40000, 30002, pl, plen);
	put16(f + 40, 0);
	inject(f, len);
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30000, 52500, pl, plen);

	del_flow(30000, 30000);
	del_flow(30002, 30002);
	pump();
	flush_all();
}

static void test_stranger(void **state)
{
	uint8_t f[2048], out[2048], pl[256];
	size_t len, plen = rtp(pl, 1);
	struct worker_stats before, after;

	(void)state;
	flush_all();
	add_call(30010, 30012, 0);
	worker_stats_read(T.w, &before);
	/* Before A latched: a stranger guessing the relay port gets nothing through, and does not
	 * latch (RTP bleed). */
	inject(f, build_udp(f, MAC_X, "198.51.100.7", 4444, 30010, pl, plen));
	inject(f, build_udp(f, MAC_X, "198.51.100.7", 4445, 30011, pl, plen));
	pump();
	assert_int_equal(pending(), 0);
	assert_int_equal(T.rejected, 1);
	/* A latches. */
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 40001, 30010, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_B, "192.0.2.50", 30012, 40000, pl, plen);
	/* After: a stranger, and A's own address with another port (a neighbour behind the same NAT),
	 * are dropped; the stranger spoofing B's address but a wrong port too. */
	inject(f, build_udp(f, MAC_X, "198.51.100.7", 4444, 30010, pl, plen));
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 40003, 30010, pl, plen));
	inject(f, build_udp(f, MAC_X, "192.0.2.50", 40002, 30012, pl, plen));
	pump();
	/* The third one is B's address, which B's leg trusts (its SDP address, not NAT'd): it latches
	 * B with port 40002, as the rules say, and goes to A. */
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30010, 40001, pl, plen);
	assert_int_equal(pending(), 0);
	worker_stats_read(T.w, &after);
	assert_int_equal(
		after.drop_latch[LATCH_DROP_STRANGER] - before.drop_latch[LATCH_DROP_STRANGER], 3);
	assert_int_equal(after.drop_latch[LATCH_DROP_PORT] - before.drop_latch[LATCH_DROP_PORT], 1);
	/* Once B latched to 40002, B's SDP port 40000 is a different source: dropped. */
	inject(f, build_udp(f, MAC_B, "192.0.2.50", 40000, 30012, pl, plen));
	pump();
	assert_int_equal(pending(), 0);
	del_flow(30010, 30010);
	del_flow(30012, 30012);
	pump();
}

static void test_rtcp_mux(void **state)
{
	uint8_t f[2048], out[2048], pl[256];
	size_t len, plen;

	(void)state;
	flush_all();
	add_call(30020, 30022, LATCH_F_RTCP_MUX);
	plen = rtp(pl, 1);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 50000, 30020, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_B, "192.0.2.50", 30022, 40000, pl, plen);
	/* RTCP on the RTP port (RFC 5761) goes to B's RTP port too. */
	plen = rtcp(pl);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 50000, 30020, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_B, "192.0.2.50", 30022, 40000, pl, plen);
	/* RTCP from another port of A's address is not accepted: mux means one source. */
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 50001, 30020, pl, plen));
	/* The RTCP port of a muxed pair is not in use. */
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 50000, 30021, pl, plen));
	pump();
	assert_int_equal(pending(), 0);
	plen = rtcp(pl);
	inject(f, build_udp(f, MAC_B, "192.0.2.50", 40000, 30022, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "203.0.113.9", 30020, 50000, pl, plen);
	del_flow(30020, 30020);
	del_flow(30022, 30022);
	pump();
}

static void test_malformed(void **state)
{
	uint8_t f[2048], pl[256];
	size_t len, plen = rtp(pl, 1);
	struct worker_stats before, after;
	unsigned latched = T.latched;

	(void)state;
	flush_all();
	add_call(30030, 30032, 0);
	worker_stats_read(T.w, &before);
	/* IP header checksum wrong. */
	len = build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, plen);
	f[24] ^= 1;
	inject(f, len);
	/* UDP checksum wrong. */
	len = build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, plen);
	f[60] ^= 0x55;
	inject(f, len);
	/* Truncated inside the UDP header. */
	len = build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, plen);
	inject(f, 38);
	/* A fragment. */
	len = build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, plen);
	put16(f + 20, 0x2000);
	put16(f + 24, 0);
	put16(f + 24, ref_csum(f + 14, 20, 0));
	inject(f, len);
	/* UDP length larger than the datagram. */
	len = build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, plen);
	put16(f + 38, (uint16_t)(get16(f + 38) + 4));
	inject(f, len);
	/* RTP shorter than its fixed header, and one whose CSRC count runs past the end: must not
	 * latch either. */
	pl[0] = 0x80;
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, 5));
	pl[0] = 0x8f;
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, 20));
	/* A short Ethernet frame and an IPv6 one. */
	inject(f, 10);
	len = build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, plen);
	put16(f + 12, 0x86dd);
	inject(f, len);
	/* To a port with no session, and to another address. */
	plen = rtp(pl, 1);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 50000, 30090, pl, plen));
	len = build_udp(f, MAC_GW, "203.0.113.9", 50000, 30030, pl, plen);
	{
		uint32_t other = ip4("192.0.2.3"); /* not one of ours */

		memcpy(f + 30, &other, 4);
		put16(f + 24, 0);
		put16(f + 24, ref_csum(f + 14, 20, 0));
		put16(f + 40, 0); /* no UDP checksum (RFC 768) */
	}
	inject(f, len);
	pump();
	assert_int_equal(pending(), 0);
	assert_int_equal(T.latched, latched); /* nothing latched */
	worker_stats_read(T.w, &after);
#define D(x) (after.x - before.x)
	assert_int_equal(D(drop_classify[CLASSIFY_DROP_IP_CSUM]), 1);
	assert_int_equal(D(drop_classify[CLASSIFY_DROP_UDP_CSUM]), 1);
	assert_int_equal(D(drop_classify[CLASSIFY_DROP_IP_FRAGMENT]), 1);
	assert_int_equal(D(drop_classify[CLASSIFY_DROP_UDP_LEN]) +
				 D(drop_classify[CLASSIFY_DROP_IP_TOTLEN]) +
				 D(drop_classify[CLASSIFY_DROP_UDP_SHORT]),
			 2);
	assert_int_equal(D(drop_classify[CLASSIFY_DROP_ETH_SHORT]), 1);
	assert_int_equal(D(drop_classify[CLASSIFY_DROP_ETH_TYPE]), 1);
	assert_int_equal(D(drop_media), 2);
	assert_int_equal(D(drop_no_flow), 1);
	assert_int_equal(D(drop_not_ours), 1);
	assert_int_equal(D(relayed), 0);
#undef D
	del_flow(30030, 30030);
	del_flow(30032, 30032);
	pump();
}

static void update_flow(uint16_t port, const struct latch_expect *e)
{
	struct dp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DP_MSG_FLOW_UPDATE;
	m.port = port;
	m.u.exp = *e;
	assert_true(dp_msg_send(T.ch.to_worker, &m));
}

/* A re-INVITE moves A to another public address: learning reopens under the new address, the old
 * source is then a stranger, and B's media follows A to its new latched port. */
static void test_reoffer(void **state)
{
	uint8_t f[2048], out[2048], pl[256];
	size_t len, plen = rtp(pl, 1);
	struct latch_expect ea;
	struct worker_stats before, after;

	(void)state;
	flush_all();
	add_call(30040, 30042, 0);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 41000, 30040, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_B, "192.0.2.50", 30042, 40000, pl, plen);
	assert_int_equal(T.last_latched.generation, 1);

	expect_leg(&ea, "198.51.100.77", 27910, LATCH_ORIGIN_SIP_SOURCE, 0);
	update_flow(30040, &ea);
	pump();
	worker_stats_read(T.w, &before);
	inject(f, build_udp(f, MAC_GW, "203.0.113.9", 41000, 30040, pl, plen));
	pump();
	assert_int_equal(pending(), 0);
	worker_stats_read(T.w, &after);
	assert_int_equal(
		after.drop_latch[LATCH_DROP_STRANGER] - before.drop_latch[LATCH_DROP_STRANGER], 1);
	inject(f, build_udp(f, MAC_GW, "198.51.100.77", 42000, 30040, pl, plen));
	pump();
	assert_int_equal(T.last_latched.port, 30040);
	assert_int_equal(T.last_latched.generation, 2);
	assert_int_equal(T.last_latched.u.ev.src.port, 42000);
	len = take(out);
	check_relayed(out, len, MAC_B, "192.0.2.50", 30042, 40000, pl, plen);
	inject(f, build_udp(f, MAC_B, "192.0.2.50", 40000, 30042, pl, plen));
	pump();
	len = take(out);
	check_relayed(out, len, MAC_GW, "198.51.100.77", 30040, 42000, pl, plen);
	del_flow(30040, 30040);
	del_flow(30042, 30042);
	pump();
}

static void test_arp_icmp(void **state)
{
	uint8_t f[128], out[2048];
	uint32_t x = ip4("192.0.2.77"), us = ip4("192.0.2.1");
	size_t len;
	struct exception_stats es;
	uint8_t mac[6];

	(void)state;
	flush_all();
	/* Who has 192.0.2.1? Tell 192.0.2.77 (padded to the Ethernet minimum). */
	inject(f, arp_request(f, "192.0.2.1"));
	pump();
	len = take(out);
	assert_true(len >= 42);
	assert_memory_equal(out, MAC_X, 6);
	assert_memory_equal(out + 6, MAC_US, 6);
	assert_int_equal(get16(out + 20), 2);
	assert_memory_equal(out + 22, MAC_US, 6);
	assert_memory_equal(out + 28, &us, 4);
	assert_memory_equal(out + 32, MAC_X, 6);
	assert_memory_equal(out + 38, &x, 4);
	assert_true(exception_neigh_lookup(T.ex, x, mac));
	assert_memory_equal(mac, MAC_X, 6);
	/* For another address: not ours, no answer. */
	inject(f, arp_request(f, "192.0.2.9"));
	pump();
	assert_int_equal(pending(), 0);

	/* ICMP echo with an odd-length payload. */
	inject(f, icmp_echo(f, "192.0.2.1", 9, "hello", 5));
	pump();
	len = take(out);
	assert_int_equal(len, 47);
	assert_memory_equal(out, MAC_X, 6);
	assert_memory_equal(out + 26, &us, 4);
	assert_memory_equal(out + 30, &x, 4);
	assert_int_equal(ref_csum(out + 14, 20, 0), 0);
	assert_int_equal(out[34], 0);
	assert_int_equal(ref_csum(out + 34, 13, 0), 0);
	assert_int_equal(get16(out + 38), 0x4242);
	assert_memory_equal(out + 42, "hello", 5);
	exception_stats_read(T.ex, &es);
	assert_int_equal(es.arp_replied, 1);
	assert_int_equal(es.icmp_replied, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_both_ways), cmocka_unit_test(test_udp_checksum_edges),
		cmocka_unit_test(test_stranger),	cmocka_unit_test(test_rtcp_mux),
		cmocka_unit_test(test_malformed),	cmocka_unit_test(test_reoffer),
		cmocka_unit_test(test_arp_icmp),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "worker_test: needs root for the DPDK EAL, skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, wt_setup, wt_teardown);
}
