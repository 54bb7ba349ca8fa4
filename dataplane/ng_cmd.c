/* ng_cmd: the rtpengine ng commands over the call store (see docs/ng-protocol.md): the command
 * table, ping, offer, answer and delete, latch events and timers; query, list and statistics are in
 * ng_cmd_report.c. */
#include "ng_cmd_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sdp.h"

struct ng_cmd *ng_cmd_new(const struct ng_cmd_cfg *cfg, const struct ng_ops *ops, void *arg)
{
	struct ng_cmd *nc = calloc(1, sizeof(*nc));

	if (!nc)
		return NULL;
	nc->cfg = *cfg;
	if (nc->cfg.n_media == 0 || nc->cfg.n_media > NG_CALL_MAX_ADDRS)
		nc->cfg.n_media = 1;
	nc->ops = ops;
	nc->arg = arg;
	nc->calls = ng_calls_new(cfg->buckets ? cfg->buckets : 4096);
	if (!nc->calls) {
		free(nc);
		return NULL;
	}
	return nc;
}

void ng_cmd_reconfigure(struct ng_cmd *nc, const struct ng_cmd_cfg *cfg)
{
	struct ng_cmd_cfg old = nc->cfg;

	nc->cfg = *cfg;
	nc->cfg.n_media = old.n_media;
	memcpy(nc->cfg.media_addr, old.media_addr, sizeof(old.media_addr));
	nc->cfg.buckets = old.buckets;
}

const struct addr_ip *ng_cmd_media_addr(const struct ng_cmd *nc, unsigned addr)
{
	return &nc->cfg.media_addr[addr < nc->cfg.n_media ? addr : 0];
}

unsigned ng_cmd_call_addr(const struct ng_cmd *nc, const struct ng_call *c)
{
	const struct ng_call *o;

	if (c->nstreams)
		return c->streams[0].ports.addr;
	for (o = ng_calls_find(nc->calls, c->call_id, strlen(c->call_id)); o;
	     o = ng_calls_find_next(o))
		if (o->nstreams)
			return o->streams[0].ports.addr;
	return NG_ADDR_ANY;
}

static void call_destroy(struct ng_cmd *nc, struct ng_call *c)
{
	for (unsigned i = 0; i < c->nstreams; i++)
		nc->ops->stream_free(nc->arg, &c->streams[i].ports);
	ng_calls_remove(nc->calls, c);
}

void ng_cmd_free(struct ng_cmd *nc)
{
	struct ng_call *c, *n;

	if (!nc)
		return;
	for (c = ng_calls_first(nc->calls); c; c = n) {
		n = ng_calls_next(c);
		call_destroy(nc, c);
	}
	ng_calls_free(nc->calls);
	free(nc);
}

const struct ng_calls *ng_cmd_calls(const struct ng_cmd *nc)
{
	return nc->calls;
}

int ng_cmd_leg_stats(const struct ng_cmd *nc, const struct ng_stream *st, unsigned leg,
		     struct ng_leg_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!st->leg_set[leg])
		return -ENOENT;
	return nc->ops->leg_stats(nc->arg, &st->ports, leg, out);
}

int ng_cmd_error(struct bencode_writer *w, const char *reason)
{
	bencode_put_dict(w);
	bencode_put_kv_str(w, "result", "error");
	bencode_put_kv_str(w, "error-reason", reason);
	return bencode_put_end(w);
}

static bool has_nul(struct ng_str s)
{
	return s.len && memchr(s.s, 0, s.len) != NULL;
}

static bool addr_unspecified(const struct addr_ip *ip)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (ip->family == AF_INET)
		return ip->v4.s_addr == 0;
	return ip->family != AF_INET6 || memcmp(&ip->v6, &any6, sizeof(any6)) == 0;
}

/* What the SDP and the NAT verdict say about the party that sent this m= section. */
static void leg_expect(const struct ng_cmd *nc, const struct ng_req *req, const struct sdp_media *m,
		       struct latch_expect *e)
{
	const struct sdp_conn *c = m->eff_conn;
	bool sdp_ok = c && c->literal && !addr_unspecified(&c->ip);
	bool use_sdp;

