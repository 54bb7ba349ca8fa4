/* proxy: the stateful proxy core of sbc-sip (RFC 3261 §16) on top of the transaction layer, and
 * its requests — validates, applies NAT fixups, routes (registrar, local users, trunks, loose
 * routing) and relays CANCEL. The forks are proxy_fork.c's, a request's media proxy_media.c's,
 * responses proxy_response.c's and dialogs proxy_dialog.c's. */
#include "proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fixup.h"
#include "log.h"
#include "media.h"
#include "nat.h"
#include "policy.h"
#include "proxy_priv.h"

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* --- addresses ------------------------------------------------------------------------------ */

bool proxy_is_self_host(const struct proxy *p, const struct sip_host *h)
{
	uint16_t port = h->port != 0 ? h->port : 5060;

	if (!h->is_ip)
		return false;
	for (size_t i = 0; i < p->cfg.nself; i++)
		if (addr_equal(&p->cfg.self[i].ip, &h->ip) && p->cfg.self[i].port == port)
			return true;
	return false;
}

const struct addr_port *proxy_self_for(const struct proxy *p, int family)
{
	for (size_t i = 0; i < p->cfg.nself; i++)
		if (p->cfg.self[i].ip.family == family)
			return &p->cfg.self[i];
	return &p->cfg.self[0];
}

const char *proxy_transport_token(enum sip_transport t)
{
	switch (t) {
	case SIP_TRANSPORT_TCP:
		return "TCP";
	case SIP_TRANSPORT_TLS:
		return "TLS";
	default:
		return "UDP";
	}
}

/* --- sending -------------------------------------------------------------------------------- */

int proxy_send_to(struct proxy *p, const struct txn_peer *dst, const char *buf, size_t len)
{
	return transport_send(p->cfg.transport, &dst->addr, dst->transport, dst->conn_id, buf, len);
}

void proxy_make_tag(struct proxy *p, char *out, size_t len)
{
	snprintf(out, len, "sbc%llx%llx", (unsigned long long)now_s(),
		 (unsigned long long)++p->tag_seq);
}

/* Answers request m on server transaction st (or statelessly to src when st is NULL). */
void proxy_reply(struct proxy *p, struct txn *st, const struct sip_msg *m,
		 const struct txn_peer *src, int code, const char *extra)
{
	char tag[48];
	size_t len;

	proxy_make_tag(p, tag, sizeof(tag));
	char *buf = sipmsg_response(m, code, sipmsg_reason_phrase(code), tag, extra, &len);

	if (buf == NULL)
		return;
	p->st.local_replies++;
	if (st != NULL)
		txn_respond(st, code, buf, len);
	else
		proxy_send_to(p, src, buf, len);
	free(buf);
}

/* --- transaction layer callbacks ------------------------------------------------------------ */

static int ops_send(void *arg, const struct txn_peer *dst, const char *buf, size_t len)
{
	return proxy_send_to(arg, dst, buf, len);
}

static char *ops_trying(void *arg, const char *req, size_t req_len, size_t *out_len)
{
	struct sip_error err;
	struct sip_msg *m = sipmsg_parse(req, req_len, SIP_TRANSPORT_UDP, &err);
	char *out = NULL;

	(void)arg;
	if (m != NULL) {
		out = sipmsg_response(m, 100, "Trying", NULL, NULL, out_len);
		sipmsg_free(m);
	}
	return out;
}

static char *ops_ack(void *arg, const char *req, size_t req_len, const char *resp, size_t resp_len,
		     size_t *out_len)
{
	struct sip_error err;
	struct sip_msg *rq = sipmsg_parse(req, req_len, SIP_TRANSPORT_UDP, &err);
	struct sip_msg *rs = sipmsg_parse(resp, resp_len, SIP_TRANSPORT_UDP, &err);
	char *out = NULL;

	(void)arg;
	if (rq != NULL && rs != NULL)
		out = sipmsg_ack_for(rq, rs, out_len);
	sipmsg_free(rq);
	sipmsg_free(rs);
	return out;
}

