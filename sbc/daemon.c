/* daemon: sbc-sip as a running service — loads policy, opens sockets and databases, wires the
 * proxy, registrar, keepalives and control socket into one event loop, and reloads on demand. */
#include "daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "auth.h"
#include "ctlsock.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "keepalive.h"
#include "media.h"
#include "ng_client.h"
#include "proxy.h"
#include "ratelimit.h"
#include "registrar.h"
#include "transport.h"

/* How often expired bindings are swept. */
#define DAEMON_EXPIRE_MS 10000

struct daemon {
	const struct daemon_opts *o;
	struct loop *loop;
	struct policy *policy;
	struct auth *auth;
	struct ratelimit *limit;
	struct transport *tp;
	struct registrar *reg;
	struct proxy *proxy;
	struct ctlsock *ctl;
	struct keepalive *ka;
	struct ng_client *ng;
	struct media *media;
	struct ng_dataplane_cfg dps[NG_CLIENT_MAX_DATAPLANES];
	size_t ndps;
	int notify_fd;
	struct loop_timer expire_timer, ka_timer, flush_timer;
};

/* The HA1 lookup the authenticator uses: the policy's users. */
static const char *policy_ha1(void *arg, const char *user, const char *domain, enum digest_alg alg)
{
	const struct policy_user *u = policy_user_find(arg, user, domain);

	return u != NULL ? policy_user_ha1(u, alg) : NULL;
}

static void auth_cfg_of(const struct policy *pol, struct auth_cfg *ac)
{
	const struct policy_settings *s = policy_settings(pol);

	*ac = (struct auth_cfg){
		.realm = s->realm,
		.algs = s->auth_algs,
		.alg_count = s->auth_alg_count,
		.nonce_ttl_s = 300,
		.ha1 = policy_ha1,
		.ha1_arg = (void *)pol,
	};
}

static void ratelimit_cfg_of(const struct policy *pol, struct ratelimit_config *rc)
{
	const struct policy_settings *s = policy_settings(pol);

	ratelimit_config_default(rc);
	rc->rate_per_s = s->rate_per_second;
	rc->burst = s->rate_burst;
	rc->auth_fail_max = s->ban_threshold;
	rc->auth_fail_window_ms = s->ban_window * 1000;
	rc->ban_ms = s->ban_duration * 1000;
	/* Trunks and trusted networks are never limited: a carrier's burst is not an attack. */
	rc->exempt = *policy_trusted(pol);
}

/* Swaps in a new policy snapshot; on any failure the running one stays. */
static int reload(struct daemon *d, char *err, size_t errlen)
{
	struct policy *np = policy_load(d->o->policy_path, err, errlen);

	if (np == NULL)
		return -EINVAL;
	struct auth_cfg ac;
	struct ratelimit_config rc;

	auth_cfg_of(np, &ac);
	if (auth_reconfigure(d->auth, &ac) != 0) {
		snprintf(err, errlen, "authentication settings refused");
		policy_free(np);
		return -EINVAL;
	}

	ratelimit_cfg_of(np, &rc);
	ratelimit_reconfigure(d->limit, &rc);
	keepalive_set_interval(d->ka, policy_settings(np)->keepalive_interval);
	/* A new interval (keepalives may just have been switched on) applies now. */
	loop_timer_start(d->loop, &d->ka_timer, 1);
	registrar_set_policy(d->reg, np);
	proxy_set_policy(d->proxy, np);
	policy_free(d->policy);
	d->policy = np;
	LOG_NOTICE("policy reloaded (config_version %llu)",
		   (unsigned long long)policy_config_version(np));
	return 0;
}

/* --- control socket commands ---------------------------------------------------------------- */

