/* transport_frame: splits a SIP byte stream (TCP) into messages by Content-Length and recognises
 * the CRLF keepalives of RFC 5626 between them. */
#ifndef SBC_TRANSPORT_FRAME_H
#define SBC_TRANSPORT_FRAME_H

#include <stddef.h>

enum transport_frame_kind {
	TRANSPORT_FRAME_MORE,	 /* nothing complete yet: wait for more bytes */
	TRANSPORT_FRAME_MESSAGE, /* a whole message of *n bytes starts the buffer */
	TRANSPORT_FRAME_PING,	 /* a CRLFCRLF keepalive (*n = 4): answer with one CRLF */
	TRANSPORT_FRAME_SKIP,	 /* *n line-end bytes to drop (a pong, or CRLF before a message) */
	TRANSPORT_FRAME_ERROR, /* no message can be framed: *n = header bytes seen, *why says why */
};

/* Looks at the start of buf[0..len) and tells what it holds. A message needs Content-Length
 * (RFC 3261 §18.3: mandatory over streams) and at most max_msg bytes. Never reads past len. */
enum transport_frame_kind transport_frame(const char *buf, size_t len, size_t max_msg, size_t *n,
					  const char **why);

#endif
