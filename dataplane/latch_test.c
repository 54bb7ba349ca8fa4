/* latch_test: unit tests for every transition of the latching state machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "latch.h"

#define T0 1000000u

static struct addr_port ap(const char *s)
{
	struct addr_port a;

	assert_int_equal(addr_port_parse(s, &a), 0);
	return a;
}

static struct addr_ip ip(const char *s)
{
	struct addr_ip a;

	assert_true(addr_parse(s, strlen(s), &a));
	return a;
}

static enum latch_verdict check(struct latch *l, enum latch_comp c, const char *src, uint64_t now)
{
	struct addr_port a = ap(src);

	return latch_check(l, c, &a, now);
}

static void assert_dest(const struct latch *l, enum latch_comp c, const char *want)
{
	struct addr_port d;
	char buf[ADDR_STRLEN];

	assert_true(latch_dest(l, c, &d));
	assert_string_equal(addr_port_format(&d, buf, sizeof(buf)), want);
}

/* The seed's case: phone at 192.168.1.10:27910 behind a NAT whose public address 203.0.113.9 is
 * where its SIP came from (SIP-source-address); media arrives from a random NAT port. */
static struct latch_expect natted(uint32_t flags)
{
	struct latch_expect e = {
		.addr = ip("203.0.113.9"),
		.rtp_port = 27910,
		.origin = LATCH_ORIGIN_SIP_SOURCE,
		.flags = flags,
	};

	return e;
}

/* A directly reachable endpoint (trust-address): its SDP address is its real address. */
static struct latch_expect direct(uint32_t flags)
{
	struct latch_expect e = {
		.addr = ip("198.51.100.20"),
		.rtp_port = 4000,
		.origin = LATCH_ORIGIN_SDP,
		.flags = flags,
	};

	return e;
}

static void test_natted_learn_then_strict(void **state)
{
	struct latch_expect e = natted(0);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LEARNING);
	/* Before anything is learned, media goes to the signalled address with the SDP port. */
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:27910");
	assert_int_equal(latch_last_seen(&l), 0);

	/* A stranger who guessed the relay port before the phone's first packet: dropped, and it
	 * does not latch. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.66:5000", T0 + 1),
			 LATCH_DROP_STRANGER);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LEARNING);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:27910");

	/* The phone's first packet through the NAT latches the port. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 20), LATCH_LEARNED);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LATCHED);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:52500");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 40), LATCH_ACCEPT);
	assert_int_equal(latch_last_seen(&l), T0 + 40);

	/* After the latch: strangers, and the same address with another port, are dropped. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.66:5000", T0 + 60),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52501", T0 + 80), LATCH_DROP_PORT);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.10:52500", T0 + 90),
			 LATCH_DROP_STRANGER);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:52500");
	assert_int_equal(latch_last_seen(&l), T0 + 40);
}

static void test_stranger_during_learning_never_latches(void **state)
{
	struct latch_expect e = natted(0);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	/* However long the phone stays silent, a stranger never gets in. */
	for (uint64_t t = 0; t < 60000; t += 1000)
		assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.66:27910", T0 + t),
				 LATCH_DROP_STRANGER);
	/* The private SDP address is not a source either (it can only be a spoof). */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.168.1.10:27910", T0 + 61000),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:40000", T0 + 62000), LATCH_LEARNED);
}

static void test_trust_address(void **state)
{
	struct latch_expect e = direct(0);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	assert_dest(&l, LATCH_COMP_RTP, "198.51.100.20:4000");
	/* The port is still learned: some endpoints send from another port than they receive on. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.21:4000", T0), LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.20:4002", T0), LATCH_LEARNED);
	assert_dest(&l, LATCH_COMP_RTP, "198.51.100.20:4002");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.20:4000", T0), LATCH_DROP_PORT);
}

static void test_strict_source(void **state)
{
	struct latch_expect e = direct(LATCH_F_STRICT_SOURCE);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	/* Not NAT'd and strict: the SDP is the exact source, for RTP and for RTCP (port + 1). */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.20:4002", T0), LATCH_DROP_PORT);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LEARNING);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.20:4000", T0), LATCH_LEARNED);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "198.51.100.20:4000", T0), LATCH_DROP_PORT);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "198.51.100.20:4001", T0), LATCH_LEARNED);
	/* With a=rtcp (RFC 3605) the RTCP port is the one given. */
	e.rtcp_port = 5005;
	latch_update(&l, &e, T0 + 1);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "198.51.100.20:4001", T0 + 2), LATCH_DROP_PORT);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "198.51.100.20:5005", T0 + 2), LATCH_LEARNED);

	/* Behind NAT the SDP port tells nothing about the source port: strict-source then means the
	 * default (learn the port, strict afterwards). */
	e = natted(LATCH_F_STRICT_SOURCE);
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_LEARNED);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52502", T0), LATCH_DROP_PORT);
}