	memset(e, 0, sizeof(*e));
	if (req->flags & NG_F_SIP_SOURCE)
		use_sdp = !req->has_received_from;
	else if (req->flags & NG_F_TRUST_ADDRESS)
		use_sdp = true;
	else
		/* No verdict from the proxy: a public SDP address is believed, a private one is
		 * behind a NAT, so media must come from where the SIP came from. */
		use_sdp = !req->has_received_from || (sdp_ok && !addr_is_private(&c->ip));
	if (use_sdp) {
		if (sdp_ok)
			e->addr = c->ip;
		e->origin = LATCH_ORIGIN_SDP;
	} else {
		e->addr = req->received_from;
		e->origin = LATCH_ORIGIN_SIP_SOURCE;
	}
	e->rtp_port = m->port;
	e->rtcp_port = m->has_rtcp ? m->rtcp_port : 0;
	if (req->flags & NG_F_ASYMMETRIC)
		e->flags |= LATCH_F_ASYMMETRIC;
	if (req->flags & NG_F_STRICT_SOURCE)
		e->flags |= LATCH_F_STRICT_SOURCE;
	e->flags |= nc->cfg.latch_policy & (LATCH_F_LEARN_ANY | LATCH_F_ALLOW_REBIND);
	e->learn_window_ms = nc->cfg.learn_window_ms;
	e->rebind_idle_ms = nc->cfg.rebind_idle_ms;
}

/* Installs e on a leg, which reopens learning. On an answered stream an expectation identical to
 * the installed one is left alone unless relearn is set, so that a re-sent answer (a retransmitted
 * 2xx) keeps the latch; the answer to a re-offer sets relearn: a re-INVITE reopens learning even
 * with the same SDP (a NAT that moved the phone's public port is followed). */
static int leg_program(struct ng_cmd *nc, struct ng_stream *st, unsigned leg,
		       const struct latch_expect *e, bool relearn)
{
	struct ng_call_exp packed;
	int rc;

	ng_call_exp_pack(&packed, e);
	if (!relearn && st->answered && st->leg_set[leg] &&
	    !memcmp(&packed, &st->exp[leg], sizeof(packed)))
		return 0;
	rc = nc->ops->leg_set(nc->arg, &st->ports, leg, e, st->leg_set[leg]);
	if (rc)
		return rc;
	st->leg_set[leg] = true;
	st->exp[leg] = packed;
	return 0;
}

/* Gives the call n streams with relay ports. */
static int streams_alloc(struct ng_cmd *nc, struct ng_call *c, unsigned n)
{
	int rc = ng_call_reserve(c, n);

	if (rc)
		return rc;
	while (c->nstreams < n) {
		struct ng_stream *st = &c->streams[c->nstreams];

		memset(st, 0, sizeof(*st));
		/* Every stream of a call (and of its forked branches) on one media address. */
		st->ports.addr = (uint8_t)ng_cmd_call_addr(nc, c);
		rc = nc->ops->stream_new(nc->arg, &st->ports);
		if (rc)
			return rc;
		ng_calls_index_leg(nc->calls, st->ports.addr, st->ports.port[0], c);
		ng_calls_index_leg(nc->calls, st->ports.addr, st->ports.port[1], c);
		c->nstreams++;
	}
	return 0;
}

/* Which party sent the SDP: the from-tag's for an offer, the to-tag's for an answer. Learns the
 * other party's tag on its first offer or answer. Returns 0 or 1, or -ENOMEM. */
static int sender_leg(struct ng_call *c, const struct ng_req *req, bool answer)
{
	struct ng_str mine = answer ? req->to_tag : req->from_tag;
	struct ng_str theirs = answer ? req->from_tag : req->to_tag;
	int i = ng_call_tag_index(c, mine.s, mine.len);
	int j;

	if (i >= 0)
		return i;
	j = theirs.len ? ng_call_tag_index(c, theirs.s, theirs.len) : -1;
	/* A tag we do not know: the other party of a known one (first answer, a re-INVITE of
	 * the callee, another fork answering), or, for an offer without a known to-tag, a new
	 * from-tag of the caller. */
	if (j >= 0)
		i = !j;
	else
		i = answer ? 1 : 0;
	if (ng_call_set_tag(c, (unsigned)i, mine.s, mine.len))
		return -ENOMEM;
	return i;
}

static bool str_is(const char *a, struct ng_str b)
{
	return a && b.len && strlen(a) == b.len && memcmp(a, b.s, b.len) == 0;
}

