/* migrate_test: the migration runner on temporary databases and directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "migrate.h"

struct tmp {
	char dir[64];
	char db[128];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	strcpy(t->dir, "/tmp/migrate_test.XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return -1;
	}
	snprintf(t->db, sizeof(t->db), "%s/test.db", t->dir);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	return 0;
}

static sqlite3 *open_rw(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(
		sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
		SQLITE_OK);
	return db;
}

static unsigned int version_of(sqlite3 *db)
{
	unsigned int v = 12345;
	char err[256];

	assert_int_equal(migrate_version(db, &v, err, sizeof(err)), 0);
	return v;
}

static bool has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	bool found;

	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT 1 FROM sqlite_master WHERE type='table' AND "
					    "name=?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static const struct migrate_step two[] = {
	{1, "first", "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT NOT NULL);"},
	{2, "second",
	 "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));"
	 "INSERT INTO a (v) VALUES ('x');"},
};

struct events {
	int applying, applied, current;
	unsigned int last;
};

static void on_progress(void *arg, enum migrate_event ev, const struct migrate_step *step)
{
	struct events *e = arg;

	switch (ev) {
	case MIGRATE_EVENT_APPLYING:
		e->applying++;
		break;
	case MIGRATE_EVENT_APPLIED:
		e->applied++;
		break;
	case MIGRATE_EVENT_CURRENT:
		e->current++;
		break;
	}
	e->last = step->version;
}

static void test_apply_idempotent(void **state)
{
	struct tmp *t = *state;
	struct events ev = {0};
	char err[256] = "";
	sqlite3 *db = open_rw(t->db);

	assert_int_equal(version_of(db), 0);
	assert_int_equal(migrate_apply(db, two, 2, on_progress, &ev, err, sizeof(err)), 2);
	assert_int_equal(ev.applying, 2);
	assert_int_equal(ev.applied, 2);
	assert_int_equal(ev.last, 2);
	assert_int_equal(version_of(db), 2);
	assert_true(has_table(db, "a"));
	assert_true(has_table(db, "b"));

	/* Second run: nothing applied, every step reported current, data not duplicated. */
	memset(&ev, 0, sizeof(ev));
	assert_int_equal(migrate_apply(db, two, 2, on_progress, &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.applied, 0);
	assert_int_equal(ev.current, 2);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM a", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* A program that knows one step more applies only that one. */
	const struct migrate_step three[] = {two[0], two[1], {3, "third", "CREATE TABLE c (x);"}};
	db = open_rw(t->db);
	assert_int_equal(migrate_apply(db, three, 3, NULL, NULL, err, sizeof(err)), 1);
	assert_int_equal(version_of(db), 3);
	sqlite3_close(db);
}

static void test_newer_refused(void **state)
{
	struct tmp *t = *state;
	char err[512] = "";
	sqlite3 *db = open_rw(t->db);

	assert_int_equal(migrate_apply(db, two, 2, NULL, NULL, err, sizeof(err)), 2);
	assert_int_equal(migrate_apply(db, two, 1, NULL, NULL, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, "sbc-db migrate"));
	assert_int_equal(version_of(db), 2);
	sqlite3_close(db);
}

static void test_edited_refused(void **state)
{
	struct tmp *t = *state;
	char err[512] = "";
	sqlite3 *db = open_rw(t->db);
	const struct migrate_step edited[] = {
		{1, "first", "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);"},
		two[1],
	};
	const struct migrate_step renamed[] = {{1, "other", two[0].sql}, two[1]};

	assert_int_equal(migrate_apply(db, two, 1, NULL, NULL, err, sizeof(err)), 1);
	assert_int_equal(migrate_apply(db, edited, 2, NULL, NULL, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "never be edited"));
	assert_int_equal(migrate_apply(db, renamed, 2, NULL, NULL, err, sizeof(err)), -EPROTO);
	/* Refused before step 2 ran. */
	assert_false(has_table(db, "b"));
	assert_int_equal(version_of(db), 1);
	sqlite3_close(db);
}

