/* digest: MD5 and SHA-256 written out from RFC 1321 and FIPS 180-4, so that SIP digest
 * authentication needs no crypto library; plus the hex helpers HA1/HA2/response are made of. */
#include "digest.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static uint32_t rol32(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

static uint32_t ror32(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* RFC 1321 §3.4: T[i] = floor(2^32 * |sin(i + 1)|), and the per-round rotation amounts. */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
	0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
	0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
	0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
	0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
	0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
	0xeb86d391,
};

static const uint8_t md5_shift[4][4] = {
	{7, 12, 17, 22},
	{5, 9, 14, 20},
	{4, 11, 16, 23},
	{6, 10, 15, 21},
};

static void md5_block(uint32_t st[4], const uint8_t *p)
{
	uint32_t x[16];
	uint32_t a = st[0], b = st[1], c = st[2], d = st[3];

	for (int i = 0; i < 16; i++)
		x[i] = load_le32(p + 4 * i);
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int k;
		int round = i / 16;

		/* The four auxiliary functions F, G, H, I and their message word order (§3.4). */
		switch (round) {
		case 0:
			f = (b & c) | (~b & d);
			k = i;
			break;
		case 1:
			f = (b & d) | (c & ~d);
			k = (5 * i + 1) % 16;
			break;
		case 2:
			f = b ^ c ^ d;
			k = (3 * i + 5) % 16;
			break;
		default:
			f = c ^ (b | ~d);
			k = (7 * i) % 16;
			break;
		}
		uint32_t tmp = d;
		d = c;
		c = b;
		b = b + rol32(a + f + md5_t[i] + x[k], md5_shift[round][i % 4]);
		a = tmp;
	}
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

void digest_md5_init(struct digest_md5 *c)
{
	/* RFC 1321 §3.3: words A..D, low-order byte first. */
	c->state[0] = 0x67452301;
	c->state[1] = 0xefcdab89;
	c->state[2] = 0x98badcfe;
	c->state[3] = 0x10325476;
	c->length = 0;
	c->used = 0;
}

void digest_md5_update(struct digest_md5 *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->length += len;
	while (len > 0) {
		size_t n = 64 - c->used;

		if (n > len)
			n = len;
		memcpy(c->block + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		if (c->used == 64) {
			md5_block(c->state, c->block);
			c->used = 0;
		}
	}
}

/* Shared padding (RFC 1321 §3.1–3.2, FIPS 180-4 §5.1.1): a 1 bit, zeros, then the bit length in the
 * last 8 bytes of a block, little-endian for MD5 and big-endian for SHA-256. */
static void pad_block(uint8_t block[64], size_t *used, uint64_t bytes, int big_endian,
		      void (*compress)(uint32_t *, const uint8_t *), uint32_t *state)
{
	uint64_t bits = bytes * 8;

	block[(*used)++] = 0x80;
	if (*used > 56) {
		memset(block + *used, 0, 64 - *used);
		compress(state, block);
		*used = 0;
	}
	memset(block + *used, 0, 56 - *used);
	for (int i = 0; i < 8; i++) {
		int shift = big_endian ? 56 - 8 * i : 8 * i;

		block[56 + i] = (uint8_t)(bits >> shift);
	}
	compress(state, block);
	*used = 0;
}

void digest_md5_final(struct digest_md5 *c, uint8_t out[16])
{
	pad_block(c->block, &c->used, c->length, 0, md5_block, c->state);
	for (int i = 0; i < 4; i++)
		store_le32(out + 4 * i, c->state[i]);
}

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64
 * primes. */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static void sha256_block(uint32_t st[8], const uint8_t *p)
{
	uint32_t w[64];
	uint32_t v[8];

	for (int i = 0; i < 16; i++)
		w[i] = load_be32(p + 4 * i);
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(v, st, sizeof(v));
	for (int i = 0; i < 64; i++) {
		uint32_t e = v[4], a = v[0];
		uint32_t sum1 = ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25);
		uint32_t ch = (e & v[5]) ^ (~e & v[6]);
		uint32_t t1 = v[7] + sum1 + ch + sha256_k[i] + w[i];
		uint32_t sum0 = ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22);
		uint32_t maj = (a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]);

		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + sum0 + maj;
	}
	for (int i = 0; i < 8; i++)
		st[i] += v[i];
}

