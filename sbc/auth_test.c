/* auth_test: digest responses against published vectors, and challenge → credentials →
 * verification, including stale, forged and foreign nonces. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth.h"

static void test_vectors(void **state)
{
	char ha1[DIGEST_HEX_MAX], out[DIGEST_HEX_MAX];

	(void)state;
	/* RFC 2617 §3.5 (MD5, qop=auth). */
	assert_int_equal(
		digest_ha1(DIGEST_ALG_MD5, "Mufasa", "testrealm@host.com", "Circle Of Life", ha1),
		0);
	assert_int_equal(auth_response(DIGEST_ALG_MD5, ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093",
				       "00000001", "0a4f113b", "auth", "GET", "/dir/index.html",
				       out),
			 0);
	assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
	/* RFC 7616 §3.9.1 (MD5 and SHA-256, qop=auth). */
	static const char nonce[] = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
	static const char cnonce[] = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

	digest_ha1(DIGEST_ALG_MD5, "Mufasa", "http-auth@example.org", "Circle of Life", ha1);
	auth_response(DIGEST_ALG_MD5, ha1, nonce, "00000001", cnonce, "auth", "GET",
		      "/dir/index.html", out);
	assert_string_equal(out, "8ca523f5e9506fed4657c9700eebdbec");
	digest_ha1(DIGEST_ALG_SHA256, "Mufasa", "http-auth@example.org", "Circle of Life", ha1);
	auth_response(DIGEST_ALG_SHA256, ha1, nonce, "00000001", cnonce, "auth", "GET",
		      "/dir/index.html", out);
	assert_string_equal(out,
			    "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

static const char *lookup(void *arg, const char *username, const char *domain, enum digest_alg alg)
{
	static char ha1[DIGEST_ALG_COUNT][DIGEST_HEX_MAX];

	(void)arg;
	if (strcmp(username, "alice") != 0 || strcmp(domain, "example.com") != 0)
		return NULL;
	digest_ha1(alg, "alice", "example.com", "s3cret", ha1[alg]);
	return ha1[alg];
}

/* Builds a REGISTER answering the first challenge in chal with password pw and algorithm alg. */
static struct sip_msg *answer(const char *chal, enum digest_alg alg, const char *pw)
{
	static char msg[2048];
	char ha1[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX], nonce[64];
	const char *n = strstr(chal, "nonce=\"");
	struct sip_error err;

	assert_non_null(n);
	n += 7;
	memcpy(nonce, n, 48);
	nonce[48] = '\0';
	digest_ha1(alg, "alice", "example.com", pw, ha1);
	auth_response(alg, ha1, nonce, "00000001", "abcdef", "auth", "REGISTER", "sip:example.com",
		      resp);
	snprintf(msg, sizeof(msg),
		 "REGISTER sip:example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.168.1.10;branch=z9hG4bK1\r\n"
		 "From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n"
		 "Call-ID: a1\r\nCSeq: 2 REGISTER\r\nContact: <sip:alice@192.168.1.10>\r\n"
		 "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"%s\", "
		 "uri=\"sip:example.com\", response=\"%s\", algorithm=%s, qop=auth, nc=00000001, "
		 "cnonce=\"abcdef\"\r\nContent-Length: 0\r\n\r\n",
		 nonce, resp, digest_alg_name(alg));
	struct sip_msg *m = sipmsg_parse(msg, strlen(msg), SIP_TRANSPORT_UDP, &err);

	if (m == NULL)
		fail_msg("%s", err.reason);
	return m;
}

static void test_flow(void **state)
{
	static const enum digest_alg algs[] = {DIGEST_ALG_SHA256, DIGEST_ALG_MD5};
	struct auth_cfg cfg = {.realm = "example.com",
			       .algs = algs,
			       .alg_count = 2,
			       .nonce_ttl_s = 60,
			       .ha1 = lookup};
	struct auth *a = auth_new(&cfg);
	struct addr_ip src, other;
	char chal[1024], user[64];
	struct sip_msg *m;

	(void)state;
	assert_non_null(a);
	assert_true(addr_parse("203.0.113.9", 11, &src));
	assert_true(addr_parse("203.0.113.10", 12, &other));
	int n = auth_challenge(a, false, false, 1000, &src, chal, sizeof(chal));

	assert_true(n > 0);
	/* RFC 8760 §2.4: SHA-256 offered first, then MD5. */
	assert_non_null(strstr(chal, "WWW-Authenticate: Digest realm=\"example.com\""));
	assert_true(strstr(chal, "algorithm=SHA-256") < strstr(chal, "algorithm=MD5"));
	assert_int_equal(auth_challenge(a, true, true, 1000, &src, chal + 512, 20), -ENOSPC);

	for (int alg = 0; alg < DIGEST_ALG_COUNT; alg++) {
		m = answer(chal, (enum digest_alg)alg, "s3cret");
		assert_int_equal(
			auth_verify(a, m, false, "example.com", 1010, &src, user, sizeof(user)),
			AUTH_OK);
		assert_string_equal(user, "alice");
		/* The nonce was issued to another address: refused. */
		assert_int_equal(auth_verify(a, m, false, "example.com", 1010, &other, NULL, 0),
				 AUTH_FAILED);
		/* Too old: stale, so the UA retries without asking the user. */
		assert_int_equal(auth_verify(a, m, false, "example.com", 1100, &src, NULL, 0),
				 AUTH_STALE);
		/* The user is not in that domain. */
		assert_int_equal(auth_verify(a, m, false, "example.net", 1010, &src, NULL, 0),
				 AUTH_FAILED);
		/* Looked for as proxy credentials: none. */
		assert_int_equal(auth_verify(a, m, true, "example.com", 1010, &src, NULL, 0),
				 AUTH_NO_CREDENTIALS);
		sipmsg_free(m);
		m = answer(chal, (enum digest_alg)alg, "guess");
		assert_int_equal(auth_verify(a, m, false, "example.com", 1010, &src, NULL, 0),
				 AUTH_FAILED);
		sipmsg_free(m);
	}
	/* A forged nonce (right shape, wrong MAC). */
	char forged[1024];

	snprintf(forged, sizeof(forged), "nonce=\"%016x%032x\"", 1000, 0);
	m = answer(forged, DIGEST_ALG_MD5, "s3cret");
	assert_int_equal(auth_verify(a, m, false, "example.com", 1010, &src, NULL, 0), AUTH_FAILED);
	sipmsg_free(m);
	auth_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_flow),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
