/* transport_udp: SIP over UDP — one socket per configured address, datagrams up to the layer
 * above, keepalive datagrams dropped, answers sent from the socket a request came in on. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport_priv.h"

/* True for a datagram holding only line ends, blanks or NULs: NAT keepalives that UAs send to
 * the SIP port (RFC 5626 §3.5.1 suggests STUN; many phones send CRLFs or zeros instead). */
static bool is_keepalive(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n' && buf[i] != ' ' && buf[i] != '\t' &&
		    buf[i] != '\0')
			return false;
	return true;
}

static void udp_readable(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct transport_ep *ep = arg;
	struct transport *tp = ep->tp;

	(void)lp;
	(void)events;
	for (uint32_t i = 0; i < tp->cfg.udp_batch; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct addr_port src;
		ssize_t n = recvfrom(fd, tp->udp_buf, TRANSPORT_MAX_MSG, MSG_TRUNC,
				     (struct sockaddr *)&ss, &sl);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    log_ratelimit_ok(&tp->log_rl, 10, 10000))
				LOG_WARN("udp recv: %s", strerror(errno));
			return;
		}
		if (n > TRANSPORT_MAX_MSG) {
			/* Truncated by the buffer: no valid SIP message is this large (513). */
			tp->stats.bad_frames++;
			continue;
		}
		if (is_keepalive(tp->udp_buf, (size_t)n)) {
			tp->stats.keepalives++;
			continue;
		}
		transport_from_sockaddr(&ss, &src);
		if (!transport_allow(tp, &src.ip))
			continue;
		tp->stats.udp_rx++;
		tp->ops.recv(tp->arg, tp->udp_buf, (size_t)n, &src, SIP_TRANSPORT_UDP, ep->id);
	}
}

/* Receive buffer asked for on each SIP UDP socket. */
#define TRANSPORT_UDP_RCVBUF (8 * 1024 * 1024)

int transport_udp_open(struct transport *tp, const struct addr_port *local,
		       struct transport_ep **out)
{
	int fd = transport_bound_socket(local, SOCK_DGRAM);

	if (fd < 0)
		return fd;
	/* A bigger receive buffer rides out a burst or a short stall of the loop (a database write)
	 * instead of dropping requests that then come back as retransmissions. The default (about
	 * 200 KB) is some 40 ms of traffic at a few thousand requests per second. As root the system
	 * limit does not apply (SO_RCVBUFFORCE); otherwise the kernel caps the plain request. */
	int rcvbuf = TRANSPORT_UDP_RCVBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return transport_ep_watch(tp, TRANSPORT_KIND_UDP, fd, udp_readable, out);
}

int transport_udp_send(struct transport *tp, const struct addr_port *dst, uint64_t conn_id,
		       const char *buf, size_t len)
{
	struct transport_ep *ep = conn_id != 0 ? transport_ep_find(tp, conn_id) : NULL;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (ep == NULL || ep->kind != TRANSPORT_KIND_UDP || ep->local.ip.family != dst->ip.family) {
		/* The list is newest first: the last match is the first socket configured. */
		ep = NULL;
		for (struct transport_ep *e = tp->eps; e != NULL; e = e->next)
			if (e->kind == TRANSPORT_KIND_UDP && e->local.ip.family == dst->ip.family)
				ep = e;
	}
	if (ep == NULL)
		return -ENETUNREACH;
	transport_to_sockaddr(dst, &ss, &sl);
	if (sendto(ep->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	tp->stats.udp_tx++;
	return 0;
}