/* The parties of c are {a, b} in either order. */
static bool parties_are(const struct ng_call *c, struct ng_str a, struct ng_str b)
{
	return (str_is(c->tag[0], a) && str_is(c->tag[1], b)) ||
	       (str_is(c->tag[0], b) && str_is(c->tag[1], a));
}

static bool is_party(const struct ng_call *c, struct ng_str t)
{
	return str_is(c->tag[0], t) || str_is(c->tag[1], t);
}

static struct ng_call *by_branch(struct ng_call *first, struct ng_str vb)
{
	for (struct ng_call *c = first; vb.len && c; c = ng_calls_find_next(c))
		if (ng_call_branch_is(c, vb.s, vb.len))
			return c;
	return NULL;
}

/* On an answer: installs what a re-offer staged for streams the answer does not carry (streams
 * it carries are handled with the answer's rtcp-mux verdict in sdp_exchange). */
static int staged_install_rest(struct ng_cmd *nc, struct ng_call *c,
			       const struct ng_call_staged *staged, size_t nm)
{
	for (unsigned i = (unsigned)nm; staged && i < c->nstreams; i++) {
		struct latch_expect e;
		int rc;

		if (!(staged->mask & (1u << i)))
			continue;
		ng_call_exp_unpack(&staged->exp[i], &e);
		rc = leg_program(nc, &c->streams[i], staged->leg[i], &e, true);
		if (rc)
			return rc;
	}
	return 0;
}

/* The record an offer goes to among the records of its call-id (first: the newest), or NULL when
 * it opens a new forked branch (docs/ng-protocol.md, "Calls, parties and legs"). */
static struct ng_call *offer_record(struct ng_call *first, const struct ng_req *req)
{
	struct ng_call *c;

	if (req->to_tag.len) {
		/* In a dialog (re-INVITE, UPDATE): the record of its two parties. */
		for (c = first; c; c = ng_calls_find_next(c))
			if (parties_are(c, req->from_tag, req->to_tag))
				return c;
		if ((c = by_branch(first, req->via_branch)) != NULL)
			return c;
	} else if (req->via_branch.len) {
		/* A retransmitted or re-sent offer of a branch. */
		if ((c = by_branch(first, req->via_branch)) != NULL)
			return c;
		/* Another branch of a forked INVITE: the caller's other branches are still
		 * unanswered and carry branch ids of their own. */
		for (c = first; c; c = ng_calls_find_next(c))
			if (!c->tag[1] && str_is(c->tag[0], req->from_tag) && ng_call_branch(c))
				return NULL;
	}
	for (c = first; c; c = ng_calls_find_next(c))
		if (is_party(c, req->from_tag) || (req->to_tag.len && is_party(c, req->to_tag)))
			return c;
	return first;
}

/* The record an answer goes to (first: the newest record of its call-id). */
static struct ng_call *answer_record(struct ng_call *first, const struct ng_req *req)
{
	struct ng_call *c = by_branch(first, req->via_branch);

	if (c)
		return c;
	for (c = first; c; c = ng_calls_find_next(c))
		if (parties_are(c, req->from_tag, req->to_tag) || str_is(c->tag[1], req->to_tag))
			return c;
	for (c = first; c; c = ng_calls_find_next(c))
		if (!c->tag[1] && str_is(c->tag[0], req->from_tag))
			return c;
	for (c = first; c; c = ng_calls_find_next(c))
		if (!c->tag[1])
			return c;
	return first;
}

static int sdp_exchange(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
			struct bencode_writer *w, const char **reason, bool answer)
{
	struct sdp_rewrite_media rwm[NG_CALL_MAX_STREAMS];
	struct sdp_rewrite rw;
	struct sdp_error serr;
	struct ng_call_staged *staged;
	struct sdp *sdp = NULL;
	struct ng_call *c;
	bool created = false;
	char *out = NULL;
	ssize_t outlen;
	size_t nm;
	int leg, rc;

