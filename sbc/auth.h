/* auth: SIP digest authentication for the registrar and proxy — challenges with self-validating
 * nonces and verification of credentials against stored HA1 values (RFC 3261 §22, RFC 8760). */
#ifndef SBC_AUTH_H
#define SBC_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "digest.h"
#include "sipmsg.h"

/* Returns the stored HA1 (lowercase hex) of user@domain for alg, or NULL when there is none
 * (unknown user, or no HA1 for that algorithm). Called on the loop thread. */
typedef const char *(*auth_ha1_fn)(void *arg, const char *username, const char *domain,
				   enum digest_alg alg);

struct auth_cfg {
	const char *realm;
	const enum digest_alg *algs; /* challenge with these, in order of preference */
	size_t alg_count;
	uint32_t nonce_ttl_s; /* a nonce older than this is stale (default 300) */
	auth_ha1_fn ha1;
	void *ha1_arg;
};

enum auth_result {
	AUTH_OK,
	AUTH_NO_CREDENTIALS, /* none for our realm: challenge */
	AUTH_STALE,	     /* right password, old nonce: challenge with stale=true */
	AUTH_FAILED,	     /* wrong response, unknown user, foreign nonce: challenge, count it */
	AUTH_MALFORMED,	     /* credentials we cannot use: 400 */
};

struct auth;

/* Creates an authenticator with a random secret for its nonces (getrandom). cfg and the strings
 * it points to must outlive it. NULL with errno on failure. */
struct auth *auth_new(const struct auth_cfg *cfg);
void auth_free(struct auth *a);

/* Replaces the configuration (a policy reload); the nonce secret is kept, so outstanding
 * challenges stay valid. Returns 0 or -EINVAL. */
int auth_reconfigure(struct auth *a, const struct auth_cfg *cfg);

/* Writes the challenge header lines ("WWW-Authenticate: ..." or, for a proxy, "Proxy-Authenticate:
 * ...", one per algorithm, each ending in CRLF) into out. Returns the length or -ENOSPC. */
int auth_challenge(struct auth *a, bool proxy, bool stale, uint64_t now_s,
		   const struct addr_ip *src, char *out, size_t len);

/* Verifies the credentials of m (Authorization, or Proxy-Authorization when proxy) for the user
 * of domain. On AUTH_OK, user (when not NULL, userlen bytes) receives the authenticated username.
 * A nonce is bound to the source address it was issued to. */
enum auth_result auth_verify(struct auth *a, const struct sip_msg *m, bool proxy,
			     const char *domain, uint64_t now_s, const struct addr_ip *src,
			     char *user, size_t userlen);

/* The request-digest of RFC 7616 §3.4.1 for qop "auth" (or RFC 2069 when qop is empty), as
 * lowercase hex into out (DIGEST_HEX_MAX bytes). Returns 0 or -EINVAL. */
int auth_response(enum digest_alg alg, const char *ha1, const char *nonce, const char *nc,
		  const char *cnonce, const char *qop, const char *method, const char *uri,
		  char *out);

#endif
