/* proxy_test_harness: what proxy_media_test and proxy_fork_test share (see
 * proxy_test_harness.c): a proxy core on loopback UDP with bob@example.com registered at two UAS
 * sockets and the caller's socket as a trunk, its media through a fake dataplane that the test
 * reads and answers (by itself or by hand), and the SIP peers' side of the messages. */
#ifndef SBC_PROXY_TEST_HARNESS_H
#define SBC_PROXY_TEST_HARNESS_H

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth.h"
#include "proxy.h"

/* One ng request the fake dataplane received. */
struct ng_seen {
	char cmd[16], call_id[64], from_tag[64], to_tag[64], via_branch[64];
	char cookie[64];
	struct sockaddr_in from;
};

struct ctx {
	char dir[64], policy_path[128], reg_path[128];
	struct policy *policy;
	struct auth_cfg auth_cfg;
	struct auth *auth;
	struct registrar *reg;
	struct loop *lp;
	struct transport *tp;
	struct ng_client *ng;
	struct media *md;
	struct proxy *proxy;
	struct sockaddr_in sbc;
	int caller, uas[2], ngfd;
	uint16_t caller_port, uas_port[2];
	struct ng_seen seen[64];
	size_t nseen;
};

/* cmocka set-up: a struct ctx in *state (policy and registrations in a temporary folder, bob
 * registered at uas[0] and uas[1]); teardown frees it all and removes the folder. */
int setup(void **state);
int teardown(void **state);

/* --- the fake dataplane --- */

/* Sends the reply to request r: ok with a relay SDP on port `port`, or an error. */
void ng_reply(struct ctx *c, const struct ng_seen *r, bool ok, unsigned int port);

/* Runs the loop a few rounds, serving the fake dataplane: pings are answered at once, deletes
 * with ok, the rest is recorded in c->seen (and answered with a relay SDP on port 30000 + twice
 * its index when auto_reply). */
void pump(struct ctx *c, bool auto_reply, int rounds);

/* How many requests `cmd` of call call_id the fake dataplane recorded. */
size_t count_cmd(const struct ctx *c, const char *cmd, const char *call_id);

/* --- SIP peers --- */

/* Sends msg from socket fd to the proxy. */
void send_sip(struct ctx *c, int fd, const char *msg);

/* The next SIP message on fd (NUL-terminated in buf), skipping 100 Trying; false when none. */
bool recv_sip(int fd, char *buf, size_t cap);

/* The branch parameter of the top Via of msg. */
void top_branch(const char *msg, char *out, size_t cap);

/* The m=audio port of the SDP in msg. */
unsigned int sdp_port(const char *msg);

/* A response to request req from a UAS on socket fd (its port `port`): every Via, From, To
 * (+tag), Call-ID, CSeq, Contact, and an SDP on port + 1000 when with_sdp. */
void respond(struct ctx *c, int fd, uint16_t port, const char *req, int code, const char *reason,
	     const char *tag, bool with_sdp);

/* The caller's INVITE of call call_id (From tag ft1) with an SDP offer, to bob@example.com. */
void invite(struct ctx *c, const char *call_id, const char *branch);

/* invite(), the dataplane answering, and the INVITE each of bob's two contacts received read
 * into inv[0] and inv[1] (asserted). */
void invite_both(struct ctx *c, const char *call_id, const char *branch, char inv[2][4096]);

/* The caller's CANCEL, or ACK of a non-2xx final, for its INVITE of call call_id (sent with
 * branch): the INVITE's Via branch, CSeq 1 method. */
void invite_follow(struct ctx *c, const char *method, const char *call_id, const char *branch);

/* An in-dialog request `method` of call cid straight to UAS 0 (To tag tt0), maybe with SDP. */
void in_dialog(struct ctx *c, const char *method, const char *cid, const char *branch,
	       unsigned int cseq, bool with_sdp);

#endif
