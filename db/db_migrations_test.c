/* db_migrations_test: the compiled-in migrations match db/'s folders, and the policy schema's
 * constraints and config_version triggers behave as documented. argv[1] is the db/ folder. */
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

#include "db_migrations.h"

struct ctx {
	const char *srcdir;
	char tmpdir[64];
	char db_path[128];
	sqlite3 *db;
};

static void same_as_dir(const char *srcdir, const char *sub, const struct migrate_step *steps,
			size_t count)
{
	struct migrate_list list;
	char dir[512], err[512];

	snprintf(dir, sizeof(dir), "%s/%s", srcdir, sub);
	assert_int_equal(migrate_dir_load(dir, &list, err, sizeof(err)), 0);
	assert_int_equal(list.count, count);
	for (size_t i = 0; i < count; i++) {
		assert_int_equal(list.steps[i].version, steps[i].version);
		assert_string_equal(list.steps[i].name, steps[i].name);
		assert_string_equal(list.steps[i].sql, steps[i].sql);
	}
	migrate_list_free(&list);
}

static void test_embedded_match_folders(void **state)
{
	struct ctx *c = *state;

	same_as_dir(c->srcdir, "migrations", db_migrations_policy, db_migrations_policy_count);
	same_as_dir(c->srcdir, "regdb", db_migrations_regdb, db_migrations_regdb_count);
}