static json_t *ctl_stats(void *arg, const json_t *req, const char **error)
{
	struct daemon *d = arg;
	struct transport_stats ts;
	struct ratelimit_stats rs;
	json_t *o = proxy_stats(d->proxy);

	(void)req;
	(void)error;
	transport_stats_get(d->tp, &ts);
	ratelimit_stats_get(d->limit, &rs);
	json_object_set_new(o, "udp_rx", json_integer((json_int_t)ts.udp_rx));
	json_object_set_new(o, "udp_tx", json_integer((json_int_t)ts.udp_tx));
	json_object_set_new(o, "tcp_rx", json_integer((json_int_t)ts.tcp_rx));
	json_object_set_new(o, "tcp_tx", json_integer((json_int_t)ts.tcp_tx));
	json_object_set_new(o, "tcp_connections", json_integer((json_int_t)ts.conns_open));
	json_object_set_new(o, "rate_limited", json_integer((json_int_t)ts.rate_limited));
	json_object_set_new(o, "bans", json_integer((json_int_t)rs.bans));
	struct keepalive_stats ks;

	keepalive_get_stats(d->ka, &ks);
	json_object_set_new(o, "keepalives_sent", json_integer((json_int_t)ks.sent));
	json_object_set_new(o, "keepalives_answered", json_integer((json_int_t)ks.answered));
	if (d->media != NULL) {
		json_object_set_new(o, "dataplanes", ng_client_dump(d->ng));
		json_object_set_new(o, "media_engaged",
				    json_integer((json_int_t)media_engaged(d->media)));
		json_object_set_new(o, "media_failed",
				    json_integer((json_int_t)media_failed(d->media)));
	}
	json_object_set_new(o, "config_version",
			    json_integer((json_int_t)policy_config_version(d->policy)));
	return o;
}

static json_t *ctl_registrations(void *arg, const json_t *req, const char **error)
{
	struct daemon *d = arg;

	(void)req;
	(void)error;
	return json_pack("{s:o}", "registrations", registrar_dump(d->reg, (uint64_t)time(NULL)));
}

static json_t *ctl_dialogs(void *arg, const json_t *req, const char **error)
{
	struct daemon *d = arg;

	(void)req;
	(void)error;
	return json_pack("{s:o}", "dialogs", proxy_dialogs(d->proxy));
}

static json_t *ctl_reload(void *arg, const json_t *req, const char **error)
{
	static char err[512];
	struct daemon *d = arg;

	(void)req;
	if (reload(d, err, sizeof(err)) != 0) {
		LOG_ERR("policy reload failed, keeping the running policy: %s", err);
		*error = err;
		return NULL;
	}
	return json_pack("{s:I}", "config_version", (json_int_t)policy_config_version(d->policy));
}

static const struct ctlsock_cmd ctl_cmds[] = {
	{"stats", ctl_stats, "counters of the proxy, transports and rate limiter"},
	{"registrations", ctl_registrations, "current registrar bindings"},
	{"dialogs", ctl_dialogs, "confirmed dialogs"},
	{"reload", ctl_reload, "load the policy database again (the old one stays on error)"},
};

/* --- wiring --------------------------------------------------------------------------------- */

static void on_recv(void *arg, const char *buf, size_t len, const struct addr_port *src,
		    enum sip_transport proto, uint64_t conn_id)
{
	struct daemon *d = arg;

	proxy_recv(d->proxy, buf, len, src, proto, conn_id);
}

static void on_bad_frame(void *arg, const char *buf, size_t len, const struct addr_port *src,
			 uint64_t conn_id, const char *why)
{
	struct daemon *d = arg;

	proxy_bad_frame(d->proxy, buf, len, src, conn_id, why);
}

static void on_send_failed(void *arg, uint64_t conn_id, const struct addr_port *remote, int err)
{
	struct daemon *d = arg;

	(void)conn_id;
	(void)err;
	proxy_peer_failed(d->proxy, remote);
}

static void on_conn_closed(void *arg, uint64_t conn_id, const struct addr_port *remote)
{
	struct daemon *d = arg;

	(void)remote;
	registrar_conn_closed(d->reg, conn_id);
}

static void on_ctl(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct daemon *d = arg;

	(void)lp;
	(void)fd;
	(void)events;
	ctlsock_service(d->ctl);
}

