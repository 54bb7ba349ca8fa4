/* ng_req: an ng request dictionary into struct ng_req (keys and flags of Kamailio 5.6's rtpengine
 * module; see docs/ng-protocol.md). */
#include "ng_req.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

bool ng_str_eq(struct ng_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && memcmp(s.s, lit, n) == 0;
}

/* Lists of flags, as data: a string in a list under `key` sets `flag`. */
struct flag_word {
	const char *key;
	const char *word;
	uint32_t flag;
};

static const struct flag_word flag_words[] = {
	{"flags", "SIP-source-address", NG_F_SIP_SOURCE},
	{"flags", "trust-address", NG_F_TRUST_ADDRESS},
	{"flags", "asymmetric", NG_F_ASYMMETRIC},
	{"flags", "strict-source", NG_F_STRICT_SOURCE},
	{"flags", "symmetric", NG_F_SYMMETRIC},
	{"replace", "origin", NG_F_REPLACE_ORIGIN},
	{"replace", "session-connection", NG_F_REPLACE_SESS_CONN},
	{"replace", "session connection", NG_F_REPLACE_SESS_CONN},
	{"rtcp-mux", "demux", NG_F_RTCP_MUX_DEMUX},
	{"rtcp-mux", "offer", NG_F_RTCP_MUX_OFFER},
	{"rtcp-mux", "accept", NG_F_RTCP_MUX_ACCEPT},
	{"rtcp-mux", "reject", NG_F_RTCP_MUX_REJECT},
	{"rtcp-mux", "require", NG_F_RTCP_MUX_REQUIRE},
	{"ICE", "remove", NG_F_ICE_REMOVE},
	{"ICE", "force", NG_F_ICE_FORCE},
	{"ICE", "force-relay", NG_F_ICE_FORCE},
};

static const struct {
	const char *name;
	enum ng_command cmd;
} commands[] = {
	{"ping", NG_CMD_PING},
	{"offer", NG_CMD_OFFER},
	{"answer", NG_CMD_ANSWER},
	{"delete", NG_CMD_DELETE},
	{"query", NG_CMD_QUERY},
	{"list", NG_CMD_LIST},
	{"statistics", NG_CMD_STATISTICS},
};

static void words(const struct bencode_item *dict, const char *key, struct ng_req *req)
{
	const struct bencode_item *v = bencode_dict_get(dict, key);
	const struct bencode_item *it;

	if (!v)
		return;
	/* A list of words; ICE (and some clients' other keys) is a single string. */
	if (v->type == BENCODE_STR) {
		it = v;
		for (size_t i = 0; i < sizeof(flag_words) / sizeof(flag_words[0]); i++)
			if (!strcmp(flag_words[i].key, key) &&
			    bencode_str_eq(it, flag_words[i].word))
				req->flags |= flag_words[i].flag;
		return;
	}
	if (v->type != BENCODE_LIST)
		return;
	for (it = bencode_first(v); it; it = bencode_next(v, it))
		for (size_t i = 0; i < sizeof(flag_words) / sizeof(flag_words[0]); i++)
			if (!strcmp(flag_words[i].key, key) &&
			    bencode_str_eq(it, flag_words[i].word))
				req->flags |= flag_words[i].flag;
}

static void get_str(const struct bencode_item *dict, const char *key, struct ng_str *out)
{
	const char *s;
	size_t len;

	if (bencode_dict_get_str(dict, key, &s, &len)) {
		out->s = s;
		out->len = len;
	}
}

/* "received-from": ["IP4", "203.0.113.9"] (the address the SIP message came from). */
static int received_from(const struct bencode_item *dict, struct ng_req *req, const char **reason)
{
	const struct bencode_item *v = bencode_dict_get(dict, "received-from");
	const struct bencode_item *fam, *addr;

	if (!v)
		return 0;
	*reason = "Invalid received-from";
	if (v->type != BENCODE_LIST || v->count != 2)
		return -EINVAL;
	fam = bencode_first(v);
	addr = bencode_next(v, fam);
	if (fam->type != BENCODE_STR || addr->type != BENCODE_STR ||
	    !addr_parse(addr->str.s, addr->str.len, &req->received_from))
		return -EINVAL;
	if ((bencode_str_eq(fam, "IP4") && req->received_from.family != AF_INET) ||
	    (bencode_str_eq(fam, "IP6") && req->received_from.family != AF_INET6) ||
	    (!bencode_str_eq(fam, "IP4") && !bencode_str_eq(fam, "IP6")))
		return -EINVAL;
	req->has_received_from = true;
	return 0;
}

static int delete_delay(const struct bencode_item *dict, struct ng_req *req, const char **reason)
{
	/* Older clients send "delete delay" as an integer, Kamailio 5.6 "delete-delay" as a
	 * string; the first one present wins. */
	static const char *const keys[] = {"delete delay", "delete-delay"};

	for (size_t i = 0; i < 2; i++) {
		const struct bencode_item *v = bencode_dict_get(dict, keys[i]);

		if (!v)
			continue;
		if (bencode_item_to_int(v, &req->delete_delay) || req->delete_delay < 0 ||
		    req->delete_delay > 86400) {
			*reason = "Invalid delete delay";
			return -EINVAL;
		}
		req->has_delete_delay = true;
		return 0;
	}
	return 0;
}

int ng_req_parse(const struct bencode_item *dict, struct ng_req *req, const char **reason)
{
	const struct bencode_item *v;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!dict || dict->type != BENCODE_DICT) {
		*reason = "Request is not a dictionary";
		return -EINVAL;
	}
	get_str(dict, "command", &req->command);
	if (!req->command.len) {
		*reason = "No command given";
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (ng_str_eq(req->command, commands[i].name))
			req->cmd = commands[i].cmd;
	get_str(dict, "call-id", &req->call_id);
	get_str(dict, "from-tag", &req->from_tag);
	get_str(dict, "to-tag", &req->to_tag);
	get_str(dict, "via-branch", &req->via_branch);
	get_str(dict, "sdp", &req->sdp);
	get_str(dict, "transport-protocol", &req->transport_protocol);
	words(dict, "flags", req);
	words(dict, "replace", req);
	words(dict, "rtcp-mux", req);
	words(dict, "ICE", req);
	v = bencode_dict_get(dict, "direction");
	if (v && v->type == BENCODE_LIST)
		req->direction_count = v->count;
	rc = received_from(dict, req, reason);
	if (rc)
		return rc;
	rc = delete_delay(dict, req, reason);
	if (rc)
		return rc;
	v = bencode_dict_get(dict, "limit");
	if (v && (bencode_item_to_int(v, &req->limit) || req->limit < 0)) {
		*reason = "Invalid limit";
		return -EINVAL;
	}
	return 0;
}