/* RFC 3261 §16.8: an INVITE branch that rang too long without a final answer is cancelled. */
static void ops_timer_c(void *arg, struct txn *ct)
{
	struct proxy_branch *b = txn_user(ct);

	if (b != NULL && !b->done && !b->cancelled)
		proxy_cancel_branch(arg, b);
}

static void ops_terminated(void *arg, struct txn *t)
{
	void *u = txn_user(t);

	(void)arg;
	if (u == NULL)
		return;
	if (txn_is_server(t)) {
		struct proxy_fork *f = u;

		f->st = NULL;
		proxy_fork_maybe_free(f);
	} else {
		struct proxy_branch *b = u;

		b->ct = NULL;
		proxy_fork_settle(b->fork);
	}
}

/* Fills the transaction facts of m. */
int proxy_facts_of(const struct sip_msg *m, struct txn_msg *tm)
{
	struct sip_via via;
	size_t len;
	const char *s;

	memset(tm, 0, sizeof(*tm));
	tm->is_request = sipmsg_is_request(m);
	tm->status = sipmsg_status(m);
	s = sipmsg_method(m, &len);
	if (len >= sizeof(tm->method))
		return -EINVAL;
	memcpy(tm->method, s, len);
	tm->cseq = sipmsg_cseq(m);
	if (sipmsg_via(m, 0, &via) != 0)
		return -EINVAL;
	snprintf(tm->branch, sizeof(tm->branch), "%s", via.branch);
	snprintf(tm->sent_by_host, sizeof(tm->sent_by_host), "%s", via.sent_by.host);
	tm->sent_by_port = via.sent_by.port;
	s = sipmsg_call_id(m, &len);
	snprintf(tm->call_id, sizeof(tm->call_id), "%.*s", (int)len, s);
	s = sipmsg_from_tag(m);
	snprintf(tm->from_tag, sizeof(tm->from_tag), "%s", s != NULL ? s : "");
	return 0;
}

/* Takes ownership of the current message for a fork (proxy_recv then does not free it). */
struct sip_msg *proxy_take_current(struct proxy *p)
{
	struct sip_msg *m = p->cur;

	p->cur = NULL;
	return m;
}

/* Where a URI's host:port points, as a next hop. */
static bool hop_of(const struct sip_host *h, enum sip_transport t, struct txn_peer *out)
{
	if (!h->is_ip)
		return false; /* no DNS on the signaling path */
	memset(out, 0, sizeof(*out));
	out->addr.ip = h->ip;
	out->addr.port = h->port != 0 ? h->port : 5060;
	out->transport = t;
	return true;
}

/* --- request handling ----------------------------------------------------------------------- */

static void handle_cancel(struct proxy *p, struct txn *st, const struct sip_msg *m)
{
	struct txn_msg tm;

	if (proxy_facts_of(m, &tm) != 0) {
		proxy_reply(p, st, m, NULL, 400, NULL);
		return;
	}
	struct txn *inv = txn_cancel_target(p->tl, &tm);

	/* RFC 3261 §16.10: a CANCEL matching nothing gets 481; otherwise 200 at once, and the
	 * pending branches are cancelled. */
	if (inv == NULL || txn_user(inv) == NULL) {
		proxy_reply(p, st, m, NULL, 481, NULL);
		return;
	}
	proxy_reply(p, st, m, NULL, 200, NULL);
	struct proxy_fork *f = txn_user(inv);

	if (f->offers != NULL) {
		/* The INVITE waits for the dataplane and went nowhere yet: it ends here with 487
		 * (RFC 3261 §9.2) and is never forwarded; its media goes when the dataplane has
		 * answered (offers_done), so no relay session outlives it. */
		if (f->invite && !f->final_sent && f->st != NULL) {
			proxy_reply(p, f->st, f->req, NULL, 487, NULL);
			f->final_sent = true;
		}
		return;
	}
	/* A CANCEL that crossed the final response changes nothing (RFC 3261 §9.2): after a 2xx
	 * the call's media is the established call's. */
	if (f->final_sent)
		return;
	if (p->cfg.media != NULL && sipmsg_to_tag(m) == NULL)
		media_delete(p->cfg.media, m);
	for (size_t i = 0; i < f->nbranches; i++) {
		struct proxy_branch *b = &f->branches[i];

		if (b->done || b->cancelled || b->ct == NULL)
			continue;
		b->cancel_wanted = true;
		if (b->status >= 100)
			proxy_cancel_branch(p, b);
	}
}

