/* registrar: REGISTER handling (RFC 3261 §10.3) — digest authentication, bindings that remember
 * the real path of NAT'd UAs, persistence in the registrations database — and the location
 * lookups and NAT keepalive targets the proxy needs. */
#ifndef SBC_REGISTRAR_H
#define SBC_REGISTRAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr.h"
#include "auth.h"
#include "fixup.h"
#include "sipmsg.h"

struct policy;
struct registrar;

/* How a REGISTER arrived. */
struct registrar_src {
	struct addr_port addr; /* source address:port */
	enum sip_transport transport;
	uint64_t conn_id;	       /* transport socket/connection id, for replies and reuse */
	const struct fixup_result *fx; /* the NAT verdict: fx->natted and fx->received_uri */
};

/* The response the registrar wants sent (the proxy builds it with sipmsg_response). */
struct registrar_reply {
	int code;
	const char *reason;
	char headers[4096]; /* complete header lines, each ending in CRLF: Contact (with expires),
			     * Date, Min-Expires, WWW-Authenticate ... */
	bool auth_failed;   /* wrong credentials: the caller counts it for temporary bans */
};

/* One place to send a request for an AOR. */
struct registrar_target {
	char uri[512];	      /* the Contact URI as registered: the new Request-URI */
	struct addr_port dst; /* where to send: the received path for NAT'd UAs */
	enum sip_transport transport;
	uint64_t conn_id; /* for TCP: the UA's connection (0: none known) */
	bool natted;
};

/* Opens (creating/migrating) the registrations database at path, loads the bindings in it, and
 * uses policy for users and settings and auth for digest. Returns NULL with errno; err says why. */
struct registrar *registrar_new(const char *path, const struct policy *policy, struct auth *auth,
				char *err, size_t errlen);
void registrar_free(struct registrar *r);

/* Points the registrar at a new policy snapshot (after a reload). */
void registrar_set_policy(struct registrar *r, const struct policy *policy);

/* Handles one REGISTER whose Request-URI names a domain we serve. Fills out; returns 0, or -errno
 * when the database failed (out is then a 500). now_s is wall-clock seconds (bindings survive a
 * restart, so expiry is absolute time). */
int registrar_handle(struct registrar *r, const struct sip_msg *m, const struct registrar_src *src,
		     uint64_t now_s, struct registrar_reply *out);

/* The current bindings of aor ("user@domain"), best q first. Returns how many were written. */
size_t registrar_lookup(struct registrar *r, const char *aor, uint64_t now_s,
			struct registrar_target *out, size_t max);

/* Writes the bindings changed since the last call to disk (see regdb_flush). */
void registrar_flush(struct registrar *r);

/* Removes expired bindings. Returns how many. */
size_t registrar_expire(struct registrar *r, uint64_t now_s);

/* Forgets the connection of bindings that used conn_id (the TCP connection closed). */
void registrar_conn_closed(struct registrar *r, uint64_t conn_id);

/* Calls fn for each NAT'd binding (the keepalive targets, RFC 5626-style pings). */
void registrar_foreach_natted(struct registrar *r, uint64_t now_s,
			      void (*fn)(void *arg, const struct registrar_target *t), void *arg);

/* The bindings for the control socket's "registrations": a new JSON array of objects
 * {"aor", "contact", "received", "transport", "natted", "expires_in", "user_agent"}. */
json_t *registrar_dump(struct registrar *r, uint64_t now_s);

#endif
