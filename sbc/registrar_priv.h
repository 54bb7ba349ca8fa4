/* registrar_priv: the registrar's state, shared by registrar.c (REGISTER handling) and
 * registrar_lookup.c (lookups, expiry, keepalive targets, dump). */
#ifndef SBC_REGISTRAR_PRIV_H
#define SBC_REGISTRAR_PRIV_H

#include <stddef.h>

#include "auth.h"
#include "log.h"
#include "policy.h"
#include "regdb.h"

struct registrar {
	struct regdb *db;
	const struct policy *policy;
	struct auth *auth;
	struct log_ratelimit log_rl;
};

/* The canonical AOR "user@domain" of aor into out (registrar.c): the user part with %HH escapes
 * decoded, the domain in lower case. Returns 0 or -EINVAL. */
int registrar_canon_aor(const char *aor, char *out, size_t len);

#endif
