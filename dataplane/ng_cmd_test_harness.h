/* ng_cmd_test_harness: what ng_cmd_test and ng_cmd_branch_test share (see
 * ng_cmd_test_harness.c): a fake relay behind struct ng_ops, an ng_cmd with its ng_server whose
 * clock the test moves, and helpers that write requests and read replies. */
#ifndef SBC_DATAPLANE_NG_CMD_TEST_HARNESS_H
#define SBC_DATAPLANE_NG_CMD_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bencode.h"
#include "ng_cmd.h"
#include "ng_server.h"

/* The fake relay: ports handed out upwards from 30000, legs recorded by port. */
struct fake {
	uint16_t next_port;
	unsigned naddrs, next_addr; /* addresses handed out round robin (0: always address 0) */
	uint8_t addr[65536];	    /* by RTP port: the stream's address */
	unsigned streams, freed, sets, updates, timeouts;
	bool set[65536];
	struct latch_expect exp[65536];
	struct ng_leg_stats stats[65536];
	const struct ng_call *timed_out;
};

/* One test: the fake relay, the command object behind its server, the clock, the last reply. */
struct ctx {
	struct fake *f;
	struct ng_cmd *nc;
	struct ng_server *srv;
	struct ng_now now;
	char reply[NG_SERVER_MAX_DGRAM + 1];
	size_t reply_len;
	struct bencode_item *items;
	unsigned seq;
};

/* A caller's SDP (private address, ICE, telephone-event) and a callee's (public address). */
extern const char SDP_A[], SDP_B[];

/* cmocka set-up: one media address 192.0.2.1, media timeout 30 s, the clock at 1000000 ms and
 * Unix time 1700000000. */
int setup(void **state);
/* As setup, with two media addresses (192.0.2.1, 198.51.100.7) that the fake relay hands out
 * round robin. */
int setup_addrs(void **state);
/* Frees what setup made. */
int teardown(void **state);

/* Sends "cookie SP <dict written by the caller into w>" and decodes the reply's dictionary. */
const struct bencode_item *send_req(struct ctx *c, const char *cookie, const char *body,
				    size_t blen);
/* Writes the string pair k: v. */
void kv(struct bencode_writer *w, const char *k, const char *v);
/* Writes k: a list of the strings of the NULL-terminated vals. */
void list(struct bencode_writer *w, const char *k, const char *const *vals);
/* A request {command: cmd, call-id: "call-1@192.168.1.10"} and k2: v2 unless k2 is NULL. */
size_t simple(char *buf, size_t cap, const char *cmd, const char *k2, const char *v2);
/* The reply's "result" is r. */
bool result_is(const struct bencode_item *d, const char *r);
/* The reply's "sdp" (which must be there). */
const char *reply_sdp(const struct bencode_item *d, size_t *len);
/* s (len bytes) contains needle. */
bool contains(const char *s, size_t len, const char *needle);
/* A request on call "call-1@192.168.1.10" with trust-address; NULL keys are left out. */
const struct bencode_item *ng(struct ctx *c, const char *cmd, const char *from, const char *to,
			      const char *vb, const char *sdp);
/* An SDP from ip with one audio stream on port, and a video stream on vport unless 0. */
const char *sdp_at(char *buf, size_t cap, const char *ip, unsigned port, unsigned vport);
/* The reply is ok and its SDP's audio port is port. */
void reply_port(const struct bencode_item *d, unsigned port);
/* The fake relay's leg on port is installed and expects media from ip:rtp_port. */
void exp_is(struct ctx *c, uint16_t port, const char *ip, unsigned rtp_port);

#endif
