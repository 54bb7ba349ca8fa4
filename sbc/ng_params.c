/* ng_params: the wire format of the requests sbc-sip sends to its dataplanes — one bencoded
 * dictionary per request, with the keys and flags docs/ng-protocol.md lists. */
#include <errno.h>
#include <string.h>

#include "ng_client.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *const ng_cmd_names[] = {
	[NG_CMD_PING] = "ping",
	[NG_CMD_OFFER] = "offer",
	[NG_CMD_ANSWER] = "answer",
	[NG_CMD_DELETE] = "delete",
	[NG_CMD_QUERY] = "query",
	[NG_CMD_LIST] = "list",
	[NG_CMD_STATISTICS] = "statistics",
};

struct ng_bit_name {
	uint32_t bit;
	const char *name;
};

/* docs/ng-protocol.md, "Flags": the spellings Kamailio's rtpengine module sends. */
static const struct ng_bit_name ng_flag_names[] = {
	{NG_FLAG_SIP_SOURCE_ADDRESS, "SIP-source-address"},
	{NG_FLAG_TRUST_ADDRESS, "trust-address"},
	{NG_FLAG_SYMMETRIC, "symmetric"},
	{NG_FLAG_ASYMMETRIC, "asymmetric"},
	{NG_FLAG_STRICT_SOURCE, "strict-source"},
};

static const struct ng_bit_name ng_replace_names[] = {
	{NG_REPLACE_ORIGIN, "origin"},
	{NG_REPLACE_SESSION_CONNECTION, "session-connection"},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

bool ng_params_has_call(enum ng_cmd cmd)
{
	return cmd == NG_CMD_OFFER || cmd == NG_CMD_ANSWER || cmd == NG_CMD_DELETE ||
	       cmd == NG_CMD_QUERY;
}

static int put_opt_str(struct bencode_writer *w, const char *key, const char *val)
{
	return val != NULL ? bencode_put_kv_str(w, key, val) : w->err;
}

static int put_bits(struct bencode_writer *w, const char *key, uint32_t bits,
		    const struct ng_bit_name *names, size_t n)
{
	if (bits == 0)
		return w->err;
	bencode_put_cstr(w, key);
	bencode_put_list(w);
	for (size_t i = 0; i < n; i++) {
		if (bits & names[i].bit)
			bencode_put_cstr(w, names[i].name);
	}
	return bencode_put_end(w);
}

int ng_params_encode(const struct ng_params *p, struct bencode_writer *w)
{
	if ((size_t)p->cmd >= ARRAY_LEN(ng_cmd_names))
		return -EINVAL;
	if (ng_params_has_call(p->cmd) && (p->call_id == NULL || p->call_id[0] == '\0'))
		return -EINVAL;
	if (p->received_from != NULL && p->received_from->family != AF_INET &&
	    p->received_from->family != AF_INET6)
		return -EINVAL;
	bencode_put_dict(w);
	bencode_put_kv_str(w, "command", ng_cmd_names[p->cmd]);
	put_opt_str(w, "call-id", p->call_id);
	put_opt_str(w, "from-tag", p->from_tag);
	put_opt_str(w, "to-tag", p->to_tag);
	put_opt_str(w, "via-branch", p->via_branch);
	if (p->sdp != NULL) {
		bencode_put_cstr(w, "sdp");
		bencode_put_str(w, p->sdp, p->sdp_len);
	}
	if (p->received_from != NULL) {
		char buf[INET6_ADDRSTRLEN];

		bencode_put_cstr(w, "received-from");
		bencode_put_list(w);
		bencode_put_cstr(w, p->received_from->family == AF_INET ? "IP4" : "IP6");
		bencode_put_cstr(w, addr_format(p->received_from, buf, sizeof(buf)));
		bencode_put_end(w);
	}
	put_bits(w, "flags", p->flags, ng_flag_names, ARRAY_LEN(ng_flag_names));
	put_bits(w, "replace", p->replace, ng_replace_names, ARRAY_LEN(ng_replace_names));
	if (p->ice_remove)
		bencode_put_kv_str(w, "ICE", "remove");
	/* The integer form: the server prefers it over Kamailio's "delete-delay" digit string. */
	if (p->has_delete_delay)
		bencode_put_kv_int(w, "delete delay", p->delete_delay_s);
	if (p->limit != 0)
		bencode_put_kv_int(w, "limit", p->limit);
	return bencode_put_end(w);
}

static size_t str_cost(const char *s)
{
	/* The bytes themselves, the length prefix and the key (each key is short). */
	return s != NULL ? strlen(s) + 48 : 0;
}

size_t ng_params_size(const struct ng_params *p)
{
	return 512 + BENCODE_NG_COOKIE_MAX + str_cost(p->call_id) + str_cost(p->from_tag) +
	       str_cost(p->to_tag) + str_cost(p->via_branch) + (p->sdp ? p->sdp_len + 48 : 0);
}
