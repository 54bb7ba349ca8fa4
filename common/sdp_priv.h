/* sdp_priv: the parsed SDP layout shared by the parser (sdp.c) and the rewriter (sdp_rewrite.c). */
#ifndef SBC_COMMON_SDP_PRIV_H
#define SBC_COMMON_SDP_PRIV_H

#include "sdp.h"

/* What the rewriter needs to know about a line. */
enum sdp_line_kind {
	SDP_LINE_OTHER = 0, /* copied as it is */
	SDP_LINE_ORIGIN,    /* o= */
	SDP_LINE_CONN,	    /* c=; aux is the index in sdp->conns */
	SDP_LINE_MEDIA,	    /* m= */
	SDP_LINE_RTCP,	    /* media-level a=rtcp */
	SDP_LINE_ICE,	    /* an RFC 8839 ICE attribute */
};

struct sdp_line {
	uint32_t off;  /* offset of the type letter in the body */
	uint32_t len;  /* bytes without the line ending */
	uint8_t eol;   /* enum sdp_eol */
	uint8_t kind;  /* enum sdp_line_kind */
	int16_t media; /* media index, -1 at session level */
	uint16_t aux;
};

struct sdp_media_priv {
	struct sdp_media pub;
	uint32_t port_off, port_len; /* the <port> digits of m= in the body */
	uint32_t rtcp_port_off;	     /* the a=rtcp port digits in the body */
	uint32_t rtcp_port_end;
	uint32_t first_line;  /* index of the m= line */
	uint32_t end_line;    /* index one past the section's last line */
	uint32_t conn_anchor; /* index of the line an added c= follows (m=, then i=) */
};

struct sdp {
	const char *buf;
	size_t len;
	struct sdp_line *lines;
	size_t line_count;
	enum sdp_eol default_eol; /* the first line's ending, for lines the rewriter adds */
	struct sdp_origin origin;
	const struct sdp_conn *session_conn;
	enum sdp_dir session_dir;
	size_t conn_count;
	struct sdp_conn conns[SDP_MAX_CONN];
	size_t media_count;
	struct sdp_media_priv media[SDP_MAX_MEDIA];
};

#endif
