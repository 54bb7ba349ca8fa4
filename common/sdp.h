/* sdp: the project's one SDP parser (RFC 8866) and relay rewriter, shared by both planes. */
#ifndef SBC_COMMON_SDP_H
#define SBC_COMMON_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

/* Limits on what sdp_parse accepts; larger bodies are rejected with -E2BIG. */
#define SDP_MAX_BODY  65536 /* bytes */
#define SDP_MAX_LINE  8192  /* bytes in one line, without its line ending */
#define SDP_MAX_MEDIA 64    /* m= sections */
#define SDP_MAX_CONN  256   /* c= lines, session and media level together */

/* A parsed SDP. Opaque; it points into the caller's buffer, which must outlive it. */
struct sdp;

/* A piece of the original buffer (not NUL-terminated). len is 0 when the item is absent. */
struct sdp_str {
	const char *p;
	size_t len;
};

/* How a line ended in the original body. */
enum sdp_eol {
	SDP_EOL_CRLF = 0,
	SDP_EOL_LF,
	SDP_EOL_NONE, /* the last line of a body without a final line ending */
};

/* Media direction (RFC 3264 §5.1, RFC 8866 §6.7). */
enum sdp_dir {
	SDP_DIR_SENDRECV = 0,
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

/* A connection address: a c= line, or the address part of a=rtcp (RFC 3605). */
struct sdp_conn {
	int family;	      /* AF_INET for "IP4", AF_INET6 for "IP6" (the addrtype) */
	struct sdp_str addr;  /* the address as written, without "/ttl/n" */
	struct sdp_str mcast; /* "/ttl[/n]" or "/n" as written, empty when absent */
	bool literal;	      /* addr is an IP literal of the addrtype's family; ip is valid */
	struct addr_ip ip;    /* parsed address when literal (else family 0) */
	int media;	      /* media index the line belongs to, -1 at session level */
	unsigned int line;    /* 1-based line number in the body */
};

/* The o= line (RFC 8866 §5.2). */
struct sdp_origin {
	struct sdp_str username, sess_id, sess_version, nettype, addrtype, addr;
	int family;   /* AF_INET/AF_INET6 when nettype is IN and addrtype IP4/IP6, else 0 */
	bool literal; /* addr is an IP literal of that family; ip is valid */
	struct addr_ip ip;
	unsigned int line;
};

/* One m= section. Pointers refer into the struct sdp that returned it. */
struct sdp_media {
	struct sdp_str type;	 /* "audio", "video", "application", ... */
	uint16_t port;		 /* 0 = rejected or disabled stream (RFC 3264 §6) */
	unsigned int port_count; /* the "/<count>" of m=, 1 when absent */
	struct sdp_str proto;	 /* "RTP/AVP", "UDP/TLS/RTP/SAVPF", ... */
	struct sdp_str fmts;	 /* the format list as written, e.g. "0 8 101"; see sdp_media_fmt */
	unsigned int fmt_count;
	const struct sdp_conn *conn;	 /* first media-level c=, NULL when none */
	const struct sdp_conn *eff_conn; /* conn, else the session-level c=, else NULL */
	bool has_rtcp;			 /* a=rtcp present (RFC 3605) */
	uint16_t rtcp_port;
	bool rtcp_has_addr; /* a=rtcp carried "IN IP4|IP6 <addr>"; rtcp_addr is valid */
	struct sdp_conn rtcp_addr;
	bool rtcp_mux;	   /* a=rtcp-mux present (RFC 5761 §5.1.1) */
	enum sdp_dir dir;  /* effective: media-level attribute, else session-level, else sendrecv */
	bool dir_explicit; /* the media section itself carried a direction attribute */
	bool has_ice;	   /* any ICE attribute (RFC 8839) in this section */
	bool has_candidates; /* at least one a=candidate in this section */
	unsigned int line;   /* 1-based line number of the m= line */
};

/* Why sdp_parse refused a body. reason is a static string; line is 1-based (0: the whole body). */
struct sdp_error {
	const char *reason;
	unsigned int line;
};

/* Parses len bytes of buf (no NUL needed; a NUL byte inside is an error). On success stores a new
 * object in *out (free with sdp_free) and returns 0. Otherwise returns -EINVAL (malformed), -E2BIG
 * (a limit above) or -ENOMEM, and fills err when it is not NULL. buf must stay unchanged and alive
 * while *out is used. Any thread; no shared state. */
int sdp_parse(const char *buf, size_t len, struct sdp **out, struct sdp_error *err);

/* Frees a parsed SDP (NULL is fine). */
void sdp_free(struct sdp *sdp);

/* Writes "line N: reason" (or the reason alone for line 0) into buf. Returns buf. */
const char *sdp_error_format(const struct sdp_error *err, char *buf, size_t len);

/* The o= line (always present in a parsed SDP). */
const struct sdp_origin *sdp_origin(const struct sdp *sdp);

/* The first session-level c=, or NULL. */
const struct sdp_conn *sdp_session_conn(const struct sdp *sdp);

/* The session-level direction attribute, SDP_DIR_SENDRECV when absent. */
enum sdp_dir sdp_session_dir(const struct sdp *sdp);

/* Every c= line of the body, session and media level, in order (i < sdp_conn_count). */
size_t sdp_conn_count(const struct sdp *sdp);
const struct sdp_conn *sdp_conn_at(const struct sdp *sdp, size_t i);

/* The m= sections in order (i < sdp_media_count). */
size_t sdp_media_count(const struct sdp *sdp);
const struct sdp_media *sdp_media_at(const struct sdp *sdp, size_t i);

/* Stores the i-th format of m in *out. Returns false when i >= m->fmt_count. */
bool sdp_media_fmt(const struct sdp_media *m, size_t i, struct sdp_str *out);

/* True for an RFC 2543 style hold address: "c=IN IP4 0.0.0.0" (RFC 3264 §8.4 keeps it meaningful
 * for interoperability). NULL is not a hold. */
bool sdp_conn_is_hold(const struct sdp_conn *conn);

/* "sendrecv", "sendonly", "recvonly" or "inactive". */
const char *sdp_dir_name(enum sdp_dir dir);

/* What the relay gives one m= section. */
struct sdp_rewrite_media {
	struct addr_ip addr; /* new connection address; family 0 leaves this section's addresses */
	uint16_t rtp_port; /* new m= port; 0 keeps the m= port. A port of 0 in m= always stays 0. */
	uint16_t rtcp_port; /* new a=rtcp port; 0 drops a=rtcp (see docs/sdp.md) */
};

/* A rewrite request: one entry per m= section, in order. */
struct sdp_rewrite {
	const struct sdp_rewrite_media *media;
	size_t media_count;	     /* must equal sdp_media_count() */
	struct addr_ip session_addr; /* for session-level c= and o=; family 0: media[0].addr */
	bool rewrite_origin;	     /* replace the o= address too */
	bool remove_ice;	     /* drop the RFC 8839 ICE attributes at every level */
	bool keep_hold;		     /* leave c=IN IP4 0.0.0.0 (and a=rtcp 0.0.0.0) as they are */
};

/* An upper bound of the length sdp_rewrite can produce for sdp. */
size_t sdp_rewrite_max_len(const struct sdp *sdp);

/* Writes the rewritten body into out (not NUL-terminated). Every line the rules in docs/sdp.md do
 * not touch is copied byte for byte with its own line ending. Returns the length, -ENOSPC when out
 * is too small (out then holds a partial body) or -EINVAL for a bad request. Any thread. */
ssize_t sdp_rewrite(const struct sdp *sdp, const struct sdp_rewrite *rw, char *out, size_t out_len);

#endif