	if (!req->call_id.len || has_nul(req->call_id)) {
		*reason = "No or invalid call-id";
		return -EINVAL;
	}
	if (!req->from_tag.len || has_nul(req->from_tag)) {
		*reason = "No or invalid from-tag";
		return -EINVAL;
	}
	if (answer && (!req->to_tag.len || has_nul(req->to_tag))) {
		*reason = "No or invalid to-tag";
		return -EINVAL;
	}
	if (has_nul(req->to_tag)) {
		*reason = "Invalid to-tag";
		return -EINVAL;
	}
	if (!req->sdp.len) {
		*reason = "No SDP body";
		return -EINVAL;
	}
	rc = sdp_parse(req->sdp.s, req->sdp.len, &sdp, &serr);
	if (rc) {
		char buf[128];

		snprintf(nc->reason, sizeof(nc->reason), "Failed to parse SDP: %s",
			 sdp_error_format(&serr, buf, sizeof(buf)));
		*reason = nc->reason;
		return rc;
	}
	nm = sdp_media_count(sdp);
	if (nm > NG_CALL_MAX_STREAMS) {
		*reason = "Too many media sections";
		rc = -E2BIG;
		goto out;
	}
	if (has_nul(req->via_branch)) {
		*reason = "Invalid via-branch";
		rc = -EINVAL;
		goto out;
	}
	c = ng_calls_find(nc->calls, req->call_id.s, req->call_id.len);
	if (!c && answer) {
		*reason = "Unknown call-id";
		rc = -ENOENT;
		goto out;
	}
	if (c)
		c = answer ? answer_record(c, req) : offer_record(c, req);
	if (!c) {
		c = ng_calls_add(nc->calls, req->call_id.s, req->call_id.len, req->from_tag.s,
				 req->from_tag.len, req->via_branch.s, req->via_branch.len, now->ms,
				 now->unix_s);
		if (!c) {
			*reason = "Out of memory";
			rc = -ENOMEM;
			goto out;
		}
		created = true;
	}
	*reason = "Out of memory";
	leg = sender_leg(c, req, answer);
	if (leg < 0) {
		rc = leg;
		goto fail;
	}
	rc = streams_alloc(nc, c, (unsigned)nm);
	if (rc) {
		*reason = rc == -ENOSPC ? "Ran out of ports" : "Cannot allocate media streams";
		goto fail;
	}
	/* A re-offer of answered streams waits for its answer; a later offer replaces it. */
	staged = ng_calls_staged(nc->calls, c, false);
	if (answer) {
		*reason = "Failed to program the relay";
		rc = staged_install_rest(nc, c, staged, nm);
		if (rc)
			goto fail;
	} else if (staged) {
		staged->mask = 0;
	}
	*reason = "Failed to program the relay";
	for (size_t i = 0; i < nm; i++) {
		const struct sdp_media *m = sdp_media_at(sdp, i);
		struct ng_stream *st = &c->streams[i];
		unsigned me = (unsigned)leg, other = !me;
		struct latch_expect e;
		bool mux;

		leg_expect(nc, req, m, &e);
		if (!answer) {
			/* The offerer may use rtcp-mux only once the answer accepts it (RFC 5761
			 * §5.1.1); a re-offer keeps what was agreed. */
			st->offer_mux = m->rtcp_mux;
			mux = m->rtcp_mux && (st->exp[me].flags & LATCH_F_RTCP_MUX);
		} else {
			mux = m->rtcp_mux;
		}
		if (mux)
			e.flags |= LATCH_F_RTCP_MUX;
		if (!answer && st->answered) {
			/* Both legs are established: the media switches when the answer comes,
			 * so a refused re-offer never moves it. */
			if (!staged)
				staged = ng_calls_staged(nc->calls, c, true);
			if (!staged) {
				*reason = "Out of memory";
				rc = -ENOMEM;
				goto fail;
			}
			staged->mask |= (uint16_t)(1u << i);
			staged->leg[i] = (uint8_t)me;
			ng_call_exp_pack(&staged->exp[i], &e);
		} else {
			bool reanswer = answer && staged && (staged->mask & (1u << i));

			rc = leg_program(nc, st, me, &e, reanswer);
			if (rc)
				goto fail;
		}
		if (!st->leg_set[other]) {
			struct latch_expect none;

			memset(&none, 0, sizeof(none));
			rc = leg_program(nc, st, other, &none, false);
			if (rc)
				goto fail;
		} else if (answer) {
			/* The offerer's leg: what its re-offer staged, if any, muxing as the
			 * answer agreed; one update. */
			bool from_staged =
				staged && (staged->mask & (1u << i)) && staged->leg[i] == other;
			bool want_mux = mux && st->offer_mux;
			struct latch_expect oe;

			if (from_staged)
				ng_call_exp_unpack(&staged->exp[i], &oe);
			else
				ng_call_exp_unpack(&st->exp[other], &oe);
			if (from_staged || !!(oe.flags & LATCH_F_RTCP_MUX) != want_mux) {
				oe.flags = (uint8_t)((oe.flags & ~LATCH_F_RTCP_MUX) |
						     (want_mux ? LATCH_F_RTCP_MUX : 0));
				rc = leg_program(nc, st, other, &oe, from_staged);
				if (rc)
					goto fail;
			}
		}
		if (answer)
			st->answered = true;
		if (m->type.len) {
			size_t n = m->type.len < sizeof(st->type) - 1 ? m->type.len
								      : sizeof(st->type) - 1;

			memcpy(st->type, m->type.p, n);
			st->type[n] = 0;
		}
		memset(&rwm[i], 0, sizeof(rwm[i]));
		rwm[i].addr = *ng_cmd_media_addr(nc, st->ports.addr);
		rwm[i].rtp_port = st->ports.port[other];
		rwm[i].rtcp_port = (uint16_t)(st->ports.port[other] + 1);
	}
	memset(&rw, 0, sizeof(rw));
	rw.media = rwm;
	rw.media_count = nm;
	rw.session_addr = *ng_cmd_media_addr(nc, c->nstreams ? c->streams[0].ports.addr : 0);
	rw.rewrite_origin = req->flags & NG_F_REPLACE_ORIGIN;
	rw.remove_ice = req->flags & NG_F_ICE_REMOVE;
	rw.keep_hold = true;
	out = malloc(sdp_rewrite_max_len(sdp));
	if (!out) {
		*reason = "Out of memory";
		rc = -ENOMEM;
		goto fail;
	}
	outlen = sdp_rewrite(sdp, &rw, out, sdp_rewrite_max_len(sdp));
	if (outlen < 0) {
		*reason = "Failed to rewrite SDP";
		rc = (int)outlen;
		goto fail;
	}
	if (staged && (answer || !staged->mask))
		ng_calls_staged_drop(nc->calls, c);
	c->delete_at_ms = 0;
	c->last_signal_ms = now->ms;
	c->timed_out = false;
	bencode_put_dict(w);
	bencode_put_kv_str(w, "result", "ok");
	bencode_put_cstr(w, "sdp");
	bencode_put_str(w, out, (size_t)outlen);
	bencode_put_end(w);
	rc = 0;
	goto out;
fail:
	/* A new call that could not be set up is forgotten; an existing one keeps its state. */
	if (created)
		call_destroy(nc, c);
out:
	free(out);
	sdp_free(sdp);
	return rc;
}

