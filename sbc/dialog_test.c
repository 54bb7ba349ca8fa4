/* dialog_test: dialog matching by Call-ID and tags in either order, retransmissions, removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dialog.h"

static void test_match(void **state)
{
	struct dialog_table *t = dialog_table_new();

	(void)state;
	assert_non_null(t);
	assert_int_equal(dialog_add(t, "c1@host", 7, "ft", "tt", "alice@a", "bob@b", 1000), 0);
	/* A 2xx retransmission does not make a second dialog. */
	assert_int_equal(dialog_add(t, "c1@host", 7, "ft", "tt", "alice@a", "bob@b", 1500), 0);
	assert_int_equal(dialog_count(t), 1);
	/* Forked 2xx from another branch: same Call-ID, another To tag, another dialog. */
	assert_int_equal(dialog_add(t, "c1@host", 7, "ft", "tt2", "alice@a", "bob@b", 1600), 0);
	assert_int_equal(dialog_count(t), 2);
	/* A BYE from the callee carries the tags the other way round. */
	struct dialog *d = dialog_find(t, "c1@host", 7, "tt", "ft");

	assert_non_null(d);
	assert_string_equal(d->to_tag, "tt");
	assert_null(dialog_find(t, "c1@host", 7, "ft", "nope"));
	assert_null(dialog_find(t, "c1@hos", 6, "ft", "tt"));
	json_t *dump = dialog_dump(t, 4000);

	assert_int_equal(json_array_size(dump), 2);
	json_decref(dump);
	/* Held calls past their deadline are collected by the sweep; others are not. */
	struct dialog *due[4];

	assert_int_equal(dialog_collect_due(t, 5000, due, 4), 0);
	d->hold_deadline_ms = 4500;
	assert_int_equal(dialog_collect_due(t, 4000, due, 4), 0);
	assert_int_equal(dialog_collect_due(t, 5000, due, 4), 1);
	assert_ptr_equal(due[0], d);
	/* So are dialogs past their expiry. */
	struct dialog *d2 = dialog_find(t, "c1@host", 7, "tt2", "ft");

	assert_non_null(d2);
	d2->expire_ms = 6000;
	assert_int_equal(dialog_collect_due(t, 5999, due, 4), 1);
	assert_int_equal(dialog_collect_due(t, 6000, due, 4), 2);
	d2->expire_ms = 0;
	dialog_remove(t, d);
	assert_int_equal(dialog_count(t), 1);
	assert_null(dialog_find(t, "c1@host", 7, "ft", "tt"));
	assert_non_null(dialog_find(t, "c1@host", 7, "tt2", "ft"));
	dialog_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
