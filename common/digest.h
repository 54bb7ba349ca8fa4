/* digest: MD5 (RFC 1321) and SHA-256 (FIPS 180-4) hashes and the hex strings SIP digest
 * authentication is built from (RFC 3261 §22.4, RFC 8760, RFC 7616 §3.4). */
#ifndef SBC_COMMON_DIGEST_H
#define SBC_COMMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The algorithms SIP digest may use. RFC 8760 §2.2 adds SHA-256 (and SHA-512/256, not provided). */
enum digest_alg {
	DIGEST_ALG_MD5,
	DIGEST_ALG_SHA256,
};
#define DIGEST_ALG_COUNT 2

/* Largest raw hash and its lowercase hex form with the terminating NUL. */
#define DIGEST_MAX_LEN 32
#define DIGEST_HEX_MAX (2 * DIGEST_MAX_LEN + 1)

/* Streaming contexts; callers keep them on the stack. Fields are private to digest.c. */
struct digest_md5 {
	uint32_t state[4];
	uint64_t length; /* bytes hashed so far */
	uint8_t block[64];
	size_t used; /* bytes pending in block */
};

struct digest_sha256 {
	uint32_t state[8];
	uint64_t length;
	uint8_t block[64];
	size_t used;
};

void digest_md5_init(struct digest_md5 *c);
void digest_md5_update(struct digest_md5 *c, const void *data, size_t len);
/* Writes the 16-byte hash into out; c must be initialised again before reuse. */
void digest_md5_final(struct digest_md5 *c, uint8_t out[16]);

void digest_sha256_init(struct digest_sha256 *c);
void digest_sha256_update(struct digest_sha256 *c, const void *data, size_t len);
/* Writes the 32-byte hash into out; c must be initialised again before reuse. */
void digest_sha256_final(struct digest_sha256 *c, uint8_t out[32]);

/* Raw hash length of alg in bytes (16 or 32), 0 for an unknown value. */
size_t digest_alg_len(enum digest_alg alg);

/* The token used in the algorithm parameter: "MD5" or "SHA-256" (RFC 8760 §2.2). */
const char *digest_alg_name(enum digest_alg alg);

/* Parses an algorithm token case-insensitively ("MD5", "SHA-256"). Returns 0 or -EINVAL. The
 * "-sess" variants are not accepted. */
int digest_alg_parse(const char *s, size_t len, enum digest_alg *out);

/* Hashes the strings parts[0..n) joined with ':' and writes the lowercase hex hash (with NUL) into
 * hex, which must hold DIGEST_HEX_MAX bytes. This is H() and KD() of RFC 7616 §3.4.1–3.4.3, e.g.
 * HA1 = {username, realm, password}, HA2 = {method, uri},
 * response = {HA1, nonce, nc, cnonce, qop, HA2}. Returns 0, or -EINVAL for an unknown alg. */
int digest_hex_join(enum digest_alg alg, const char *const *parts, size_t n, char *hex);

/* HA1 = H(username ":" realm ":" password) as lowercase hex (RFC 3261 §22.4, RFC 8760 §2.4).
 * Credentials are stored only in this form. Returns 0 or -EINVAL. */
int digest_ha1(enum digest_alg alg, const char *username, const char *realm, const char *password,
	       char *hex);

/* True when the NUL-terminated strings are equal. Compares without an early exit, so that checking
 * a response does not leak through timing how many leading characters matched. */
bool digest_hex_equal(const char *a, const char *b);

#endif
