/* policy: the lookups the proxy makes in a policy snapshot (users, trunks by source,
 * longest-prefix routes, trusted networks, settings). Loading is in policy_load.c. */
#include "policy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy_priv.h"

uint64_t policy_config_version(const struct policy *p)
{
	return p->config_version;
}

const struct policy_settings *policy_settings(const struct policy *p)
{
	return &p->settings;
}

struct user_key {
	const char *username;
	const char *domain;
};

static int user_key_cmp(const void *k, const void *e)
{
	const struct user_key *key = k;
	const struct policy_user *u = e;
	/* Stored domains are lower case, so a case-insensitive comparison orders like strcmp on
	 * the lowered key (RFC 3261 §19.1.4: hosts compare case-insensitively). */
	int c = strcasecmp(key->domain, u->domain);

	return c ? c : strcmp(key->username, u->username);
}

const struct policy_user *policy_user_find(const struct policy *p, const char *username,
					   const char *domain)
{
	struct user_key key = {username, domain};

	if (p->n_users == 0)
		return NULL;
	return bsearch(&key, p->users, p->n_users, sizeof(p->users[0]), user_key_cmp);
}

const char *policy_user_ha1(const struct policy_user *u, enum digest_alg alg)
{
	return (unsigned int)alg < DIGEST_ALG_COUNT ? u->ha1[alg] : NULL;
}

const struct policy_trunk *policy_trunk_by_source(const struct policy *p,
						  const struct addr_port *src)
{
	const struct policy_trunk *by_ip = NULL;

	for (size_t i = 0; i < p->n_trunks; i++) {
		const struct policy_trunk *t = &p->trunks[i];

		if (!addr_equal(&t->addr.ip, &src->ip))
			continue;
		if (t->addr.port == src->port)
			return t;
		if (by_ip == NULL)
			by_ip = t;
	}
	return by_ip;
}

static int trunk_key_cmp(const void *k, const void *e)
{
	const struct policy_trunk *t = e;

	return strcmp(k, t->name);
}

const struct policy_trunk *policy_trunk_find(const struct policy *p, const char *name)
{
	if (p->n_trunks == 0)
		return NULL;
	return bsearch(name, p->trunks, p->n_trunks, sizeof(p->trunks[0]), trunk_key_cmp);
}

struct prefix_key {
	const char *s;
	size_t len;
};

static int route_key_cmp(const void *k, const void *e)
{
	const struct prefix_key *key = k;
	const struct policy_route *r = e;
	size_t n = key->len < r->len ? key->len : r->len;
	int c = memcmp(key->s, r->prefix, n);

	if (c)
		return c;
	return (key->len > r->len) - (key->len < r->len);
}

const struct policy_trunk *policy_route(const struct policy *p, const char *user, size_t len)
{
	/* Longest prefix first: try each length from the longest possible down to the empty
	 * prefix, each a binary search of the sorted prefixes. */
	size_t l = len < p->max_prefix ? len : p->max_prefix;

	if (p->n_routes == 0)
		return NULL;
	for (;;) {
		struct prefix_key key = {user, l};
		const struct policy_route *r =
			bsearch(&key, p->routes, p->n_routes, sizeof(p->routes[0]), route_key_cmp);

		if (r)
			return r->trunk;
		if (l == 0)
			return NULL;
		l--;
	}
}

const struct addr_set *policy_trusted(const struct policy *p)
{
	return &p->trusted;
}

size_t policy_user_count(const struct policy *p)
{
	return p->n_users;
}

size_t policy_trunk_count(const struct policy *p)
{
	return p->n_trunks;
}

size_t policy_route_count(const struct policy *p)
{
	return p->n_routes;
}
