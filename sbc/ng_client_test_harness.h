/* ng_client_test_harness: what ng_client_test and ng_client_pick_test share (see
 * ng_client_test_harness.c): fake dataplanes on UDP sockets of 127.0.0.1 or ::1 that the test reads
 * and answers by hand, a client on a loop whose clock the test moves, and a reply recorder. */
#ifndef SBC_NG_CLIENT_TEST_HARNESS_H
#define SBC_NG_CLIENT_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "ng_client.h"

#define DGRAM_MAX 4096
#define QUEUE_MAX 64

/* A fake dataplane: a UDP socket the test reads and answers by hand. */
struct fake {
	int fd;
	struct ng_dataplane_cfg cfg;
	bool auto_pong; /* answer pings by itself */
	unsigned pings;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	/* Datagrams other than pings, oldest first. */
	char q[QUEUE_MAX][DGRAM_MAX];
	size_t qlen[QUEUE_MAX];
	size_t nq;
};

/* What on_reply saw. */
struct rec {
	int calls;
	enum ng_status status;
	int dp;
	char reason[128];
	char sdp[256];
	bool has_sdp;
	/* Optional actions run from inside the callback. */
	struct ng_client *c;
	uint64_t cancel_id;
	int cancel_rc;
	const struct ng_params *chain;
	int chain_rc;
	struct rec *chain_rec;
};

struct ctx {
	struct loop *lp;
	struct ng_client *c;
	struct fake f[3];
	size_t nf;
	uint64_t t0;
};

/* Binds f to an ephemeral port of the loopback address of family (AF_INET or AF_INET6); f->cfg
 * is the dataplane to configure, with weight. Pings are answered until auto_pong is cleared. */
void fake_open(struct fake *f, int family, uint32_t weight);

/* Sends "cookie body" to the client. */
void fake_send(struct fake *f, const char *cookie, size_t cklen, const char *body);

/* Pops the oldest queued request into buf (NUL-terminated); returns its length or 0. */
size_t fake_pop(struct fake *f, char *buf);

/* Answers a popped request with body under its cookie. */
void fake_answer(struct fake *f, const char *req, const char *body);

/* Lets the client read what the fakes sent (loopback UDP is delivered synchronously). */
void settle(struct ctx *x);

/* Moves the clock to t0 + ms and lets everything settle. */
void at(struct ctx *x, uint64_t ms);

/* Zeroes x and starts its loop with the clock at x->t0. */
void ctx_init(struct ctx *x);

/* Creates x->c on the fakes x->f[0..x->nf) with cfg (its dataplanes are filled in here) and lets
 * the first pings be answered. */
void ctx_start(struct ctx *x, struct ng_client_cfg *cfg);

/* ctx_init and ctx_start on nf IPv4 fakes with weights: retransmission after 500 ms, at most 4,
 * timeout 3000 ms, pings every ping_ms. */
void ctx_open(struct ctx *x, size_t nf, const uint32_t *weights, uint32_t ping_ms);

/* Frees the client (checking that it left no timer), the loop and the fakes. */
void ctx_close(struct ctx *x);

/* An ng_client_cb recording into the struct rec arg, running its optional actions. */
void on_reply(void *arg, const struct ng_reply *r);

/* An offer of call_id with a small SDP. */
struct ng_params offer_of(const char *call_id);

#endif