static int cmd_offer(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
		     struct bencode_writer *w, const char **reason)
{
	nc->offers++;
	return sdp_exchange(nc, req, now, w, reason, false);
}

static int cmd_answer(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
		      struct bencode_writer *w, const char **reason)
{
	nc->answers++;
	return sdp_exchange(nc, req, now, w, reason, true);
}

static int cmd_ping(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
		    struct bencode_writer *w, const char **reason)
{
	(void)nc, (void)req, (void)now, (void)reason;
	bencode_put_dict(w);
	bencode_put_kv_str(w, "result", "pong");
	return bencode_put_end(w);
}

struct ng_call *ng_cmd_find_call(struct ng_cmd *nc, const struct ng_req *req, const char **reason)
{
	struct ng_call *c;

	if (!req->call_id.len) {
		*reason = "No call-id";
		return NULL;
	}
	c = ng_calls_find(nc->calls, req->call_id.s, req->call_id.len);
	if (!c)
		*reason = "Unknown call-id";
	return c;
}

static int cmd_delete(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
		      struct bencode_writer *w, const char **reason)
{
	struct ng_call *first = ng_cmd_find_call(nc, req, reason), *c, *n;
	int64_t delay;

	if (!first)
		return -ENOENT;
	nc->deletes++;
	/* A losing branch of a forked call: only its record goes, at once. */
	c = by_branch(first, req->via_branch);
	if (c && (c != first || ng_calls_find_next(first))) {
		call_destroy(nc, c);
		goto ok;
	}
	delay = req->has_delete_delay ? req->delete_delay : nc->cfg.delete_delay_s;
	for (c = first; c; c = n) {
		n = ng_calls_find_next(c);
		if (delay > 0)
			c->delete_at_ms = now->ms + (uint64_t)delay * 1000;
		else
			call_destroy(nc, c);
	}
ok:
	bencode_put_dict(w);
	bencode_put_kv_str(w, "result", "ok");
	return bencode_put_end(w);
}

