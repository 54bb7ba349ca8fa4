/* ng_cmd_report: the ng commands that report without changing anything (query, list,
 * statistics), over the call store and the relay's leg counters (see docs/ng-protocol.md). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "ng_cmd_priv.h"

#define LIST_DEFAULT_LIMIT 32

static int64_t unix_of(const struct ng_now *now, uint64_t ms)
{
	if (!ms)
		return 0;
	return now->unix_s - (int64_t)((now->ms - ms) / 1000);
}

static void put_endpoint(struct bencode_writer *w, const char *key, const struct addr_ip *ip,
			 uint16_t port)
{
	char buf[ADDR_STRLEN];

	bencode_put_cstr(w, key);
	bencode_put_dict(w);
	bencode_put_kv_str(w, "family", ip->family == AF_INET6 ? "IPv6" : "IPv4");
	bencode_put_kv_str(w, "address", ip->family ? addr_format(ip, buf, sizeof(buf)) : "");
	bencode_put_kv_int(w, "port", port);
	bencode_put_end(w);
}

static void put_stats(struct bencode_writer *w, const char *key, const struct ng_leg_stats *s)
{
	bencode_put_cstr(w, key);
	bencode_put_dict(w);
	bencode_put_kv_int(w, "packets", (int64_t)s->packets);
	bencode_put_kv_int(w, "bytes", (int64_t)s->bytes);
	bencode_put_kv_int(w, "errors", (int64_t)s->errors);
	bencode_put_end(w);
}

/* True when tag t already appeared in an earlier record (newest first) or leg of this call. */
static bool tag_shown(const struct ng_call *first, const struct ng_call *rec, unsigned leg)
{
	const char *t = rec->tag[leg];

	for (const struct ng_call *c = first; c; c = ng_calls_find_next(c)) {
		for (unsigned l = 0; l < 2; l++) {
			if (c == rec && l == leg)
				return false;
			if (c->tag[l] && !strcmp(c->tag[l], t))
				return true;
		}
	}
	return false;
}

/* The medias of party `leg` of record c, added to total. */
static void put_medias(struct ng_cmd *nc, const struct ng_call *c, unsigned leg,
		       const struct ng_now *now, struct bencode_writer *w,
		       struct ng_leg_stats *total)
{
	const char *branch = ng_call_branch(c);
	char abuf[ADDR_STRLEN];

	for (unsigned i = 0; i < c->nstreams; i++) {
		const struct ng_stream *st = &c->streams[i];
		struct latch_expect ex;
		struct ng_leg_stats s;

		ng_cmd_leg_stats(nc, st, leg, &s);
		ng_call_exp_unpack(&st->exp[leg], &ex);
		total->packets += s.packets;
		total->bytes += s.bytes;
		total->errors += s.errors;
		bencode_put_dict(w);
		bencode_put_kv_int(w, "index", i + 1);
		bencode_put_kv_str(w, "type", st->type);
		if (branch)
			bencode_put_kv_str(w, "via-branch", branch);
		bencode_put_cstr(w, "streams");
		bencode_put_list(w);
		bencode_put_dict(w);
		bencode_put_kv_str(
			w, "local address",
			addr_format(ng_cmd_media_addr(nc, st->ports.addr), abuf, sizeof(abuf)));
		bencode_put_kv_int(w, "local port", st->ports.port[leg]);
		if (st->latched[leg]) {
			struct addr_ip lip = ng_latched_ip(&st->latched_src[leg]);

			put_endpoint(w, "endpoint", &lip, st->latched_src[leg].port);
		}
		put_endpoint(w, "advertised endpoint", &ex.addr, ex.rtp_port);
		bencode_put_kv_str(w, "status", st->latched[leg] ? "latched" : "learning");
		put_stats(w, "stats", &s);
		bencode_put_kv_int(w, "last packet", unix_of(now, s.last_ms));
		bencode_put_end(w);
		bencode_put_end(w);
		bencode_put_end(w);
	}
}

/* One entry per tag over all records (branches) of the call: a tag that is a party of several
 * records (the caller of a forked call) lists the medias of each, marked with their via-branch. */
int ng_cmd_report_query(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
			struct bencode_writer *w, const char **reason)
{
	struct ng_call *first = ng_cmd_find_call(nc, req, reason);
	struct ng_leg_stats total;
	uint32_t created;
	uint64_t last_signal = 0;
	bool timed_out = false;

	if (!first)
		return -ENOENT;
	created = first->created_unix;
	for (const struct ng_call *c = first; c; c = ng_calls_find_next(c)) {
		if (c->created_unix < created)
			created = c->created_unix;
		if (c->last_signal_ms > last_signal)
			last_signal = c->last_signal_ms;
		timed_out |= c->timed_out;
	}
	memset(&total, 0, sizeof(total));
	bencode_put_dict(w);
	bencode_put_kv_str(w, "result", "ok");
	bencode_put_kv_int(w, "created", created);
	bencode_put_kv_int(w, "last signal", unix_of(now, last_signal));
	bencode_put_kv_str(w, "media timeout", timed_out ? "yes" : "no");
	bencode_put_cstr(w, "tags");
	bencode_put_dict(w);
	for (const struct ng_call *c = first; c; c = ng_calls_find_next(c)) {
		for (unsigned leg = 0; leg < 2; leg++) {
			const char *t = c->tag[leg];

			if (!t || tag_shown(first, c, leg))
				continue;
			bencode_put_cstr(w, t);
			bencode_put_dict(w);
			bencode_put_kv_str(w, "tag", t);
			if (c->tag[!leg])
				bencode_put_kv_str(w, "in dialogue with", c->tag[!leg]);
			if (ng_call_branch(c))
				bencode_put_kv_str(w, "via-branch", ng_call_branch(c));
			bencode_put_cstr(w, "medias");
			bencode_put_list(w);
			for (const struct ng_call *d = c; d; d = ng_calls_find_next(d))
				for (unsigned l = 0; l < 2; l++)
					if (d->tag[l] && !strcmp(d->tag[l], t) &&
					    (d != c || l == leg))
						put_medias(nc, d, l, now, w, &total);
			bencode_put_end(w);
			bencode_put_end(w);
		}
	}
	bencode_put_end(w);
	bencode_put_cstr(w, "totals");
	bencode_put_dict(w);
	put_stats(w, "RTP", &total);
	bencode_put_end(w);
	return bencode_put_end(w);
}

