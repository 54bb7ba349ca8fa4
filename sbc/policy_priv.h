/* policy_priv: the layout of a policy snapshot, shared by its loader (policy_load.c) and its
 * lookups (policy.c). */
#ifndef SBC_POLICY_PRIV_H
#define SBC_POLICY_PRIV_H

#include "policy.h"

/* Longest route prefix the schema accepts (routes.prefix CHECK). */
#define POLICY_PREFIX_MAX 32

struct policy_route {
	char *prefix;
	size_t len;
	const struct policy_trunk *trunk; /* points into policy.trunks */
};

struct policy {
	uint64_t config_version;
	struct policy_settings settings;
	struct policy_user *users; /* sorted by (domain, username) */
	size_t n_users;
	struct policy_trunk *trunks; /* sorted by name */
	size_t n_trunks;
	struct policy_route *routes; /* sorted by prefix (strcmp) */
	size_t n_routes;
	size_t max_prefix; /* longest prefix in routes */
	struct addr_set trusted;
};

#endif
