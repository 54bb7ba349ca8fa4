/* ng_client: the non-blocking rtpengine "ng" client of sbc-sip — frames requests, sends them over
 * UDP, retransmits and times them out on loop timers and hands each reply to its owner; which
 * dataplane a request goes to is ng_client_pick.c's job. */
#include "ng_client_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#define NG_UDP_MAX	   65507 /* largest UDP payload over IPv4 */
#define NG_RECV_BATCH	   64	 /* datagrams read per readiness event, so others get a turn */
#define NG_REPLY_MAX_ITEMS 16384 /* a query reply of 16 streams stays far below this */
#define NG_HASH_MIN	   64
#define NG_SOCKBUF	   (4 << 20)

/* ---- the request table ---- */

int ng_client_rehash(void ***tab, size_t *nb, size_t count, size_t next_off,
		     uint64_t (*key_of)(const void *))
{
	size_t nnb = *nb ? *nb * 2 : NG_HASH_MIN;
	void **n;

	if (*nb != 0 && count < *nb)
		return 0;
	n = calloc(nnb, sizeof(*n));
	if (n == NULL)
		return *nb != 0 ? 0 : -ENOMEM; /* a full table still works, only slower */
	for (size_t i = 0; i < *nb; i++) {
		void *e = (*tab)[i];

		while (e != NULL) {
			void **link = (void **)((char *)e + next_off);
			void *nx = *link;
			size_t b = key_of(e) & (nnb - 1);

			*link = n[b];
			n[b] = e;
			e = nx;
		}
	}
	free(*tab);
	*tab = n;
	*nb = nnb;
	return 0;
}

static uint64_t req_key(const void *e)
{
	return ((const struct ng_req *)e)->id;
}

static struct ng_req **req_slot(struct ng_client *c, uint64_t id)
{
	struct ng_req **pp = &c->reqs[id & (c->req_buckets - 1)];

