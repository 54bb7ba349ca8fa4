/* keepalive: NAT keepalive pings to the NAT'd bindings — an OPTIONS request over UDP (RFC 3261
 * §11), a double CRLF over connection-oriented transports (RFC 5626 §4.4.1) — spread evenly over
 * the configured interval so that a large registrar does not send them in one burst. */
#ifndef SBC_KEEPALIVE_H
#define SBC_KEEPALIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "registrar.h"
#include "sipmsg.h"

/* Sends buf[0..len) to dst over transport t (for TCP: on connection conn_id). Returns 0 or -errno
 * (counted as a send failure). buf is only valid during the call. */
typedef int (*keepalive_send_fn)(void *arg, const struct addr_port *dst, enum sip_transport t,
				 uint64_t conn_id, const char *buf, size_t len);

/* Calls fn(fnarg, target) for each NAT'd binding to ping now (the proxy passes a wrapper around
 * registrar_foreach_natted). target is only valid during the call. */
typedef void (*keepalive_foreach_fn)(void *arg,
				     void (*fn)(void *fnarg, const struct registrar_target *t),
				     void *fnarg);

struct keepalive_cfg {
	uint32_t interval_s; /* time between two pings of one binding; 0 = keepalives off */
	const char *local;   /* our host[:port] for Via and From ("192.0.2.1:5060"); copied */
	keepalive_send_fn send;
	void *send_arg;
	keepalive_foreach_fn foreach;
	void *foreach_arg;
	uint64_t seed; /* makes branches, tags and Call-IDs unique; 0 = take one from getrandom */
};

struct keepalive_stats {
	uint64_t rounds;      /* rounds started (each one pings every NAT'd binding once) */
	uint64_t sent;	      /* pings handed to send */
	uint64_t send_errors; /* send returned an error */
	uint64_t skipped;     /* connection-oriented bindings whose connection is gone */
	uint64_t answered;    /* OPTIONS answered (any response: the path through the NAT works) */
	uint64_t timeouts;    /* OPTIONS still unanswered when the next round started */
};

struct keepalive;

/* Creates the scheduler; cfg->local is copied, the callbacks must outlive it. Returns NULL with
 * errno (EINVAL for a missing callback or local). Loop thread only. */
struct keepalive *keepalive_new(const struct keepalive_cfg *cfg);
void keepalive_free(struct keepalive *ka);

/* Changes the interval (policy reload); it applies from the next round. 0 stops the pings. */
void keepalive_set_interval(struct keepalive *ka, uint32_t interval_s);

/* Sends the pings due at now_ms (a monotonic clock) and returns when it wants to run next
 * (UINT64_MAX when keepalives are off). A round collects the targets through cfg->foreach and
 * sends target i of n at round start + i * interval / n. */
uint64_t keepalive_run(struct keepalive *ka, uint64_t now_ms);

/* The proxy hands over each response no transaction claimed. Returns true when it answers one of
 * our OPTIONS (the proxy then drops it); status is not judged: any response proves the path. */
bool keepalive_response(struct keepalive *ka, const char *call_id, size_t len, int status);

void keepalive_get_stats(const struct keepalive *ka, struct keepalive_stats *out);

#endif
