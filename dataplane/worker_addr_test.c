/* worker_addr_test: one worker owning two media addresses (192.0.2.1 = index 0, 192.0.2.2 =
 * index 1) on ring ports: the same relay port is a different flow on each address, media leaves
 * from the address it came to, events name the address, ARP and ICMP echo are answered for both,
 * a packet to an address we do not own is dropped, and addresses sharing their last byte are told
 * apart. Needs root for the EAL. */
#include <stdio.h>
#include <unistd.h>

#include "worker_test_harness.h"

/* A call on address addr: A (203.0.113.9 behind the NAT, through the gateway) on pa, B
 * (192.0.2.50, on-link) on pb, with B's RTP port bport. */
static void add_call_on(unsigned addr, uint16_t pa, uint16_t pb, uint16_t bport)
{
	struct latch_expect ea, eb;

	expect_leg(&ea, "203.0.113.9", 27910, LATCH_ORIGIN_SIP_SOURCE, 0);
	expect_leg(&eb, "192.0.2.50", bport, LATCH_ORIGIN_SDP, 0);
	add_flow_on(addr, pa, pb, pa, &ea);
	add_flow_on(addr, pb, pa, pb, &eb);
	pump();
}

static void test_arp_icmp_both(void **state)
{
	static const char *const ours[] = {"192.0.2.1", "192.0.2.2"};
	uint8_t f[128], out[2048];
	struct exception_stats before, after;
	size_t len;

	(void)state;
	flush_all();
	exception_stats_read(T.ex, &before);
	for (unsigned i = 0; i < 2; i++) {
		uint32_t us = ip4(ours[i]);

		inject(f, arp_request(f, ours[i]));
		pump();
		len = take(out);
		assert_true(len >= 42);
		assert_int_equal(get16(out + 20), 2);
		assert_memory_equal(out + 22, MAC_US, 6);
		assert_memory_equal(out + 28, &us, 4); /* the address asked for */
		inject(f, icmp_echo(f, ours[i], 1, "ping", 4));
		pump();
		len = take(out);
		assert_int_equal(len, 46);
		assert_int_equal(out[34], 0);
		assert_memory_equal(out + 26, &us, 4); /* answered from the address pinged */
		assert_int_equal(ref_csum(out + 14, 20, 0), 0);
		assert_int_equal(ref_csum(out + 34, 12, 0), 0);
	}
	/* Neither for an address of the subnet that is not ours. */
	inject(f, arp_request(f, "192.0.2.3"));
	inject(f, icmp_echo(f, "192.0.2.3", 1, "ping", 4));
	pump();
	assert_int_equal(pending(), 0);
	exception_stats_read(T.ex, &after);
	assert_int_equal(after.arp_replied - before.arp_replied, 2);
	assert_int_equal(after.icmp_replied - before.icmp_replied, 2);
}

static void test_relay_on_both(void **state)
{
	uint8_t f[2048], out[2048], pl[256];
	size_t len, plen;
	struct worker_stats before, after;
	struct session_flow_stats fs;
	unsigned latched = T.latched;

	(void)state;
	flush_all();
	/* B's MAC is known (as if resolved), so media goes out at once. */
	on_neigh(&T, ip4("192.0.2.50"), MAC_B);
	pump();
	worker_stats_read(T.w, &before);
	/* The same ports on both addresses, different B ports to tell the calls apart. */
	add_call_on(0, 30040, 30042, 40000);
	add_call_on(1, 30040, 30042, 41000);
	assert_int_equal(session_count(T.st), 4);

	/* A -> B on address 1: latches A on (1, 30040), leaves from 192.0.2.2:30042 to B:41000. */
	plen = rtp(pl, 1);
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52500, "192.0.2.2", 30040, pl, plen));
	pump();
	assert_int_equal(T.latched, latched + 1);
	assert_int_equal(T.last_latched.addr, 1);
	assert_int_equal(T.last_latched.port, 30040);
	len = take(out);
	check_relayed_from(out, len, "192.0.2.2", MAC_B, "192.0.2.50", 30042, 41000, pl, plen);
	assert_int_equal(pending(), 0);
	/* The flow on address 0 saw nothing. */
	assert_int_equal(session_flow_read(T.st, 0, 30040, T.now, &fs), 0);
	assert_int_equal(fs.pkts_in, 0);
	assert_int_equal(session_flow_read(T.st, 1, 30040, T.now, &fs), 0);
	assert_int_equal(fs.pkts_in, 1);

	/* A -> B on address 0: its own latch, from 192.0.2.1:30042 to B:40000. */
	plen = rtp(pl, 2);
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52600, "192.0.2.1", 30040, pl, plen));
	pump();
	assert_int_equal(T.latched, latched + 2);
	assert_int_equal(T.last_latched.addr, 0);
	assert_int_equal(T.last_latched.u.ev.src.port, 52600);
	len = take(out);
	check_relayed_from(out, len, "192.0.2.1", MAC_B, "192.0.2.50", 30042, 40000, pl, plen);

	/* B -> A on address 1 goes back to A's latched NAT port through the gateway, from .2. */
	plen = rtp(pl, 3);
	inject(f, build_udp_to(f, MAC_B, "192.0.2.50", 41000, "192.0.2.2", 30042, pl, plen));
	pump();
	len = take(out);
	check_relayed_from(out, len, "192.0.2.2", MAC_GW, "203.0.113.9", 30040, 52500, pl, plen);
	/* RTCP from A to address 1's RTCP port: out from 192.0.2.2:30043. */
	plen = rtcp(pl);
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52501, "192.0.2.2", 30041, pl, plen));
	pump();
	len = take(out);
	check_relayed_from(out, len, "192.0.2.2", MAC_B, "192.0.2.50", 30043, 41001, pl, plen);

	/* To an address we do not own (same subnet) and to a free port of address 1: dropped. */
	plen = rtp(pl, 4);
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52500, "192.0.2.3", 30040, pl, plen));
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52500, "192.0.2.2", 30044, pl, plen));
	pump();
	assert_int_equal(pending(), 0);
	worker_stats_read(T.w, &after);
	assert_int_equal(after.drop_not_ours - before.drop_not_ours, 1);
	assert_int_equal(after.drop_no_flow - before.drop_no_flow, 1);
	assert_int_equal(after.relayed - before.relayed, 4);

	/* Deleting address 1's legs leaves address 0's call working. */
	del_flow_on(1, 30040, 30040);
	del_flow_on(1, 30042, 30042);
	pump();
	assert_int_equal(session_count(T.st), 2);
	assert_int_equal(T.freed, 2);
	plen = rtp(pl, 5);
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52500, "192.0.2.2", 30040, pl, plen));
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52600, "192.0.2.1", 30040, pl, plen));
	pump();
	len = take(out);
	check_relayed_from(out, len, "192.0.2.1", MAC_B, "192.0.2.50", 30042, 40000, pl, plen);
	assert_int_equal(pending(), 0);
	/* A flow message for an address the table does not have is refused. */
	{
		struct latch_expect e;

		worker_stats_read(T.w, &before);
		expect_leg(&e, "203.0.113.9", 27910, LATCH_ORIGIN_SIP_SOURCE, 0);
		add_flow_on(2, 30040, 30042, 30040, &e);
		pump();
		worker_stats_read(T.w, &after);
		assert_int_equal(after.msg_errors - before.msg_errors, 1);
	}
	del_flow_on(0, 30040, 30040);
	del_flow_on(0, 30042, 30042);
	pump();
	assert_int_equal(session_count(T.st), 0);
}

