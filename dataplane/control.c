/* control: the control lcore's loop body and the relay operations behind the ng commands. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "classify.h"
#include "log.h"
#include "ng_cmd.h"
#include "ng_server.h"
#include "portalloc.h"
#include "session.h"
#include "worker.h"

#define CTL_CLIENTS   8
#define CTL_LINE_MAX  4096
#define EXC_BURST     32
#define EVENT_BURST   64
#define ARP_TIMER_MS  200
#define NG_TIMER_MS   1000
#define SEND_RETRY_US 1000 /* the longest control waits for a full worker ring */

#define CTL_OUT_MAX   (16u << 20) /* a client that reads slower than this is dropped */

struct ctl_client {
	int fd;
	size_t len;
	char buf[CTL_LINE_MAX];
	char *out; /* reply bytes the socket has not taken yet */
	size_t out_len, out_off;
};

struct control {
	struct control_cfg cfg;
	struct ng_cmd *nc;
	struct ng_server *srv;
	struct exception *ex;
	int ng_fd, notify_fd, ctl_fd;
	struct ctl_client clients[CTL_CLIENTS];
	uint64_t next_arp_ms, next_ng_ms;
	uint64_t rejected_events, msg_failures, leaked_pairs, timeouts_sent;
	struct log_ratelimit rl_reject, rl_msg;
};

static void ctl_close(struct ctl_client *cl);

uint64_t control_now_ms(void)
{
	return rte_get_tsc_cycles() / (rte_get_tsc_hz() / 1000);
}

/* Control -> worker, waiting at most SEND_RETRY_US for room: the worker drains its ring every
 * iteration, so a full ring means it is stuck or flooded, and control must not hang on it. */
static bool send_msg(struct control *c, unsigned worker, const struct dp_msg *m)
{
	for (unsigned i = 0; i < SEND_RETRY_US; i++) {
		if (dp_msg_send(c->cfg.chan[worker].to_worker, m))
			return true;
		rte_delay_us_block(1);
	}
	c->msg_failures++;
	if (log_ratelimit_ok(&c->rl_msg, 5, 10000))
		LOG_ERR("worker %u: message ring full, message %u dropped", worker, m->type);
	return false;
}

/* --- the relay operations behind ng_cmd ------------------------------------------------------ */

_Static_assert(NG_CALL_MAX_ADDRS == SESSION_MAX_ADDRS && PORTALLOC_MAX_ADDRS == SESSION_MAX_ADDRS,
	       "one limit on media addresses");

/* A new call's first stream goes to the address with the most free pairs (so calls spread over
 * the addresses), its later streams to the same address. */
static int op_stream_new(void *arg, struct ng_stream_ports *sp)
{
	struct control *c = arg;
	int a = sp->addr == NG_ADDR_ANY ? portalloc_pick_addr(c->cfg.pa) : sp->addr;
	int w, rc;

	if (a < 0)
		return -ENOSPC;
	w = portalloc_pick_worker(c->cfg.pa, (unsigned)a);
	if (w < 0)
		return -ENOSPC;
	rc = portalloc_get(c->cfg.pa, (unsigned)a, (unsigned)w, &sp->port[0]);
	if (rc)
		return rc;
	rc = portalloc_get(c->cfg.pa, (unsigned)a, (unsigned)w, &sp->port[1]);
	if (rc) {
		portalloc_put(c->cfg.pa, (unsigned)a, sp->port[0]);
		return rc;
	}
	sp->worker = (uint8_t)w;
	sp->addr = (uint8_t)a;
	return 0;
}

static void op_stream_free(void *arg, const struct ng_stream_ports *sp)
{
	struct control *c = arg;

	for (unsigned leg = 0; leg < 2; leg++) {
		struct dp_msg m;

		memset(&m, 0, sizeof(m));
		m.type = DP_MSG_FLOW_DEL;
		m.addr = sp->addr;
		m.port = sp->port[leg];
		m.id = sp->port[leg];
		/* The ring is FIFO: the worker removes the flow before it sees any later add for
		 * this port, so the port can go back to the pool now. If the message cannot be
		 * sent the port is kept out of the pool (counted) rather than handed out twice. */
		if (send_msg(c, sp->worker, &m))
			portalloc_put(c->cfg.pa, sp->addr, sp->port[leg]);
		else
			c->leaked_pairs++;
	}
}