/* The domain a URI host stands for: our own address means the default domain (the realm). */
static const char *domain_of(const struct proxy *p, const struct sip_host *h)
{
	if (proxy_is_self_host(p, h))
		return policy_settings(p->cfg.policy)->realm;
	return h->host;
}

static void handle_register(struct proxy *p, struct txn *st, struct sip_msg *m,
			    const struct txn_peer *src, const struct fixup_result *fx)
{
	struct registrar_src rs = {src->addr, src->transport, src->conn_id, fx};
	struct registrar_reply rr;

	memset(&rr, 0, sizeof(rr));
	p->st.registrations++;
	if (registrar_handle(p->cfg.registrar, m, &rs, now_s(), &rr) != 0 && rr.code == 0)
		rr.code = 500;
	if (rr.auth_failed && p->cfg.limit != NULL &&
	    ratelimit_auth_failed(p->cfg.limit, &src->addr.ip, loop_now(p->cfg.loop))) {
		char ip[ADDR_STRLEN];

		LOG_WARN("banning %s after repeated failed authentications",
			 addr_format(&src->addr.ip, ip, sizeof(ip)));
	}
	proxy_reply(p, st, m, NULL, rr.code, rr.headers[0] ? rr.headers : NULL);
}

/* RFC 3261 §22.3: requests from unknown sources prove who they are with Proxy-Authorization. */
static bool authorized(struct proxy *p, struct txn *st, const struct sip_msg *m,
		       const struct txn_peer *src)
{
	char aor[256], hdr[1024];
	const char *at;

	if (sipmsg_from_aor(m, aor, sizeof(aor)) != 0 || (at = strchr(aor, '@')) == NULL) {
		proxy_reply(p, st, m, NULL, 403, NULL);
		return false;
	}
	char user[128];
	enum auth_result r = auth_verify(p->cfg.auth, m, true, at + 1, now_s(), &src->addr.ip, user,
					 sizeof(user));

	if (r == AUTH_OK) {
		/* The credentials must be the From user's (no calling as someone else). */
		if (strncmp(user, aor, (size_t)(at - aor)) != 0 || user[at - aor] != '\0') {
			proxy_reply(p, st, m, NULL, 403, NULL);
			return false;
		}
		if (p->cfg.limit != NULL)
			ratelimit_auth_ok(p->cfg.limit, &src->addr.ip);
		return true;
	}
	if (r == AUTH_MALFORMED) {
		proxy_reply(p, st, m, NULL, 400, NULL);
		return false;
	}
	if (r == AUTH_FAILED) {
		p->st.auth_failures++;
		if (p->cfg.limit != NULL)
			ratelimit_auth_failed(p->cfg.limit, &src->addr.ip, loop_now(p->cfg.loop));
	}
	p->st.auth_challenges++;
	if (auth_challenge(p->cfg.auth, true, r == AUTH_STALE, now_s(), &src->addr.ip, hdr,
			   sizeof(hdr)) > 0)
		proxy_reply(p, st, m, NULL, 407, hdr);
	else
		proxy_reply(p, st, m, NULL, 500, NULL);
	return false;
}

static bool creates_dialog(const struct sip_msg *m)
{
	return sipmsg_method_is(m, "INVITE") || sipmsg_method_is(m, "SUBSCRIBE") ||
	       sipmsg_method_is(m, "REFER");
}

static void record_route(struct proxy *p, struct sip_msg *m, const struct txn_peer *src)
{
	char rr[256], ip[ADDR_STRLEN];
	const struct addr_port *self = proxy_self_for(p, src->addr.ip.family);

	addr_port_format(self, ip, sizeof(ip));
	/* RFC 3261 §16.6 step 4: lr, and the transport the dialog uses on this side. */
	snprintf(rr, sizeof(rr), "<sip:%s;lr%s>", ip,
		 src->transport == SIP_TRANSPORT_TCP ? ";transport=tcp" : "");
	sipmsg_push_record_route(m, rr);
}

