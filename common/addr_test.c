/* addr_test: unit tests for address parsing and private/trusted classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "addr.h"

static bool is_private(const char *s)
{
	struct addr_ip ip;

	assert_true(addr_parse(s, strlen(s), &ip));
	return addr_is_private(&ip);
}

static void test_parse(void **state)
{
	struct addr_ip ip;
	char buf[ADDR_STRLEN];

	(void)state;
	assert_true(addr_parse("192.0.2.1", 9, &ip));
	assert_int_equal(ip.family, AF_INET);
	assert_string_equal(addr_format(&ip, buf, sizeof(buf)), "192.0.2.1");
	assert_true(addr_parse("[2001:db8::1]", 13, &ip));
	assert_int_equal(ip.family, AF_INET6);
	assert_string_equal(addr_format(&ip, buf, sizeof(buf)), "2001:db8::1");
	assert_true(addr_parse("2001:db8::1", 11, &ip));
	assert_false(addr_parse("192.0.2", 7, &ip));
	assert_false(addr_parse("192.0.2.256", 11, &ip));
	assert_false(addr_parse("example.com", 11, &ip));
	assert_false(addr_parse("[192.0.2.1]", 11, &ip));
	assert_false(addr_parse("", 0, &ip));
	assert_false(addr_parse("[]", 2, &ip));
	/* Length is honoured: the trailing ":5060" is not part of the address. */
	assert_true(addr_parse("10.1.2.3:5060", 8, &ip));
	assert_string_equal(addr_format(&ip, buf, sizeof(buf)), "10.1.2.3");
}

static void test_port_parse(void **state)
{
	struct addr_port ap;
	char buf[ADDR_STRLEN];

	(void)state;
	assert_int_equal(addr_port_parse("203.0.113.7:41234", &ap), 0);
	assert_int_equal(ap.port, 41234);
	assert_string_equal(addr_port_format(&ap, buf, sizeof(buf)), "203.0.113.7:41234");
	assert_int_equal(addr_port_parse("[2001:db8::7]:5060", &ap), 0);
	assert_string_equal(addr_port_format(&ap, buf, sizeof(buf)), "[2001:db8::7]:5060");
	assert_int_equal(addr_port_parse("203.0.113.7", &ap), -EINVAL);
	assert_int_equal(addr_port_parse("203.0.113.7:0", &ap), -EINVAL);
	assert_int_equal(addr_port_parse("203.0.113.7:65536", &ap), -EINVAL);
	assert_int_equal(addr_port_parse("203.0.113.7:12x", &ap), -EINVAL);
	assert_int_equal(addr_port_parse("2001:db8::7:5060", &ap), -EINVAL);
}

static void test_private(void **state)
{
	(void)state;
	assert_true(is_private("10.0.0.1"));
	assert_true(is_private("10.255.255.255"));
	assert_true(is_private("172.16.0.1"));
	assert_true(is_private("172.31.255.254"));
	assert_false(is_private("172.32.0.1"));
	assert_false(is_private("172.15.255.255"));
	assert_true(is_private("192.168.1.10"));
	assert_false(is_private("192.169.0.1"));
	assert_true(is_private("100.64.0.1"));
	assert_true(is_private("100.127.255.255"));
	assert_false(is_private("100.128.0.1"));
	assert_true(is_private("192.0.0.8"));
	assert_false(is_private("192.0.1.8"));
	assert_false(is_private("203.0.113.5"));
	assert_false(is_private("8.8.8.8"));
	assert_true(is_private("fd00::1"));
	assert_true(is_private("fc12:3456::1"));
	assert_false(is_private("fe80::1"));
	assert_false(is_private("2001:db8::1"));
}

static void test_set(void **state)
{
	struct addr_set set;
	struct addr_ip ip;

	(void)state;
	assert_int_equal(addr_set_parse("192.168.50.0/24, 10.1.0.0/16,,fd00:1::/32", &set), 0);
	assert_int_equal(set.count, 3);
	assert_true(addr_parse("192.168.50.77", 13, &ip));
	assert_true(addr_set_contains(&set, &ip));
	assert_true(addr_parse("192.168.51.77", 13, &ip));
	assert_false(addr_set_contains(&set, &ip));
	assert_true(addr_parse("fd00:1:2::3", 11, &ip));
	assert_true(addr_set_contains(&set, &ip));
	assert_int_equal(addr_set_parse("192.168.50.0/33", &set), -EINVAL);
	assert_int_equal(set.count, 3);
	assert_int_equal(addr_set_parse("bogus", &set), -EINVAL);
	assert_int_equal(addr_set_parse("10.0.0.0/", &set), -EINVAL);
	assert_int_equal(addr_set_parse("10.0.0.1", &set), 0);
	assert_int_equal(set.nets[0].prefix, 32);
	assert_false(addr_set_contains(NULL, &ip));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_port_parse),
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