	while (*pp != NULL && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* ---- sending, retransmitting, completing ---- */

static void req_send(struct ng_client *c, struct ng_req *r)
{
	struct ng_dp *d = &c->dps[r->dp];

	if (sendto(d->fd, r->data, r->len, MSG_DONTWAIT, (const struct sockaddr *)&d->sa,
		   d->salen) < 0) {
		/* A lost datagram: the next retransmission (or the timeout) deals with it. */
		d->send_errors++;
		if (log_ratelimit_ok(&c->rl_send, 5, 10000))
			LOG_WARN("ng: sendto: %s", strerror(errno));
	}
}

static int req_arm(struct ng_client *c, struct ng_req *r)
{
	uint64_t now = loop_now(c->lp);
	uint64_t left = r->deadline_ms > now ? r->deadline_ms - now : 0;
	uint64_t next = left;

	if (r->retrans < c->cfg.max_retrans && r->interval_ms < left)
		next = r->interval_ms;
	return loop_timer_start(c->lp, &r->timer, next);
}

/* Unlinks r, updates the call table and calls the owner. r is freed on return. */
static void req_finish(struct ng_req *r, struct ng_reply *rep)
{
	struct ng_client *c = r->c;
	struct ng_req **pp = req_slot(c, r->id);

	*pp = r->next;
	c->nreqs--;
	c->dps[r->dp].pending--;
	loop_timer_stop(c->lp, &r->timer);
	if (r->call_id != NULL)
		ng_client_pick_done(c, r, rep->status);
	rep->dataplane = r->dp;
	r->cb(r->arg, rep);
	free(r);
}

static void req_timer(struct loop *lp, void *arg)
{
	struct ng_req *r = arg;
	struct ng_client *c = r->c;

	if (loop_now(lp) >= r->deadline_ms) {
		struct ng_reply rep = {.status = NG_STATUS_TIMEOUT, .error_reason = "timeout"};

		rep.error_reason_len = strlen(rep.error_reason);
		ng_client_pick_timed_out(c, r->dp);
		req_finish(r, &rep);
		return;
	}
	/* Same cookie: the dataplane's reply cache answers a retransmission without executing
	 * the command twice (docs/ng-protocol.md, "Reply cache"). */
	req_send(c, r);
	r->retrans++;
	c->dps[r->dp].retransmits++;
	if (r->interval_ms <= UINT32_MAX / 2)
		r->interval_ms *= 2;
	/* Re-arming the timer that just fired reuses its heap slot: it cannot fail. */
	(void)req_arm(c, r);
}

int ng_client_submit(struct ng_client *c, int dp, const struct ng_params *p, ng_client_cb cb,
		     void *arg, uint64_t *idp)
{
	size_t cap = ng_params_size(p);
	size_t cid = ng_params_has_call(p->cmd) && p->call_id ? strlen(p->call_id) + 1 : 0;
	struct ng_req *r;
	struct ng_req **pp;
	struct bencode_writer w;
	char cookie[48];
	int n, rc;

	if (cb == NULL)
		return -EINVAL;
	if (ng_client_rehash((void ***)&c->reqs, &c->req_buckets, c->nreqs,
			     offsetof(struct ng_req, next), req_key) != 0)
		return -ENOMEM;
	r = calloc(1, sizeof(*r) + cap + cid);
	if (r == NULL)
		return -ENOMEM;
	r->id = ++c->next_id;
	n = snprintf(cookie, sizeof(cookie), "%s%" PRIu64, c->prefix, r->id);
	bencode_writer_init(&w, r->data, cap);
	bencode_ng_reply_start(&w, cookie, (size_t)n);
	rc = ng_params_encode(p, &w);
	if (rc == 0)
		rc = bencode_writer_finish(&w, &r->len);
	if (rc == 0 && r->len > NG_UDP_MAX)
		rc = -EMSGSIZE; /* would only time out: say so now */
	if (rc != 0) {
		free(r);
		return rc == -ENOSPC ? -EINVAL : rc;
	}
	if (cid != 0) {
		r->call_id = r->data + cap;
		memcpy(r->call_id, p->call_id, cid);
	}
	r->c = c;
	r->dp = dp;
	r->cmd = p->cmd;
	r->partial = p->cmd == NG_CMD_DELETE && p->via_branch != NULL;
	r->cb = cb;
	r->arg = arg;
	r->interval_ms = c->cfg.retrans_ms;
	r->deadline_ms = loop_now(c->lp) + c->cfg.timeout_ms;
	loop_timer_init(&r->timer, req_timer, r);
	if (req_arm(c, r) != 0) {
		free(r);
		return -ENOMEM;
	}
	pp = req_slot(c, r->id);
	r->next = NULL;
	*pp = r;
	c->nreqs++;
	c->dps[dp].pending++;
	c->dps[dp].requests++;
	req_send(c, r);
	if (idp != NULL)
		*idp = r->id;
	return 0;
}

int ng_client_request_to(struct ng_client *c, int dp, const struct ng_params *p, ng_client_cb cb,
			 void *arg, uint64_t *id)
{
	if (dp < 0 || (size_t)dp >= c->ndp)
		return -EINVAL;
	return ng_client_submit(c, dp, p, cb, arg, id);
}

int ng_client_request(struct ng_client *c, const struct ng_params *p, ng_client_cb cb, void *arg,
		      uint64_t *id)
{
	bool tied;
	int dp = ng_client_pick(c, p, &tied);
	int rc;

	if (dp < 0)
		return dp;
	rc = ng_client_submit(c, dp, p, cb, arg, id);
	if (rc != 0 && tied)
		ng_client_forget(c, p->call_id);
	return rc;
}

int ng_client_cancel(struct ng_client *c, uint64_t id)
{
	struct ng_req **pp;
	struct ng_req *r;

	if (c->req_buckets == 0)
		return -ENOENT;
	pp = req_slot(c, id);
	r = *pp;
	if (r == NULL)
		return -ENOENT;
	*pp = r->next;
	c->nreqs--;
	c->dps[r->dp].pending--;
	loop_timer_stop(c->lp, &r->timer);
	ng_client_pick_cancelled(c, r);
	free(r);
	return 0;
}

/* ---- receiving ---- */

static int dp_of_source(const struct ng_client *c, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < c->ndp; i++) {
		const struct ng_dp *d = &c->dps[i];

		if (ss->ss_family != d->sa.ss_family)
			continue;
		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ss, *b = (const void *)&d->sa;

			if (a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr)
				return (int)i;
		} else {
			const struct sockaddr_in6 *a = (const void *)ss, *b = (const void *)&d->sa;

			if (a->sin6_port == b->sin6_port &&
			    memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0)
				return (int)i;
		}
	}
	return -1;
}

/* The request a reply's cookie names, or NULL when it is not one of ours still in flight. */
static struct ng_req *req_of_cookie(struct ng_client *c, const char *ck, size_t len)
{
	uint64_t id = 0;

	if (len <= c->prefix_len || len > c->prefix_len + 20 ||
	    memcmp(ck, c->prefix, c->prefix_len) != 0 || c->req_buckets == 0)
		return NULL;
	for (size_t i = c->prefix_len; i < len; i++) {
		if (ck[i] < '0' || ck[i] > '9' || id > (UINT64_MAX - 9) / 10)
			return NULL;
		id = id * 10 + (uint64_t)(ck[i] - '0');
	}
	return *req_slot(c, id);
}