static void test_reoffer_new_address(void **state)
{
	struct latch_expect e = natted(0);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	assert_int_equal(latch_generation(&l), 1);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_LEARNED);

	/* re-INVITE from the phone, now on another network. */
	e.addr = ip("192.0.2.77");
	e.rtp_port = 30000;
	assert_int_equal(latch_update(&l, &e, T0 + 5000), 2);
	assert_int_equal(latch_generation(&l), 2);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LEARNING);
	/* The old latch is forgotten as a destination and as a source. */
	assert_dest(&l, LATCH_COMP_RTP, "192.0.2.77:30000");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 5001),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.0.2.77:61000", T0 + 5002), LATCH_LEARNED);
	assert_dest(&l, LATCH_COMP_RTP, "192.0.2.77:61000");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 5003),
			 LATCH_DROP_STRANGER);
}

static void test_reoffer_same_address(void **state)
{
	struct latch_expect e = natted(0);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_LEARNED);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52501", T0 + 1), LATCH_DROP_PORT);

	/* A re-INVITE (hold/resume, codec change) from the same place: learning reopens, still
	 * constrained to the address, and media keeps going to the old latch meanwhile so that the
	 * callee is not cut off through the NAT. */
	assert_int_equal(latch_update(&l, &e, T0 + 10), 2);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LEARNING);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:52500");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.66:52500", T0 + 11),
			 LATCH_DROP_STRANGER);
	/* The NAT may have moved the phone to a new port: that is what relearning is for. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52777", T0 + 12), LATCH_LEARNED);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:52777");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 13), LATCH_DROP_PORT);

	/* And back to the old port in the next generation. */
	assert_int_equal(latch_update(&l, &e, T0 + 20), 3);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 21), LATCH_LEARNED);
}

static void test_nat_rebinding(void **state)
{
	struct latch_expect e = natted(0);
	struct latch l;

	(void)state;
	/* Default: a new port from the same address is never accepted after the latch, however long
	 * the latched port has been silent. */
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_LEARNED);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:60001", T0 + 3600000),
			 LATCH_DROP_PORT);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:52500");

	/* By policy, after 2 s of silence of the latched port. */
	e.flags = LATCH_F_ALLOW_REBIND;
	e.rebind_idle_ms = 2000;
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_LEARNED);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 1000), LATCH_ACCEPT);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:60001", T0 + 2999),
			 LATCH_DROP_PORT);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:60001", T0 + 3000), LATCH_REBOUND);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:60001");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:60001", T0 + 3020), LATCH_ACCEPT);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 3040),
			 LATCH_DROP_PORT);
	/* Rebinding never admits another address. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.66:60001", T0 + 99999),
			 LATCH_DROP_STRANGER);
	/* A clock that went backwards does not count as silence. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:60002", T0), LATCH_DROP_PORT);
}

static void test_rtcp_own_port(void **state)
{
	struct latch_expect e = natted(0);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	assert_dest(&l, LATCH_COMP_RTCP, "203.0.113.9:27911");
	/* RTCP can come first; RTP and RTCP latch independently (the NAT maps each to its own
	 * random port). */
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "203.0.113.9:41000", T0), LATCH_LEARNED);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LEARNING);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:27910");
	assert_dest(&l, LATCH_COMP_RTCP, "203.0.113.9:41000");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 1), LATCH_LEARNED);
	/* Each stream is strict on its own source: RTP's source is not an RTCP source. */
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "203.0.113.9:52500", T0 + 2), LATCH_DROP_PORT);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:41000", T0 + 2), LATCH_DROP_PORT);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "198.51.100.66:41000", T0 + 3),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "203.0.113.9:41000", T0 + 5000), LATCH_ACCEPT);
	assert_int_equal(latch_last_seen(&l), T0 + 5000);

	/* a=rtcp gives the RTCP destination before latching (RFC 3605). */
	e.rtcp_port = 29000;
	latch_init(&l, &e, T0);
	assert_dest(&l, LATCH_COMP_RTCP, "203.0.113.9:29000");
}

