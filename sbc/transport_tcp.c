/* transport_tcp: SIP over TCP — listening sockets, accepted and outgoing connections, framing by
 * Content-Length, CRLF keepalives, write queues, connection reuse by remote address, idle close. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_frame.h"
#include "transport_priv.h"

/* Read buffer bound: one whole message of the largest size plus room for the next read. */
#define TCP_RBUF_MAX   (TRANSPORT_MAX_MSG + 4096)
#define TCP_READ_CHUNK 4096
/* Reads per wake-up: a client that sends without pause must not starve the others (epoll is
 * level-triggered, so the rest is read on the next iteration). */
#define TCP_READS_PER_WAKEUP 16

static void conn_io(struct loop *lp, int fd, uint32_t events, void *arg);

static void conn_hold(struct transport_ep *ep)
{
	ep->hold++;
}

static void conn_release(struct transport_ep *ep)
{
	if (--ep->hold == 0 && ep->dead)
		transport_ep_free(ep);
}

void transport_tcp_close(struct transport_ep *ep, bool notify, int err)
{
	struct transport *tp = ep->tp;
	bool lost = ep->connecting || ep->wlen > ep->woff;

	if (ep->dead)
		return;
	ep->dead = true;
	loop_fd_del(tp->lp, ep->fd);
	loop_timer_stop(tp->lp, &ep->idle);
	transport_ep_unlink(ep); /* closes the fd */
	tp->nconns--;
	if (!notify) {
		if (ep->hold == 0)
			transport_ep_free(ep);
		return;
	}
	conn_hold(ep);
	/* Bytes that transport_send accepted never left: the transactions that sent them are told
	 * now instead of waiting for their timeouts (RFC 3261 §17.1.4). */
	if (lost && tp->ops.send_failed != NULL)
		tp->ops.send_failed(tp->arg, ep->id, &ep->remote, err != 0 ? err : -ECONNRESET);
	if (tp->ops.conn_closed != NULL)
		tp->ops.conn_closed(tp->arg, ep->id, &ep->remote);
	conn_release(ep);
}

static void conn_idle(struct loop *lp, void *arg)
{
	struct transport_ep *ep = arg;
	struct transport *tp = ep->tp;
	uint64_t quiet = loop_now(lp) - ep->last_ms;

	if (quiet >= tp->cfg.tcp_idle_ms) {
		tp->stats.conns_idle_closed++;
		transport_tcp_close(ep, true, -ETIMEDOUT);
		return;
	}
	loop_timer_start(lp, &ep->idle, tp->cfg.tcp_idle_ms - quiet);
}

static int conn_events(struct transport_ep *ep)
{
	uint32_t ev = ep->closing ? 0 : EPOLLIN;

	if (ep->connecting || ep->wlen > ep->woff)
		ev |= EPOLLOUT;
	return loop_fd_mod(ep->tp->lp, ep->fd, ev);
}

/* Creates the connection endpoint for a connected or connecting fd. */
static struct transport_ep *conn_new(struct transport *tp, int fd, const struct addr_port *remote)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct transport_ep *ep = transport_ep_new(tp, TRANSPORT_KIND_TCP_CONN, fd);

	if (ep == NULL) {
		close(fd);
		return NULL;
	}
	ep->remote = *remote;
	transport_ep_addr_insert(ep);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		transport_from_sockaddr(&ss, &ep->local);
	ep->last_ms = loop_now(tp->lp);
	loop_timer_init(&ep->idle, conn_idle, ep);
	if (loop_fd_add(tp->lp, fd, EPOLLIN, conn_io, ep) != 0 ||
	    loop_timer_start(tp->lp, &ep->idle, tp->cfg.tcp_idle_ms) != 0) {
		loop_fd_del(tp->lp, fd);
		transport_ep_unlink(ep);
		transport_ep_free(ep);
		return NULL;
	}
	tp->nconns++;
	return ep;
}

/* Writes what is queued. Returns 0 or -errno (the connection is then closed). */
static int conn_flush(struct transport_ep *ep)
{
	while (ep->wlen > ep->woff) {
		ssize_t n = send(ep->fd, ep->wbuf + ep->woff, ep->wlen - ep->woff,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			int err = -errno;

			transport_tcp_close(ep, true, err);
			return err;
		}
		ep->woff += (size_t)n;
		ep->last_ms = loop_now(ep->tp->lp);
	}
	if (ep->woff == ep->wlen)
		ep->woff = ep->wlen = 0;
	if (ep->closing && ep->wlen == 0) {
		transport_tcp_close(ep, true, 0);
		return 0;
	}
	conn_events(ep);
	return 0;
}

