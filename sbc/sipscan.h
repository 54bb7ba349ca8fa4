/* sipscan: lexical scan and sanity checks of a raw SIP message (framing, start line, header index,
 * Content-Length, CSeq, Max-Forwards), with the byte offsets that edits need. */
#ifndef SBC_SIPSCAN_H
#define SBC_SIPSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 3261 §18.1.1 lets UDP carry up to 65,535 octets; anything larger is refused (513). */
#define SIPSCAN_MAX_MSG 65536
/* More header lines than any real message carries; past it the message is refused. */
#define SIPSCAN_MAX_HDRS 128

enum sipscan_hdr {
	SIPSCAN_HDR_OTHER = 0,
	SIPSCAN_HDR_VIA,
	SIPSCAN_HDR_FROM,
	SIPSCAN_HDR_TO,
	SIPSCAN_HDR_CALL_ID,
	SIPSCAN_HDR_CSEQ,
	SIPSCAN_HDR_MAX_FORWARDS,
	SIPSCAN_HDR_CONTACT,
	SIPSCAN_HDR_CONTENT_LENGTH,
	SIPSCAN_HDR_CONTENT_TYPE,
	SIPSCAN_HDR_PROXY_REQUIRE,
	SIPSCAN_HDR_REQUIRE,
	SIPSCAN_HDR_ROUTE,
	SIPSCAN_HDR_RECORD_ROUTE,
	SIPSCAN_HDR_EXPIRES,
	SIPSCAN_HDR_USER_AGENT,
	SIPSCAN_HDR_COUNT,
};

/* One header field: the whole line(s) including folding and the line end, and its value with
 * surrounding whitespace trimmed. Offsets are into the scanned buffer. */
struct sipscan_field {
	enum sipscan_hdr id;
	uint32_t line_off, line_len; /* from the name to after the final line end */
	uint32_t name_off, name_len;
	uint32_t value_off, value_len;
};

struct sipscan {
	bool is_request;
	bool lf_only;			 /* the message uses bare LF line ends */
	uint32_t start_off;		 /* after leading CRLFs (RFC 3261 §7.5) */
	uint32_t method_off, method_len; /* request */
	uint32_t uri_off, uri_len;	 /* request */
	uint32_t scheme_len;		 /* request URI scheme, without ':' */
	int status;			 /* response */
	uint32_t hdr_end;		 /* offset of the empty line that ends the headers */
	uint32_t body_off;		 /* first body octet */
	uint32_t body_len;		 /* by Content-Length, or what arrived (UDP without it) */
	uint32_t msg_len; /* body_off + body_len: octets past it are ignored (RFC 3261 §18.3) */
	bool has_content_length;
	uint64_t cseq;
	uint32_t cseq_method_off, cseq_method_len;
	int max_forwards; /* -1 when absent or unusable: treat as 70 (RFC 3261 §16.6) */
	uint32_t nfields;
	uint16_t count[SIPSCAN_HDR_COUNT];
	/* Last and large: only fields[0..nfields) are ever written or read, so a scan does not
	 * clear the rest (it was a measurable share of the proxy's time). */
	struct sipscan_field fields[SIPSCAN_MAX_HDRS];
};

/* Why a message was refused: the response a proxy sends to a request (0 when no reply is
 * possible, as for responses: drop) and a precise reason. */
struct sip_error {
	int code;
	char reason[192];
};

/* Fills err with code and a printf-style reason. Returns -EINVAL, for "return sip_error_set(...)". */
int sip_error_set(struct sip_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Scans buf[0..len). stream is true for TCP/TLS (Content-Length mandatory). Returns 0 or -EINVAL
 * with err filled. The scan keeps no pointer to buf. */
int sipscan_run(const char *buf, size_t len, bool stream, struct sipscan *sc,
		struct sip_error *err);

/* Finds the first field with this id at or after index *from; returns its index or -1. */
int sipscan_find(const struct sipscan *sc, enum sipscan_hdr id, int from);

/* The id of a header name (long or compact form, case-insensitive); SIPSCAN_HDR_OTHER when it
 * is not one the scanner knows. */
enum sipscan_hdr sipscan_hdr_id(const char *name, size_t len);

/* The long name of a header id ("Call-ID"), for messages. */
const char *sipscan_hdr_name(enum sipscan_hdr id);

#endif