static void stray(struct ng_client *c, const char *why)
{
	c->stray_replies++;
	if (log_ratelimit_ok(&c->rl_stray, 5, 10000))
		LOG_INFO("ng: ignored a datagram: %s", why);
}

/* Fills rep from a decoded reply body (items may be NULL: undecodable). */
static void reply_parse(struct ng_client *c, struct ng_dp *d, const struct bencode_item *items,
			struct ng_reply *rep)
{
	const struct bencode_item *res = items != NULL ? bencode_dict_get(items, "result") : NULL;
	const char *why = NULL;

	if (bencode_str_eq(res, "ok") || bencode_str_eq(res, "pong")) {
		rep->status = NG_STATUS_OK;
		why = "";
	} else if (bencode_str_eq(res, "error")) {
		rep->status = NG_STATUS_ERROR;
		d->errors++;
		if (!bencode_dict_get_str(items, "error-reason", &rep->error_reason,
					  &rep->error_reason_len))
			why = "error without a reason";
	} else {
		rep->status = NG_STATUS_BAD_REPLY;
		why = items == NULL ? "undecodable reply" : "reply without a valid result";
		c->bad_replies++;
	}
	if (why != NULL) {
		rep->error_reason = why;
		rep->error_reason_len = strlen(why);
	}
	if (rep->status != NG_STATUS_BAD_REPLY) {
		rep->dict = items;
		if (!bencode_dict_get_str(items, "sdp", &rep->sdp, &rep->sdp_len))
			rep->sdp = NULL;
	}
}

static void on_dgram(struct ng_client *c, const struct sockaddr_storage *ss, size_t len)
{
	const char *ck, *body;
	size_t cklen, blen;
	struct ng_req *r;
	struct ng_reply rep = {0};
	struct bencode_item *items;
	int dp = dp_of_source(c, ss);

	if (dp < 0) {
		stray(c, "not from a dataplane");
		return;
	}
	if (bencode_ng_split(c->rbuf, len, &ck, &cklen, &body, &blen, NULL) != 0) {
		stray(c, "no cookie");
		return;
	}
	r = req_of_cookie(c, ck, cklen);
	/* A late reply (the request already timed out), a second reply (the first one completed
	 * the request), or a reply from another dataplane than the one asked. */
	if (r == NULL || r->dp != dp) {
		stray(c, "unknown cookie");
		return;
	}
	/* Even a reply we cannot use proves the dataplane is there. */
	ng_client_pick_answered(c, dp);
	c->dps[dp].replies++;
	items = bencode_decode_new(body, blen, NG_REPLY_MAX_ITEMS, NULL);
	reply_parse(c, &c->dps[dp], items, &rep);
	req_finish(r, &rep);
	free(items);
}

static void on_readable(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct ng_client *c = arg;

	(void)lp;
	(void)events;
	for (int i = 0; i < NG_RECV_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(fd, c->rbuf, sizeof(c->rbuf), MSG_DONTWAIT,
				     (struct sockaddr *)&ss, &sl);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: drained. Anything else (an ICMP error queued on the socket) says
			 * nothing about which request: the timeouts handle it. */
			break;
		}
		on_dgram(c, &ss, (size_t)n);
	}
}

/* ---- life cycle ---- */

