/* ng_client_pick: where the ng client's requests go — the dataplanes' weights (smooth weighted
 * round robin), their health (pings, timeouts, rotation) and the table that keeps each call on
 * its dataplane. */
#include "ng_client_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the call table ---- */

static uint64_t str_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint64_t call_key(const void *e)
{
	return str_hash(((const struct ng_call *)e)->call_id);
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

	if (ng_client_rehash((void ***)&c->calls, &c->call_buckets, c->ncalls,
			     offsetof(struct ng_call, next), call_key) != 0)
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

void ng_client_pick_answered(struct ng_client *c, int dp)
{
	struct ng_dp *d = &c->dps[dp];
	char buf[ADDR_STRLEN];

	d->consecutive_timeouts = 0;
	d->last_reply_ms = loop_now(c->lp);
	if (!d->up) {
		d->up = true;
		LOG_NOTICE("ng dataplane %s answers again: back in rotation",
			   addr_port_format(&d->cfg.addr, buf, sizeof(buf)));
	}
}

void ng_client_pick_timed_out(struct ng_client *c, int dp)
{
	struct ng_dp *d = &c->dps[dp];
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

/* ---- picking ---- */

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

int ng_client_pick(struct ng_client *c, const struct ng_params *p, bool *tied)
{
	struct ng_call *e = NULL;
	int dp;

	*tied = false;
	if (ng_params_has_call(p->cmd) && p->call_id != NULL)
		e = call_find(c, p->call_id);
	if (e != NULL)
		return e->dp;
	dp = dp_pick(c);
	if (dp < 0)
		return -EHOSTUNREACH;
	if (p->cmd == NG_CMD_OFFER && p->call_id != NULL && p->call_id[0] != '\0') {
		if (call_add(c, p->call_id, dp) == NULL)
			return -ENOMEM;
		*tied = true;
	}
	return dp;
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

void ng_client_pick_done(struct ng_client *c, const struct ng_req *r, enum ng_status status)
{
	struct ng_call *e = call_find(c, r->call_id);

	if (r->cmd == NG_CMD_DELETE) {
		if (!r->partial)
			call_remove(c, r->call_id);
	} else if (e != NULL && e->dp == r->dp) {
		if (status == NG_STATUS_OK)
			e->confirmed = true;
		else if (!e->confirmed && r->cmd == NG_CMD_OFFER &&
			 (status == NG_STATUS_TIMEOUT || !other_offer_pending(c, r)))
			/* The first offer failed: nothing of the call is on the dataplane, so a
			 * retry may go to a healthy one. A refusal while other offers of the call
			 * (its other branches) are still out keeps it there: the dataplane answers,
			 * and they may succeed. */
			call_remove(c, r->call_id);
	}
}

/* ---- pings ---- */

static void ping_done(void *arg, const struct ng_reply *r)
{
	struct ng_client *c = arg;

	/* Health was already updated on the reply or the timeout; only the slot is freed. */
	c->dps[r->dataplane].ping_id = 0;
}

void ng_client_pick_cancelled(struct ng_client *c, const struct ng_req *r)
{
	if (r->cb == ping_done)
		c->dps[r->dp].ping_id = 0;
	/* A cancelled offer stays tied: the dataplane may have executed it already, so the delete
	 * that normally follows must go there. A cancelled delete still unties the call, the owner
	 * wanted it gone. */
	if (r->call_id != NULL && r->cmd == NG_CMD_DELETE && !r->partial)
		call_remove(c, r->call_id);
}

static void ping_timer(struct loop *lp, void *arg)
{
	struct ng_client *c = arg;
	static const struct ng_params ping = {.cmd = NG_CMD_PING};

	/* Every dataplane is pinged, not only the ones out of rotation, so that an idle one that
	 * died is noticed before a new call is sent to it. */
	for (size_t i = 0; i < c->ndp; i++) {
		if (c->dps[i].ping_id == 0)
			(void)ng_client_submit(c, (int)i, &ping, ping_done, c, &c->dps[i].ping_id);
	}
	(void)loop_timer_start(lp, &c->ping_timer, c->cfg.ping_interval_ms);
}

int ng_client_pick_start(struct ng_client *c)
{
	loop_timer_init(&c->ping_timer, ping_timer, c);
	return loop_timer_start(c->lp, &c->ping_timer, 0);
}

void ng_client_pick_free(struct ng_client *c)
{
	loop_timer_stop(c->lp, &c->ping_timer);
	for (size_t i = 0; i < c->call_buckets; i++) {
		while (c->calls[i] != NULL) {
			struct ng_call *e = c->calls[i];

			c->calls[i] = e->next;
			free(e);
		}
	}
	free(c->calls);
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

size_t ng_client_calls(const struct ng_client *c)
{
	return c->ncalls;
}