static void on_hup(struct loop *lp, int signo, void *arg)
{
	char err[512];

	(void)lp;
	(void)signo;
	if (reload(arg, err, sizeof(err)) != 0)
		LOG_ERR("policy reload (SIGHUP) failed, keeping the running policy: %s", err);
}

/* Bindings are written in groups (sbc/regdb.c): one commit per 100 ms instead of one per
 * REGISTER, so a burst of registrations does not stall the loop on the disk. */
#define DAEMON_FLUSH_MS 100

static void on_flush(struct loop *lp, void *arg)
{
	struct daemon *d = arg;

	registrar_flush(d->reg);
	loop_timer_start(lp, &d->flush_timer, DAEMON_FLUSH_MS);
}

static void on_expire(struct loop *lp, void *arg)
{
	struct daemon *d = arg;
	size_t n = registrar_expire(d->reg, (uint64_t)time(NULL));

	proxy_sweep(d->proxy);

	if (n > 0)
		LOG_INFO("%zu registrations expired", n);
	loop_timer_start(lp, &d->expire_timer, DAEMON_EXPIRE_MS);
}

/* --- media timeout notifications ----------------------------------------------------------- */

/* One JSON datagram from a dataplane (docs/ng-protocol.md): {"event":"media-timeout",
 * "call-id":..., "from-tag":..., "to-tag":...}. Only the configured dataplanes' addresses are
 * believed: anyone else could end calls. */
static void on_notify(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct daemon *d = arg;
	char buf[4096];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	(void)lp;
	(void)events;
	for (;;) {
		ssize_t n =
			recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);

		if (n < 0)
			return;
		struct addr_ip from = {0};
		bool known = false;

		if (ss.ss_family == AF_INET) {
			from.family = AF_INET;
			from.v4 = ((struct sockaddr_in *)&ss)->sin_addr;
		} else if (ss.ss_family == AF_INET6) {
			from.family = AF_INET6;
			from.v6 = ((struct sockaddr_in6 *)&ss)->sin6_addr;
		}
		for (size_t i = 0; i < d->ndps; i++)
			known |= addr_equal(&d->dps[i].addr.ip, &from);
		json_t *ev = known ? json_loadb(buf, (size_t)n, 0, NULL) : NULL;
		const char *what = json_string_value(json_object_get(ev, "event"));
		const char *cid = json_string_value(json_object_get(ev, "call-id"));
		const char *ft = json_string_value(json_object_get(ev, "from-tag"));
		const char *tt = json_string_value(json_object_get(ev, "to-tag"));

		if (!known)
			LOG_WARN(
				"media notification from an address that is no dataplane: ignored");
		else if (what != NULL && strcmp(what, "media-timeout") == 0 && cid != NULL &&
			 ft != NULL)
			proxy_media_timeout(d->proxy, cid, ft, tt);
		json_decref(ev);
		sl = sizeof(ss);
	}
}

