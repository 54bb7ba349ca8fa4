/* regdb: the registrations database that sbc-sip owns — bindings of addresses-of-record to
 * contacts with the path each REGISTER really came from — so that registrations survive a
 * restart. Separate from the policy database, which sbc-sip only reads. */
#ifndef SBC_REGDB_H
#define SBC_REGDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "sipmsg.h"

/* Column limits of db/regdb/0001_bindings.sql. */
#define REGDB_AOR_MAX	     512
#define REGDB_CONTACT_MAX    1024
#define REGDB_CALL_ID_MAX    256
#define REGDB_USER_AGENT_MAX 256 /* longer User-Agents are cut */
#define REGDB_SOCKET_MAX     64

/* One binding (RFC 3261 §10.3). As input, strings belong to the caller; in callbacks they point
 * into the database row and are valid only during the call. */
struct regdb_binding {
	const char *aor;	      /* canonical address-of-record, e.g. "alice@example.com" */
	const char *contact;	      /* the Contact URI as registered (not rewritten) */
	struct addr_port received;    /* source address:port of the REGISTER (its NAT binding) */
	enum sip_transport transport; /* transport it came over */
	const char *socket;	/* local socket it arrived on ("udp:192.0.2.1:5060"), or NULL */
	uint64_t conn_id;	/* connection for TCP, 0 for none */
	bool natted;		/* behind a NAT: route to received, send keepalives */
	uint64_t expires;	/* absolute expiry, wall-clock seconds since the epoch */
	const char *user_agent; /* User-Agent header value, or NULL */
	const char *call_id;	/* Call-ID of the REGISTER that made or refreshed it */
	uint32_t cseq;		/* its CSeq number (< 2^31, RFC 3261 §8.1.1.5) */
	uint16_t q;		/* q-value x 1000 (RFC 3261 §20.10), 0..1000 */
};

/* Called for each binding; return 0 to go on, anything else to stop the iteration. */
typedef int (*regdb_binding_fn)(void *arg, const struct regdb_binding *b);

struct regdb;

/* Opens the registrations database at path read-write, creating it if needed, and brings its
 * schema up to date with the compiled-in db/regdb migrations (WAL, synchronous=NORMAL: a crash may
 * lose the last registrations, which UAs renew anyway). The file stays locked exclusively until
 * regdb_close: other processes cannot read it meanwhile (live views go through the control
 * socket), and a second open fails with EBUSY. Refuses a newer schema (EPROTO). Returns NULL with
 * errno set and err (errlen bytes) saying why. Call from the loop thread; the handle is not
 * thread-safe. */
struct regdb *regdb_open(const char *path, char *err, size_t errlen);

void regdb_close(struct regdb *db);

/* The last database error, for logs. */
const char *regdb_errmsg(const struct regdb *db);

/* Adds the binding b->aor + b->contact or refreshes it (RFC 3261 §10.3 step 7): an existing binding
 * with another Call-ID is replaced; with the same Call-ID only when b->cseq is higher, else
 * -ESTALE (the request fails: 500) and nothing changes. *created (may be NULL) tells whether the
 * binding is new. Returns 0, -EINVAL for a field out of its limits, -ESTALE or -EIO. */
int regdb_save(struct regdb *db, const struct regdb_binding *b, uint64_t now, bool *created);

/* Removes one binding (a Contact with expires 0), with the same Call-ID/CSeq rule as regdb_save.
 * Returns 0, -ENOENT when there is no such binding, -ESTALE or -EIO. */
int regdb_remove(struct regdb *db, const char *aor, const char *contact, const char *call_id,
		 uint32_t cseq);

/* Removes every binding of aor ("Contact: *" with Expires: 0, RFC 3261 §10.3 step 6). If one of
 * them has the same Call-ID and a CSeq not lower than cseq, nothing is removed and -ESTALE is
 * returned. Returns the number removed or -errno. */
int regdb_remove_all(struct regdb *db, const char *aor, const char *call_id, uint32_t cseq);

/* Calls fn for each binding of aor not expired at now, highest q first, then most recently
 * updated. Returns the number visited or -EIO. */
int regdb_list(struct regdb *db, const char *aor, uint64_t now, regdb_binding_fn fn, void *arg);

/* Number of bindings of aor not expired at now, or -EIO. */
int regdb_count(struct regdb *db, const char *aor, uint64_t now);

/* Deletes the bindings that expired at or before now, calling fn (may be NULL) for each first.
 * Returns the number deleted or -EIO. */
int regdb_expire(struct regdb *db, uint64_t now, regdb_binding_fn fn, void *arg);

/* Calls fn for every binding not expired at now, ordered by AOR: the start-up load. Returns the
 * number visited or -EIO. */
int regdb_load_all(struct regdb *db, uint64_t now, regdb_binding_fn fn, void *arg);

/* Sets conn_id to 0 in the bindings that used conn_id (that connection closed). Returns the number
 * changed or -EIO. */
int regdb_conn_closed(struct regdb *db, uint64_t conn_id);

/* Group several changes (all Contacts of one REGISTER) so that they commit together or not at all
 * (RFC 3261 §10.3 step 7: a failed update leaves no tentative bindings). Returns 0 or -EIO. */
int regdb_begin(struct regdb *db);
int regdb_commit(struct regdb *db);

/* Makes every change so far durable: changes are grouped in one transaction until this is
 * called (the daemon does it every 100 ms, and regdb_close does it), so a crash loses at most
 * the last moments of registrations — phones register again. Returns 0 or -EIO. */
int regdb_flush(struct regdb *db);
int regdb_rollback(struct regdb *db);

#endif