/* Queues buf after what waits and writes as much as the socket takes. */
static int conn_write(struct transport_ep *ep, const char *buf, size_t len)
{
	struct transport *tp = ep->tp;

	if (ep->dead)
		return -EPIPE;
	if (ep->wlen - ep->woff + len > tp->cfg.max_queue) {
		/* A peer that reads nothing must not make us buffer without bound. */
		transport_tcp_close(ep, true, -ENOBUFS);
		return -ENOBUFS;
	}
	if (ep->woff > 0 && ep->wlen + len > ep->wcap) {
		memmove(ep->wbuf, ep->wbuf + ep->woff, ep->wlen - ep->woff);
		ep->wlen -= ep->woff;
		ep->woff = 0;
	}
	if (ep->wlen + len > ep->wcap) {
		size_t cap = ep->wcap ? ep->wcap : 4096;
		char *n;

		while (cap < ep->wlen + len)
			cap *= 2;
		n = realloc(ep->wbuf, cap);
		if (n == NULL)
			return -ENOMEM;
		ep->wbuf = n;
		ep->wcap = cap;
	}
	memcpy(ep->wbuf + ep->wlen, buf, len);
	ep->wlen += len;
	if (ep->connecting)
		return conn_events(ep);
	return conn_flush(ep);
}

/* Frames and delivers what the read buffer holds. */
static void conn_parse(struct transport_ep *ep)
{
	struct transport *tp = ep->tp;
	size_t off = 0;

	while (!ep->dead && !ep->closing && off < ep->rlen) {
		const char *why = NULL;
		size_t n = 0;
		enum transport_frame_kind k = transport_frame(ep->rbuf + off, ep->rlen - off,
							      TRANSPORT_MAX_MSG, &n, &why);

		if (k == TRANSPORT_FRAME_MORE)
			break;
		if (k == TRANSPORT_FRAME_PING) {
			/* RFC 5626 §4.4.1: answer a CRLFCRLF ping with a CRLF pong. */
			tp->stats.keepalives++;
			conn_write(ep, "\r\n", 2);
		} else if (k == TRANSPORT_FRAME_MESSAGE) {
			if (transport_allow(tp, &ep->remote.ip)) {
				tp->stats.tcp_rx++;
				tp->ops.recv(tp->arg, ep->rbuf + off, n, &ep->remote,
					     SIP_TRANSPORT_TCP, ep->id);
			}
		} else if (k == TRANSPORT_FRAME_ERROR) {
			/* The stream cannot be resynchronised: answer if the core can, then close. */
			char ra[ADDR_STRLEN];

			tp->stats.bad_frames++;
			if (log_ratelimit_ok(&tp->log_rl, 10, 10000))
				LOG_NOTICE("tcp %s: %s, closing",
					   addr_port_format(&ep->remote, ra, sizeof(ra)), why);
			ep->closing = true;
			if (tp->ops.bad_frame != NULL)
				tp->ops.bad_frame(tp->arg, ep->rbuf + off, n, &ep->remote, ep->id,
						  why);
			if (!ep->dead)
				conn_flush(ep);
			return;
		}
		off += n;
	}
	if (!ep->dead && off > 0) {
		memmove(ep->rbuf, ep->rbuf + off, ep->rlen - off);
		ep->rlen -= off;
	}
}

static void conn_read(struct transport_ep *ep)
{
	for (int reads = 0; reads < TCP_READS_PER_WAKEUP && !ep->dead && !ep->closing; reads++) {
		ssize_t n;

		if (ep->rcap - ep->rlen < TCP_READ_CHUNK && ep->rcap < TCP_RBUF_MAX) {
			size_t cap = ep->rcap ? ep->rcap * 2 : 2 * TCP_READ_CHUNK;
			char *b;

			if (cap > TCP_RBUF_MAX)
				cap = TCP_RBUF_MAX;
			b = realloc(ep->rbuf, cap);
			if (b == NULL) {
				transport_tcp_close(ep, true, -ENOMEM);
				return;
			}
			ep->rbuf = b;
			ep->rcap = cap;
		}
		n = recv(ep->fd, ep->rbuf + ep->rlen, ep->rcap - ep->rlen, MSG_DONTWAIT);
		if (n == 0) {
			transport_tcp_close(ep, true, 0);
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				transport_tcp_close(ep, true, -errno);
			return;
		}
		ep->rlen += (size_t)n;
		ep->last_ms = loop_now(ep->tp->lp);
		conn_parse(ep);
	}
}

