/* sipbody: find the SDP in a SIP body — the body itself (application/sdp) or one part of a
 * multipart body (RFC 5621) — from the raw Content-Type value. */
#ifndef SBC_SIPBODY_H
#define SBC_SIPBODY_H

#include <stdbool.h>
#include <stddef.h>

/* Finds the SDP. ctype is the Content-Type header value (NULL when absent). On success sets *off
 * and *len relative to body and returns true. Nested multiparts are searched one level deep. */
bool sipbody_find_sdp(const char *ctype, size_t ctype_len, const char *body, size_t body_len,
		      size_t *off, size_t *len);

#endif
