/* transport_frame: splits a SIP byte stream (TCP) into messages by Content-Length and recognises
 * the CRLF keepalives of RFC 5626 between them. */
#include "transport_frame.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Finds the empty line that ends the headers. Returns the offset of the first body byte, or 0
 * when it is not in buf[0..len). Bare LF line ends are accepted as sipscan accepts them. */
static size_t headers_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* If the line [p, end) is a Content-Length header (long or compact form "l", RFC 3261 §7.3.3),
 * parses its value. Returns 1 with *value, 0 for another header, -1 for a bad value. */
static int content_length_line(const char *p, const char *end, uint64_t *value)
{
	const char *colon = memchr(p, ':', (size_t)(end - p));
	const char *name_end;
	uint64_t v = 0;
	int digits = 0;

	if (colon == NULL)
		return 0;
	name_end = colon;
	while (name_end > p && is_ws(name_end[-1]))
		name_end--;
	if (!((name_end - p == 14 && strncasecmp(p, "Content-Length", 14) == 0) ||
	      (name_end - p == 1 && (*p == 'l' || *p == 'L'))))
		return 0;
	p = colon + 1;
	while (p < end && is_ws(*p))
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (++digits > 9)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	while (p < end && (is_ws(*p) || *p == '\r'))
		p++;
	if (digits == 0 || p != end)
		return -1;
	*value = v;
	return 1;
}

enum transport_frame_kind transport_frame(const char *buf, size_t len, size_t max_msg, size_t *n,
					  const char **why)
{
	size_t body, i;
	uint64_t clen = 0, v;
	bool have = false;

	*n = 0;
	*why = NULL;
	if (len == 0)
		return TRANSPORT_FRAME_MORE;
	if (buf[0] == '\r' || buf[0] == '\n') {
		static const char ping[] = "\r\n\r\n";
		size_t k = len < 4 ? len : 4;

		/* RFC 5626 §4.4.1: CRLFCRLF is a ping, a single CRLF the pong. A prefix of the ping
		 * waits for the rest so that a ping split across reads is still answered. */
		if (memcmp(buf, ping, k) == 0) {
			if (k < 4)
				return TRANSPORT_FRAME_MORE;
			*n = 4;
			return TRANSPORT_FRAME_PING;
		}
		/* A pong, or line ends before a start line (RFC 3261 §7.5). */
		if (buf[0] == '\n') {
			*n = 1;
			return TRANSPORT_FRAME_SKIP;
		}
		if (len >= 2 && buf[1] == '\n') {
			*n = 2;
			return TRANSPORT_FRAME_SKIP;
		}
		*why = "stray carriage return";
		*n = 1;
		return TRANSPORT_FRAME_ERROR;
	}
	body = headers_end(buf, len < max_msg ? len : max_msg);
	if (body == 0) {
		if (len >= max_msg) {
			*why = "headers larger than the message limit";
			*n = max_msg;
			return TRANSPORT_FRAME_ERROR;
		}
		return TRANSPORT_FRAME_MORE;
	}
	/* Header lines after the start line; a line starting with whitespace continues the previous
	 * one and cannot be a Content-Length name. */
	i = 0;
	while (i < body) {
		const char *nl = memchr(buf + i, '\n', body - i);
		size_t end = nl != NULL ? (size_t)(nl - buf) : body;

		if (i > 0 && end > i && !is_ws(buf[i])) {
			int rc = content_length_line(buf + i, buf + end, &v);

			if (rc < 0 || (rc > 0 && have && v != clen)) {
				*why = rc < 0 ? "bad Content-Length" : "conflicting Content-Length";
				*n = body;
				return TRANSPORT_FRAME_ERROR;
			}
			if (rc > 0) {
				have = true;
				clen = v;
			}
		}
		i = end + 1;
	}
	if (!have) {
		*why = "no Content-Length on a stream (RFC 3261 §18.3)";
		*n = body;
		return TRANSPORT_FRAME_ERROR;
	}
	if (body + clen > max_msg) {
		*why = "message larger than the limit";
		*n = body;
		return TRANSPORT_FRAME_ERROR;
	}
	if (len < body + clen)
		return TRANSPORT_FRAME_MORE;
	*n = body + (size_t)clen;
	return TRANSPORT_FRAME_MESSAGE;
}
