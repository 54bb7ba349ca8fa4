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

/* Identifiers and values the transaction, dialog and registrar layers need. Pointers refer into
 * the message and stay valid until sipmsg_free(); *len gives their length (not NUL-terminated
 * unless said). */

/* The Call-ID value. */
const char *sipmsg_call_id(const struct sip_msg *m, size_t *len);

/* The CSeq number. */
uint32_t sipmsg_cseq(const struct sip_msg *m);

/* The tag parameter of From or To (NUL-terminated), or NULL when there is none. */
const char *sipmsg_from_tag(const struct sip_msg *m);
const char *sipmsg_to_tag(const struct sip_msg *m);

/* "user@host" of the From or To URI (the AOR for REGISTER), NUL-terminated into buf. Returns 0,
 * -ENOENT for a URI without user or host, -ENOSPC when buf is too small. */
int sipmsg_from_aor(const struct sip_msg *m, char *buf, size_t len);
int sipmsg_to_aor(const struct sip_msg *m, char *buf, size_t len);

/* The Request-URI as written, and its user part (NUL-terminated, NULL when none). */
const char *sipmsg_ruri_text(const struct sip_msg *m, size_t *len);
const char *sipmsg_ruri_user(const struct sip_msg *m);

/* The value of the first header with this name (long or compact form, case-insensitive), or
 * NULL. */
const char *sipmsg_header(const struct sip_msg *m, const char *name, size_t *len);

/* The Expires header value (RFC 3261 §20.19), clamped to UINT32_MAX. Returns 0 or -ENOENT. */
int sipmsg_expires(const struct sip_msg *m, uint32_t *out);

/* True when the Contact is "*" (RFC 3261 §10.2.2). */
bool sipmsg_contact_is_star(const struct sip_msg *m);

/* The URI of Contact element idx as written (inside <> when present). Returns 0 or -ENOENT. */
int sipmsg_contact_uri(const struct sip_msg *m, unsigned int idx, const char **uri, size_t *len);

/* The expires parameter of Contact element idx, clamped to UINT32_MAX. Returns 0 or -ENOENT. */
int sipmsg_contact_expires(const struct sip_msg *m, unsigned int idx, uint32_t *out);

/* Route element idx: its URI's host:port and whether it has the lr parameter. Returns 0,
 * -ENOENT. */
unsigned int sipmsg_route_count(const struct sip_msg *m);
int sipmsg_route(const struct sip_msg *m, unsigned int idx, struct sip_host *out, bool *lr);

/* Digest credentials from Authorization (proxy false) or Proxy-Authorization (proxy true), RFC
 * 3261 §22.4 / RFC 8760. Strings are unquoted copies, NUL-terminated. */
struct sip_digest_cred {
	char username[128], realm[128], nonce[128], uri[512], response[128], algorithm[32];
	char cnonce[128], nc[16], qop[32], opaque[128];
};

/* Fills out from the first Digest credentials whose realm is realm (any realm when NULL).
 * Returns 0, -ENOENT when there are none, -EINVAL when they are malformed. */
int sipmsg_digest_cred(const struct sip_msg *m, bool proxy, const char *realm,
		       struct sip_digest_cred *out);

/* Edits. Each records a change to the original octets; the message is rebuilt on serialize. They
 * return 0, -ENOENT when there is nothing to edit, or -ENOMEM. */

/* RFC 3261 §18.2.1 and RFC 3581 §4 on the top Via of a request: sets received=<source IP> when
 * it differs from sent-by or when rport is present or forced, and rport=<source port> when the
 * client asked for it (rport without value) or force_rport is set. -ENOENT when nothing needs
 * to change. */
int sipmsg_fix_via(struct sip_msg *m, const struct addr_port *src, bool force_rport);

/* Replaces the host:port of Contact element idx with ap, the address the message came from over
 * transport t; for a stream transport ";transport=<t>" is added when the URI names none. */
int sipmsg_set_contact(struct sip_msg *m, unsigned int idx, const struct addr_port *ap,
		       enum sip_transport t);

/* Replaces the SDP (whole body, or the SDP part of a multipart body) and fixes Content-Length. */
int sipmsg_set_sdp(struct sip_msg *m, const char *sdp, size_t len);

/* Proxy edits (RFC 3261 §16.6). */

/* Inserts "Via: value" above the top Via. */
int sipmsg_push_via(struct sip_msg *m, const char *value);

/* Removes the top Via element (a response on its way back, RFC 3261 §16.7 step 3). */
int sipmsg_pop_via(struct sip_msg *m);

/* Inserts "Record-Route: value" above any existing Record-Route. */
int sipmsg_push_record_route(struct sip_msg *m, const char *value);

/* Removes the top Route element (loose routing, RFC 3261 §16.4). */
int sipmsg_pop_route(struct sip_msg *m);

/* Replaces the Request-URI. */
int sipmsg_set_ruri(struct sip_msg *m, const char *uri);

/* Sets Max-Forwards to value (adding the header when absent). */
int sipmsg_set_max_forwards(struct sip_msg *m, int value);

/* Builds a response to request req (RFC 3261 §8.2.6): status line, the Via, From, To (with to_tag
 * added when To has none and code > 100), Call-ID and CSeq of the request with its edits applied,
 * then extra (complete header lines with CRLF, or NULL) and "Content-Length: 0". Allocated with
 * malloc; NULL with errno set on failure. */
char *sipmsg_response(const struct sip_msg *req, int code, const char *reason, const char *to_tag,
		      const char *extra, size_t *len);

/* Edits made after a mark can be undone, so one request can be forwarded to several branches
 * with per-branch Via and Request-URI (RFC 3261 §16.6). */
unsigned int sipmsg_edit_mark(const struct sip_msg *m);
void sipmsg_edit_rollback(struct sip_msg *m, unsigned int mark);

/* The hop-by-hop ACK for a non-2xx final response resp to INVITE req (RFC 3261 §17.1.1.3), or a
 * CANCEL for req (§9.1): malloc'd, NULL with errno on failure. */
char *sipmsg_ack_for(const struct sip_msg *req, const struct sip_msg *resp, size_t *len);
char *sipmsg_cancel_for(const struct sip_msg *req, size_t *len);

/* The reason phrase of a status code ("Not Found"). */
const char *sipmsg_reason_phrase(int code);

/* The response to a request that failed to parse (err from sipmsg_parse): the Via, From, To,
 * Call-ID and CSeq lines found in buf, and a Warning with the reason. NULL (errno EDESTADDRREQ)
 * when there is no Via to send it to, or for err->code 0. */
char *sipmsg_error_response(const char *buf, size_t len, const struct sip_error *err,
			    size_t *out_len);

/* The message with all edits applied, NUL-terminated, allocated with malloc (caller frees).
 * Returns NULL with errno set on failure. */
char *sipmsg_serialize(const struct sip_msg *m, size_t *len);

#endif