/* Each call-id once (a forked call has a record per branch), at its oldest record. */
int ng_cmd_report_list(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
		       struct bencode_writer *w, const char **reason)
{
	int64_t limit = req->limit ? req->limit : LIST_DEFAULT_LIMIT, n = limit;
	char abuf[ADDR_STRLEN];

	(void)now, (void)reason;
	bencode_put_dict(w);
	bencode_put_kv_str(w, "result", "ok");
	bencode_put_cstr(w, "calls");
	bencode_put_list(w);
	for (struct ng_call *c = ng_calls_first(nc->calls); c && n > 0; c = ng_calls_next(c)) {
		if (ng_calls_find_next(c))
			continue;
		bencode_put_cstr(w, c->call_id);
		n--;
	}
	bencode_put_end(w);
	/* The media address of each call above (all its streams and branches share it; "" before
	 * an offer gave it streams). */
	bencode_put_cstr(w, "addresses");
	bencode_put_list(w);
	for (struct ng_call *c = ng_calls_first(nc->calls); c && limit > 0; c = ng_calls_next(c)) {
		unsigned a;

		if (ng_calls_find_next(c))
			continue;
		a = ng_cmd_call_addr(nc, c);
		bencode_put_cstr(w, a == NG_ADDR_ANY ? ""
						     : addr_format(ng_cmd_media_addr(nc, a), abuf,
								   sizeof(abuf)));
		limit--;
	}
	bencode_put_end(w);
	bencode_put_cstr(w, "media timeouts");
	bencode_put_list(w);
	for (struct ng_call *c = ng_calls_first(nc->calls); c; c = ng_calls_next(c)) {
		const struct ng_call *o;

		if (!c->timed_out)
			continue;
		for (o = ng_calls_find_next(c); o && !o->timed_out; o = ng_calls_find_next(o))
			;
		if (!o)
			bencode_put_cstr(w, c->call_id);
	}
	bencode_put_end(w);
	return bencode_put_end(w);
}

int ng_cmd_report_statistics(struct ng_cmd *nc, const struct ng_req *req, const struct ng_now *now,
			     struct bencode_writer *w, const char **reason)
{
	unsigned timed_out = 0, streams[NG_CALL_MAX_ADDRS] = {0};
	char abuf[ADDR_STRLEN];

	(void)req, (void)now, (void)reason;
	for (struct ng_call *c = ng_calls_first(nc->calls); c; c = ng_calls_next(c)) {
		timed_out += c->timed_out;
		for (unsigned i = 0; i < c->nstreams; i++)
			if (c->streams[i].ports.addr < NG_CALL_MAX_ADDRS)
				streams[c->streams[i].ports.addr]++;
	}
	/* Sessions are calls (call-ids); "branches" counts their records (one per forked
	 * branch). */
	bencode_put_dict(w);
	bencode_put_kv_str(w, "result", "ok");
	bencode_put_cstr(w, "statistics");
	bencode_put_dict(w);
	bencode_put_cstr(w, "currentstatistics");
	bencode_put_dict(w);
	bencode_put_kv_int(w, "sessionsown", ng_calls_callids(nc->calls));
	bencode_put_kv_int(w, "sessionsforeign", 0);
	bencode_put_kv_int(w, "sessionstotal", ng_calls_callids(nc->calls));
	bencode_put_kv_int(w, "branches", ng_calls_count(nc->calls));
	bencode_put_kv_int(w, "transcodedmedia", 0);
	bencode_put_kv_int(w, "mediatimeouts", timed_out);
	bencode_put_end(w);
	bencode_put_cstr(w, "totalstatistics");
	bencode_put_dict(w);
	bencode_put_kv_int(w, "totalsessions", (int64_t)ng_calls_total(nc->calls));
	bencode_put_kv_int(w, "timeoutsessions", (int64_t)nc->timeouts);
	bencode_put_end(w);
	bencode_put_cstr(w, "controlstatistics");
	bencode_put_dict(w);
	bencode_put_kv_int(w, "offers", (int64_t)nc->offers);
	bencode_put_kv_int(w, "answers", (int64_t)nc->answers);
	bencode_put_kv_int(w, "deletes", (int64_t)nc->deletes);
	bencode_put_kv_int(w, "errors", (int64_t)nc->errors);
	bencode_put_end(w);
	/* Streams (of all records) per media address (ours; rtpengine has no such key). */
	bencode_put_cstr(w, "addresses");
	bencode_put_list(w);
	for (unsigned a = 0; a < nc->cfg.n_media; a++) {
		bencode_put_dict(w);
		bencode_put_kv_str(w, "address",
				   addr_format(&nc->cfg.media_addr[a], abuf, sizeof(abuf)));
		bencode_put_kv_int(w, "streams", streams[a]);
		bencode_put_end(w);
	}
	bencode_put_end(w);
	bencode_put_end(w);
	return bencode_put_end(w);
}
