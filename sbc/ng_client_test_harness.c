/* ng_client_test_harness: fake dataplanes, the test's clock and the reply recorder shared by the
 * ng client's tests (ng_client_test_harness.h says what each does). */
#include "ng_client_test_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

void fake_open(struct fake *f, int family, uint32_t weight)
{
	struct sockaddr_storage ss = {.ss_family = (sa_family_t)family};
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl = family == AF_INET ? sizeof(*a4) : sizeof(*a6);

	memset(f, 0, sizeof(*f));
	f->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(f->fd >= 0);
	if (family == AF_INET)
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		a6->sin6_addr = in6addr_loopback;
	assert_int_equal(bind(f->fd, (struct sockaddr *)&ss, sl), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&ss, &sl), 0);
	f->cfg.addr.ip.family = family;
	if (family == AF_INET) {
		f->cfg.addr.ip.v4 = a4->sin_addr;
		f->cfg.addr.port = ntohs(a4->sin_port);
	} else {
		f->cfg.addr.ip.v6 = a6->sin6_addr;
		f->cfg.addr.port = ntohs(a6->sin6_port);
	}
	f->cfg.weight = weight;
	f->auto_pong = true;
}

void fake_send(struct fake *f, const char *cookie, size_t cklen, const char *body)
{
	char buf[DGRAM_MAX];
	int n = snprintf(buf, sizeof(buf), "%.*s %s", (int)cklen, cookie, body);

	assert_true(sendto(f->fd, buf, (size_t)n, 0, (struct sockaddr *)&f->peer, f->peerlen) == n);
}

/* Reads every datagram waiting: pings are answered (or dropped), the rest queued. */
static void fake_drain(struct fake *f)
{
	for (;;) {
		char buf[DGRAM_MAX];
		ssize_t n;
		const char *ck, *body;
		size_t cklen, blen;
		struct bencode_item *items;

		f->peerlen = sizeof(f->peer);
		n = recvfrom(f->fd, buf, sizeof(buf), 0, (struct sockaddr *)&f->peer, &f->peerlen);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			return;
		}
		assert_int_equal(bencode_ng_split(buf, (size_t)n, &ck, &cklen, &body, &blen, NULL),
				 0);
		items = bencode_decode_new(body, blen, 1024, NULL);
		assert_non_null(items);
		if (bencode_str_eq(bencode_dict_get(items, "command"), "ping")) {
			f->pings++;
			if (f->auto_pong)
				fake_send(f, ck, cklen, "d6:result4:ponge");
		} else {
			assert_true(f->nq < QUEUE_MAX);
			memcpy(f->q[f->nq], buf, (size_t)n);
			f->qlen[f->nq++] = (size_t)n;
		}
		free(items);
	}
}

size_t fake_pop(struct fake *f, char *buf)
{
	size_t n;

	fake_drain(f);
	if (f->nq == 0)
		return 0;
	n = f->qlen[0];
	memcpy(buf, f->q[0], n);
	buf[n] = '\0';
	memmove(f->q[0], f->q[1], (f->nq - 1) * sizeof(f->q[0]));
	memmove(&f->qlen[0], &f->qlen[1], (f->nq - 1) * sizeof(f->qlen[0]));
	f->nq--;
	return n;
}

void fake_answer(struct fake *f, const char *req, const char *body)
{
	const char *sp = strchr(req, ' ');

	assert_non_null(sp);
	fake_send(f, req, (size_t)(sp - req), body);
}

void settle(struct ctx *x)
{
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < x->nf; i++)
			fake_drain(&x->f[i]);
		assert_int_equal(loop_run_once(x->lp, 0), 0);
	}
}

void at(struct ctx *x, uint64_t ms)
{
	loop_advance(x->lp, x->t0 + ms);
	settle(x);
}

void ctx_init(struct ctx *x)
{
	memset(x, 0, sizeof(*x));
	x->lp = loop_new();
	assert_non_null(x->lp);
	/* Far ahead of CLOCK_MONOTONIC, so the real time the loop also reads never fires a timer
	 * before the test moves the clock. */
	x->t0 = loop_now(x->lp) + 1000000;
	loop_advance(x->lp, x->t0);
}

void ctx_start(struct ctx *x, struct ng_client_cfg *cfg)
{
	struct ng_dataplane_cfg dps[3];

	for (size_t i = 0; i < x->nf; i++)
		dps[i] = x->f[i].cfg;
	cfg->dataplanes = dps;
	cfg->n_dataplanes = x->nf;
	x->c = ng_client_new(x->lp, cfg);
	cfg->dataplanes = NULL; /* dps ends here; the client has its copy */
	assert_non_null(x->c);
	/* The first pings go out at once and are answered. */
	at(x, 0);
	for (size_t i = 0; i < x->nf; i++)
		assert_int_equal(x->f[i].pings, 1);
	assert_int_equal(ng_client_pending(x->c), 0);
}

void ctx_open(struct ctx *x, size_t nf, const uint32_t *weights, uint32_t ping_ms)
{
	struct ng_client_cfg cfg = {.retrans_ms = 500,
				    .max_retrans = 4,
				    .timeout_ms = 3000,
				    .ping_interval_ms = ping_ms,
				    .seed = 42};

	ctx_init(x);
	x->nf = nf;
	for (size_t i = 0; i < nf; i++)
		fake_open(&x->f[i], AF_INET, weights[i]);
	ctx_start(x, &cfg);
}

void ctx_close(struct ctx *x)
{
	ng_client_free(x->c);
	assert_int_equal(loop_timer_count(x->lp), 0);
	loop_free(x->lp);
	for (size_t i = 0; i < x->nf; i++)
		close(x->f[i].fd);
}

void on_reply(void *arg, const struct ng_reply *r)
{
	struct rec *rec = arg;

	rec->calls++;
	rec->status = r->status;
	rec->dp = r->dataplane;
	snprintf(rec->reason, sizeof(rec->reason), "%.*s", (int)r->error_reason_len,
		 r->error_reason);
	rec->has_sdp = r->sdp != NULL;
	if (r->sdp != NULL)
		snprintf(rec->sdp, sizeof(rec->sdp), "%.*s", (int)r->sdp_len, r->sdp);
	if (r->status == NG_STATUS_OK || r->status == NG_STATUS_ERROR)
		assert_non_null(r->dict);
	else
		assert_null(r->dict);
	if (rec->cancel_id != 0)
		rec->cancel_rc = ng_client_cancel(rec->c, rec->cancel_id);
	if (rec->chain != NULL)
		rec->chain_rc =
			ng_client_request(rec->c, rec->chain, on_reply, rec->chain_rec, NULL);
}

struct ng_params offer_of(const char *call_id)
{
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\n"
				  "c=IN IP4 192.168.1.10\r\nt=0 0\r\nm=audio 27910 RTP/AVP 0\r\n";
	struct ng_params p = {.cmd = NG_CMD_OFFER,
			      .call_id = call_id,
			      .from_tag = "ft",
			      .sdp = sdp,
			      .sdp_len = sizeof(sdp) - 1};

	return p;
}