static int op_leg_set(void *arg, const struct ng_stream_ports *sp, unsigned leg,
		      const struct latch_expect *exp, bool update)
{
	struct control *c = arg;
	struct dp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = update ? DP_MSG_FLOW_UPDATE : DP_MSG_FLOW_ADD;
	m.addr = sp->addr;
	m.port = sp->port[leg];
	m.peer_port = sp->port[!leg];
	m.id = sp->port[leg];
	m.u.exp = *exp;
	return send_msg(c, sp->worker, &m) ? 0 : -ENOBUFS;
}

static int op_leg_stats(void *arg, const struct ng_stream_ports *sp, unsigned leg,
			struct ng_leg_stats *out)
{
	struct control *c = arg;
	struct session_flow_stats s;
	int rc = session_flow_read(c->cfg.tables[sp->worker], sp->addr, sp->port[leg],
				   control_now_ms(), &s);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	out->packets = s.pkts_in;
	out->bytes = s.bytes_in;
	out->errors = s.drops;
	out->last_ms = s.last_seen_ms;
	return 0;
}

/* The notification is one JSON object per UDP datagram (docs/dataplane.md). */
static void op_media_timeout(void *arg, const struct ng_call *call, uint64_t idle_ms)
{
	struct control *c = arg;
	json_t *o;
	char *s;

	LOG_NOTICE("call %s: no media for %llu ms", call->call_id, (unsigned long long)idle_ms);
	if (c->notify_fd < 0)
		return;
	o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I, s:I}", "event", "media-timeout", "call-id",
		      call->call_id, "from-tag", call->tag[0], "to-tag", call->tag[1], "via-branch",
		      ng_call_branch(call), "idle-ms", (json_int_t)idle_ms, "created",
		      (json_int_t)call->created_unix);
	s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (s) {
		ssize_t n = send(c->notify_fd, s, strlen(s), 0);

		/* The socket is connected: an ICMP port unreachable for an earlier notification
		 * (nobody listening then) is reported by this send instead, and this one is not
		 * sent. Once more, then. */
		if (n < 0 && errno == ECONNREFUSED)
			n = send(c->notify_fd, s, strlen(s), 0);
		if (n >= 0)
			c->timeouts_sent++;
		else
			LOG_WARN("call %s: media-timeout notification not sent: %s", call->call_id,
				 strerror(errno));
	}
	free(s);
	json_decref(o);
}

static const struct ng_ops control_ops = {
	.stream_new = op_stream_new,
	.stream_free = op_stream_free,
	.leg_set = op_leg_set,
	.leg_stats = op_leg_stats,
	.media_timeout = op_media_timeout,
};

/* --- ARP results to every worker ------------------------------------------------------------- */

static void on_neigh(void *arg, uint32_t ip, const uint8_t mac[6])
{
	struct control *c = arg;
	struct dp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = DP_MSG_NEIGH_UPDATE;
	m.u.neigh.ip = ip;
	memcpy(m.u.neigh.mac, mac, 6);
	for (unsigned w = 0; w < c->cfg.workers; w++)
		send_msg(c, w, &m);
}

/* --- set-up ---------------------------------------------------------------------------------- */

static void ng_cfg_of(const struct control_cfg *cfg, struct ng_cmd_cfg *ng)
{
	memset(ng, 0, sizeof(*ng));
	ng->n_media = cfg->n_media;
	memcpy(ng->media_addr, cfg->media_addr, sizeof(cfg->media_addr));
	ng->delete_delay_s = cfg->policy.delete_delay_s;
	ng->media_timeout_s = cfg->policy.media_timeout_s;
	ng->latch_policy = cfg->policy.latch_flags;
	ng->learn_window_ms = cfg->policy.learn_window_ms;
	ng->rebind_idle_ms = cfg->policy.rebind_idle_ms;
}

