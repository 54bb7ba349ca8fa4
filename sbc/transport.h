/* transport: SIP over UDP and TCP on the event loop — sockets on configured addresses, stream
 * connections with framing, keepalives, reuse and idle timeouts, and per-source rate limiting. */
#ifndef SBC_TRANSPORT_H
#define SBC_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "loop.h"
#include "ratelimit.h"
#include "sipmsg.h"

/* Largest message accepted on a stream: the same bound the parser applies (RFC 3261 §18.1.1). */
#define TRANSPORT_MAX_MSG SIPSCAN_MAX_MSG

struct transport;

/* Upcalls, all on the loop thread. buf is valid only during the call. conn_id names where the
 * message came in: the UDP socket for UDP, the connection for TCP; pass it back to transport_send
 * to answer the same way (RFC 3261 §18.2.2). */
struct transport_ops {
	/* One complete message (a datagram, or a framed message from a stream). */
	void (*recv)(void *arg, const char *buf, size_t len, const struct addr_port *src,
		     enum sip_transport proto, uint64_t conn_id);
	/* Optional: a stream message that cannot be framed (no or bad Content-Length, too large).
	 * buf holds its header bytes so the core may answer 400 through transport_send on conn_id;
	 * the connection is closed once that is written. */
	void (*bad_frame)(void *arg, const char *buf, size_t len, const struct addr_port *src,
			  uint64_t conn_id, const char *why);
	/* Optional: bytes transport_send accepted for connection conn_id were never written (the
	 * connect failed, or the connection broke or closed with bytes queued); err is -errno. The
	 * core fails the client transactions toward remote (txn_peer_failed). Before conn_closed. */
	void (*send_failed)(void *arg, uint64_t conn_id, const struct addr_port *remote, int err);
	/* Optional: connection conn_id is gone (the registrar forgets it for its bindings). */
	void (*conn_closed)(void *arg, uint64_t conn_id, const struct addr_port *remote);
};

struct transport_config {
	uint32_t tcp_idle_ms; /* close a connection without traffic for this long */
	uint32_t max_conns;   /* accepted + outgoing connections; more are refused */
	uint32_t max_queue;   /* bytes queued for writing per connection; past it, closed */
	uint32_t udp_batch;   /* datagrams read per wake-up, so one socket cannot starve others */
	struct ratelimit
		*limit; /* optional, not owned: checked per message and per new connection */
};

struct transport_stats {
	uint64_t udp_rx, udp_tx, tcp_rx, tcp_tx; /* messages */
	uint64_t keepalives;   /* CRLFCRLF pings answered, empty datagrams dropped */
	uint64_t rate_limited; /* messages or connections refused by the limiter */
	uint64_t bad_frames;   /* streams closed for framing errors */
	uint64_t send_errors;
	uint64_t conns_accepted, conns_connected, conns_refused, conns_idle_closed;
	uint64_t conns_open;
};

/* Defaults: idle 300 s, 4096 connections, 1 MiB queue, 64 datagrams per wake-up, no limiter. */
void transport_config_default(struct transport_config *cfg);

/* Creates the transport layer on lp. ops (copied) must have recv. Returns NULL with errno. */
struct transport *transport_new(struct loop *lp, const struct transport_config *cfg,
				const struct transport_ops *ops, void *arg);

/* Closes every socket and connection (no conn_closed upcalls) and frees tp. NULL is allowed. */
void transport_free(struct transport *tp);

/* Opens a UDP socket or a TCP listening socket on local (IPv4 or IPv6; IPv6 sockets are
 * IPv6-only, so both families can share a port). Port 0 picks a free port (see
 * transport_local_addr). Returns 0 and the socket's id in *id (may be NULL), or -errno
 * (-EPROTONOSUPPORT for TLS/WS). */
int transport_listen(struct transport *tp, enum sip_transport proto, const struct addr_port *local,
		     uint64_t *id);

/* The local address of socket or connection id. Returns 0 or -ENOENT. */
int transport_local_addr(const struct transport *tp, uint64_t id, struct addr_port *out);

/* Sends one message to dst. UDP: from socket conn_id when it is a UDP socket of dst's family,
 * else from the first UDP socket of that family. TCP: on connection conn_id when it is open, else
 * on an open connection to dst (a NAT'd client's own connection is reused), else on a new
 * connection (bytes wait until it is up). Returns 0 (sent or queued), or -errno: -ENETUNREACH
 * when no socket fits, -ENOBUFS when a queue is full, the socket's error otherwise. A message
 * over UDP is never fragmented here; RFC 3261 §18.1.1's switch to TCP for large requests is the
 * caller's choice. */
int transport_send(struct transport *tp, const struct addr_port *dst, enum sip_transport proto,
		   uint64_t conn_id, const char *buf, size_t len);

/* The id of an open TCP connection with remote address dst, or 0. */
uint64_t transport_conn_find(const struct transport *tp, const struct addr_port *dst);

/* True when conn_id is an open TCP connection. */
bool transport_conn_alive(const struct transport *tp, uint64_t conn_id);

/* Closes TCP connection conn_id now (queued bytes are dropped). Returns 0 or -ENOENT. */
int transport_close(struct transport *tp, uint64_t conn_id);

void transport_stats_get(const struct transport *tp, struct transport_stats *out);

#endif