static void test_rtcp_mux(void **state)
{
	struct latch_expect e = natted(LATCH_F_RTCP_MUX);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	/* RFC 5761: RTCP goes to the RTP port and comes from the RTP source. */
	assert_dest(&l, LATCH_COMP_RTCP, "203.0.113.9:27910");
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "203.0.113.9:52500", T0), LATCH_LEARNED);
	assert_int_equal(latch_state(&l, LATCH_COMP_RTP), LATCH_STATE_LATCHED);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 1), LATCH_ACCEPT);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "203.0.113.9:52501", T0 + 2), LATCH_DROP_PORT);
	assert_dest(&l, LATCH_COMP_RTCP, "203.0.113.9:52500");
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:52500");
}

static void test_learn_any_window(void **state)
{
	struct latch_expect e = natted(LATCH_F_LEARN_ANY);
	struct latch l;

	(void)state;
	e.learn_window_ms = 3000;
	/* Loose mode, within the window: the first source of any address latches, and from then on
	 * that source only is accepted: nothing else is relayed, not even the expected address. */
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.0.2.200:7000", T0 + 100), LATCH_LEARNED);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 200),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.0.2.200:7000", T0 + 200), LATCH_ACCEPT);
	/* RTCP follows RTP's address, in the window and after it. */
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "198.51.100.66:7001", T0 + 300),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "192.0.2.200:7001", T0 + 9000), LATCH_LEARNED);

	/* After the window without a latch, only the signalled address may latch. */
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.0.2.200:7000", T0 + 3000),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0 + 3001), LATCH_LEARNED);

	/* A re-offer reopens the window; a loose latch on another address is not kept. */
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.0.2.200:7000", T0), LATCH_LEARNED);
	latch_update(&l, &e, T0 + 60000);
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:27910");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.0.2.201:7000", T0 + 61000), LATCH_LEARNED);

	/* Without the flag there is no window at all. */
	e.flags = 0;
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "192.0.2.200:7000", T0), LATCH_DROP_STRANGER);
}

static void test_asymmetric(void **state)
{
	struct latch_expect e = direct(LATCH_F_ASYMMETRIC);
	struct latch l;

	(void)state;
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.66:4000", T0), LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.20:9000", T0), LATCH_LEARNED);
	/* The address is latched, not the port, and media always goes where the SDP says. */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.20:9002", T0 + 1), LATCH_ACCEPT);
	assert_dest(&l, LATCH_COMP_RTP, "198.51.100.20:4000");
	assert_dest(&l, LATCH_COMP_RTCP, "198.51.100.20:4001");
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.66:9002", T0 + 2),
			 LATCH_DROP_STRANGER);
	/* strict-source does not pin the port of an asymmetric endpoint. */
	e.flags |= LATCH_F_STRICT_SOURCE;
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.20:9000", T0), LATCH_LEARNED);
}

static void test_nothing_expected(void **state)
{
	struct latch_expect e = natted(0);
	struct latch l;
	struct addr_port d;

	(void)state;
	/* Stream rejected or disabled (port 0): nothing in, nothing out. */
	e.rtp_port = 0;
	latch_init(&l, &e, T0);
	assert_false(latch_dest(&l, LATCH_COMP_RTP, &d));
	assert_false(latch_dest(&l, LATCH_COMP_RTCP, &d));
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_DROP_NO_SOURCE);

	/* No address known at all. */
	e = natted(0);
	memset(&e.addr, 0, sizeof(e.addr));
	latch_init(&l, &e, T0);
	assert_false(latch_dest(&l, LATCH_COMP_RTP, &d));
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_DROP_NO_SOURCE);

	/* Port 65535 has no RTCP port above it. */
	e = natted(0);
	e.rtp_port = 65535;
	latch_init(&l, &e, T0);
	assert_false(latch_dest(&l, LATCH_COMP_RTCP, &d));
	assert_dest(&l, LATCH_COMP_RTP, "203.0.113.9:65535");
}

