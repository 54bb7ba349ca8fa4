/* worker_test_harness: what worker_test and worker_addr_test share (see worker_test_harness.c):
 * one worker on in-process ring ports with the media addresses 192.0.2.1 (index 0) and 192.0.2.2
 * (index 1) in 192.0.2.0/24, gateway 192.0.2.254. Needs root for the EAL. */
#ifndef SBC_DATAPLANE_WORKER_TEST_HARNESS_H
#define SBC_DATAPLANE_WORKER_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_msg.h"
#include "exception.h"
#include "session.h"
#include "worker.h"

extern const uint8_t MAC_US[6], MAC_GW[6], MAC_B[6], MAC_X[6];

struct t {
	char prefix[64];
	struct rte_mempool *mp;
	struct rte_ring *rx, *tx, *exc, *ctl_tx;
	uint16_t port;
	struct dp_chan ch;
	struct session_table *st;
	struct worker *w;
	struct exception *ex;
	uint64_t now;
	unsigned latched, rejected, freed;
	struct dp_msg last_latched;
};

extern struct t T;

uint32_t ip4(const char *s);
/* Our own RFC 1071 checksum, independent of DPDK's and classify.c's. */
uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t sum);
void put16(uint8_t *p, uint16_t v);
uint16_t get16(const uint8_t *p);
uint16_t udp_csum(const uint8_t *f);
/* A frame to dip:dport, and one to 192.0.2.1:dport; the length is returned. */
size_t build_udp_to(uint8_t *f, const uint8_t *smac, const char *sip, uint16_t sport,
		    const char *dip, uint16_t dport, const uint8_t *payload, size_t plen);
size_t build_udp(uint8_t *f, const uint8_t *smac, const char *sip, uint16_t sport, uint16_t dport,
		 const uint8_t *payload, size_t plen);
/* An ARP packet (op 1: request, 2: reply) from smac/sip about tip, to dmac (also a reply's target
 * hardware address): 42 bytes. */
size_t arp_frame(uint8_t *f, uint16_t op, const uint8_t *smac, const char *sip, const uint8_t *dmac,
		 const char *tip);
/* ARP request for target, and ICMP echo request to dst, both from 192.0.2.77 (MAC_X); the
 * length is returned (the ARP frame is padded to 60 bytes). */
size_t arp_request(uint8_t *f, const char *target);
size_t icmp_echo(uint8_t *f, const char *dst, uint16_t seq, const char *data, size_t dlen);
size_t rtp(uint8_t *p, uint16_t seq);
size_t rtcp(uint8_t *p);
void inject(const uint8_t *f, size_t len);
void on_neigh(void *arg, uint32_t ip, const uint8_t mac[6]);
/* What the control lcore does between worker iterations: exceptions and events. */
void control(void);
void pump(void);
size_t take(uint8_t *buf);
unsigned pending(void);
void flush_all(void);
void check_relayed_from(const uint8_t *f, size_t len, const char *sip, const uint8_t *dmac,
			const char *dip, uint16_t sport, uint16_t dport, const uint8_t *payload,
			size_t plen);
void check_relayed(const uint8_t *f, size_t len, const uint8_t *dmac, const char *dip,
		   uint16_t sport, uint16_t dport, const uint8_t *payload, size_t plen);
void expect_leg(struct latch_expect *e, const char *ip, uint16_t rtp_port, uint8_t origin,
		uint32_t flags);
/* Flow messages for a leg on media address addr (index), or on address 0. */
void add_flow_on(unsigned addr, uint16_t port, uint16_t peer, uint32_t id,
		 const struct latch_expect *e);
void add_flow(uint16_t port, uint16_t peer, uint32_t id, const struct latch_expect *e);
void del_flow_on(unsigned addr, uint16_t port, uint32_t id);
void del_flow(uint16_t port, uint32_t id);
/* A call: A (203.0.113.9, behind a NAT that maps 27910 -> 52500, reached through the gateway) on
 * relay ports pa/pa + 1, B (192.0.2.50, on-link, not NAT'd) on pb/pb + 1, address 0. */
void add_call(uint16_t pa, uint16_t pb, uint32_t flags);

/* cmocka group set-up and tear-down: the EAL (--no-huge, its own file prefix, runtime files
 * removed at exit), the ring port, the worker and the exception handler. */
int wt_setup(void **state);
int wt_teardown(void **state);

#endif