/* The command table. */
static const struct {
	enum ng_command cmd;
	ng_handler fn;
} handlers[] = {
	{NG_CMD_PING, cmd_ping},
	{NG_CMD_OFFER, cmd_offer},
	{NG_CMD_ANSWER, cmd_answer},
	{NG_CMD_DELETE, cmd_delete},
	{NG_CMD_QUERY, ng_cmd_report_query},
	{NG_CMD_LIST, ng_cmd_report_list},
	{NG_CMD_STATISTICS, ng_cmd_report_statistics},
};

int ng_cmd_handle(struct ng_cmd *nc, const struct bencode_item *dict, const struct ng_now *now,
		  struct bencode_writer *w)
{
	const char *reason = "Unknown error";
	struct ng_req req;
	size_t start = w->len;
	unsigned depth = w->depth;
	ng_handler fn = NULL;
	int rc;

	rc = ng_req_parse(dict, &req, &reason);
	if (rc == 0) {
		for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
			if (handlers[i].cmd == req.cmd)
				fn = handlers[i].fn;
		if (!fn) {
			reason = "Unrecognized command";
			rc = -EINVAL;
		}
	}
	if (rc == 0)
		rc = fn(nc, &req, now, w, &reason);
	if (rc == 0 && w->err == 0)
		return 0;
	if (rc == 0)
		reason = "Reply too large";
	/* Handlers write nothing before they fail, but a reply that did not fit is replaced. */
	w->len = start;
	w->depth = depth;
	w->err = 0;
	nc->errors++;
	return ng_cmd_error(w, reason);
}

void ng_cmd_latched(struct ng_cmd *nc, unsigned addr, uint16_t port, const struct addr_port *src)
{
	struct ng_call *c = ng_calls_by_leg(nc->calls, addr, port);

	if (!c)
		return;
	for (unsigned i = 0; i < c->nstreams; i++) {
		for (unsigned leg = 0; leg < 2; leg++) {
			if (c->streams[i].ports.port[leg] == port &&
			    c->streams[i].ports.addr == addr) {
				/* The worker path is IPv4 only. */
				if (src->ip.family != AF_INET)
					continue;
				c->streams[i].latched[leg] = true;
				c->streams[i].latched_src[leg].ip = src->ip.v4.s_addr;
				c->streams[i].latched_src[leg].port = src->port;
			}
		}
	}
}

static uint64_t last_media(const struct ng_cmd *nc, const struct ng_call *c)
{
	uint64_t last = 0;

	for (unsigned i = 0; i < c->nstreams; i++) {
		for (unsigned leg = 0; leg < 2; leg++) {
			struct ng_leg_stats s;

			if (ng_cmd_leg_stats(nc, &c->streams[i], leg, &s) == 0 && s.last_ms > last)
				last = s.last_ms;
		}
	}
	return last;
}

void ng_cmd_timer(struct ng_cmd *nc, uint64_t now_ms)
{
	uint64_t timeout = (uint64_t)nc->cfg.media_timeout_s * 1000;
	struct ng_call *c, *n;

	for (c = ng_calls_first(nc->calls); c; c = n) {
		uint64_t last;

		n = ng_calls_next(c);
		if (c->delete_at_ms) {
			if (now_ms >= c->delete_at_ms)
				call_destroy(nc, c);
			continue;
		}
		if (!timeout || c->timed_out)
			continue;
		/* Silence counts from the last media packet, or from the last offer/answer. */
		last = last_media(nc, c);
		if (last < c->last_signal_ms)
			last = c->last_signal_ms;
		if (now_ms >= last && now_ms - last >= timeout) {
			c->timed_out = true;
			nc->timeouts++;
			if (nc->ops->media_timeout)
				nc->ops->media_timeout(nc->arg, c, now_ms - last);
		}
	}
}