static int notify_open(const struct addr_port *ap)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd = socket(ap->ip.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (ap->ip.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = ap->ip.v4;
		s4->sin_port = htons(ap->port);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = ap->ip.v6;
		s6->sin6_port = htons(ap->port);
		sl = sizeof(*s6);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* --- NAT keepalives -------------------------------------------------------------------------- */

static int ka_send(void *arg, const struct addr_port *dst, enum sip_transport t, uint64_t conn_id,
		   const char *buf, size_t len)
{
	struct daemon *d = arg;

	return proxy_send_raw(d->proxy, dst, t, conn_id, buf, len);
}

static void ka_foreach(void *arg, void (*fn)(void *fnarg, const struct registrar_target *t),
		       void *fnarg)
{
	struct daemon *d = arg;

	registrar_foreach_natted(d->reg, (uint64_t)time(NULL), fn, fnarg);
}

static bool ka_stray(void *arg, const char *call_id, size_t len, int status)
{
	struct daemon *d = arg;

	return keepalive_response(d->ka, call_id, len, status);
}

static void on_keepalive(struct loop *lp, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = loop_now(lp), next = keepalive_run(d->ka, now);

	/* Off (UINT64_MAX): look again in a minute, a reload may switch keepalives on. */
	loop_timer_start(lp, &d->ka_timer,
			 next == UINT64_MAX ? 60000
			 : next > now	    ? next - now
					    : 1);
}

int daemon_check(const struct daemon_opts *o)
{
	char err[512];
	struct policy *pol = policy_load(o->policy_path, err, sizeof(err));

	if (pol == NULL) {
		fprintf(stderr, "sbc-sip: %s\n", err);
		return 1;
	}
	const struct policy_settings *s = policy_settings(pol);

	printf("sbc-sip: policy %s OK (config_version %llu, realm %s, NAT mask %u)\n",
	       o->policy_path, (unsigned long long)policy_config_version(pol), s->realm,
	       s->nat_test_mask);
	for (size_t i = 0; i < o->nlisten; i++) {
		char ap[ADDR_STRLEN];

		printf("sbc-sip: would listen on %s (udp, tcp)\n",
		       addr_port_format(&o->listen[i], ap, sizeof(ap)));
	}
	policy_free(pol);
	return 0;
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon d = {.o = o, .notify_fd = -1};
	char err[512];
	int rc = 1;

	d.policy = policy_load(o->policy_path, err, sizeof(err));
	if (d.policy == NULL) {
		LOG_ERR("%s", err);
		return 1;
	}
	struct ratelimit_config rc_cfg;
	struct transport_config tc;
	struct transport_ops tops = {on_recv, on_bad_frame, on_send_failed, on_conn_closed};

	ratelimit_cfg_of(d.policy, &rc_cfg);
	d.loop = loop_new();
	d.limit = ratelimit_new(&rc_cfg);
	struct auth_cfg ac;

	auth_cfg_of(d.policy, &ac);
	d.auth = auth_new(&ac);
	if (d.loop == NULL || d.limit == NULL || d.auth == NULL) {
		LOG_ERR("start-up failed: %s", strerror(errno));
		goto out;
	}
	transport_config_default(&tc);
	tc.limit = d.limit;
	d.tp = transport_new(d.loop, &tc, &tops, &d);
	if (d.tp == NULL) {
		LOG_ERR("transport: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < o->nlisten; i++) {
		char ap[ADDR_STRLEN];
		int e1 = transport_listen(d.tp, SIP_TRANSPORT_UDP, &o->listen[i], NULL);
		int e2 = e1 == 0 ? transport_listen(d.tp, SIP_TRANSPORT_TCP, &o->listen[i], NULL)
				 : 0;

		addr_port_format(&o->listen[i], ap, sizeof(ap));
		if (e1 != 0 || e2 != 0) {
			LOG_ERR("cannot listen on %s: %s", ap, strerror(-(e1 != 0 ? e1 : e2)));
			goto out;
		}
		LOG_NOTICE("listening on %s (udp, tcp)", ap);
	}
	d.reg = registrar_new(o->registrations_path, d.policy, d.auth, err, sizeof(err));
	if (d.reg == NULL) {
		LOG_ERR("registrations %s: %s", o->registrations_path, err);
		goto out;
	}
	if (o->dataplanes != NULL) {
		int n = ng_client_parse_dataplanes(o->dataplanes, d.dps, NG_CLIENT_MAX_DATAPLANES);
		struct ng_client_cfg nc = {0};

		if (n <= 0) {
			LOG_ERR("bad --dataplane '%s' (IP:PORT[=WEIGHT],...)", o->dataplanes);
			goto out;
		}
		d.ndps = (size_t)n;
		nc.dataplanes = d.dps;
		nc.n_dataplanes = (size_t)n;
		d.ng = ng_client_new(d.loop, &nc);
		d.media = d.ng != NULL ? media_new(d.ng) : NULL;
		if (d.media == NULL) {
			LOG_ERR("ng client: %s", strerror(errno));
			goto out;
		}
		LOG_NOTICE("media through %d dataplane(s): %s", n, o->dataplanes);
	}
	struct proxy_cfg pc = {.nself = o->nlisten,
			       .policy = d.policy,
			       .registrar = d.reg,
			       .auth = d.auth,
			       .limit = d.limit,
			       .transport = d.tp,
			       .loop = d.loop,
			       .media = d.media,
			       .hold_timeout_s = o->hold_timeout_s,
			       .dialog_timeout_s = o->dialog_timeout_s};

	memcpy(pc.self, o->listen, o->nlisten * sizeof(o->listen[0]));
	pc.stray_response = ka_stray;
	pc.stray_arg = &d;
	d.proxy = proxy_new(&pc);
	if (d.proxy == NULL) {
		LOG_ERR("proxy: %s", strerror(errno));
		goto out;
	}
	if (o->ctl_path != NULL) {
		d.ctl = ctlsock_new(o->ctl_path, ctl_cmds, sizeof(ctl_cmds) / sizeof(ctl_cmds[0]),
				    &d);
		if (d.ctl == NULL ||
		    loop_fd_add(d.loop, ctlsock_fd(d.ctl), EPOLLIN, on_ctl, &d) != 0) {
			LOG_ERR("control socket %s: %s", o->ctl_path, strerror(errno));
			goto out;
		}
	}
	if (d.media != NULL && o->media_notify.port != 0) {
		char ap[ADDR_STRLEN];

		d.notify_fd = notify_open(&o->media_notify);
		if (d.notify_fd < 0 ||
		    loop_fd_add(d.loop, d.notify_fd, EPOLLIN, on_notify, &d) != 0) {
			LOG_ERR("media notifications on %s: %s",
				addr_port_format(&o->media_notify, ap, sizeof(ap)),
				strerror(d.notify_fd < 0 ? -d.notify_fd : errno));
			goto out;
		}
	}
	if (loop_signals_init(d.loop, on_hup, &d) != 0) {
		LOG_ERR("signals: %s", strerror(errno));
		goto out;
	}
	char local[ADDR_STRLEN];
	struct keepalive_cfg kc = {
		.interval_s = policy_settings(d.policy)->keepalive_interval,
		.local = addr_port_format(&o->listen[0], local, sizeof(local)),
		.send = ka_send,
		.send_arg = &d,
		.foreach = ka_foreach,
		.foreach_arg = &d,
	};

	d.ka = keepalive_new(&kc);
	if (d.ka == NULL) {
		LOG_ERR("keepalive: %s", strerror(errno));
		goto out;
	}
	loop_timer_init(&d.ka_timer, on_keepalive, &d);
	loop_timer_start(d.loop, &d.ka_timer, 1000);
	loop_timer_init(&d.flush_timer, on_flush, &d);
	loop_timer_start(d.loop, &d.flush_timer, DAEMON_FLUSH_MS);
	loop_timer_init(&d.expire_timer, on_expire, &d);
	loop_timer_start(d.loop, &d.expire_timer, DAEMON_EXPIRE_MS);
	LOG_NOTICE("sbc-sip running (policy config_version %llu)",
		   (unsigned long long)policy_config_version(d.policy));
	rc = loop_run(d.loop) == 0 ? 0 : 1;
	LOG_NOTICE("sbc-sip stopping");
out:
	if (d.ctl != NULL) {
		loop_fd_del(d.loop, ctlsock_fd(d.ctl));
		ctlsock_free(d.ctl);
	}
	if (d.notify_fd >= 0) {
		loop_fd_del(d.loop, d.notify_fd);
		close(d.notify_fd);
	}
	proxy_free(d.proxy);
	media_free(d.media);
	ng_client_free(d.ng);
	keepalive_free(d.ka);
	registrar_free(d.reg);
	transport_free(d.tp);
	auth_free(d.auth);
	ratelimit_free(d.limit);
	loop_free(d.loop);
	policy_free(d.policy);
	return rc;
}
