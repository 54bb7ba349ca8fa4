/* transport_priv: what transport.c, transport_udp.c and transport_tcp.c share — the endpoint
 * (socket or connection) and the layer's tables. Not for use outside these three files. */
#ifndef SBC_TRANSPORT_PRIV_H
#define SBC_TRANSPORT_PRIV_H

#include <sys/socket.h>

#include "log.h"
#include "transport.h"

#define TRANSPORT_BUCKETS 1024 /* power of two; chains stay short up to a few thousand conns */

enum transport_kind {
	TRANSPORT_KIND_UDP,
	TRANSPORT_KIND_TCP_LISTEN,
	TRANSPORT_KIND_TCP_CONN,
};

/* A UDP socket, a TCP listening socket or a TCP connection. */
struct transport_ep {
	struct transport *tp;
	uint64_t id;
	int fd;
	enum transport_kind kind;
	struct addr_port local, remote;
	struct transport_ep *id_next;	  /* chain in tp->by_id */
	struct transport_ep *addr_next;	  /* chain in tp->by_addr (connections) */
	struct transport_ep *prev, *next; /* tp->eps, while open */

	/* Connections only. */
	bool connecting; /* outgoing, connect() not finished */
	bool closing;	 /* framing error: close once the queue is written */
	bool dead;	 /* closed; freed when hold drops to zero */
	unsigned int hold;
	char *rbuf;
	size_t rlen, rcap;
	char *wbuf;
	size_t woff, wlen, wcap; /* bytes [woff, wlen) wait to be written */
	uint64_t last_ms;	 /* last traffic either way, for the idle timeout */
	struct loop_timer idle;
};

struct transport {
	struct loop *lp;
	struct transport_config cfg;
	struct transport_ops ops;
	void *arg;
	uint64_t next_id;
	struct transport_ep *eps;
	struct transport_ep *by_id[TRANSPORT_BUCKETS];
	struct transport_ep *by_addr[TRANSPORT_BUCKETS];
	size_t nconns;
	char *udp_buf; /* one datagram, TRANSPORT_MAX_MSG bytes */
	struct log_ratelimit log_rl;
	struct transport_stats stats;
};

/* transport.c */
struct transport_ep *transport_ep_new(struct transport *tp, enum transport_kind kind, int fd);
/* Unlinks ep from the tables and the list (not from epoll) and closes its fd. */
void transport_ep_unlink(struct transport_ep *ep);
void transport_ep_free(struct transport_ep *ep);
struct transport_ep *transport_ep_find(const struct transport *tp, uint64_t id);
void transport_ep_addr_insert(struct transport_ep *ep);
/* The by_addr bucket of a remote address. */
size_t transport_addr_bucket(const struct addr_port *ap);
/* True when a message or connection from ip may pass the rate limiter. */
bool transport_allow(struct transport *tp, const struct addr_ip *ip);
void transport_to_sockaddr(const struct addr_port *ap, struct sockaddr_storage *ss, socklen_t *len);
/* Makes an endpoint of bound socket fd (taking it: closed on failure), learns its local address
 * and watches it for input with cb. Returns 0 with *out set, or -errno. */
int transport_ep_watch(struct transport *tp, enum transport_kind kind, int fd, loop_fd_cb cb,
		       struct transport_ep **out);

void transport_from_sockaddr(const struct sockaddr_storage *ss, struct addr_port *ap);
/* A non-blocking socket bound to local (IPv6-only for IPv6, SO_REUSEADDR for TCP). Returns the fd
 * or -errno. */
int transport_bound_socket(const struct addr_port *local, int type);

/* transport_udp.c */
int transport_udp_open(struct transport *tp, const struct addr_port *local,
		       struct transport_ep **out);
int transport_udp_send(struct transport *tp, const struct addr_port *dst, uint64_t conn_id,
		       const char *buf, size_t len);

/* transport_tcp.c */
int transport_tcp_listen(struct transport *tp, const struct addr_port *local,
			 struct transport_ep **out);
int transport_tcp_send(struct transport *tp, const struct addr_port *dst, uint64_t conn_id,
		       const char *buf, size_t len);
struct transport_ep *transport_tcp_find(const struct transport *tp, const struct addr_port *dst);
/* Closes connection ep. With notify, send_failed (when bytes were still queued or the connect
 * had not finished; err is why, 0 for an orderly close) and conn_closed are called. */
void transport_tcp_close(struct transport_ep *ep, bool notify, int err);

#endif
