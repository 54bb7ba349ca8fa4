/* auth: SIP digest authentication for the registrar and proxy — challenges with self-validating
 * nonces and verification of credentials against stored HA1 values (RFC 3261 §22, RFC 8760). */
#include "auth.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct auth {
	struct auth_cfg cfg;
	char secret[33]; /* hex of 16 random octets */
};

struct auth *auth_new(const struct auth_cfg *cfg)
{
	struct auth *a;
	uint8_t raw[16];

	if (cfg->realm == NULL || cfg->alg_count == 0 || cfg->ha1 == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return NULL;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->cfg = *cfg;
	if (a->cfg.nonce_ttl_s == 0)
		a->cfg.nonce_ttl_s = 300;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(a->secret + 2 * i, 3, "%02x", raw[i]);
	return a;
}

void auth_free(struct auth *a)
{
	free(a);
}

int auth_reconfigure(struct auth *a, const struct auth_cfg *cfg)
{
	if (cfg->realm == NULL || cfg->alg_count == 0 || cfg->ha1 == NULL)
		return -EINVAL;
	a->cfg = *cfg;
	if (a->cfg.nonce_ttl_s == 0)
		a->cfg.nonce_ttl_s = 300;
	return 0;
}

/* nonce = <issue time, 16 hex> <H(secret:time:source), 32 hex>: the server keeps no state, yet
 * only nonces it issued to this source verify, and their age is known (RFC 7616 §5.4). */
static void make_nonce(const struct auth *a, uint64_t t, const struct addr_ip *src, char *out)
{
	char ts[17], ip[ADDR_STRLEN], mac[DIGEST_HEX_MAX];

	snprintf(ts, sizeof(ts), "%016" PRIx64, t);
	addr_format(src, ip, sizeof(ip));
	const char *parts[] = {a->secret, ts, ip};

	digest_hex_join(DIGEST_ALG_SHA256, parts, 3, mac);
	snprintf(out, 16 + 32 + 1, "%s%.32s", ts, mac);
}

/* Returns 0 for a current nonce of ours, 1 for a stale one, -1 for a foreign or forged one. */
static int check_nonce(const struct auth *a, const char *nonce, uint64_t now_s,
		       const struct addr_ip *src)
{
	char expect[64];
	uint64_t t;
	char *end;

	if (strlen(nonce) != 48)
		return -1;
	char ts[17];

	memcpy(ts, nonce, 16);
	ts[16] = '\0';
	t = strtoull(ts, &end, 16);
	if (*end != '\0')
		return -1;
	make_nonce(a, t, src, expect);
	if (!digest_hex_equal(expect, nonce))
		return -1;
	return t > now_s || now_s - t > a->cfg.nonce_ttl_s ? 1 : 0;
}

int auth_challenge(struct auth *a, bool proxy, bool stale, uint64_t now_s,
		   const struct addr_ip *src, char *out, size_t len)
{
	char nonce[64];
	size_t off = 0;

	make_nonce(a, now_s, src, nonce);
	/* RFC 8760 §2.4: one challenge per algorithm, the preferred one first. */
	for (size_t i = 0; i < a->cfg.alg_count; i++) {
		int n = snprintf(
			out + off, len - off,
			"%s: Digest realm=\"%s\", nonce=\"%s\", algorithm=%s, qop=\"auth\"%s\r\n",
			proxy ? "Proxy-Authenticate" : "WWW-Authenticate", a->cfg.realm, nonce,
			digest_alg_name(a->cfg.algs[i]), stale ? ", stale=true" : "");

		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return (int)off;
}

int auth_response(enum digest_alg alg, const char *ha1, const char *nonce, const char *nc,
		  const char *cnonce, const char *qop, const char *method, const char *uri,
		  char *out)
{
	char ha2[DIGEST_HEX_MAX];
	const char *a2[] = {method, uri};
	int rc = digest_hex_join(alg, a2, 2, ha2);

	if (rc != 0)
		return rc;
	if (qop == NULL || qop[0] == '\0') {
		const char *p[] = {ha1, nonce, ha2};

		return digest_hex_join(alg, p, 3, out);
	}
	const char *p[] = {ha1, nonce, nc, cnonce, qop, ha2};

	return digest_hex_join(alg, p, 6, out);
}

enum auth_result auth_verify(struct auth *a, const struct sip_msg *m, bool proxy,
			     const char *domain, uint64_t now_s, const struct addr_ip *src,
			     char *user, size_t userlen)
{
	struct sip_digest_cred c;
	enum digest_alg alg = DIGEST_ALG_MD5;
	char expect[DIGEST_HEX_MAX], method[32];
	size_t mlen;
	const char *meth = sipmsg_method(m, &mlen);
	int rc = sipmsg_digest_cred(m, proxy, a->cfg.realm, &c);

	if (rc == -ENOENT)
		return AUTH_NO_CREDENTIALS;
	if (rc != 0)
		return AUTH_MALFORMED;
	/* RFC 3261 §22.4: no algorithm parameter means MD5. */
	if (c.algorithm[0] != '\0' && digest_alg_parse(c.algorithm, strlen(c.algorithm), &alg) != 0)
		return AUTH_FAILED;
	bool offered = false;

	for (size_t i = 0; i < a->cfg.alg_count; i++)
		offered |= a->cfg.algs[i] == alg;
	if (!offered)
		return AUTH_FAILED;
	/* qop "auth" needs nc and cnonce (RFC 7616 §3.4); "auth-int" is not offered. */
	if (c.qop[0] != '\0' &&
	    (strcmp(c.qop, "auth") != 0 || c.cnonce[0] == '\0' || c.nc[0] == '\0'))
		return AUTH_MALFORMED;
	int age = check_nonce(a, c.nonce, now_s, src);

	if (age < 0)
		return AUTH_FAILED;
	const char *ha1 = a->cfg.ha1(a->cfg.ha1_arg, c.username, domain, alg);

	if (ha1 == NULL || mlen >= sizeof(method))
		return AUTH_FAILED;
	memcpy(method, meth, mlen);
	method[mlen] = '\0';
	if (auth_response(alg, ha1, c.nonce, c.nc, c.cnonce, c.qop, method, c.uri, expect) != 0 ||
	    !digest_hex_equal(expect, c.response))
		return AUTH_FAILED;
	if (age > 0)
		return AUTH_STALE;
	if (user != NULL)
		snprintf(user, userlen, "%s", c.username);
	return AUTH_OK;
}
