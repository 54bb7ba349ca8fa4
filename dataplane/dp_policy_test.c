/* dp_policy_test: the media policy file: defaults, every key, and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "dp_policy.h"
#include "latch.h"

static int parse(const char *s, struct dp_policy *p, char *err)
{
	return dp_policy_parse(s, strlen(s), p, err, 256);
}

static void test_defaults_and_keys(void **state)
{
	struct dp_policy p;
	char err[256];

	(void)state;
	assert_int_equal(parse("{}", &p, err), 0);
	assert_int_equal(p.media_timeout_s, 60);
	assert_int_equal(p.delete_delay_s, 0);
	assert_int_equal(p.latch_flags, 0);
	assert_int_equal(parse("{\"media-timeout\": 0, \"delete-delay\": 30, \"latching\": "
			       "\"learn-any+rebind\", \"learn-window-ms\": 2000, "
			       "\"rebind-idle-ms\": 9000}",
			       &p, err),
			 0);
	assert_int_equal(p.media_timeout_s, 0);
	assert_int_equal(p.delete_delay_s, 30);
	assert_int_equal(p.latch_flags, LATCH_F_LEARN_ANY | LATCH_F_ALLOW_REBIND);
	assert_int_equal(p.learn_window_ms, 2000);
	assert_int_equal(p.rebind_idle_ms, 9000);
}

static void test_refusals(void **state)
{
	struct dp_policy p;
	char err[256];

	(void)state;
	p.media_timeout_s = 7;
	assert_int_equal(parse("{\"media-timout\": 5}", &p, err), -EINVAL);
	assert_non_null(strstr(err, "media-timout"));
	assert_int_equal(p.media_timeout_s, 7); /* untouched */
	assert_int_equal(parse("{\"media-timeout\": -1}", &p, err), -EINVAL);
	assert_int_equal(parse("{\"media-timeout\": \"60\"}", &p, err), -EINVAL);
	assert_int_equal(parse("{\"latching\": \"any\"}", &p, err), -EINVAL);
	assert_int_equal(parse("[1]", &p, err), -EINVAL);
	assert_int_equal(parse("{\"a\": ", &p, err), -EINVAL);
	assert_int_equal(parse("{\"delete-delay\": 1, \"delete-delay\": 2}", &p, err), -EINVAL);
	assert_int_equal(dp_policy_load("/nonexistent/policy.json", &p, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_keys),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