static int udp_connect(const struct addr_port *to)
{
	struct sockaddr_in sin;
	int fd;

	if (to->ip.family != AF_INET)
		return -EAFNOSUPPORT;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr = to->ip.v4;
	sin.sin_port = htons(to->port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int ctl_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 8) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

struct control *control_new(const struct control_cfg *cfg)
{
	struct control *c = calloc(1, sizeof(*c));
	struct exception_cfg ec;
	struct ng_cmd_cfg ng;
	int rc;

	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->ng_fd = c->notify_fd = c->ctl_fd = -1;
	for (unsigned i = 0; i < CTL_CLIENTS; i++)
		c->clients[i].fd = -1;
	ec = cfg->exc_cfg;
	ec.on_neigh = on_neigh;
	ec.arg = c;
	c->ex = exception_new(&ec);
	ng_cfg_of(cfg, &ng);
	c->nc = ng_cmd_new(&ng, &control_ops, c);
	c->srv = c->nc ? ng_server_new(c->nc, 0) : NULL;
	if (!c->ex || !c->nc || !c->srv) {
		LOG_ERR("control: out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	rc = ng_server_open(c->srv, &cfg->ng_listen);
	if (rc < 0) {
		LOG_ERR("ng: cannot listen: %s", strerror(-rc));
		goto fail;
	}
	c->ng_fd = rc;
	if (cfg->notify.ip.family) {
		rc = udp_connect(&cfg->notify);
		if (rc < 0) {
			LOG_ERR("media timeout notifications: %s", strerror(-rc));
			goto fail;
		}
		c->notify_fd = rc;
	}
	if (cfg->ctl_path) {
		rc = ctl_listen(cfg->ctl_path);
		if (rc < 0) {
			LOG_ERR("control socket %s: %s", cfg->ctl_path, strerror(-rc));
			goto fail;
		}
		c->ctl_fd = rc;
	}
	return c;
fail:
	control_free(c);
	errno = -rc;
	return NULL;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	ng_cmd_free(c->nc); /* releases every call through the workers' rings */
	ng_server_free(c->srv);
	exception_free(c->ex);
	if (c->notify_fd >= 0)
		close(c->notify_fd);
	for (unsigned i = 0; i < CTL_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			ctl_close(&c->clients[i]);
	if (c->ctl_fd >= 0) {
		close(c->ctl_fd);
		unlink(c->cfg.ctl_path);
	}
	free(c);
}

/* --- the control socket ---------------------------------------------------------------------- */

static json_t *worker_stats_json(const struct worker_stats *s)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "polls",
			      (json_int_t)s->polls, "rx", (json_int_t)s->rx, "relayed",
			      (json_int_t)s->relayed, "tx", (json_int_t)s->tx, "tx-dropped",
			      (json_int_t)s->tx_dropped, "exceptions", (json_int_t)s->exc,
			      "exceptions-dropped", (json_int_t)s->exc_dropped, "messages",
			      (json_int_t)s->msgs, "message-errors", (json_int_t)s->msg_errors);
	json_t *d = json_object();

	for (unsigned i = 1; i < CLASSIFY_DROP_COUNT; i++)
		if (s->drop_classify[i])
			json_object_set_new(d, classify_drop_name((enum classify_drop)i),
					    json_integer((json_int_t)s->drop_classify[i]));
	for (unsigned i = LATCH_DROP_NO_SOURCE; i < LATCH_VERDICT_COUNT; i++)
		if (s->drop_latch[i])
			json_object_set_new(d, latch_verdict_name((enum latch_verdict)i),
					    json_integer((json_int_t)s->drop_latch[i]));
	json_object_set_new(d, "multiseg", json_integer((json_int_t)s->drop_multiseg));
	json_object_set_new(d, "not-ours", json_integer((json_int_t)s->drop_not_ours));
	json_object_set_new(d, "no-flow", json_integer((json_int_t)s->drop_no_flow));
	json_object_set_new(d, "media", json_integer((json_int_t)s->drop_media));
	json_object_set_new(d, "no-dest", json_integer((json_int_t)s->drop_no_dest));
	json_object_set_new(d, "no-neigh", json_integer((json_int_t)s->drop_no_neigh));
	json_object_set_new(o, "drops", d);
	return o;
}

static json_t *ctl_stats(struct control *c)
{
	json_t *ws = json_array(), *as = json_array(), *resp;
	struct ng_server_stats ns;
	struct exception_stats es;
	char abuf[ADDR_STRLEN];

	for (unsigned w = 0; w < c->cfg.workers; w++) {
		struct worker_stats s;

		worker_stats_read(c->cfg.w[w], &s);
		json_array_append_new(ws, worker_stats_json(&s));
	}
	for (unsigned a = 0; a < c->cfg.n_media; a++)
		json_array_append_new(
			as, json_pack("{s:s, s:I}", "address",
				      addr_format(&c->cfg.media_addr[a], abuf, sizeof(abuf)),
				      "free-pairs",
				      (json_int_t)portalloc_addr_available(c->cfg.pa, a)));
	ng_server_stats_read(c->srv, &ns);
	exception_stats_read(c->ex, &es);
	resp = json_pack("{s:b, s:I, s:o, s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I}, "
			 "s:{s:I, s:I, s:I, s:I}}",
			 "ok", 1, "calls", (json_int_t)ng_calls_count(ng_cmd_calls(c->nc)),
			 "workers", ws, "ng", "requests", (json_int_t)ns.requests, "retransmits",
			 (json_int_t)ns.retransmits, "malformed", (json_int_t)ns.malformed,
			 "send-errors", (json_int_t)ns.send_errors, "exception", "arp-replied",
			 (json_int_t)es.arp_replied, "arp-requests", (json_int_t)es.arp_requests,
			 "arp-learned", (json_int_t)es.arp_learned, "icmp-replied",
			 (json_int_t)es.icmp_replied, "ignored", (json_int_t)es.ignored, "control",
			 "rejected-events", (json_int_t)c->rejected_events, "message-failures",
			 (json_int_t)c->msg_failures, "leaked-pairs", (json_int_t)c->leaked_pairs,
			 "timeouts-notified", (json_int_t)c->timeouts_sent);
	json_object_set_new(resp, "addresses", as); /* NULL resp: as is freed */
	return resp;
}

static json_t *endpoint_json(const struct addr_ip *ip, uint16_t port)
{
	char buf[ADDR_STRLEN];
	struct addr_port ap;

	if (!ip->family)
		return json_null();
	ap.ip = *ip;
	ap.port = port;
	return json_string(addr_port_format(&ap, buf, sizeof(buf)));
}

static json_t *ctl_sessions(struct control *c)
{
	json_t *arr = json_array();
	char abuf[ADDR_STRLEN];

	for (struct ng_call *call = ng_calls_first(ng_cmd_calls(c->nc)); call;
	     call = ng_calls_next(call)) {
		json_t *streams = json_array();

		for (unsigned i = 0; i < call->nstreams; i++) {
			const struct ng_stream *st = &call->streams[i];
			json_t *legs = json_array();

			for (unsigned leg = 0; leg < 2; leg++) {
				struct addr_ip lip = ng_latched_ip(&st->latched_src[leg]);
				struct latch_expect ex;
				struct ng_leg_stats s;

				ng_call_exp_unpack(&st->exp[leg], &ex);
				ng_cmd_leg_stats(c->nc, st, leg, &s);
				json_array_append_new(
					legs,
					json_pack("{s:i, s:o, s:o, s:I, s:I, s:I}", "port",
						  st->ports.port[leg], "expected",
						  endpoint_json(&ex.addr, ex.rtp_port), "latched",
						  st->latched[leg]
							  ? endpoint_json(&lip,
									  st->latched_src[leg].port)
							  : json_null(),
						  "packets", (json_int_t)s.packets, "bytes",
						  (json_int_t)s.bytes, "errors",
						  (json_int_t)s.errors));
			}
			json_array_append_new(
				streams,
				json_pack("{s:s, s:s, s:i, s:o}", "type", st->type, "address",
					  addr_format(ng_cmd_media_addr(c->nc, st->ports.addr),
						      abuf, sizeof(abuf)),
					  "worker", (int)st->ports.worker, "legs", legs));
		}
		json_array_append_new(arr, json_pack("{s:s, s:s?, s:s?, s:s?, s:I, s:b, s:b, s:o}",
						     "call-id", call->call_id, "from-tag",
						     call->tag[0], "to-tag", call->tag[1],
						     "via-branch", ng_call_branch(call), "created",
						     (json_int_t)call->created_unix,
						     "media-timeout", call->timed_out, "deleting",
						     call->delete_at_ms != 0, "streams", streams));
	}
	return json_pack("{s:b, s:o}", "ok", 1, "sessions", arr);
}

static json_t *ctl_error(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static json_t *ctl_reload(struct control *c)
{
	struct dp_policy p;
	struct ng_cmd_cfg ng;
	char err[256];
	int rc;

	if (!c->cfg.policy_path)
		return ctl_error("no --policy file configured");
	rc = dp_policy_load(c->cfg.policy_path, &p, err, sizeof(err));
	if (rc) {
		LOG_WARN("reload: %s (old policy kept)", err);
		return ctl_error(err);
	}
	/* Validated as a whole; only now does it replace the old one. Calls keep the flags they
	 * were set up with until their next offer or answer. */
	c->cfg.policy = p;
	ng_cfg_of(&c->cfg, &ng);
	ng_cmd_reconfigure(c->nc, &ng);
	LOG_NOTICE("reload: policy from %s applied", c->cfg.policy_path);
	return json_pack("{s:b}", "ok", 1);
}

/* Commands as data: name -> handler. */
static const struct {
	const char *name;
	json_t *(*fn)(struct control *c);
} ctl_commands[] = {
	{"stats", ctl_stats},
	{"sessions", ctl_sessions},
	{"reload", ctl_reload},
};

static void ctl_close(struct ctl_client *cl)
{
	close(cl->fd);
	cl->fd = -1;
	cl->len = 0;
	free(cl->out);
	cl->out = NULL;
	cl->out_len = cl->out_off = 0;
}

/* Writes what the socket takes now; the rest waits for POLLOUT (the loop never blocks on a
 * slow client). */
static void ctl_flush(struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t w = write(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off);

		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0) {
			ctl_close(cl);
			return;
		}
		cl->out_off += (size_t)w;
	}
	free(cl->out);
	cl->out = NULL;
	cl->out_len = cl->out_off = 0;
}

static void ctl_queue(struct ctl_client *cl, const char *s, size_t n)
{
	char *o;

	if (cl->out_len - cl->out_off + n > CTL_OUT_MAX) {
		ctl_close(cl);
		return;
	}
	o = realloc(cl->out, cl->out_len + n);
	if (!o) {
		ctl_close(cl);
		return;
	}
	memcpy(o + cl->out_len, s, n);
	cl->out = o;
	cl->out_len += n;
	ctl_flush(cl);
}

static void ctl_line(struct control *c, struct ctl_client *cl, const char *line, size_t len)
{
	json_t *req = json_loadb(line, len, 0, NULL), *reply = NULL;
	const char *cmd = NULL;
	char word[32];
	char *s;

	if (req && json_is_object(req))
		cmd = json_string_value(json_object_get(req, "cmd"));
	else if (!req && len > 0 && len < sizeof(word)) {
		/* A bare word ("stats") is accepted too, for humans with socat. */
		memcpy(word, line, len);
		word[len] = 0;
		cmd = word;
	}
	for (size_t i = 0; cmd && i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++)
		if (!strcmp(cmd, ctl_commands[i].name))
			reply = ctl_commands[i].fn(c);
	if (!reply)
		reply = ctl_error(cmd ? "unknown command" : "a JSON object with \"cmd\" expected");
	s = json_dumps(reply, JSON_COMPACT);
	if (s) {
		size_t n = strlen(s);

		s[n] = '\n'; /* the NUL's byte carries the line end; s is not a string any more */
		ctl_queue(cl, s, n + 1);
		free(s);
	}
	json_decref(reply);
	json_decref(req);
}

static void ctl_read(struct control *c, struct ctl_client *cl)
{
	ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len);
	char *nl;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			ctl_close(cl);
		return;
	}
	cl->len += (size_t)n;
	while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len))) {
		size_t l = (size_t)(nl - cl->buf);

		ctl_line(c, cl, cl->buf, l && cl->buf[l - 1] == '\r' ? l - 1 : l);
		if (cl->fd < 0)
			return; /* closed while answering */
		memmove(cl->buf, nl + 1, cl->len - l - 1);
		cl->len -= l + 1;
	}
	if (cl->fd >= 0 && cl->len == sizeof(cl->buf))
		ctl_close(cl); /* a line longer than we accept */
}

