/* digest_test: MD5 and SHA-256 against the RFC 1321 / FIPS 180-2 vectors, and SIP/HTTP digest
 * responses against the worked examples of RFC 2617 §3.5 and RFC 7616 §3.9.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "digest.h"

static void hex_of(enum digest_alg alg, const char *msg, char *hex)
{
	const char *parts[1] = {msg};

	assert_int_equal(digest_hex_join(alg, parts, 1, hex), 0);
}

static void test_md5_rfc1321(void **state)
{
	/* RFC 1321 appendix A.5 test suite. */
	static const char *const v[][2] = {
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"a", "0cc175b9c0f1b6a831c399e269772661"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		 "d174ab98d277d9f5a5611c2c9f419d9f"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"},
	};
	char hex[DIGEST_HEX_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		hex_of(DIGEST_ALG_MD5, v[i][0], hex);
		assert_string_equal(hex, v[i][1]);
	}
}

static void test_sha256_fips(void **state)
{
	/* FIPS 180-2 appendix B.1 and B.2, and the empty message. */
	char hex[DIGEST_HEX_MAX];

	(void)state;
	hex_of(DIGEST_ALG_SHA256, "abc", hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	hex_of(DIGEST_ALG_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
	assert_string_equal(hex,
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	hex_of(DIGEST_ALG_SHA256, "", hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_million_a(void **state)
{
	/* FIPS 180-2 appendix B.3, fed in uneven pieces to exercise block boundaries. */
	struct digest_sha256 c;
	uint8_t out[32];
	char chunk[997];
	size_t left = 1000000;
	static const uint8_t want[32] = {
		0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92, 0x81, 0xa1, 0xc7,
		0xe2, 0x84, 0xd7, 0x3e, 0x67, 0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97,
		0x20, 0x0e, 0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0,
	};

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	digest_sha256_init(&c);
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		digest_sha256_update(&c, chunk, n);
		left -= n;
	}
	digest_sha256_final(&c, out);
	assert_memory_equal(out, want, 32);
}

static void test_padding_edges(void **state)
{
	/* Lengths around the 55/56/64-byte padding boundary, checked against one-shot hashing done
	 * byte by byte (the streaming path must agree with itself at every split). */
	char msg[130];
	char a[DIGEST_HEX_MAX], b[DIGEST_HEX_MAX];

	(void)state;
	memset(msg, 'x', sizeof(msg));
	for (size_t len = 50; len < sizeof(msg); len++) {
		struct digest_md5 m;
		uint8_t raw[16];
		static const char xd[] = "0123456789abcdef";

		msg[len] = '\0';
		hex_of(DIGEST_ALG_MD5, msg, a);
		digest_md5_init(&m);
		for (size_t i = 0; i < len; i++)
			digest_md5_update(&m, msg + i, 1);
		digest_md5_final(&m, raw);
		for (int i = 0; i < 16; i++) {
			b[2 * i] = xd[raw[i] >> 4];
			b[2 * i + 1] = xd[raw[i] & 15];
		}
		b[32] = '\0';
		assert_string_equal(a, b);
		msg[len] = 'x';
	}
	/* Known values at the boundaries (from an independent implementation). */
	memset(msg, 'a', 56);
	msg[56] = '\0';
	hex_of(DIGEST_ALG_SHA256, msg, a);
	assert_string_equal(a, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	msg[55] = '\0';
	hex_of(DIGEST_ALG_MD5, msg, a);
	assert_string_equal(a, "ef1772b6dff9a122358552954ad0df65");
}

static void test_rfc2617_md5_response(void **state)
{
	/* RFC 2617 §3.5: Mufasa / testrealm@host.com / "Circle Of Life", qop=auth. */
	char ha1[DIGEST_HEX_MAX], ha2[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
	const char *a2[] = {"GET", "/dir/index.html"};

	(void)state;
	assert_int_equal(
		digest_ha1(DIGEST_ALG_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", ha1),
		0);
	assert_int_equal(digest_hex_join(DIGEST_ALG_MD5, a2, 2, ha2), 0);
	const char *kd[] = {
		ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth", ha2};
	assert_int_equal(digest_hex_join(DIGEST_ALG_MD5, kd, 6, resp), 0);
	assert_string_equal(resp, "6629fae49393a05397450978507c4ef1");
}

static void test_rfc7616_responses(void **state)
{
	/* RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256 (the algorithm RFC
	 * 8760 brings to SIP; RFC 8760 itself has no worked example). */
	static const char *const want[DIGEST_ALG_COUNT] = {
		[DIGEST_ALG_MD5] = "8ca523f5e9506fed4657c9700eebdbec",
		[DIGEST_ALG_SHA256] =
			"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
	};

	(void)state;
	for (int alg = 0; alg < DIGEST_ALG_COUNT; alg++) {
		char ha1[DIGEST_HEX_MAX], ha2[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
		const char *a2[] = {"GET", "/dir/index.html"};

		assert_int_equal(digest_ha1((enum digest_alg)alg, "Mufasa", "http-auth@example.org",
					    "Circle of Life", ha1),
				 0);
		assert_int_equal(strlen(ha1), 2 * digest_alg_len((enum digest_alg)alg));
		assert_int_equal(digest_hex_join((enum digest_alg)alg, a2, 2, ha2), 0);
		const char *kd[] = {ha1,	"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
				    "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
				    "auth",	ha2};
		assert_int_equal(digest_hex_join((enum digest_alg)alg, kd, 6, resp), 0);
		assert_string_equal(resp, want[alg]);
	}
}

static void test_alg_names(void **state)
{
	enum digest_alg alg;

	(void)state;
	assert_int_equal(digest_alg_parse("sha-256", 7, &alg), 0);
	assert_int_equal(alg, DIGEST_ALG_SHA256);
	assert_int_equal(digest_alg_parse("MD5", 3, &alg), 0);
	assert_int_equal(alg, DIGEST_ALG_MD5);
	assert_int_equal(digest_alg_parse("MD5-sess", 8, &alg), -EINVAL);
	assert_int_equal(digest_alg_parse("SHA-256x", 7, &alg), 0); /* length honoured */
	assert_int_equal(digest_alg_parse("SHA-512-256", 11, &alg), -EINVAL);
	assert_string_equal(digest_alg_name(DIGEST_ALG_SHA256), "SHA-256");
	assert_int_equal(digest_alg_len((enum digest_alg)7), 0);
	char hex[DIGEST_HEX_MAX];
	assert_int_equal(digest_ha1((enum digest_alg)7, "a", "b", "c", hex), -EINVAL);
}

static void test_hex_equal(void **state)
{
	(void)state;
	assert_true(digest_hex_equal("abc", "abc"));
	assert_false(digest_hex_equal("abc", "abd"));
	assert_false(digest_hex_equal("abc", "ab"));
	assert_false(digest_hex_equal("", "a"));
	assert_true(digest_hex_equal("", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_md5_rfc1321),
		cmocka_unit_test(test_sha256_fips),
		cmocka_unit_test(test_sha256_million_a),
		cmocka_unit_test(test_padding_edges),
		cmocka_unit_test(test_rfc2617_md5_response),
		cmocka_unit_test(test_rfc7616_responses),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_hex_equal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