static void test_failing_step_rolled_back(void **state)
{
	struct tmp *t = *state;
	char err[512] = "";
	sqlite3 *db = open_rw(t->db);
	const struct migrate_step bad[] = {
		two[0],
		{2, "broken", "CREATE TABLE b (x); INSERT INTO nosuch VALUES (1);"},
	};

	assert_int_equal(migrate_apply(db, bad, 2, NULL, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "0002_broken"));
	assert_non_null(strstr(err, "nosuch"));
	assert_int_equal(version_of(db), 1);
	assert_true(has_table(db, "a"));
	assert_false(has_table(db, "b"));
	/* The fixed list then applies step 2. */
	assert_int_equal(migrate_apply(db, two, 2, NULL, NULL, err, sizeof(err)), 1);
	sqlite3_close(db);
}

static void test_step_rules(void **state)
{
	struct tmp *t = *state;
	char err[512] = "";
	sqlite3 *db = open_rw(t->db);
	const struct migrate_step commits[] = {{1, "commits", "CREATE TABLE a (x); COMMIT;"}};
	const struct migrate_step fk[] = {
		{1, "parent", "CREATE TABLE p (id INTEGER PRIMARY KEY);"},
		{2, "orphan",
		 "CREATE TABLE c (p INTEGER REFERENCES p(id)); INSERT INTO c VALUES (7);"},
	};
	const struct migrate_step gap[] = {{1, "a", "SELECT 1;"}, {3, "c", "SELECT 1;"}};

	assert_int_equal(migrate_apply(db, gap, 2, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "expected version 0002"));
	assert_int_equal(migrate_apply(db, commits, 1, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "BEGIN/COMMIT"));
	sqlite3_close(db);
	unlink(t->db);

	db = open_rw(t->db);
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	assert_int_equal(migrate_apply(db, fk, 2, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "foreign key"));
	assert_int_equal(version_of(db), 1);
	/* The runner restores the connection's foreign key setting. */
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_readonly(void **state)
{
	struct tmp *t = *state;
	char err[512] = "";
	sqlite3 *db = open_rw(t->db);

	assert_int_equal(migrate_apply(db, two, 2, NULL, NULL, err, sizeof(err)), 2);
	sqlite3_close(db);
	assert_int_equal(sqlite3_open_v2(t->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(version_of(db), 2);
	assert_int_equal(migrate_apply(db, two, 2, NULL, NULL, err, sizeof(err)), -EROFS);
	sqlite3_close(db);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

static void test_dir_load(void **state)
{
	struct tmp *t = *state;
	struct migrate_list list = {0};
	char err[512] = "";

	write_file(t->dir, "0002_second.sql", "CREATE TABLE b (x);\n");
	write_file(t->dir, "0001_first.sql", "CREATE TABLE a (x);\n");
	write_file(t->dir, "README", "not a migration\n");
	assert_int_equal(migrate_dir_load(t->dir, &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, 2);
	assert_int_equal(list.steps[0].version, 1);
	assert_string_equal(list.steps[0].name, "first");
	assert_string_equal(list.steps[1].name, "second");
	assert_string_equal(list.steps[1].sql, "CREATE TABLE b (x);\n");

	sqlite3 *db = open_rw(t->db);
	assert_int_equal(migrate_apply(db, list.steps, list.count, NULL, NULL, err, sizeof(err)),
			 2);
	sqlite3_close(db);
	migrate_list_free(&list);
	assert_int_equal(list.count, 0);

	write_file(t->dir, "0004_fourth.sql", "SELECT 1;\n");
	assert_int_equal(migrate_dir_load(t->dir, &list, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0003 is missing"));
	remove_file(t->dir, "0004_fourth.sql");

	write_file(t->dir, "0002_again.sql", "SELECT 1;\n");
	assert_int_equal(migrate_dir_load(t->dir, &list, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "two migrations numbered 0002"));
	remove_file(t->dir, "0002_again.sql");

	write_file(t->dir, "3_Bad-Name.sql", "SELECT 1;\n");
	assert_int_equal(migrate_dir_load(t->dir, &list, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "3_Bad-Name.sql"));
	remove_file(t->dir, "3_Bad-Name.sql");

	assert_int_equal(migrate_dir_load("/nonexistent/dir", &list, err, sizeof(err)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edited_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_step_rolled_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