static enum sip_transport uri_transport(const char *uri, size_t len)
{
	for (size_t i = 0; i + 13 <= len; i++)
		if (strncasecmp(uri + i, "transport=tcp", 13) == 0)
			return SIP_TRANSPORT_TCP;
	return SIP_TRANSPORT_UDP;
}

static void handle_request(struct proxy *p, struct txn *st, struct sip_msg *m,
			   const struct txn_peer *src)
{
	const struct policy *pol = p->cfg.policy;
	struct nat_ctx nc = {src->addr, src->transport, policy_trusted(pol), NULL};
	struct fixup_result fx;
	struct target t[PROXY_MAX_BRANCHES];
	struct sip_host h;
	bool lr;

	p->st.requests++;
	if (sipmsg_method_is(m, "CANCEL")) {
		handle_cancel(p, st, m);
		return;
	}
	/* RFC 3261 §16.3 step 4 / §16.6 step 8: a request that already went through us comes back
	 * in a loop (an SBC has no legitimate spirals through itself): 482. */
	for (unsigned int i = 0; i < sipmsg_via_count(m); i++) {
		struct sip_via v;

		if (sipmsg_via(m, i, &v) == 0 && proxy_is_self_host(p, &v.sent_by) && st != NULL) {
			proxy_reply(p, st, m, NULL, 482, NULL);
			return;
		}
	}
	fixup_apply(m, &nc, policy_settings(pol)->nat_test_mask, &fx);
	const struct policy_trunk *trunk = policy_trunk_by_source(pol, &src->addr);

	/* RFC 3261 §16.4: our own Route entry goes. */
	if (sipmsg_route_count(m) > 0 && sipmsg_route(m, 0, &h, &lr) == 0 &&
	    proxy_is_self_host(p, &h))
		sipmsg_pop_route(m);
	sipmsg_set_max_forwards(m, sipmsg_max_forwards(m) - 1);
	memset(t, 0, sizeof(t));

	/* In-dialog (To tag) or with a Route set: follow it, no location lookup (§16.5, §16.6). */
	unsigned int first_route = 0;

	if (sipmsg_route_count(m) > 0 && sipmsg_route(m, 0, &h, &lr) == 0 &&
	    proxy_is_self_host(p, &h))
		first_route = 1;
	if (sipmsg_to_tag(m) != NULL || sipmsg_route_count(m) > first_route) {
		if (sipmsg_route_count(m) > first_route) {
			if (sipmsg_route(m, first_route, &h, &lr) != 0 ||
			    !hop_of(&h, SIP_TRANSPORT_UDP, &t[0].dst)) {
				proxy_reply(p, st, m, NULL, 404, NULL);
				return;
			}
		} else if (sipmsg_ruri(m, &h) != 0 || proxy_is_self_host(p, &h) ||
			   !hop_of(&h, SIP_TRANSPORT_UDP, &t[0].dst)) {
			proxy_reply(p, st, m, NULL, 404, NULL);
			return;
		}
		size_t ulen;
		const char *u = sipmsg_ruri_text(m, &ulen);

		t[0].dst.transport = uri_transport(u, ulen);
		/* A NAT'd TCP peer is reached on its own connection (RFC 5626 §5.3 idea). */
		if (t[0].dst.transport == SIP_TRANSPORT_TCP)
			t[0].dst.conn_id = transport_conn_find(p->cfg.transport, &t[0].dst.addr);
		proxy_note_cseq(p, m);
		/* The call ends: its relay ports go back (the dataplane's delete). */
		if (p->cfg.media != NULL && sipmsg_method_is(m, "BYE") &&
		    proxy_bye_ends_media(p, m))
			media_delete(p->cfg.media, m);
		proxy_route_out(p, st, src, fx.natted != 0, t, 1);
		return;
	}
	if (st == NULL) /* a stray ACK outside any dialog: nothing to do */
		return;
	if (sipmsg_method_is(m, "REGISTER")) {
		handle_register(p, st, m, src, &fx);
		return;
	}
	if (sipmsg_ruri(m, &h) == 0 && proxy_is_self_host(p, &h) && sipmsg_ruri_user(m) == NULL) {
		/* Addressed to the SBC itself: answer OPTIONS (RFC 3261 §11), refuse the rest. */
		proxy_reply(
			p, st, m, NULL, sipmsg_method_is(m, "OPTIONS") ? 200 : 405,
			"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, PRACK, INFO, "
			"MESSAGE, REFER, NOTIFY, SUBSCRIBE\r\n");
		return;
	}
	if (trunk == NULL && !authorized(p, st, m, src))
		return;
	const char *user = sipmsg_ruri_user(m);

	if (user == NULL || sipmsg_ruri(m, &h) != 0) {
		p->st.not_found++;
		proxy_reply(p, st, m, NULL, 404, NULL);
		return;
	}
	char aor[512];
	struct registrar_target rt[PROXY_MAX_BRANCHES];

	snprintf(aor, sizeof(aor), "%s@%s", user, domain_of(p, &h));
	size_t n = registrar_lookup(p->cfg.registrar, aor, now_s(), rt, PROXY_MAX_BRANCHES);

	if (creates_dialog(m))
		record_route(p, m, src);
	if (n > 0) {
		/* Local user: fork to every contact, each through its real path (NAT binding). */
		for (size_t i = 0; i < n; i++) {
			_Static_assert(sizeof(t[i].uri) == sizeof(rt[i].uri), "URI sizes differ");
			memcpy(t[i].uri, rt[i].uri, sizeof(t[i].uri));
			t[i].uri[sizeof(t[i].uri) - 1] = '\0';
			t[i].dst.addr = rt[i].dst;
			t[i].dst.transport = rt[i].transport;
			t[i].dst.conn_id = rt[i].conn_id;
		}
		proxy_route_out(p, st, src, fx.natted != 0, t, n);
		return;
	}
	const struct policy_trunk *to = policy_route(pol, user, strlen(user));

	if (to == NULL) {
		p->st.not_found++;
		proxy_reply(p, st, m, NULL,
			    policy_user_find(pol, user, domain_of(p, &h)) ? 480 : 404, NULL);
		return;
	}
	char ip[ADDR_STRLEN];

	addr_port_format(&to->addr, ip, sizeof(ip));
	int un = snprintf(t[0].uri, sizeof(t[0].uri), "sip:%s@%s%s", user, ip,
			  to->transport == SIP_TRANSPORT_TCP ? ";transport=tcp" : "");

	if (un < 0 || (size_t)un >= sizeof(t[0].uri)) {
		proxy_reply(p, st, m, NULL, 414, NULL);
		return;
	}
	t[0].dst.addr = to->addr;
	t[0].dst.transport = to->transport;
	proxy_route_out(p, st, src, fx.natted != 0, t, 1);
}

