/* policy: an immutable, validated snapshot of the policy database (settings, users, trunks, routes,
 * trusted networks), loaded read-only and swapped in whole on reload. */
#ifndef SBC_POLICY_H
#define SBC_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "digest.h"
#include "sipmsg.h"

/* The policy schema this code reads: db/migrations/0001_policy.sql. A database at another version
 * is refused with the command to run. */
#define POLICY_SCHEMA_VERSION 1

/* The longest auth.realm accepted (it is sent in every challenge). */
#define POLICY_REALM_MAX 128

/* Settings (table settings, keys in setting_keys), validated; times in seconds. */
struct policy_settings {
	uint32_t nat_test_mask;		  /* nat.test_mask: NAT test bits (nat_uac_test meanings) */
	uint32_t keepalive_interval;	  /* nat.keepalive_interval; 0 = no keepalives */
	uint32_t reg_min_expires;	  /* registrar.min_expires (423 below it) */
	uint32_t reg_max_expires;	  /* registrar.max_expires */
	uint32_t reg_default_expires;	  /* registrar.default_expires; min <= default <= max */
	uint32_t reg_max_contacts;	  /* registrar.max_contacts per AOR */
	char realm[POLICY_REALM_MAX + 1]; /* auth.realm, non-empty, no '"' or '\' */
	/* auth.algorithms: challenge with these, in this order (RFC 8760 §2.4), at least one. */
	enum digest_alg auth_algs[DIGEST_ALG_COUNT];
	size_t auth_alg_count;
	uint32_t rate_per_second; /* ratelimit.requests_per_second per source */
	uint32_t rate_burst;	  /* ratelimit.burst */
	uint32_t ban_threshold;	  /* ban.failed_auth_threshold; 0 = never ban */
	uint32_t ban_window;	  /* ban.window */
	uint32_t ban_duration;	  /* ban.duration */
};

/* An enabled local user. Strings are owned by the snapshot. */
struct policy_user {
	const char *username; /* unescaped, compared case-sensitively (RFC 3261 §19.1.4) */
	const char *domain;   /* lower case */
	const char *realm;    /* the realm the HA1 values were computed with */
	const char *ha1[DIGEST_ALG_COUNT]; /* lowercase hex, NULL when not stored for that alg */
};

/* An enabled trunk. */
struct policy_trunk {
	const char *name;
	struct addr_port addr; /* where requests routed to it go; its IP is trusted as a source */
	enum sip_transport transport; /* SIP_TRANSPORT_UDP or SIP_TRANSPORT_TCP */
};

struct policy;

/* Opens the policy database at path read-only (SQLITE_OPEN_READONLY), reads it in one read
 * transaction (a consistent snapshot while sbc-mgmt writes) and validates everything. Returns the
 * snapshot, or NULL with errno set and err (errlen bytes) saying what is wrong — for a database at
 * another schema version, what to run (`sbc-db migrate PATH`). Start-up and reload only: it does
 * file I/O. The snapshot is never modified; free it with policy_free. */
struct policy *policy_load(const char *path, char *err, size_t errlen);

void policy_free(struct policy *p);

/* Loads a new snapshot from path and, when it is valid, swaps it into *current and frees the old
 * one (pointers obtained from the old snapshot become invalid). On failure *current is kept and
 * err says why. Returns 0 or -errno. Call from the thread that owns *current. */
int policy_reload(struct policy **current, const char *path, char *err, size_t errlen);

/* config_version of the database when the snapshot was read. */
uint64_t policy_config_version(const struct policy *p);

const struct policy_settings *policy_settings(const struct policy *p);

/* The enabled user username@domain (domain compared case-insensitively), or NULL. The username
 * must already be unescaped (RFC 3261 §19.1.2 %HH). */
const struct policy_user *policy_user_find(const struct policy *p, const char *username,
					   const char *domain);

/* HA1 of u for alg (lowercase hex), or NULL when the user has none for that algorithm. */
const char *policy_user_ha1(const struct policy_user *u, enum digest_alg alg);

/* The enabled trunk a request from src comes from: one whose address and port equal src, else one
 * whose address equals src's (trunks often send from other ports than they listen on), else NULL.
 * A non-NULL result means the source is trusted. */
const struct policy_trunk *policy_trunk_by_source(const struct policy *p,
						  const struct addr_port *src);

/* The enabled trunk with this name, or NULL. */
const struct policy_trunk *policy_trunk_find(const struct policy *p, const char *name);

/* The trunk of the longest route prefix matching user[0..len) (the request-URI user part, as
 * received), or NULL when no route matches (404). The empty prefix, when configured, matches
 * everything. Routes to disabled trunks are not part of the snapshot. */
const struct policy_trunk *policy_route(const struct policy *p, const char *user, size_t len);

/* Networks never treated as NATed. */
const struct addr_set *policy_trusted(const struct policy *p);

/* Counts, for logs and the control socket. */
size_t policy_user_count(const struct policy *p);
size_t policy_trunk_count(const struct policy *p);
size_t policy_route_count(const struct policy *p);

#endif