/* Addresses that share their last byte (the worker's quick index is by that byte): a second
 * worker on the same port and rings, owning 192.0.2.1, 198.51.100.1 and 203.0.113.1. */
static void test_same_last_byte(void **state)
{
	static const char *const addrs[] = {"192.0.2.1", "198.51.100.1", "203.0.113.1"};
	uint8_t f[2048], out[2048], pl[256];
	struct session_table *st = session_table_new(3, 30000, 30099);
	struct worker_cfg wc;
	struct worker_stats ws;
	struct latch_expect ea, eb;
	struct worker *w2;
	size_t len, plen;

	(void)state;
	flush_all();
	assert_non_null(st);
	memset(&wc, 0, sizeof(wc));
	wc.port_id = T.port;
	wc.msg_in = T.ch.to_worker;
	wc.msg_out = T.ch.to_control;
	wc.exc = T.exc;
	wc.tx_in = T.ctl_tx;
	wc.sessions = st;
	wc.n_media = 3;
	for (unsigned i = 0; i < 3; i++) {
		wc.media_ip[i] = ip4(addrs[i]);
		wc.netmask[i] = ip4("255.255.255.0");
	}
	memcpy(wc.media_mac, MAC_US, 6);
	wc.gateway_ip = ip4("192.0.2.254");
	wc.sw_udp_csum = true;
	w2 = worker_new(&wc);
	assert_non_null(w2);
	on_neigh(&T, ip4("192.0.2.50"), MAC_B);
	expect_leg(&ea, "203.0.113.9", 27910, LATCH_ORIGIN_SIP_SOURCE, 0);
	expect_leg(&eb, "192.0.2.50", 42000, LATCH_ORIGIN_SDP, 0);
	add_flow_on(2, 30040, 30042, 30040, &ea);
	add_flow_on(2, 30042, 30040, 30042, &eb);
	plen = rtp(pl, 1);
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52500, "203.0.113.1", 30040, pl, plen));
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52500, "198.51.100.1", 30040, pl, plen));
	inject(f, build_udp_to(f, MAC_GW, "203.0.113.9", 52500, "10.9.9.1", 30040, pl, plen));
	for (int i = 0; i < 3; i++) {
		worker_poll(w2, T.now);
		worker_flush(w2);
		control();
	}
	len = take(out);
	check_relayed_from(out, len, "203.0.113.1", MAC_B, "192.0.2.50", 30042, 42000, pl, plen);
	assert_int_equal(pending(), 0);
	worker_stats_read(w2, &ws);
	assert_int_equal(ws.relayed, 1);
	assert_int_equal(ws.drop_no_flow, 1);  /* 198.51.100.1 is ours, without this flow */
	assert_int_equal(ws.drop_not_ours, 1); /* 10.9.9.1 */
	worker_free(w2);
	session_table_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arp_icmp_both),
		cmocka_unit_test(test_relay_on_both),
		cmocka_unit_test(test_same_last_byte),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "worker_addr_test: needs root for the DPDK EAL, skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, wt_setup, wt_teardown);
}