static int setup_db(void **state)
{
	struct ctx *c = *state;
	char err[512];

	strcpy(c->tmpdir, "/tmp/db_migrations_test.XXXXXX");
	if (mkdtemp(c->tmpdir) == NULL)
		return -1;
	snprintf(c->db_path, sizeof(c->db_path), "%s/policy.db", c->tmpdir);
	if (sqlite3_open(c->db_path, &c->db) != SQLITE_OK)
		return -1;
	sqlite3_exec(c->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	if (migrate_apply(c->db, db_migrations_policy, db_migrations_policy_count, NULL, NULL, err,
			  sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown_db(void **state)
{
	struct ctx *c = *state;

	sqlite3_close(c->db);
	c->db = NULL;
	unlink(c->db_path);
	return rmdir(c->tmpdir);
}

static bool ok(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

static long long one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_settings(void **state)
{
	struct ctx *c = *state;
	sqlite3 *db = c->db;

	/* Every known key starts at its default; nat.test_mask is 19 (Kamailio WITH_NAT). */
	assert_int_equal(one_int(db, "SELECT count(*) FROM settings"),
			 one_int(db, "SELECT count(*) FROM setting_keys"));
	assert_int_equal(one_int(db, "SELECT value FROM settings WHERE key = 'nat.test_mask'"), 19);
	assert_int_equal(one_int(db, "SELECT version FROM config_version"), 0);

	assert_true(ok(db, "UPDATE settings SET value = '255' WHERE key = 'nat.test_mask'"));
	assert_false(ok(db, "UPDATE settings SET value = '256' WHERE key = 'nat.test_mask'"));
	assert_false(ok(db, "UPDATE settings SET value = '-1' WHERE key = 'nat.test_mask'"));
	assert_false(ok(db, "UPDATE settings SET value = '1e3' WHERE key = 'ban.window'"));
	assert_false(ok(db, "UPDATE settings SET value = '' WHERE key = 'ban.window'"));
	assert_false(ok(db, "INSERT INTO settings VALUES ('no.such.key', '1')"));
	assert_true(ok(db, "UPDATE settings SET value = 'example.org' WHERE key = 'auth.realm'"));
	/* Two successful writes, two bumps; refused writes leave it alone. */
	assert_int_equal(one_int(db, "SELECT version FROM config_version"), 2);
}

static void test_users_trunks_routes(void **state)
{
	struct ctx *c = *state;
	sqlite3 *db = c->db;

	assert_true(ok(db, "INSERT INTO users (username, domain, realm, ha1_md5) VALUES "
			   "('alice', 'example.com', 'example.com', "
			   "'0123456789abcdef0123456789abcdef')"));
	/* No credentials, a password-like value, upper-case hex, duplicate: all refused. */
	assert_false(ok(db, "INSERT INTO users (username, domain, realm) VALUES "
			    "('bob', 'example.com', 'r')"));
	assert_false(ok(db, "INSERT INTO users (username, domain, realm, ha1_md5) VALUES "
			    "('bob', 'example.com', 'r', 'secret')"));
	assert_false(ok(db, "INSERT INTO users (username, domain, realm, ha1_md5) VALUES "
			    "('bob', 'example.com', 'r', '0123456789ABCDEF0123456789ABCDEF')"));
	assert_false(ok(db, "INSERT INTO users (username, domain, realm, ha1_md5) VALUES "
			    "('alice', 'example.com', 'r', '0123456789abcdef0123456789abcdef')"));
	assert_false(ok(db, "INSERT INTO users (username, domain, realm, ha1_md5) VALUES "
			    "('b ob', 'example.com', 'r', '0123456789abcdef0123456789abcdef')"));
	assert_false(ok(db, "INSERT INTO users (username, domain, realm, ha1_md5) VALUES "
			    "('bob', 'Example.com', 'r', '0123456789abcdef0123456789abcdef')"));

	assert_true(ok(db, "INSERT INTO trunks (name, address) VALUES ('carrier', '192.0.2.10')"));
	assert_false(ok(db, "INSERT INTO trunks (name, address) VALUES ('x', 'carrier.example')"));
	assert_false(
		ok(db, "INSERT INTO trunks (name, address, port) VALUES ('y', '192.0.2.1', 0)"));
	assert_false(ok(db, "INSERT INTO trunks (name, address, transport) VALUES "
			    "('z', '192.0.2.1', 'sctp')"));
	assert_true(ok(db, "INSERT INTO routes (prefix, trunk) VALUES ('+49', 'carrier')"));
	assert_true(ok(db, "INSERT INTO routes (prefix, trunk) VALUES ('', 'carrier')"));
	assert_false(ok(db, "INSERT INTO routes (prefix, trunk) VALUES ('1', 'nosuch')"));
	assert_false(ok(db, "INSERT INTO routes (prefix, trunk) VALUES ('abc', 'carrier')"));
	/* A trunk in use cannot go; a rename follows into its routes. */
	assert_false(ok(db, "DELETE FROM trunks WHERE name = 'carrier'"));
	assert_true(ok(db, "UPDATE trunks SET name = 'carrier2'"));
	assert_int_equal(one_int(db, "SELECT count(*) FROM routes WHERE trunk = 'carrier2'"), 2);

	assert_true(ok(db, "INSERT INTO trusted_networks (cidr) VALUES ('10.0.0.0/8')"));
	assert_false(ok(db, "INSERT INTO trusted_networks (cidr) VALUES ('ten/8')"));
	/* user, trunk, 2 routes, rename (trunk + 2 cascaded route updates), network. */
	assert_int_equal(one_int(db, "SELECT version FROM config_version"), 8);
}

static void test_default_seed(void **state)
{
	struct ctx *c = *state;
	char path[512];
	char *seed;
	FILE *f;
	long size;

	snprintf(path, sizeof(path), "%s/default.sql", c->srcdir);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	seed = calloc(1, (size_t)size + 1);
	assert_non_null(seed);
	assert_int_equal(fread(seed, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	/* Twice: the seed is made of upserts. */
	assert_true(ok(c->db, seed));
	assert_true(ok(c->db, seed));
	free(seed);
	assert_int_equal(one_int(c->db, "SELECT count(*) FROM users WHERE enabled"), 2);
	assert_int_equal(one_int(c->db, "SELECT count(*) FROM routes WHERE prefix = ''"), 1);
}

static void test_regdb_schema(void **state)
{
	struct ctx *c = *state;
	char err[512];

	(void)c;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(migrate_apply(db, db_migrations_regdb, db_migrations_regdb_count, NULL,
				       NULL, err, sizeof(err)),
			 (int)db_migrations_regdb_count);
	assert_true(ok(db, "INSERT INTO bindings (aor, contact, received_ip, received_port, "
			   "transport, expires, call_id, cseq, updated) VALUES ('sip:a@b', "
			   "'sip:a@10.0.0.1', '192.0.2.1', 5060, 'udp', 100, 'c', 1, 1)"));
	assert_false(ok(db,
			"INSERT INTO bindings (aor, contact, received_ip, received_port, "
			"transport, expires, call_id, cseq, updated) VALUES ('sip:a@b', "
			"'sip:a@10.0.0.2', '192.0.2.1', 5060, 'udp', 100, 'c', 2147483648, 1)"));
	sqlite3_close(db);
}

int main(int argc, char **argv)
{
	struct ctx c = {.srcdir = argc > 1 ? argv[1] : "db"};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_embedded_match_folders, &c),
		cmocka_unit_test_prestate_setup_teardown(test_settings, setup_db, teardown_db, &c),
		cmocka_unit_test_prestate_setup_teardown(test_users_trunks_routes, setup_db,
							 teardown_db, &c),
		cmocka_unit_test_prestate_setup_teardown(test_default_seed, setup_db, teardown_db,
							 &c),
		cmocka_unit_test_prestate(test_regdb_schema, &c),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