static void conn_io(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct transport_ep *ep = arg;

	(void)lp;
	conn_hold(ep);
	if (ep->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		int err = 0;
		socklen_t sl = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0 || err != 0) {
			transport_tcp_close(ep, true, err != 0 ? -err : -ECONNREFUSED);
			goto out;
		}
		ep->connecting = false;
		ep->tp->stats.conns_connected++;
	}
	if (!ep->dead && (events & EPOLLOUT))
		conn_flush(ep);
	if (!ep->dead && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		conn_read(ep);
	if (!ep->dead && ep->closing && (events & (EPOLLERR | EPOLLHUP)))
		transport_tcp_close(ep, true, 0);
out:
	conn_release(ep);
}

static void listener_readable(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct transport_ep *lep = arg;
	struct transport *tp = lep->tp;

	(void)lp;
	(void)events;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct addr_port remote;
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED &&
			    log_ratelimit_ok(&tp->log_rl, 10, 10000))
				LOG_WARN("tcp accept: %s", strerror(errno));
			return;
		}
		transport_from_sockaddr(&ss, &remote);
		if (tp->nconns >= tp->cfg.max_conns) {
			tp->stats.conns_refused++;
			close(cfd);
			continue;
		}
		if (!transport_allow(tp, &remote.ip)) {
			close(cfd);
			continue;
		}
		if (conn_new(tp, cfd, &remote) != NULL)
			tp->stats.conns_accepted++;
	}
}

int transport_tcp_listen(struct transport *tp, const struct addr_port *local,
			 struct transport_ep **out)
{
	int fd = transport_bound_socket(local, SOCK_STREAM), rc;

	if (fd < 0)
		return fd;
	if (listen(fd, SOMAXCONN) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return transport_ep_watch(tp, TRANSPORT_KIND_TCP_LISTEN, fd, listener_readable, out);
}

struct transport_ep *transport_tcp_find(const struct transport *tp, const struct addr_port *dst)
{
	/* The chain is newest first: the most recent connection to dst wins. */
	for (struct transport_ep *ep = tp->by_addr[transport_addr_bucket(dst)]; ep != NULL;
	     ep = ep->addr_next)
		if (!ep->dead && !ep->closing && ep->remote.port == dst->port &&
		    addr_equal(&ep->remote.ip, &dst->ip))
			return ep;
	return NULL;
}

/* Opens a connection to dst, from the address of a TCP listener of the same family when it has
 * a specific one (so the peer sees the address our Via and Record-Route name). */
static struct transport_ep *conn_connect(struct transport *tp, const struct addr_port *dst,
					 int *err)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct transport_ep *ep;
	int fd;

	if (tp->nconns >= tp->cfg.max_conns) {
		tp->stats.conns_refused++;
		*err = -EMFILE;
		return NULL;
	}
	fd = socket(dst->ip.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	for (ep = tp->eps; ep != NULL; ep = ep->next) {
		if (ep->kind != TRANSPORT_KIND_TCP_LISTEN || ep->local.ip.family != dst->ip.family)
			continue;
		struct addr_port src = ep->local;
		static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
		bool any = src.ip.family == AF_INET6 ? memcmp(&src.ip.v6, &any6, sizeof(any6)) == 0
						     : src.ip.v4.s_addr == htonl(INADDR_ANY);

		if (!any) {
			src.port = 0;
			transport_to_sockaddr(&src, &ss, &sl);
			if (bind(fd, (struct sockaddr *)&ss, sl) != 0)
				LOG_DEBUG("tcp: bind before connect: %s", strerror(errno));
		}
		break;
	}
	transport_to_sockaddr(dst, &ss, &sl);
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		*err = -errno;
		close(fd);
		return NULL;
	}
	ep = conn_new(tp, fd, dst);
	if (ep == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	/* Writable once connected; conn_io then checks SO_ERROR. */
	ep->connecting = true;
	conn_events(ep);
	return ep;
}

int transport_tcp_send(struct transport *tp, const struct addr_port *dst, uint64_t conn_id,
		       const char *buf, size_t len)
{
	struct transport_ep *ep = conn_id != 0 ? transport_ep_find(tp, conn_id) : NULL;
	int err = 0, rc;

	/* A closing connection still takes what is addressed to it by id: the 400 for the message
	 * that could not be framed. */
	if (ep == NULL || ep->kind != TRANSPORT_KIND_TCP_CONN || ep->dead)
		ep = transport_tcp_find(tp, dst);
	if (ep == NULL) {
		/* RFC 3261 §18.2.2: without the original connection, open a new one to dst. */
		ep = conn_connect(tp, dst, &err);
		if (ep == NULL)
			return err;
	}
	conn_hold(ep);
	rc = conn_write(ep, buf, len);
	if (rc == 0)
		tp->stats.tcp_tx++;
	conn_release(ep);
	return rc;
}
