/* transport: SIP over UDP and TCP on the event loop — sockets on configured addresses, stream
 * connections with framing, keepalives, reuse and idle timeouts, and per-source rate limiting. */
#include "transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_priv.h"

void transport_config_default(struct transport_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->tcp_idle_ms = 300000;
	cfg->max_conns = 4096;
	cfg->max_queue = 1024 * 1024;
	cfg->udp_batch = 64;
}

struct transport *transport_new(struct loop *lp, const struct transport_config *cfg,
				const struct transport_ops *ops, void *arg)
{
	struct transport *tp;

	if (lp == NULL || cfg == NULL || ops == NULL || ops->recv == NULL) {
		errno = EINVAL;
		return NULL;
	}
	tp = calloc(1, sizeof(*tp));
	if (tp == NULL)
		return NULL;
	tp->udp_buf = malloc(TRANSPORT_MAX_MSG);
	if (tp->udp_buf == NULL) {
		free(tp);
		errno = ENOMEM;
		return NULL;
	}
	tp->lp = lp;
	tp->cfg = *cfg;
	if (tp->cfg.udp_batch == 0)
		tp->cfg.udp_batch = 1;
	tp->ops = *ops;
	tp->arg = arg;
	tp->next_id = 1;
	return tp;
}

void transport_free(struct transport *tp)
{
	if (tp == NULL)
		return;
	while (tp->eps != NULL) {
		struct transport_ep *ep = tp->eps;

		loop_fd_del(tp->lp, ep->fd);
		loop_timer_stop(tp->lp, &ep->idle);
		transport_ep_unlink(ep);
		transport_ep_free(ep);
	}
	free(tp->udp_buf);
	free(tp);
}

/* ---- endpoints ---- */

size_t transport_addr_bucket(const struct addr_port *ap)
{
	const unsigned char *p =
		ap->ip.family == AF_INET6 ? ap->ip.v6.s6_addr : (const unsigned char *)&ap->ip.v4;
	size_t n = ap->ip.family == AF_INET6 ? 16 : 4;
	uint32_t h = 2166136261u ^ ap->port;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h & (TRANSPORT_BUCKETS - 1);
}

struct transport_ep *transport_ep_new(struct transport *tp, enum transport_kind kind, int fd)
{
	struct transport_ep *ep = calloc(1, sizeof(*ep));
	size_t b;

	if (ep == NULL)
		return NULL;
	ep->tp = tp;
	ep->kind = kind;
	ep->fd = fd;
	ep->id = tp->next_id++;
	b = ep->id & (TRANSPORT_BUCKETS - 1);
	ep->id_next = tp->by_id[b];
	tp->by_id[b] = ep;
	ep->next = tp->eps;
	if (tp->eps != NULL)
		tp->eps->prev = ep;
	tp->eps = ep;
	return ep;
}

void transport_ep_addr_insert(struct transport_ep *ep)
{
	size_t b = transport_addr_bucket(&ep->remote);

	ep->addr_next = ep->tp->by_addr[b];
	ep->tp->by_addr[b] = ep;
}

void transport_ep_unlink(struct transport_ep *ep)
{
	struct transport *tp = ep->tp;
	struct transport_ep **pp;

	for (pp = &tp->by_id[ep->id & (TRANSPORT_BUCKETS - 1)]; *pp != NULL; pp = &(*pp)->id_next) {
		if (*pp == ep) {
			*pp = ep->id_next;
			break;
		}
	}
	if (ep->kind == TRANSPORT_KIND_TCP_CONN) {
		for (pp = &tp->by_addr[transport_addr_bucket(&ep->remote)]; *pp != NULL;
		     pp = &(*pp)->addr_next) {
			if (*pp == ep) {
				*pp = ep->addr_next;
				break;
			}
		}
	}
	if (ep->prev != NULL)
		ep->prev->next = ep->next;
	else
		tp->eps = ep->next;
	if (ep->next != NULL)
		ep->next->prev = ep->prev;
	ep->prev = ep->next = NULL;
	if (ep->fd >= 0)
		close(ep->fd);
	ep->fd = -1;
}

void transport_ep_free(struct transport_ep *ep)
{
	free(ep->rbuf);
	free(ep->wbuf);
	free(ep);
}

struct transport_ep *transport_ep_find(const struct transport *tp, uint64_t id)
{
	for (struct transport_ep *ep = tp->by_id[id & (TRANSPORT_BUCKETS - 1)]; ep != NULL;
	     ep = ep->id_next)
		if (ep->id == id)
			return ep;
	return NULL;
}

