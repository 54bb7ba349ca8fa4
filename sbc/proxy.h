/* proxy: the stateful proxy core of sbc-sip (RFC 3261 §16) — validates, applies NAT fixups,
 * routes (registrar, local users, trunks, loose routing), forks, aggregates responses, and
 * relays CANCEL and ACK, on top of the transaction layer. */
#ifndef SBC_PROXY_H
#define SBC_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr.h"
#include "auth.h"
#include "loop.h"
#include "ratelimit.h"
#include "registrar.h"
#include "sipmsg.h"
#include "transport.h"

struct policy;
struct proxy;

struct proxy_cfg {
	struct addr_port self[4]; /* the addresses sbc-sip listens on (Via, Record-Route) */
	size_t nself;
	const struct policy *policy; /* current snapshot (replace with proxy_set_policy) */
	struct registrar *registrar;
	struct auth *auth;
	struct ratelimit *limit; /* for counting failed authentications; may be NULL */
	struct transport *transport;
	struct loop *loop;
	struct media *media;	 /* the dataplane for SDP-bearing messages; NULL: SDP untouched */
	uint32_t hold_timeout_s; /* a held call without media ends after this; 0: never */
	/* A dialog with no in-dialog request for this long ends (BYE both ways, media released);
	 * 0: never. */
	uint32_t dialog_timeout_s;
	/* Responses no transaction claims go here first (the keepalive OPTIONS answers); returns
	 * true when it took the response. Optional. */
	bool (*stray_response)(void *arg, const char *call_id, size_t len, int status);
	void *stray_arg;
};

/* Creates the proxy and its transaction layer. Returns NULL with errno. */
struct proxy *proxy_new(const struct proxy_cfg *cfg);
void proxy_free(struct proxy *p);

/* After a policy reload. */
void proxy_set_policy(struct proxy *p, const struct policy *policy);

/* The transport's receive upcall: one message from src. */
void proxy_recv(struct proxy *p, const char *buf, size_t len, const struct addr_port *src,
		enum sip_transport proto, uint64_t conn_id);

/* The transport's bad-frame upcall: answers 400 on the connection when a reply is possible. */
void proxy_bad_frame(struct proxy *p, const char *buf, size_t len, const struct addr_port *src,
		     uint64_t conn_id, const char *why);

/* A TCP connection to peer failed with bytes queued: the client transactions towards it fail
 * (503 upstream, RFC 3261 §16.9). */
void proxy_peer_failed(struct proxy *p, const struct addr_port *peer);

/* Sends bytes built elsewhere (keepalive OPTIONS/CRLF). Returns 0 or -errno. */
int proxy_send_raw(struct proxy *p, const struct addr_port *dst, enum sip_transport proto,
		   uint64_t conn_id, const char *buf, size_t len);

/* The dataplane reported no media on call_id for its timeout: BYE both parties (with their
 * CSeq continued, through their real paths) and release the media. */
void proxy_media_timeout(struct proxy *p, const char *call_id, const char *from_tag,
			 const char *to_tag);

/* Periodic work: ends held calls whose hold timeout passed without media. */
void proxy_sweep(struct proxy *p);

/* Control socket views: counters, and the confirmed dialogs. New JSON objects. */
json_t *proxy_stats(struct proxy *p);
json_t *proxy_dialogs(struct proxy *p);

#endif
