/* ng_req: reads one rtpengine ng request dictionary (as Kamailio 5.6's rtpengine module sends it)
 * into a flat struct; unknown keys and flags are ignored. */
#ifndef SBC_DATAPLANE_NG_REQ_H
#define SBC_DATAPLANE_NG_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bencode.h"

/* A string inside the request datagram (not NUL-terminated; len 0 = absent). */
struct ng_str {
	const char *s;
	size_t len;
};

/* Flags from "flags", "replace", "ICE", "rtcp-mux" (see docs/ng-protocol.md). */
#define NG_F_SIP_SOURCE	       (1u << 0)  /* flags: SIP-source-address */
#define NG_F_TRUST_ADDRESS     (1u << 1)  /* flags: trust-address */
#define NG_F_ASYMMETRIC	       (1u << 2)  /* flags: asymmetric */
#define NG_F_STRICT_SOURCE     (1u << 3)  /* flags: strict-source */
#define NG_F_SYMMETRIC	       (1u << 4)  /* flags: symmetric (the default here) */
#define NG_F_REPLACE_ORIGIN    (1u << 5)  /* replace: origin */
#define NG_F_REPLACE_SESS_CONN (1u << 6)  /* replace: session-connection (always done) */
#define NG_F_ICE_REMOVE	       (1u << 7)  /* ICE: remove */
#define NG_F_RTCP_MUX_DEMUX    (1u << 8)  /* rtcp-mux: demux */
#define NG_F_RTCP_MUX_OFFER    (1u << 9)  /* rtcp-mux: offer */
#define NG_F_RTCP_MUX_ACCEPT   (1u << 10) /* rtcp-mux: accept */
#define NG_F_RTCP_MUX_REJECT   (1u << 11) /* rtcp-mux: reject */
#define NG_F_RTCP_MUX_REQUIRE  (1u << 12) /* rtcp-mux: require */
#define NG_F_ICE_FORCE	       (1u << 13) /* ICE: force, force-relay (not supported) */

enum ng_command {
	NG_CMD_UNKNOWN = 0,
	NG_CMD_PING,
	NG_CMD_OFFER,
	NG_CMD_ANSWER,
	NG_CMD_DELETE,
	NG_CMD_QUERY,
	NG_CMD_LIST,
	NG_CMD_STATISTICS,
};

struct ng_req {
	enum ng_command cmd;
	struct ng_str command; /* as sent */
	struct ng_str call_id, from_tag, to_tag, via_branch, sdp;
	struct ng_str transport_protocol;
	bool has_received_from;
	struct addr_ip received_from;
	uint32_t flags; /* NG_F_* */
	bool has_delete_delay;
	int64_t delete_delay;	  /* seconds: "delete delay" (integer) or "delete-delay" (string) */
	int64_t limit;		  /* list: at most this many calls; 0 = default */
	unsigned direction_count; /* "direction" entries (one media interface: not used) */
};

/* Reads dict (a decoded request dictionary; its strings point into the datagram) into req. Returns
 * 0, or -EINVAL with *reason set to a static text when a key we use has the wrong type or value
 * (a "received-from" that is not [family, address], a delete delay that is not a number, a
 * non-dictionary root, no "command"). Unknown keys and flags are ignored. Pure; any thread. */
int ng_req_parse(const struct bencode_item *dict, struct ng_req *req, const char **reason);

/* True when s equals the NUL-terminated lit. */
bool ng_str_eq(struct ng_str s, const char *lit);

#endif