static void ops_request(void *arg, struct txn *st, const struct txn_msg *tm, const char *buf,
			size_t len, const struct txn_peer *src)
{
	struct proxy *p = arg;

	(void)tm;
	(void)buf;
	(void)len;
	if (p->cur == NULL)
		return;
	handle_request(p, st, p->cur, src);
}

/* --- receiving ------------------------------------------------------------------------------ */

void proxy_recv(struct proxy *p, const char *buf, size_t len, const struct addr_port *src,
		enum sip_transport proto, uint64_t conn_id)
{
	struct sip_error err;
	struct txn_peer peer = {*src, proto, conn_id};
	struct sip_msg *m = sipmsg_parse(buf, len, proto, &err);

	if (m == NULL) {
		char ip[ADDR_STRLEN];

		p->st.invalid++;
		if (log_ratelimit_ok(&p->rl_invalid, 10, 1000))
			LOG_NOTICE("invalid message from %s (%s): %s",
				   addr_port_format(src, ip, sizeof(ip)), sip_transport_name(proto),
				   err.reason);
		size_t olen;
		char *out = err.code != 0 ? sipmsg_error_response(buf, len, &err, &olen) : NULL;

		if (out != NULL) {
			/* RFC 3581: the reply goes back where the request came from. */
			proxy_send_to(p, &peer, out, olen);
			p->st.replied_invalid++;
			free(out);
		}
		return;
	}
	struct txn_msg tm;