static void ctl_accept(struct control *c)
{
	int fd = accept4(c->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (unsigned i = 0; i < CTL_CLIENTS; i++) {
		if (c->clients[i].fd < 0) {
			c->clients[i].fd = fd;
			c->clients[i].len = 0;
			return;
		}
	}
	close(fd);
}

/* --- the loop -------------------------------------------------------------------------------- */

static void worker_events(struct control *c, unsigned w, uint64_t now_ms)
{
	struct dp_msg ev[EVENT_BURST];
	unsigned n = dp_msg_recv(c->cfg.chan[w].to_control, ev, EVENT_BURST);
	char buf[ADDR_STRLEN], abuf[ADDR_STRLEN];

	for (unsigned i = 0; i < n; i++) {
		switch (ev[i].type) {
		case DP_EV_LATCHED:
			ng_cmd_latched(c->nc, ev[i].addr, ev[i].port, &ev[i].u.ev.src);
			LOG_INFO("%s port %u %s: %s %s",
				 addr_format(ng_cmd_media_addr(c->nc, ev[i].addr), abuf,
					     sizeof(abuf)),
				 ev[i].port, ev[i].u.ev.comp == LATCH_COMP_RTCP ? "rtcp" : "rtp",
				 latch_verdict_name((enum latch_verdict)ev[i].u.ev.verdict),
				 addr_port_format(&ev[i].u.ev.src, buf, sizeof(buf)));
			break;
		case DP_EV_REJECTED:
			c->rejected_events++;
			if (log_ratelimit_ok(&c->rl_reject, 10, 10000))
				LOG_INFO("%s port %u: %s from %s",
					 addr_format(ng_cmd_media_addr(c->nc, ev[i].addr), abuf,
						     sizeof(abuf)),
					 ev[i].port,
					 latch_verdict_name((enum latch_verdict)ev[i].u.ev.verdict),
					 addr_port_format(&ev[i].u.ev.src, buf, sizeof(buf)));
			break;
		case DP_EV_NEIGH_MISS:
			exception_resolve(c->ex, ev[i].u.neigh.ip, now_ms);
			break;
		default:
			break;
		}
	}
}

void control_run_once(struct control *c, int timeout_ms)
{
	struct pollfd pfd[2 + CTL_CLIENTS];
	unsigned nfd = 0;
	struct ng_now now;
	uint64_t now_ms;

	pfd[nfd++] = (struct pollfd){.fd = c->ng_fd, .events = POLLIN};
	if (c->ctl_fd >= 0)
		pfd[nfd++] = (struct pollfd){.fd = c->ctl_fd, .events = POLLIN};
	for (unsigned i = 0; i < CTL_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			pfd[nfd++] = (struct pollfd){.fd = c->clients[i].fd,
						     .events = POLLIN |
							       (c->clients[i].out ? POLLOUT : 0)};
	poll(pfd, nfd, timeout_ms);

	now_ms = control_now_ms();
	now.ms = now_ms;
	now.unix_s = (int64_t)time(NULL);
	ng_server_poll(c->srv, &now, 64);
	if (c->ctl_fd >= 0) {
		ctl_accept(c);
		for (unsigned i = 0; i < CTL_CLIENTS; i++) {
			if (c->clients[i].fd >= 0 && c->clients[i].out)
				ctl_flush(&c->clients[i]);
			if (c->clients[i].fd >= 0)
				ctl_read(c, &c->clients[i]);
		}
	}
	for (unsigned w = 0; w < c->cfg.workers; w++) {
		struct rte_mbuf *m[EXC_BURST];
		unsigned n = rte_ring_sc_dequeue_burst(c->cfg.exc[w], (void **)m, EXC_BURST, NULL);

		for (unsigned i = 0; i < n; i++)
			exception_input(c->ex, m[i], now_ms);
		worker_events(c, w, now_ms);
	}
	if (now_ms >= c->next_arp_ms) {
		exception_timer(c->ex, now_ms);
		c->next_arp_ms = now_ms + ARP_TIMER_MS;
	}
	if (now_ms >= c->next_ng_ms) {
		ng_cmd_timer(c->nc, now_ms);
		c->next_ng_ms = now_ms + NG_TIMER_MS;
	}
}