void digest_sha256_init(struct digest_sha256 *c)
{
	/* FIPS 180-4 §5.3.3: fractional parts of the square roots of the first 8 primes. */
	static const uint32_t h0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->state, h0, sizeof(h0));
	c->length = 0;
	c->used = 0;
}

void digest_sha256_update(struct digest_sha256 *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	c->length += len;
	while (len > 0) {
		size_t n = 64 - c->used;

		if (n > len)
			n = len;
		memcpy(c->block + c->used, p, n);
		c->used += n;
		p += n;
		len -= n;
		if (c->used == 64) {
			sha256_block(c->state, c->block);
			c->used = 0;
		}
	}
}

void digest_sha256_final(struct digest_sha256 *c, uint8_t out[32])
{
	pad_block(c->block, &c->used, c->length, 1, sha256_block, c->state);
	for (int i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->state[i]);
}

size_t digest_alg_len(enum digest_alg alg)
{
	switch (alg) {
	case DIGEST_ALG_MD5:
		return 16;
	case DIGEST_ALG_SHA256:
		return 32;
	}
	return 0;
}

static const char *const alg_names[DIGEST_ALG_COUNT] = {
	[DIGEST_ALG_MD5] = "MD5",
	[DIGEST_ALG_SHA256] = "SHA-256",
};

const char *digest_alg_name(enum digest_alg alg)
{
	return (unsigned int)alg < DIGEST_ALG_COUNT ? alg_names[alg] : "?";
}

int digest_alg_parse(const char *s, size_t len, enum digest_alg *out)
{
	for (int i = 0; i < DIGEST_ALG_COUNT; i++) {
		if (strlen(alg_names[i]) == len && strncasecmp(s, alg_names[i], len) == 0) {
			*out = (enum digest_alg)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* One context for either algorithm, so the join below is written once. */
struct any_hash {
	enum digest_alg alg;
	union {
		struct digest_md5 md5;
		struct digest_sha256 sha256;
	};
};

static void any_update(struct any_hash *h, const void *data, size_t len)
{
	if (h->alg == DIGEST_ALG_MD5)
		digest_md5_update(&h->md5, data, len);
	else
		digest_sha256_update(&h->sha256, data, len);
}

int digest_hex_join(enum digest_alg alg, const char *const *parts, size_t n, char *hex)
{
	static const char xdigits[] = "0123456789abcdef";
	struct any_hash h = {.alg = alg};
	uint8_t raw[DIGEST_MAX_LEN];
	size_t len = digest_alg_len(alg);

	if (len == 0)
		return -EINVAL;
	if (alg == DIGEST_ALG_MD5)
		digest_md5_init(&h.md5);
	else
		digest_sha256_init(&h.sha256);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			any_update(&h, ":", 1);
		any_update(&h, parts[i], strlen(parts[i]));
	}
	if (alg == DIGEST_ALG_MD5)
		digest_md5_final(&h.md5, raw);
	else
		digest_sha256_final(&h.sha256, raw);
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = xdigits[raw[i] >> 4];
		hex[2 * i + 1] = xdigits[raw[i] & 0xf];
	}
	hex[2 * len] = '\0';
	return 0;
}

int digest_ha1(enum digest_alg alg, const char *username, const char *realm, const char *password,
	       char *hex)
{
	const char *parts[3] = {username, realm, password};

	return digest_hex_join(alg, parts, 3, hex);
}

bool digest_hex_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned int diff = la != lb;
	size_t n = la < lb ? la : lb;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned int)(a[i] ^ b[i]);
	return diff == 0;
}
