/* sipmsg: a parsed SIP message — the only place that sees libosip2 — with validation on top of it,
 * read accessors in our own types, and byte-exact edits that serialize back. */
#ifndef SBC_SIPMSG_H
#define SBC_SIPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "sipscan.h"

enum sip_transport {
	SIP_TRANSPORT_UDP,
	SIP_TRANSPORT_TCP,
	SIP_TRANSPORT_TLS,
	SIP_TRANSPORT_WS,
	SIP_TRANSPORT_WSS,
};

/* "udp", "tcp", ... */
const char *sip_transport_name(enum sip_transport t);

/* Parses a transport name (case-insensitive). Returns 0 or -EINVAL. */
int sip_transport_parse(const char *s, enum sip_transport *out);

/* A host and optional port as a header or URI declares it. */
struct sip_host {
	char host[256]; /* without IPv6 brackets */
	bool is_ip;	/* host is an IP literal, parsed into ip */
	struct addr_ip ip;
	uint16_t port; /* 0 when no port was given */
};

/* The parts of one Via element that NAT handling needs. */
struct sip_via {
	struct sip_host sent_by;
	char transport[16];
	bool has_rport;
	uint16_t rport; /* 0 when rport has no value */
	bool has_received;
	bool received_is_ip;
	struct addr_ip received;
	char branch[128];
};

struct sip_msg;

/* Initialises libosip2's parser tables. Call once at start-up, before any thread. Returns 0. */
int sipmsg_global_init(void);

/* Parses and validates buf[0..len) received over transport t. On success returns a message that
 * owns a copy of the octets (octets after Content-Length are dropped, RFC 3261 §18.3). On failure
 * returns NULL with err set: err->code is the response a proxy sends for a request (400, 416, 420,
 * 483, 505, 513) or 0 when no reply is possible (drop). */
struct sip_msg *sipmsg_parse(const char *buf, size_t len, enum sip_transport t,
			     struct sip_error *err);

void sipmsg_free(struct sip_msg *m);

bool sipmsg_is_request(const struct sip_msg *m);

/* The status code of a response, 0 for a request. */
int sipmsg_status(const struct sip_msg *m);

/* The request method, or the CSeq method of a response. Not NUL-terminated: *len is its length. */
const char *sipmsg_method(const struct sip_msg *m, size_t *len);

/* True when the method (request method, or CSeq method of a response) equals name. */
bool sipmsg_method_is(const struct sip_msg *m, const char *name);

/* Max-Forwards, 70 when absent (RFC 3261 §16.6 step 3). */
int sipmsg_max_forwards(const struct sip_msg *m);

/* Number of Via elements, in all Via headers. */
unsigned int sipmsg_via_count(const struct sip_msg *m);

/* Fills out with Via element idx (0 = top). Returns 0 or -ENOENT. */
int sipmsg_via(const struct sip_msg *m, unsigned int idx, struct sip_via *out);

/* Number of Contact elements (a "*" Contact counts as one). */
unsigned int sipmsg_contact_count(const struct sip_msg *m);

/* Number of Contact elements in the first Contact header field only. */
unsigned int sipmsg_first_contact_header_count(const struct sip_msg *m);

/* Fills out with the host:port of Contact element idx. Returns 0, -ENOENT, or -EINVAL for a "*"
 * Contact or a URI without a host (tel:, ...). */
int sipmsg_contact(const struct sip_msg *m, unsigned int idx, struct sip_host *out);

/* Fills out with the Request-URI's host:port. Returns 0, or -ENOENT for a response or a URI
 * without a host. */
int sipmsg_ruri(const struct sip_msg *m, struct sip_host *out);

/* The SDP of the message: the body when Content-Type is application/sdp, or the application/sdp
 * part of a multipart body. Returns true and sets *sdp / *len (pointing into the message). */
bool sipmsg_sdp(const struct sip_msg *m, const char **sdp, size_t *len);

/* Edits. Each records a change to the original octets; the message is rebuilt on serialize. They
 * return 0, -ENOENT when there is nothing to edit, or -ENOMEM. */

/* RFC 3261 §18.2.1 and RFC 3581 §4 on the top Via of a request: sets received=<source IP> when
 * it differs from sent-by or when rport is present or forced, and rport=<source port> when the
 * client asked for it (rport without value) or force_rport is set. -ENOENT when nothing needs
 * to change. */
int sipmsg_fix_via(struct sip_msg *m, const struct addr_port *src, bool force_rport);

/* Replaces the host:port of Contact element idx with ap. */
int sipmsg_set_contact(struct sip_msg *m, unsigned int idx, const struct addr_port *ap);

/* Replaces the SDP (whole body, or the SDP part of a multipart body) and fixes Content-Length. */
int sipmsg_set_sdp(struct sip_msg *m, const char *sdp, size_t len);

/* The message with all edits applied, NUL-terminated, allocated with malloc (caller frees).
 * Returns NULL with errno set on failure. */
char *sipmsg_serialize(const struct sip_msg *m, size_t *len);

#endif