	if (proxy_facts_of(m, &tm) != 0) {
		sipmsg_free(m);
		return;
	}
	p->cur = m;
	p->cur_src = peer;
	int r = txn_input(p->tl, &tm, buf, len, &peer);

	if (r == TXN_INPUT_STATELESS && !tm.is_request && p->cfg.stray_response != NULL) {
		size_t clen;
		const char *cid = sipmsg_call_id(m, &clen);

		p->cfg.stray_response(p->cfg.stray_arg, cid, clen, tm.status);
	}
	sipmsg_free(p->cur); /* NULL when a fork took it */
	p->cur = NULL;
}

void proxy_bad_frame(struct proxy *p, const char *buf, size_t len, const struct addr_port *src,
		     uint64_t conn_id, const char *why)
{
	struct sip_error err = {.code = 400};
	size_t olen;

	snprintf(err.reason, sizeof(err.reason), "%s", why);
	p->st.invalid++;
	char *out = sipmsg_error_response(buf, len, &err, &olen);

	if (out != NULL) {
		transport_send(p->cfg.transport, src, SIP_TRANSPORT_TCP, conn_id, out, olen);
		free(out);
	}
}

void proxy_peer_failed(struct proxy *p, const struct addr_port *peer)
{
	struct txn_peer tp = {*peer, SIP_TRANSPORT_TCP, 0};

	txn_peer_failed(p->tl, &tp);
}

int proxy_send_raw(struct proxy *p, const struct addr_port *dst, enum sip_transport proto,
		   uint64_t conn_id, const char *buf, size_t len)
{
	return transport_send(p->cfg.transport, dst, proto, conn_id, buf, len);
}

struct proxy *proxy_new(const struct proxy_cfg *cfg)
{
	struct proxy *p = calloc(1, sizeof(*p));
	struct txn_config tc;
	struct txn_ops ops = {
		.send = ops_send,
		.make_trying = ops_trying,
		.make_ack = ops_ack,
		.request = ops_request,
		.response = proxy_ops_response,
		.timer_c = ops_timer_c,
		.terminated = ops_terminated,
	};

	if (p == NULL)
		return NULL;
	p->cfg = *cfg;
	txn_config_default(&tc);
	p->tl = txn_layer_new(cfg->loop, &tc, &ops, p);
	p->dialogs = dialog_table_new();
	if (p->tl == NULL || p->dialogs == NULL) {
		proxy_free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void proxy_free(struct proxy *p)
{
	if (p == NULL)
		return;
	/* Every transaction ends with its terminated upcall first, so the forks are freed; those
	 * still waiting for the dataplane go with their engagements. */
	txn_layer_shutdown(p->tl);
	proxy_offering_drop_all(p);
	txn_layer_free(p->tl);
	dialog_table_free(p->dialogs);
	free(p);
}

void proxy_set_policy(struct proxy *p, const struct policy *policy)
{
	p->cfg.policy = policy;
}

json_t *proxy_stats(struct proxy *p)
{
	struct txn_stats ts;

	txn_stats_get(p->tl, &ts);
	json_t *o = json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests",
		(json_int_t)p->st.requests, "responses", (json_int_t)p->st.responses, "invalid",
		(json_int_t)p->st.invalid, "invalid_answered", (json_int_t)p->st.replied_invalid,
		"forwarded", (json_int_t)p->st.forwarded, "local_replies",
		(json_int_t)p->st.local_replies, "auth_challenges",
		(json_int_t)p->st.auth_challenges, "auth_failures", (json_int_t)p->st.auth_failures,
		"not_found", (json_int_t)p->st.not_found, "registers",
		(json_int_t)p->st.registrations, "transactions", (json_int_t)ts.active,
		"retransmits", (json_int_t)ts.retransmits_sent, "dialogs",
		(json_int_t)dialog_count(p->dialogs));

	json_object_set_new(o, "media_timeouts", json_integer((json_int_t)p->st.media_timeouts));
	json_object_set_new(o, "dialogs_expired", json_integer((json_int_t)p->st.dialogs_expired));
	return o;
}
