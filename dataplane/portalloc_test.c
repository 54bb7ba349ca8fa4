/* portalloc_test: unit tests for relay port pairs, their RSS steering and our Toeplitz hash, checked
 * against DPDK's rte_softrss() (inline, no EAL needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include <rte_thash.h>

#include "portalloc.h"

/* DPDK's reference for the hash a NIC computes with RTE_ETH_RSS_L4_DST_ONLY: one 32-bit input word
 * whose top 16 bits are the destination port (rte_softrss reads words most significant bit
 * first), the rest zero, which hashes exactly the 2-byte port. */
static uint32_t dpdk_port_hash(const uint8_t *key, uint16_t port)
{
	/* rte_softrss() reads the key as 32-bit words: give it an aligned copy. */
	_Alignas(uint32_t) uint8_t k[PORTALLOC_RSS_KEY_LEN];
	uint32_t tuple = (uint32_t)port << 16;

	memcpy(k, key, sizeof(k));
	return rte_softrss(&tuple, 1, k);
}

static void test_toeplitz_spec_vectors(void **state)
{
	/* Microsoft RSS specification, "Verifying the RSS hash calculation", IPv4 rows: input is
	 * source address, destination address, source port, destination port, network order. */
	static const struct {
		uint8_t in[12];
		uint32_t l3, l4;
	} v[] = {
		{{66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6},
		 0x323e8fc2,
		 0x51ccc178},
		{{199, 92, 111, 2, 65, 69, 140, 83, 0x37, 0x96, 0x12, 0x83},
		 0xd718262a,
		 0xc626b0ea},
	};
	const uint8_t *k = portalloc_rss_key_default;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(portalloc_toeplitz(k, PORTALLOC_RSS_KEY_LEN, v[i].in, 8), v[i].l3);
		assert_int_equal(portalloc_toeplitz(k, PORTALLOC_RSS_KEY_LEN, v[i].in, 12),
				 v[i].l4);
	}
	/* Too short a key for the input. */
	assert_int_equal(portalloc_toeplitz(k, 5, v[0].in, 2), 0);
}

static void test_port_hash_matches_dpdk(void **state)
{
	uint8_t key[PORTALLOC_RSS_KEY_LEN];
	uint64_t s = 0x9e3779b97f4a7c15ULL;

	(void)state;
	for (uint32_t p = 0; p <= UINT16_MAX; p++)
		assert_int_equal(
			portalloc_port_hash(portalloc_rss_key_default, sizeof(key), (uint16_t)p),
			dpdk_port_hash(portalloc_rss_key_default, (uint16_t)p));
	/* An arbitrary key, and the pair-safe variant of it. */
	for (size_t i = 0; i < sizeof(key); i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		key[i] = (uint8_t)(s >> 56);
	}
	for (int round = 0; round < 2; round++) {
		for (uint32_t p = 0; p <= UINT16_MAX; p += 7)
			assert_int_equal(portalloc_port_hash(key, sizeof(key), (uint16_t)p),
					 dpdk_port_hash(key, (uint16_t)p));
		assert_int_equal(portalloc_rss_key_pairsafe(key, sizeof(key), 512), 0);
	}
}

static void test_single_worker(void **state)
{
	struct portalloc_cfg cfg = {.port_min = 30001, .port_max = 30010, .workers = 1};
	struct portalloc *pa = portalloc_new(&cfg);
	uint16_t port, got[8];

	(void)state;
	assert_non_null(pa);
	/* 30001 is odd, 30010 has no RTCP port in range: pairs 30002..30008. */
	assert_int_equal(portalloc_capacity(pa, 0), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(portalloc_get(pa, 0, 0, &got[i]), 0);
		assert_int_equal(got[i], 30002 + 2 * i);
		assert_int_equal(portalloc_worker_of(pa, got[i]), 0);
		assert_int_equal(portalloc_worker_of(pa, (uint16_t)(got[i] + 1)), 0);
	}
	assert_int_equal(portalloc_get(pa, 0, 0, &port), -ENOSPC);
	assert_int_equal(portalloc_available(pa, 0, 0), 0);
	assert_int_equal(portalloc_pick_worker(pa, 0), -ENOSPC);
	assert_int_equal(portalloc_get(pa, 0, 1, &port), -EINVAL);

	/* Freed pairs come back oldest first. */
	assert_int_equal(portalloc_put(pa, 0, 30006), 0);
	assert_int_equal(portalloc_put(pa, 0, 30002), 0);
	assert_int_equal(portalloc_pick_worker(pa, 0), 0);
	assert_int_equal(portalloc_get(pa, 0, 0, &port), 0);
	assert_int_equal(port, 30006);
	assert_int_equal(portalloc_put(pa, 0, 30006), 0);
	assert_int_equal(portalloc_get(pa, 0, 0, &port), 0);
	assert_int_equal(port, 30002);
	assert_int_equal(portalloc_get(pa, 0, 0, &port), 0);
	assert_int_equal(port, 30006);

	/* Double free, RTCP port, ports outside the range, a free pair. */
	assert_int_equal(portalloc_put(pa, 0, 30004), 0);
	assert_int_equal(portalloc_put(pa, 0, 30004), -EINVAL);
	assert_int_equal(portalloc_put(pa, 0, 30003), -EINVAL);
	assert_int_equal(portalloc_put(pa, 0, 30000), -EINVAL);
	assert_int_equal(portalloc_put(pa, 0, 30010), -EINVAL);
	assert_int_equal(portalloc_put(pa, 0, 0), -EINVAL);
	assert_int_equal(portalloc_worker_of(pa, 30001), -ENOENT);
	assert_int_equal(portalloc_worker_of(pa, 30010), -ENOENT);
	assert_int_equal(portalloc_worker_of(pa, 30009), 0);
	assert_int_equal(portalloc_available(pa, 0, 0), 1);
	portalloc_free(pa);
}