bool transport_allow(struct transport *tp, const struct addr_ip *ip)
{
	if (tp->cfg.limit == NULL || ratelimit_allow(tp->cfg.limit, ip, loop_now(tp->lp)))
		return true;
	tp->stats.rate_limited++;
	return false;
}

/* ---- socket addresses ---- */

void transport_to_sockaddr(const struct addr_port *ap, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (ap->ip.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = ap->ip.v6;
		s6->sin6_port = htons(ap->port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = ap->ip.v4;
		s4->sin_port = htons(ap->port);
		*len = sizeof(*s4);
	}
}

void transport_from_sockaddr(const struct sockaddr_storage *ss, struct addr_port *ap)
{
	memset(ap, 0, sizeof(*ap));
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		ap->ip.family = AF_INET6;
		ap->ip.v6 = s6->sin6_addr;
		ap->port = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		ap->ip.family = AF_INET;
		ap->ip.v4 = s4->sin_addr;
		ap->port = ntohs(s4->sin_port);
	}
}

int transport_bound_socket(const struct addr_port *local, int type)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;

	if (local->ip.family != AF_INET && local->ip.family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(local->ip.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* IPv6-only, so that an IPv4 socket on the same port can exist beside it. */
	if (local->ip.family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	/* A restarted daemon must not wait for TIME_WAIT connections of its predecessor. */
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto fail;
	transport_to_sockaddr(local, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		goto fail;
	return fd;

fail:
	err = -errno;
	close(fd);
	return err;
}

/* ---- public entry points ---- */

int transport_listen(struct transport *tp, enum sip_transport proto, const struct addr_port *local,
		     uint64_t *id)
{
	struct transport_ep *ep = NULL;
	int rc;

	switch (proto) {
	case SIP_TRANSPORT_UDP:
		rc = transport_udp_open(tp, local, &ep);
		break;
	case SIP_TRANSPORT_TCP:
		rc = transport_tcp_listen(tp, local, &ep);
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	if (rc == 0 && id != NULL)
		*id = ep->id;
	return rc;
}

int transport_local_addr(const struct transport *tp, uint64_t id, struct addr_port *out)
{
	struct transport_ep *ep = transport_ep_find(tp, id);

	if (ep == NULL)
		return -ENOENT;
	*out = ep->local;
	return 0;
}

int transport_send(struct transport *tp, const struct addr_port *dst, enum sip_transport proto,
		   uint64_t conn_id, const char *buf, size_t len)
{
	int rc;

	switch (proto) {
	case SIP_TRANSPORT_UDP:
		rc = transport_udp_send(tp, dst, conn_id, buf, len);
		break;
	case SIP_TRANSPORT_TCP:
		rc = transport_tcp_send(tp, dst, conn_id, buf, len);
		break;
	default:
		rc = -EPROTONOSUPPORT;
		break;
	}
	if (rc < 0)
		tp->stats.send_errors++;
	return rc;
}

uint64_t transport_conn_find(const struct transport *tp, const struct addr_port *dst)
{
	struct transport_ep *ep = transport_tcp_find(tp, dst);

	return ep != NULL ? ep->id : 0;
}

bool transport_conn_alive(const struct transport *tp, uint64_t conn_id)
{
	struct transport_ep *ep = transport_ep_find(tp, conn_id);

	return ep != NULL && ep->kind == TRANSPORT_KIND_TCP_CONN && !ep->dead;
}

int transport_close(struct transport *tp, uint64_t conn_id)
{
	struct transport_ep *ep = transport_ep_find(tp, conn_id);

	if (ep == NULL || ep->kind != TRANSPORT_KIND_TCP_CONN || ep->dead)
		return -ENOENT;
	transport_tcp_close(ep, true, 0);
	return 0;
}

void transport_stats_get(const struct transport *tp, struct transport_stats *out)
{
	*out = tp->stats;
	out->conns_open = tp->nconns;
}

int transport_ep_watch(struct transport *tp, enum transport_kind kind, int fd, loop_fd_cb cb,
		       struct transport_ep **out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct transport_ep *ep = transport_ep_new(tp, kind, fd);
	int rc;

	if (ep == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
		rc = -errno;
		goto fail;
	}
	transport_from_sockaddr(&ss, &ep->local);
	rc = loop_fd_add(tp->lp, fd, EPOLLIN, cb, ep);
	if (rc < 0)
		goto fail;
	*out = ep;
	return 0;
fail:
	transport_ep_unlink(ep);
	transport_ep_free(ep);
	return rc;
}
