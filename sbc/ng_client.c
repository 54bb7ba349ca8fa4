/* ng_client: the non-blocking rtpengine "ng" client of sbc-sip — builds requests, sends them over
 * UDP to one of several weighted dataplanes, retransmits and times them out on loop timers, keeps
 * each call on its dataplane and takes dataplanes that stop answering out of rotation. */
#include "ng_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define NG_DGRAM_MAX	   65536 /* a UDP payload always fits */
#define NG_UDP_MAX	   65507 /* largest UDP payload over IPv4 */
#define NG_RECV_BATCH	   64	 /* datagrams read per readiness event, so others get a turn */
#define NG_REPLY_MAX_ITEMS 16384 /* a query reply of 16 streams stays far below this */
#define NG_WEIGHT_MAX	   1000000u
#define NG_HASH_MIN	   64
#define NG_SOCKBUF	   (4 << 20)

int ng_client_parse_dataplanes(const char *s, struct ng_dataplane_cfg *out, size_t cap)
{
	size_t n = 0;

	while (*s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char item[ADDR_STRLEN + 16];
		char *eq;
		unsigned long w = 1;

		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		if (n == cap)
			return -E2BIG;
		memcpy(item, s, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		if (eq != NULL) {
			char *e;

			*eq = '\0';
			errno = 0;
			w = strtoul(eq + 1, &e, 10);
			if (eq[1] == '\0' || *e != '\0' || errno != 0 || w > NG_WEIGHT_MAX)
				return -EINVAL;
		}
		if (addr_port_parse(item, &out[n].addr) != 0 || out[n].addr.port == 0)
			return -EINVAL;
		out[n].weight = (uint32_t)w;
		n++;
		s += len;
		if (*s == ',')
			s++;
	}
	return n > 0 ? (int)n : -EINVAL;
}

/* ---- the client ---- */

struct ng_req {
	struct ng_req *next; /* hash chain */
	struct ng_client *c;
	uint64_t id;
	int dp;
	enum ng_cmd cmd;
	bool partial; /* a delete of one branch (via-branch): the call stays tied */
	struct loop_timer timer;
	uint64_t deadline_ms;
	uint32_t interval_ms; /* until the next retransmission */
	uint32_t retrans;     /* retransmissions sent */
	ng_client_cb cb;
	void *arg;
	char *call_id; /* in data after the datagram; NULL for commands without a call */
	size_t len;    /* of the datagram */
	char data[];
};

/* A call tied to its dataplane. */
struct ng_call {
	struct ng_call *next;
	int dp;
	bool confirmed; /* the dataplane answered ok for this call at least once */
	char call_id[];
};

struct ng_dp {
	struct ng_dataplane_cfg cfg;
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd; /* the client's socket of this family */
	bool up;
	int64_t wrr_current; /* smooth weighted round robin state */
	uint64_t ping_id;    /* the ping in flight, 0 when none */
	uint64_t last_reply_ms;
	uint32_t consecutive_timeouts;
	size_t calls, pending;
	uint64_t requests, retransmits, replies, errors, timeouts, send_errors;
};

struct ng_client {
	struct loop *lp;
	struct ng_client_cfg cfg;
	int fd4, fd6;
	struct ng_dp dps[NG_CLIENT_MAX_DATAPLANES];
	size_t ndp;
	char prefix[20]; /* cookie prefix, unique per client so that the dataplane's reply cache
			  * never hands an earlier run's reply to this one */
	size_t prefix_len;
	uint64_t next_id;

	struct ng_req **reqs; /* by id */
	size_t req_buckets, nreqs;
	struct ng_call **calls; /* by call-id */
	size_t call_buckets, ncalls;

	struct loop_timer ping_timer;
	uint64_t stray_replies, bad_replies;
	struct log_ratelimit rl_stray, rl_send;
	char rbuf[NG_DGRAM_MAX];
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Doubles a chained hash table when it holds more entries than buckets. next is the chain link's
 * offset in an entry, key_of gives an entry's hash. */
static int rehash(void ***tab, size_t *nb, size_t count, size_t next_off,
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

static uint64_t call_key(const void *e)
{
	return str_hash(((const struct ng_call *)e)->call_id);
}

static struct ng_req **req_slot(struct ng_client *c, uint64_t id)
{
	struct ng_req **pp = &c->reqs[id & (c->req_buckets - 1)];

	while (*pp != NULL && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static struct ng_call **call_slot(const struct ng_client *c, const char *call_id)
{
	struct ng_call **pp;

	if (c->call_buckets == 0)
		return NULL;
	pp = &c->calls[str_hash(call_id) & (c->call_buckets - 1)];
	while (*pp != NULL && strcmp((*pp)->call_id, call_id) != 0)
		pp = &(*pp)->next;
	return pp;
}

static struct ng_call *call_find(const struct ng_client *c, const char *call_id)
{
	struct ng_call **pp = call_slot(c, call_id);

	return pp != NULL ? *pp : NULL;
}

static struct ng_call *call_add(struct ng_client *c, const char *call_id, int dp)
{
	size_t len = strlen(call_id);
	struct ng_call *e;
	struct ng_call **pp;

	if (rehash((void ***)&c->calls, &c->call_buckets, c->ncalls, offsetof(struct ng_call, next),
		   call_key) != 0)
		return NULL;
	e = malloc(sizeof(*e) + len + 1);
	if (e == NULL)
		return NULL;
	memcpy(e->call_id, call_id, len + 1);
	e->dp = dp;
	e->confirmed = false;
	pp = &c->calls[str_hash(call_id) & (c->call_buckets - 1)];
	e->next = *pp;
	*pp = e;
	c->ncalls++;
	c->dps[dp].calls++;
	return e;
}

static int call_remove(struct ng_client *c, const char *call_id)
{
	struct ng_call **pp = call_slot(c, call_id);
	struct ng_call *e;

	if (pp == NULL || *pp == NULL)
		return -ENOENT;
	e = *pp;
	*pp = e->next;
	c->ncalls--;
	c->dps[e->dp].calls--;
	free(e);
	return 0;
}

/* ---- health ---- */

static void dp_alive(struct ng_client *c, struct ng_dp *d)
{
	char buf[ADDR_STRLEN];

	d->consecutive_timeouts = 0;
	d->last_reply_ms = loop_now(c->lp);
	if (!d->up) {
		d->up = true;
		LOG_NOTICE("ng dataplane %s answers again: back in rotation",
			   addr_port_format(&d->cfg.addr, buf, sizeof(buf)));
	}
}

static void dp_timed_out(struct ng_client *c, struct ng_dp *d)
{
	char buf[ADDR_STRLEN];

	d->timeouts++;
	d->consecutive_timeouts++;
	if (d->up && d->consecutive_timeouts >= c->cfg.fail_after) {
		d->up = false;
		/* Its calls stay on it (their media is there); only new calls go elsewhere. */
		LOG_WARN("ng dataplane %s does not answer: out of rotation for new calls",
			 addr_port_format(&d->cfg.addr, buf, sizeof(buf)));
	}
}

/* Smooth weighted round robin over the dataplanes in rotation (every pick moves the chosen one
 * back by the total, so picks interleave in proportion to the weights). Returns -1 when none. */
static int dp_pick(struct ng_client *c)
{
	int64_t total = 0;
	int best = -1;

	for (size_t i = 0; i < c->ndp; i++) {
		struct ng_dp *d = &c->dps[i];

		if (!d->up || d->cfg.weight == 0)
			continue;
		d->wrr_current += d->cfg.weight;
		total += d->cfg.weight;
		if (best < 0 || d->wrr_current > c->dps[best].wrr_current)
			best = (int)i;
	}
	if (best >= 0)
		c->dps[best].wrr_current -= total;
	return best;
}

/* ---- sending, retransmitting, completing ---- */

static void ping_done(void *arg, const struct ng_reply *r);

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

/* True when another offer of r's call than r is still waiting (the offers of a forked call's
 * branches). */
static bool other_offer_pending(const struct ng_client *c, const struct ng_req *r)
{
	for (size_t i = 0; i < c->req_buckets; i++)
		for (const struct ng_req *o = c->reqs[i]; o != NULL; o = o->next)
			if (o != r && o->cmd == NG_CMD_OFFER && o->call_id != NULL &&
			    strcmp(o->call_id, r->call_id) == 0)
				return true;
	return false;
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
	if (r->call_id != NULL) {
		struct ng_call *e = call_find(c, r->call_id);

		if (r->cmd == NG_CMD_DELETE) {
			if (!r->partial)
				call_remove(c, r->call_id);
		} else if (e != NULL && e->dp == r->dp) {
			if (rep->status == NG_STATUS_OK)
				e->confirmed = true;
			else if (!e->confirmed && r->cmd == NG_CMD_OFFER &&
				 (rep->status == NG_STATUS_TIMEOUT || !other_offer_pending(c, r)))
				/* The first offer failed: nothing of the call is on the dataplane,
				 * so a retry may go to a healthy one. A refusal while other offers
				 * of the call (its other branches) are still out keeps it there:
				 * the dataplane answers, and they may succeed. */
				call_remove(c, r->call_id);
		}
	}
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
		dp_timed_out(c, &c->dps[r->dp]);
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

static int req_submit(struct ng_client *c, int dp, const struct ng_params *p, ng_client_cb cb,
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
	if (rehash((void ***)&c->reqs, &c->req_buckets, c->nreqs, offsetof(struct ng_req, next),
		   req_key) != 0)
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
	return req_submit(c, dp, p, cb, arg, id);
}

int ng_client_request(struct ng_client *c, const struct ng_params *p, ng_client_cb cb, void *arg,
		      uint64_t *id)
{
	struct ng_call *e = NULL;
	bool added = false;
	int dp, rc;

	if (ng_params_has_call(p->cmd) && p->call_id != NULL)
		e = call_find(c, p->call_id);
	if (e != NULL) {
		dp = e->dp;
	} else {
		dp = dp_pick(c);
		if (dp < 0)
			return -EHOSTUNREACH;
		if (p->cmd == NG_CMD_OFFER && p->call_id != NULL && p->call_id[0] != '\0') {
			if (call_add(c, p->call_id, dp) == NULL)
				return -ENOMEM;
			added = true;
		}
	}
	rc = req_submit(c, dp, p, cb, arg, id);
	if (rc != 0 && added)
		call_remove(c, p->call_id);
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
	if (r->cb == ping_done)
		c->dps[r->dp].ping_id = 0;
	/* A cancelled offer stays tied: the dataplane may have executed it already, so the delete
	 * that normally follows must go there. A cancelled delete still unties the call, the owner
	 * wanted it gone. */
	if (r->call_id != NULL && r->cmd == NG_CMD_DELETE && !r->partial)
		call_remove(c, r->call_id);
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
	dp_alive(c, &c->dps[dp]);
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

/* ---- pings ---- */

static void ping_done(void *arg, const struct ng_reply *r)
{
	struct ng_client *c = arg;

	/* Health was already updated on the reply or the timeout; only the slot is freed. */
	c->dps[r->dataplane].ping_id = 0;
}

static void ping_timer(struct loop *lp, void *arg)
{
	struct ng_client *c = arg;
	static const struct ng_params ping = {.cmd = NG_CMD_PING};

	/* Every dataplane is pinged, not only the ones out of rotation, so that an idle one that
	 * died is noticed before a new call is sent to it. */
	for (size_t i = 0; i < c->ndp; i++) {
		if (c->dps[i].ping_id == 0)
			(void)req_submit(c, (int)i, &ping, ping_done, c, &c->dps[i].ping_id);
	}
	(void)loop_timer_start(lp, &c->ping_timer, c->cfg.ping_interval_ms);
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
	loop_timer_init(&c->ping_timer, ping_timer, c);
	rc = loop_timer_start(lp, &c->ping_timer, 0);
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
	loop_timer_stop(c->lp, &c->ping_timer);
	for (size_t i = 0; i < c->req_buckets; i++) {
		while (c->reqs[i] != NULL) {
			struct ng_req *r = c->reqs[i];

			c->reqs[i] = r->next;
			loop_timer_stop(c->lp, &r->timer);
			free(r);
		}
	}
	for (size_t i = 0; i < c->call_buckets; i++) {
		while (c->calls[i] != NULL) {
			struct ng_call *e = c->calls[i];

			c->calls[i] = e->next;
			free(e);
		}
	}
	free(c->reqs);
	free(c->calls);
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

int ng_client_forget(struct ng_client *c, const char *call_id)
{
	return call_remove(c, call_id);
}

int ng_client_call_dataplane(const struct ng_client *c, const char *call_id)
{
	const struct ng_call *e = call_find(c, call_id);

	return e != NULL ? e->dp : -ENOENT;
}

bool ng_client_dataplane_up(const struct ng_client *c, int dp)
{
	return dp >= 0 && (size_t)dp < c->ndp && c->dps[dp].up;
}

size_t ng_client_pending(const struct ng_client *c)
{
	return c->nreqs;
}

size_t ng_client_calls(const struct ng_client *c)
{
	return c->ncalls;
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