static void test_full_range_and_wrap(void **state)
{
	struct portalloc_cfg cfg = {.port_min = 1, .port_max = UINT16_MAX, .workers = 1};
	struct portalloc *pa = portalloc_new(&cfg);
	uint16_t port;

	(void)state;
	assert_non_null(pa);
	/* Pairs 2/3 .. 65534/65535. */
	assert_int_equal(portalloc_capacity(pa, 0), 32767);
	/* Cycle the FIFO ring more than once around. */
	for (int i = 0; i < 100000; i++) {
		assert_int_equal(portalloc_get(pa, 0, 0, &port), 0);
		assert_true(port >= 2 && port % 2 == 0);
		assert_int_equal(portalloc_put(pa, 0, port), 0);
	}
	assert_int_equal(portalloc_available(pa, 0, 0), 32767);
	portalloc_free(pa);
}

static void test_bad_config(void **state)
{
	struct portalloc_cfg ok = {.port_min = 30000, .port_max = 30100, .workers = 1};
	struct portalloc_cfg cfg;
	uint8_t key[6] = {0};

	(void)state;
	cfg = ok;
	cfg.workers = 0;
	errno = 0;
	assert_null(portalloc_new(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.workers = PORTALLOC_MAX_WORKERS + 1;
	assert_null(portalloc_new(&cfg));
	cfg = ok;
	cfg.port_min = 0;
	assert_null(portalloc_new(&cfg));
	cfg = ok;
	cfg.port_min = 30101;
	assert_null(portalloc_new(&cfg));
	cfg = ok;
	cfg.port_min = cfg.port_max = 30000; /* no room for RTCP */
	assert_null(portalloc_new(&cfg));
	cfg = ok;
	cfg.port_min = cfg.port_max = UINT16_MAX;
	assert_null(portalloc_new(&cfg));
	cfg = ok;
	cfg.workers = 2;
	cfg.reta_size = 100;
	assert_null(portalloc_new(&cfg));
	cfg.reta_size = 128;
	cfg.rss_key = key;
	cfg.rss_key_len = 5;
	assert_null(portalloc_new(&cfg));

	cfg = ok;
	cfg.naddrs = PORTALLOC_MAX_ADDRS + 1;
	assert_null(portalloc_new(&cfg));

	assert_int_equal(portalloc_rss_key_pairsafe(key, 5, 128), -EINVAL);
	assert_int_equal(portalloc_rss_key_pairsafe(key, 6, 0), -EINVAL);
	assert_int_equal(portalloc_rss_key_pairsafe(key, 6, 96), -EINVAL);
	assert_int_equal(portalloc_rss_key_pairsafe(key, 6, 1u << 17), -EINVAL);
	assert_int_equal(portalloc_rss_key_pairsafe(key, 6, 1), 0);
}

/* With the default key and a round-robin RETA over 2^k queues, port p and p + 1 always hash to
 * different queues: no pair is usable, and the allocator refuses to start. */
static void test_default_key_splits_pairs(void **state)
{
	struct portalloc_cfg cfg = {
		.port_min = 10000, .port_max = 60000, .workers = 2, .reta_size = 128};
	uint16_t reta[128];

	(void)state;
	for (unsigned p = 10000; p < 60000; p += 2) {
		uint32_t a = portalloc_port_hash(portalloc_rss_key_default, PORTALLOC_RSS_KEY_LEN,
						 (uint16_t)p);
		uint32_t b = portalloc_port_hash(portalloc_rss_key_default, PORTALLOC_RSS_KEY_LEN,
						 (uint16_t)(p + 1));

		assert_int_not_equal(a % 2, b % 2);
	}
	errno = 0;
	assert_null(portalloc_new(&cfg));
	assert_int_equal(errno, EINVAL);
	/* A RETA that sends everything to queue 0 keeps every pair on worker 0. */
	memset(reta, 0, sizeof(reta));
	cfg.reta = reta;
	struct portalloc *pa = portalloc_new(&cfg);
	assert_non_null(pa);
	assert_int_equal(portalloc_capacity(pa, 0), 25000);
	assert_int_equal(portalloc_capacity(pa, 1), 0);
	portalloc_free(pa);
}

static void test_rss_steering(void **state)
{
	enum { WORKERS = 4, RETA = 128 };
	uint8_t key[PORTALLOC_RSS_KEY_LEN];
	struct portalloc_cfg cfg = {
		.port_min = 10000,
		.port_max = 59999,
		.workers = WORKERS,
		.rss_key = key,
		.rss_key_len = sizeof(key),
		.reta_size = RETA,
	};
	struct portalloc *pa;
	unsigned total = 0;
	uint16_t port;

	(void)state;
	memcpy(key, portalloc_rss_key_default, sizeof(key));
	assert_int_equal(portalloc_rss_key_pairsafe(key, sizeof(key), RETA), 0);
	pa = portalloc_new(&cfg);
	assert_non_null(pa);
	/* With the pair-safe key every pair is usable, spread about evenly over the workers. */
	for (unsigned w = 0; w < WORKERS; w++) {
		unsigned cap = portalloc_capacity(pa, w);

		assert_true(cap > 25000 / WORKERS * 8 / 10 && cap < 25000 / WORKERS * 12 / 10);
		total += cap;
	}
	assert_int_equal(total, 25000);

	/* Every port handed to w reaches w's queue as DPDK computes it, RTP and RTCP alike. */
	for (unsigned w = 0; w < WORKERS; w++) {
		while (portalloc_get(pa, 0, w, &port) == 0) {
			uint32_t h1 = dpdk_port_hash(key, port);
			uint32_t h2 = dpdk_port_hash(key, (uint16_t)(port + 1));

			assert_int_equal((h1 % RETA) % WORKERS, w);
			assert_int_equal((h2 % RETA) % WORKERS, w);
			assert_int_equal(portalloc_worker_of(pa, port), w);
			assert_int_equal(portalloc_worker_of(pa, (uint16_t)(port + 1)), w);
		}
		assert_int_equal(portalloc_available(pa, 0, w), 0);
	}
	assert_int_equal(portalloc_pick_worker(pa, 0), -ENOSPC);
	portalloc_free(pa);
}

static void test_custom_reta(void **state)
{
	enum { RETA = 64 };
	uint8_t key[PORTALLOC_RSS_KEY_LEN];
	uint16_t reta[RETA];
	struct portalloc_cfg cfg = {
		.port_min = 20000,
		.port_max = 29999,
		.workers = 2,
		.rss_key = key,
		.rss_key_len = sizeof(key),
		.reta = reta,
		.reta_size = RETA,
	};
	struct portalloc *pa;
	uint16_t port;
	int w;

	(void)state;
	memcpy(key, portalloc_rss_key_default, sizeof(key));
	assert_int_equal(portalloc_rss_key_pairsafe(key, sizeof(key), RETA), 0);
	/* Queues 0..3 in the table but only two workers: ports steered to queues 2 and 3 have no
	 * owner and are never handed out. */
	for (unsigned i = 0; i < RETA; i++)
		reta[i] = (uint16_t)(i % 4);
	pa = portalloc_new(&cfg);
	assert_non_null(pa);
	assert_true(portalloc_capacity(pa, 0) + portalloc_capacity(pa, 1) < 5000);
	for (unsigned p = 20000; p < 30000; p++) {
		uint16_t q = reta[dpdk_port_hash(key, (uint16_t)p) % RETA];

		w = portalloc_worker_of(pa, (uint16_t)p);
		if (q < 2)
			assert_int_equal(w, q);
		else
			assert_int_equal(w, -ENOENT);
	}
	w = portalloc_pick_worker(pa, 0);
	assert_true(w == 0 || w == 1);
	assert_int_equal(portalloc_get(pa, 0, (unsigned)w, &port), 0);
	assert_int_equal(reta[dpdk_port_hash(key, port) % RETA], w);
	portalloc_free(pa);
}

static void test_shuffled_order(void **state)
{
	struct portalloc_cfg cfg = {.port_min = 40000, .port_max = 40999, .workers = 1, .seed = 42};
	struct portalloc *pa = portalloc_new(&cfg);
	uint8_t seen[1000] = {0};
	unsigned ascending = 0, n = 0;
	uint16_t port, prev = 0;

	(void)state;
	assert_non_null(pa);
	while (portalloc_get(pa, 0, 0, &port) == 0) {
		assert_true(port >= 40000 && port <= 40998 && port % 2 == 0);
		assert_int_equal(seen[port - 40000], 0);
		seen[port - 40000] = 1;
		ascending += port > prev;
		prev = port;
		n++;
	}
	/* Every pair exactly once, not in port order. */
	assert_int_equal(n, 500);
	assert_true(ascending < 400);
	portalloc_free(pa);
}

/* Several media addresses: each has the whole range, pools per (address, worker), a pair is handed
 * out and freed per address, and the address with the most free pairs is picked (so calls go round
 * the addresses). */
static void test_addrs(void **state)
{
	enum { WORKERS = 2, RETA = 128, ADDRS = 7 };
	uint8_t key[PORTALLOC_RSS_KEY_LEN];
	struct portalloc_cfg cfg = {
		.port_min = 1024,
		.port_max = 65535,
		.workers = WORKERS,
		.naddrs = ADDRS,
		.rss_key = key,
		.rss_key_len = sizeof(key),
		.reta_size = RETA,
		.seed = 42,
	};
	struct portalloc *pa;
	uint16_t port, p0;
	unsigned total = 0, per_addr[ADDRS] = {0};

	(void)state;
	memcpy(key, portalloc_rss_key_default, sizeof(key));
	assert_int_equal(portalloc_rss_key_pairsafe(key, sizeof(key), RETA), 0);
	pa = portalloc_new(&cfg);
	assert_non_null(pa);
	assert_int_equal(portalloc_addrs(pa), ADDRS);
	assert_int_equal(portalloc_capacity(pa, 0) + portalloc_capacity(pa, 1), 32256);
	for (unsigned a = 0; a < ADDRS; a++)
		assert_int_equal(portalloc_addr_available(pa, a), 32256);
	assert_int_equal(portalloc_get(pa, ADDRS, 0, &port), -EINVAL);
	assert_int_equal(portalloc_put(pa, ADDRS, 30000), -EINVAL);
	assert_int_equal(portalloc_pick_worker(pa, ADDRS), -ENOSPC);
	assert_int_equal(portalloc_available(pa, ADDRS, 0), 0);
	assert_int_equal(portalloc_addr_available(pa, ADDRS), 0);

	/* The same port may be handed out on two addresses; freeing one leaves the other. */
	assert_int_equal(portalloc_get(pa, 3, 1, &p0), 0);
	assert_int_equal(portalloc_worker_of(pa, p0), 1);
	assert_int_equal(portalloc_addr_available(pa, 3), 32255);
	assert_int_equal(portalloc_put(pa, 2, p0), -EINVAL); /* not handed out on address 2 */
	assert_int_equal(portalloc_put(pa, 3, p0), 0);
	assert_int_equal(portalloc_put(pa, 3, p0), -EINVAL);

	/* Streams as control takes them: the address with most free pairs, then the worker with
	 * most free pairs there, two pairs each. 100 000 streams over 7 addresses. */
	for (unsigned i = 0; i < 100000; i++) {
		int a = portalloc_pick_addr(pa), w;

		assert_true(a >= 0);
		w = portalloc_pick_worker(pa, (unsigned)a);
		assert_true(w >= 0);
		assert_int_equal(portalloc_get(pa, (unsigned)a, (unsigned)w, &port), 0);
		assert_int_equal(portalloc_worker_of(pa, port), w);
		assert_int_equal(portalloc_get(pa, (unsigned)a, (unsigned)w, &port), 0);
		per_addr[a]++;
		total++;
	}
	/* Evenly spread: no address more than one stream ahead of another. */
	for (unsigned a = 1; a < ADDRS; a++)
		assert_true(per_addr[a] + 1 >= per_addr[0] && per_addr[0] + 1 >= per_addr[a]);
	assert_int_equal(total, 100000);
	/* Fill everything: 7 x 32256 pairs in all, then nothing is left anywhere. */
	for (unsigned a = 0; a < ADDRS; a++)
		for (unsigned w = 0; w < WORKERS; w++)
			while (portalloc_get(pa, a, w, &port) == 0)
				total++;
	assert_int_equal(portalloc_pick_addr(pa), -ENOSPC);
	assert_int_equal(total, 7u * 32256 - 100000);
	assert_int_equal(portalloc_put(pa, 6, 65534), 0);
	assert_int_equal(portalloc_pick_addr(pa), 6);
	portalloc_free(pa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_toeplitz_spec_vectors),
		cmocka_unit_test(test_port_hash_matches_dpdk),
		cmocka_unit_test(test_single_worker),
		cmocka_unit_test(test_full_range_and_wrap),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_default_key_splits_pairs),
		cmocka_unit_test(test_rss_steering),
		cmocka_unit_test(test_custom_reta),
		cmocka_unit_test(test_shuffled_order),
		cmocka_unit_test(test_addrs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
