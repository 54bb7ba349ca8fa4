/* ratelimit_test: unit tests for per-source token buckets, the bounded table and its eviction, and
 * bans after failed authentications, on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ratelimit.h"

static struct addr_ip ip(const char *s)
{
	struct addr_ip a;

	assert_true(addr_parse(s, strlen(s), &a));
	return a;
}

static void test_bucket(void **state)
{
	struct ratelimit_config cfg;
	struct ratelimit *rl;
	struct addr_ip a = ip("203.0.113.5"), b = ip("2001:db8::5");
	struct ratelimit_stats s;
	int n = 0;

	(void)state;
	ratelimit_config_default(&cfg);
	cfg.rate_per_s = 2;
	cfg.burst = 3;
	rl = ratelimit_new(&cfg);
	assert_non_null(rl);
	/* A burst of 3, then nothing until tokens come back at 2 per second. */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_allow(rl, &a, 1000));
	assert_false(ratelimit_allow(rl, &a, 1000));
	assert_false(ratelimit_allow(rl, &a, 1499));
	assert_true(ratelimit_allow(rl, &a, 1500));
	assert_false(ratelimit_allow(rl, &a, 1500));
	/* Another source (IPv6 too) has its own bucket. */
	assert_true(ratelimit_allow(rl, &b, 1500));
	/* A long pause refills up to the burst, no more. */
	for (int i = 0; i < 10; i++)
		n += ratelimit_allow(rl, &a, 60000);
	assert_int_equal(n, 3);
	/* Sustained: over 10 s at one message per 100 ms, 20 pass (plus what the bucket held). */
	n = 0;
	for (uint64_t t = 100000; t < 110000; t += 100)
		n += ratelimit_allow(rl, &a, t);
	assert_int_equal(n, 3 + 20 - 1);
	ratelimit_stats_get(rl, &s);
	assert_int_equal(s.sources, 2);
	assert_int_equal(s.allowed + s.limited, 3 + 3 + 1 + 1 + 10 + 100);
	ratelimit_free(rl);
}

static void test_unlimited_and_exempt(void **state)
{
	struct ratelimit_config cfg;
	struct ratelimit *rl;
	struct addr_ip trunk = ip("198.51.100.7"), other = ip("198.51.100.8");

	(void)state;
	ratelimit_config_default(&cfg);
	cfg.burst = 1;
	assert_int_equal(addr_set_parse("198.51.100.7/32", &cfg.exempt), 0);
	rl = ratelimit_new(&cfg);
	for (int i = 0; i < 1000; i++)
		assert_true(ratelimit_allow(rl, &trunk, 5));
	assert_true(ratelimit_allow(rl, &other, 5));
	assert_false(ratelimit_allow(rl, &other, 5));
	/* An exempt source is never banned either. */
	for (int i = 0; i < 100; i++)
		assert_false(ratelimit_auth_failed(rl, &trunk, 5));
	assert_false(ratelimit_banned(rl, &trunk, 5));
	/* Rate 0 switches limiting off. */
	cfg.rate_per_s = 0;
	assert_int_equal(ratelimit_reconfigure(rl, &cfg), 0);
	for (int i = 0; i < 100; i++)
		assert_true(ratelimit_allow(rl, &other, 6));
	ratelimit_free(rl);
	cfg.max_sources = 0;
	assert_null(ratelimit_new(&cfg));
	assert_int_equal(errno, EINVAL);
}

static void test_ban(void **state)
{
	struct ratelimit_config cfg;
	struct ratelimit *rl;
	struct addr_ip a = ip("203.0.113.9");
	struct ratelimit_stats s;

	(void)state;
	ratelimit_config_default(&cfg);
	cfg.auth_fail_max = 3;
	cfg.auth_fail_window_ms = 1000;
	cfg.ban_ms = 60000;
	rl = ratelimit_new(&cfg);
	/* Failures spread wider than the window never ban. */
	for (uint64_t t = 0; t < 10000; t += 600)
		assert_false(ratelimit_auth_failed(rl, &a, t));
	/* A success clears the count. */
	assert_false(ratelimit_auth_failed(rl, &a, 20000));
	assert_false(ratelimit_auth_failed(rl, &a, 20001));
	ratelimit_auth_ok(rl, &a);
	assert_false(ratelimit_auth_failed(rl, &a, 20002));
	assert_false(ratelimit_auth_failed(rl, &a, 20003));
	/* The third failure within a second bans for ban_ms. */
	assert_true(ratelimit_auth_failed(rl, &a, 20004));
	assert_true(ratelimit_banned(rl, &a, 20004));
	assert_false(ratelimit_allow(rl, &a, 20005));
	assert_false(ratelimit_allow(rl, &a, 80003));
	assert_true(ratelimit_allow(rl, &a, 80004));
	assert_false(ratelimit_banned(rl, &a, 80004));
	/* After a ban the count starts over. */
	assert_false(ratelimit_auth_failed(rl, &a, 80005));
	assert_false(ratelimit_auth_failed(rl, &a, 80006));
	assert_true(ratelimit_auth_failed(rl, &a, 80007));
	/* An operator can lift it. */
	assert_int_equal(ratelimit_unban(rl, &a), 0);
	assert_true(ratelimit_allow(rl, &a, 80008));
	assert_int_equal(ratelimit_unban(rl, &a), -ENOENT);
	ratelimit_stats_get(rl, &s);
	assert_int_equal(s.bans, 2);
	assert_int_equal(s.banned_drops, 2);
	/* auth_fail_max 0: bans off. */
	cfg.auth_fail_max = 0;
	assert_int_equal(ratelimit_reconfigure(rl, &cfg), 0);
	for (int i = 0; i < 10; i++)
		assert_false(ratelimit_auth_failed(rl, &a, 90000));
	ratelimit_free(rl);
}

static void test_eviction(void **state)
{
	struct ratelimit_config cfg;
	struct ratelimit *rl;
	struct addr_ip guesser = ip("192.0.2.66");
	struct ratelimit_stats s;
	char buf[32];

	(void)state;
	ratelimit_config_default(&cfg);
	cfg.max_sources = 4;
	cfg.burst = 1;
	cfg.auth_fail_max = 1;
	rl = ratelimit_new(&cfg);
	assert_true(ratelimit_auth_failed(rl, &guesser, 0));
	/* A spray from many addresses fills the table over and over... */
	for (int i = 1; i <= 200; i++) {
		snprintf(buf, sizeof(buf), "10.0.%d.%d", i / 256, i % 256);
		struct addr_ip a = ip(buf);

		assert_true(ratelimit_allow(rl, &a, 1));
	}
	ratelimit_stats_get(rl, &s);
	assert_int_equal(s.sources, 4);
	assert_int_equal(s.evictions, 200 - 3);
	/* ...but the banned guesser stays banned. */
	assert_true(ratelimit_banned(rl, &guesser, 2));
	/* The most recent sources are still tracked: their buckets are empty. */
	struct addr_ip last = ip("10.0.0.200");

	assert_false(ratelimit_allow(rl, &last, 1));
	/* An evicted source comes back with a full bucket. */
	struct addr_ip first = ip("10.0.0.1");

	assert_true(ratelimit_allow(rl, &first, 1));
	/* Shrinking the bound evicts the least recently seen. */
	cfg.max_sources = 2;
	assert_int_equal(ratelimit_reconfigure(rl, &cfg), 0);
	ratelimit_stats_get(rl, &s);
	assert_int_equal(s.sources, 2);
	assert_false(ratelimit_allow(rl, &first, 1));
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_unlimited_and_exempt),
		cmocka_unit_test(test_ban),
		cmocka_unit_test(test_eviction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