/* The latch is IPv4 only (IPv6 media gets a path of its own): an IPv6 expectation relays nothing,
 * not even in a loose mode, and IPv6 or IPv4-mapped sources never latch. */
static void test_ipv6_not_here(void **state)
{
	struct latch_expect e = natted(LATCH_F_LEARN_ANY);
	struct addr_port d;
	struct latch l;

	(void)state;
	e.learn_window_ms = 3000;
	e.addr = ip("2001:db8::9");
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "[2001:db8::9]:52500", T0),
			 LATCH_DROP_NO_SOURCE);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_DROP_NO_SOURCE);
	assert_false(latch_dest(&l, LATCH_COMP_RTP, &d));

	e = natted(0);
	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "[::ffff:203.0.113.9]:52500", T0),
			 LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "[2001:db8::9]:52500", T0), LATCH_DROP_STRANGER);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "203.0.113.9:52500", T0), LATCH_LEARNED);
}

/* Times are kept as the low 32 bits of the clock: a learning window or a silence is measured
 * across the wrap, and a window seen closed does not reopen when the clock comes round. */
static void test_clock_wrap(void **state)
{
	struct latch_expect e = natted(LATCH_F_LEARN_ANY | LATCH_F_ALLOW_REBIND);
	uint64_t t = 0xffffff00u; /* 256 ms before the low 32 bits wrap */
	struct latch l;

	(void)state;
	e.learn_window_ms = 1000;
	e.rebind_idle_ms = 500;
	latch_init(&l, &e, t);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.7:4000", t + 900), LATCH_LEARNED);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.7:4001", t + 1200), LATCH_DROP_PORT);
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.7:4001", t + 1400), LATCH_REBOUND);
	assert_int_equal(latch_last_seen(&l), (uint32_t)(t + 1400));

	latch_init(&l, &e, T0);
	assert_int_equal(check(&l, LATCH_COMP_RTCP, "198.51.100.8:4001", T0 + 2000),
			 LATCH_DROP_STRANGER); /* the window has closed */
	assert_int_equal(check(&l, LATCH_COMP_RTP, "198.51.100.8:4000", T0 + (1ull << 32) + 10),
			 LATCH_DROP_STRANGER);
}

static void test_names(void **state)
{
	(void)state;
	/* Two legs of a session must stay well inside the 512-byte budget per session. */
	assert_true(sizeof(struct latch) <= 48);
	assert_true(latch_verdict_accepts(LATCH_ACCEPT));
	assert_true(latch_verdict_accepts(LATCH_LEARNED));
	assert_true(latch_verdict_accepts(LATCH_REBOUND));
	assert_false(latch_verdict_accepts(LATCH_DROP_NO_SOURCE));
	assert_false(latch_verdict_accepts(LATCH_DROP_STRANGER));
	assert_false(latch_verdict_accepts(LATCH_DROP_PORT));
	for (int v = 0; v < LATCH_VERDICT_COUNT; v++)
		assert_string_not_equal(latch_verdict_name((enum latch_verdict)v), "?");
	assert_string_equal(latch_verdict_name(LATCH_DROP_STRANGER), "drop-stranger");
	assert_string_equal(latch_verdict_name(LATCH_VERDICT_COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_natted_learn_then_strict),
		cmocka_unit_test(test_stranger_during_learning_never_latches),
		cmocka_unit_test(test_trust_address),
		cmocka_unit_test(test_strict_source),
		cmocka_unit_test(test_reoffer_new_address),
		cmocka_unit_test(test_reoffer_same_address),
		cmocka_unit_test(test_nat_rebinding),
		cmocka_unit_test(test_rtcp_own_port),
		cmocka_unit_test(test_rtcp_mux),
		cmocka_unit_test(test_learn_any_window),
		cmocka_unit_test(test_asymmetric),
		cmocka_unit_test(test_nothing_expected),
		cmocka_unit_test(test_ipv6_not_here),
		cmocka_unit_test(test_clock_wrap),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