static int dp_init(struct ng_client *c, struct ng_dp *d, const struct ng_dataplane_cfg *cfg)
{
	int *fdp;

	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->up = true;
	if (cfg->addr.ip.family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&d->sa;

		a->sin_family = AF_INET;
		a->sin_port = htons(cfg->addr.port);
		a->sin_addr = cfg->addr.ip.v4;
		d->salen = sizeof(*a);
		fdp = &c->fd4;
	} else if (cfg->addr.ip.family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&d->sa;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(cfg->addr.port);
		a->sin6_addr = cfg->addr.ip.v6;
		d->salen = sizeof(*a);
		fdp = &c->fd6;
	} else {
		return -EINVAL;
	}
	if (cfg->addr.port == 0 || cfg->weight > NG_WEIGHT_MAX)
		return -EINVAL;
	if (*fdp < 0) {
		int rc;

		int bufsz = NG_SOCKBUF;

		*fdp = socket(cfg->addr.ip.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (*fdp < 0)
			return -errno;
		/* A burst of calls brings a burst of replies of a few hundred bytes each, and the
		 * default buffer holds only about a hundred datagrams: every one dropped costs a
		 * retransmission delay. Best effort, the kernel caps it at net.core.rmem_max. */
		(void)setsockopt(*fdp, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
		(void)setsockopt(*fdp, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
		rc = loop_fd_add(c->lp, *fdp, EPOLLIN, on_readable, c);
		if (rc != 0) {
			close(*fdp);
			*fdp = -1;
			return rc;
		}
	}
	d->fd = *fdp;
	return 0;
}

struct ng_client *ng_client_new(struct loop *lp, const struct ng_client_cfg *cfg)
{
	struct ng_client *c;
	uint64_t seed = cfg->seed;
	int rc;

	if (lp == NULL || cfg->n_dataplanes == 0 || cfg->n_dataplanes > NG_CLIENT_MAX_DATAPLANES ||
	    cfg->dataplanes == NULL) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->lp = lp;
	c->cfg = *cfg;
	c->cfg.dataplanes = NULL; /* copied into dps */
	if (c->cfg.retrans_ms == 0)
		c->cfg.retrans_ms = 500;
	if (c->cfg.max_retrans == 0)
		c->cfg.max_retrans = 4;
	if (c->cfg.timeout_ms == 0)
		c->cfg.timeout_ms = 3000;
	if (c->cfg.ping_interval_ms == 0)
		c->cfg.ping_interval_ms = 1000;
	if (c->cfg.fail_after == 0)
		c->cfg.fail_after = 1;
	c->fd4 = c->fd6 = -1;
	if (seed == 0 && getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)getpid() << 32 ^ loop_now(lp);
	c->prefix_len = (size_t)snprintf(c->prefix, sizeof(c->prefix), "%08" PRIx32 "_",
					 (uint32_t)(seed ^ seed >> 32));
	for (size_t i = 0; i < cfg->n_dataplanes; i++) {
		rc = dp_init(c, &c->dps[i], &cfg->dataplanes[i]);
		if (rc != 0)
			goto fail;
		c->ndp++;
	}
	rc = ng_client_pick_start(c);
	if (rc != 0)
		goto fail;
	return c;

fail:
	ng_client_free(c);
	errno = -rc;
	return NULL;
}

void ng_client_free(struct ng_client *c)
{
	if (c == NULL)
		return;
	ng_client_pick_free(c);
	for (size_t i = 0; i < c->req_buckets; i++) {
		while (c->reqs[i] != NULL) {
			struct ng_req *r = c->reqs[i];

			c->reqs[i] = r->next;
			loop_timer_stop(c->lp, &r->timer);
			free(r);
		}
	}
	free(c->reqs);
	if (c->fd4 >= 0) {
		loop_fd_del(c->lp, c->fd4);
		close(c->fd4);
	}
	if (c->fd6 >= 0) {
		loop_fd_del(c->lp, c->fd6);
		close(c->fd6);
	}
	free(c);
}

/* ---- looking in ---- */

size_t ng_client_pending(const struct ng_client *c)
{
	return c->nreqs;
}

json_t *ng_client_dump(const struct ng_client *c)
{
	json_t *o = json_object(), *a = json_array();
	uint64_t now = loop_now(c->lp);

	if (o == NULL || a == NULL)
		goto fail;
	for (size_t i = 0; i < c->ndp; i++) {
		const struct ng_dp *d = &c->dps[i];
		char buf[ADDR_STRLEN];
		json_t *dj = json_pack(
			"{s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"address", addr_port_format(&d->cfg.addr, buf, sizeof(buf)), "weight",
			(json_int_t)d->cfg.weight, "up", d->up, "calls", (json_int_t)d->calls,
			"pending", (json_int_t)d->pending, "requests", (json_int_t)d->requests,
			"retransmits", (json_int_t)d->retransmits, "replies",
			(json_int_t)d->replies, "errors", (json_int_t)d->errors, "timeouts",
			(json_int_t)d->timeouts, "send_errors", (json_int_t)d->send_errors,
			"consecutive_timeouts", (json_int_t)d->consecutive_timeouts,
			"last_reply_age_ms",
			(json_int_t)(d->last_reply_ms ? (int64_t)(now - d->last_reply_ms) : -1));

		if (dj == NULL || json_array_append_new(a, dj) != 0)
			goto fail;
	}
	if (json_object_set_new(o, "pending", json_integer((json_int_t)c->nreqs)) != 0 ||
	    json_object_set_new(o, "calls", json_integer((json_int_t)c->ncalls)) != 0 ||
	    json_object_set_new(o, "stray_replies", json_integer((json_int_t)c->stray_replies)) !=
		    0 ||
	    json_object_set_new(o, "bad_replies", json_integer((json_int_t)c->bad_replies)) != 0)
		goto fail;
	if (json_object_set_new(o, "dataplanes", a) != 0) {
		a = NULL;
		goto fail;
	}
	return o;

fail:
	json_decref(a);
	json_decref(o);
	return NULL;
}
