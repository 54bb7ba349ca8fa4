/* sbc-db: command-line tool that migrates the SQLite databases, loads a policy seed and adds
 * users (as HA1 values) until the management plane exists; tests and the demo use it. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db_migrations.h"
#include "digest.h"
#include "migrate.h"

#ifndef SBC_VERSION
#define SBC_VERSION "dev"
#endif

/* How long a command waits for another writer (sbc-mgmt, sbc-sip) before giving up. */
#define DB_BUSY_TIMEOUT_MS 5000

struct schema {
	const char *name;
	const struct migrate_step *steps;
	size_t count;
};

struct opts {
	const char *migrations_dir; /* NULL: compiled-in list */
	const char *schema;	    /* "policy" or "regdb" */
	const char *realm;	    /* user add: NULL = the auth.realm setting */
	bool disabled;		    /* user add */
	bool check;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sbc-db [options] COMMAND ...\n"
		"\n"
		"commands:\n"
		"  migrate DB                     create DB or bring its schema up to date\n"
		"  load DB SEED.sql               run a policy seed in one transaction and bump\n"
		"                                 config_version (e.g. db/default.sql)\n"
		"  user add DB USER@DOMAIN PASSWORD [--realm R] [--disabled]\n"
		"                                 add or update a user; stores only HA1 (MD5 and\n"
		"                                 SHA-256) of USER:R:PASSWORD; PASSWORD '-' reads "
		"one\n"
		"                                 line from standard input\n"
		"  user del DB USER@DOMAIN        remove a user\n"
		"  user list DB                   users with realm, state and stored algorithms\n"
		"  status DB                      schema version, config_version and contents\n"
		"\n"
		"options:\n"
		"  --schema policy|regdb          which database (default policy; regdb is the\n"
		"                                 registrations database sbc-sip owns)\n"
		"  --migrations DIR               read NNNN_name.sql files from DIR instead of "
		"the\n"
		"                                 compiled-in migrations\n"
		"  --realm R                      realm for user add (default: setting "
		"auth.realm)\n"
		"  --disabled                     user add: store the user disabled\n"
		"  --check [DB]                   check the migrations (and DB: schema current,\n"
		"                                 integrity, foreign keys) and exit\n"
		"  --help, --version\n");
}

static int load_schema(const struct opts *o, struct schema *s, struct migrate_list *dir_list)
{
	char err[512];

	if (strcmp(o->schema, "policy") == 0) {
		*s = (struct schema){"policy", db_migrations_policy, db_migrations_policy_count};
	} else if (strcmp(o->schema, "regdb") == 0) {
		*s = (struct schema){"regdb", db_migrations_regdb, db_migrations_regdb_count};
	} else {
		fprintf(stderr, "sbc-db: unknown schema '%s' (policy or regdb)\n", o->schema);
		return -EINVAL;
	}
	if (o->migrations_dir) {
		int rc = migrate_dir_load(o->migrations_dir, dir_list, err, sizeof(err));

		if (rc < 0) {
			fprintf(stderr, "sbc-db: %s\n", err);
			return rc;
		}
		s->steps = dir_list->steps;
		s->count = dir_list->count;
	}
	if (migrate_list_check(s->steps, s->count, err, sizeof(err)) < 0) {
		fprintf(stderr, "sbc-db: %s migrations: %s\n", s->name, err);
		return -EINVAL;
	}
	return 0;
}

static sqlite3 *open_db(const char *path, int flags)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);

	if (rc != SQLITE_OK) {
		fprintf(stderr, "sbc-db: %s: %s\n", path,
			db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, DB_BUSY_TIMEOUT_MS);
	sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	/* Keep the -wal and -shm files when the last writer closes: a reader that opens the database
	 * read-only (sbc-sip) and cannot write its directory can then still read it. */
	int persist = 1;
	sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	return db;
}

/* Opens an existing database whose schema must be exactly the one this tool knows. */
static sqlite3 *open_current(const char *path, const struct schema *s, int flags)
{
	unsigned int version;
	char err[512];
	sqlite3 *db = open_db(path, flags);

	if (db == NULL)
		return NULL;
	if (migrate_version(db, &version, err, sizeof(err)) < 0) {
		fprintf(stderr, "sbc-db: %s: %s\n", path, err);
		goto fail;
	}
	if (version < s->count) {
		fprintf(stderr,
			"sbc-db: %s: schema version %u, this tool knows %zu: run `sbc-db%s migrate "
			"%s` first\n",
			path, version, s->count, strcmp(s->name, "policy") ? " --schema regdb" : "",
			path);
		goto fail;
	}
	if (version > s->count) {
		fprintf(stderr,
			"sbc-db: %s: schema version %u is newer than this tool knows (%zu): use a "
			"newer sbc-db\n",
			path, version, s->count);
		goto fail;
	}
	return db;
fail:
	sqlite3_close(db);
	return NULL;
}

static void on_progress(void *arg, enum migrate_event ev, const struct migrate_step *step)
{
	const char *path = arg;

	switch (ev) {
	case MIGRATE_EVENT_APPLYING:
		printf("%s: applying %04u_%s ...\n", path, step->version, step->name);
		break;
	case MIGRATE_EVENT_APPLIED:
		printf("%s: applied %04u_%s\n", path, step->version, step->name);
		break;
	case MIGRATE_EVENT_CURRENT:
		break;
	}
}

static int cmd_migrate(const struct schema *s, const char *path)
{
	char err[512];
	sqlite3 *db = open_db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	int rc;

	if (db == NULL)
		return 1;
	/* ARCHITECTURE.md: WAL, so that readers (sbc-sip's reload) never block the writer. */
	sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	rc = migrate_apply(db, s->steps, s->count, on_progress, (void *)path, err, sizeof(err));
	sqlite3_close(db);
	if (rc < 0) {
		fprintf(stderr, "sbc-db: %s: %s\n", path, err);
		return 1;
	}
	printf("%s: %s schema at version %zu (%d migration%s applied)\n", path, s->name, s->count,
	       rc, rc == 1 ? "" : "s");
	return 0;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "sbc-db: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *n = realloc(buf, cap + 65536);

			if (n == NULL) {
				fprintf(stderr, "sbc-db: out of memory\n");
				goto fail;
			}
			buf = n;
			cap += 65536;
		}
		size_t got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "sbc-db: %s: read error\n", path);
		goto fail;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

static int exec_or_report(sqlite3 *db, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "sbc-db: %s: %s\n", what, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static long long query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int cmd_load(const struct schema *s, const char *path, const char *seed_path)
{
	sqlite3 *db;
	char *seed;
	long long before, after;
	int ret = 1;

	if (strcmp(s->name, "policy") != 0) {
		fprintf(stderr, "sbc-db: load is for the policy database only\n");
		return 1;
	}
	seed = read_text(seed_path);
	if (seed == NULL)
		return 1;
	db = open_current(path, s, SQLITE_OPEN_READWRITE);
	if (db == NULL)
		goto out;
	if (exec_or_report(db, "BEGIN IMMEDIATE", path) < 0)
		goto out;
	before = query_int(db, "SELECT version FROM config_version");
	if (exec_or_report(db, seed, seed_path) < 0)
		goto rollback;
	if (sqlite3_get_autocommit(db)) {
		fprintf(stderr,
			"sbc-db: %s: a seed must not contain BEGIN/COMMIT (sbc-db wraps it in one "
			"transaction); part of it may have been committed\n",
			seed_path);
		goto out;
	}
	/* One bump for the load itself, so that even a seed that changed nothing is seen. */
	if (exec_or_report(db,
			   "UPDATE config_version SET version = version + 1, updated_at = "
			   "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
			   "config_version") < 0)
		goto rollback;
	after = query_int(db, "SELECT version FROM config_version");
	if (exec_or_report(db, "COMMIT", path) < 0)
		goto rollback;
	printf("%s: loaded %s, config_version %lld -> %lld\n", path, seed_path, before, after);
	ret = 0;
	goto out;
rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	fprintf(stderr, "sbc-db: %s: nothing loaded (rolled back)\n", path);
out:
	sqlite3_close(db);
	free(seed);
	return ret;
}

/* Splits "user@domain" at the last '@' (a username may not contain one, but be lenient with
 * what follows); lowercases the domain, since hosts compare case-insensitively (RFC 3261
 * §19.1.4). */
static int split_aor(const char *aor, char *user, size_t ulen, char *domain, size_t dlen)
{
	const char *at = strrchr(aor, '@');

	if (strncmp(aor, "sip:", 4) == 0)
		aor += 4;
	if (at == NULL || at == aor || at[1] == '\0' || (size_t)(at - aor) >= ulen ||
	    strlen(at + 1) >= dlen) {
		fprintf(stderr, "sbc-db: '%s' is not USER@DOMAIN\n", aor);
		return -EINVAL;
	}
	memcpy(user, aor, (size_t)(at - aor));
	user[at - aor] = '\0';
	for (size_t i = 0; at[1 + i] != '\0'; i++)
		domain[i] = (char)tolower((unsigned char)at[1 + i]);
	domain[strlen(at + 1)] = '\0';
	return 0;
}

static int read_password(char *buf, size_t len)
{
	if (fgets(buf, (int)len, stdin) == NULL) {
		fprintf(stderr, "sbc-db: no password on standard input\n");
		return -EINVAL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static int cmd_user_add(const struct schema *s, const struct opts *o, const char *path,
			const char *aor, const char *password_arg)
{
	char user[128], domain[256], realm[256], password[256];
	char ha1_md5[DIGEST_HEX_MAX], ha1_sha256[DIGEST_HEX_MAX];
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	long long existed;
	int ret = 1;

	if (split_aor(aor, user, sizeof(user), domain, sizeof(domain)) < 0)
		return 1;
	if (strcmp(password_arg, "-") == 0) {
		if (read_password(password, sizeof(password)) < 0)
			return 1;
	} else if (snprintf(password, sizeof(password), "%s", password_arg) >=
		   (int)sizeof(password)) {
		fprintf(stderr, "sbc-db: password too long\n");
		return 1;
	}
	if (password[0] == '\0') {
		fprintf(stderr, "sbc-db: empty password\n");
		return 1;
	}
	db = open_current(path, s, SQLITE_OPEN_READWRITE);
	if (db == NULL)
		goto out;
	if (o->realm) {
		snprintf(realm, sizeof(realm), "%s", o->realm);
	} else {
		if (sqlite3_prepare_v2(db, "SELECT value FROM settings WHERE key = 'auth.realm'",
				       -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_ROW) {
			fprintf(stderr, "sbc-db: %s: no auth.realm setting; give --realm\n", path);
			goto out;
		}
		snprintf(realm, sizeof(realm), "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		st = NULL;
	}
	digest_ha1(DIGEST_ALG_MD5, user, realm, password, ha1_md5);
	digest_ha1(DIGEST_ALG_SHA256, user, realm, password, ha1_sha256);
	memset(password, 0, sizeof(password));

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM users WHERE username = ?1 AND domain = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto db_error;
	existed = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;

	if (sqlite3_prepare_v2(
		    db,
		    "INSERT INTO users (username, domain, realm, enabled, ha1_md5, "
		    "ha1_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
		    "ON CONFLICT (username, domain) DO UPDATE SET realm = excluded.realm, "
		    "enabled = excluded.enabled, ha1_md5 = excluded.ha1_md5, "
		    "ha1_sha256 = excluded.ha1_sha256",
		    -1, &st, NULL) != SQLITE_OK)
		goto db_error;
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, realm, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, o->disabled ? 0 : 1);
	sqlite3_bind_text(st, 5, ha1_md5, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, ha1_sha256, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto db_error;
	printf("%s: %s user %s@%s (realm %s%s)\n", path, existed ? "updated" : "added", user,
	       domain, realm, o->disabled ? ", disabled" : "");
	ret = 0;
	goto out;
db_error:
	fprintf(stderr, "sbc-db: %s: %s\n", path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

static int cmd_user_del(const struct schema *s, const char *path, const char *aor)
{
	char user[128], domain[256];
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int ret = 1;

	if (split_aor(aor, user, sizeof(user), domain, sizeof(domain)) < 0)
		return 1;
	db = open_current(path, s, SQLITE_OPEN_READWRITE);
	if (db == NULL)
		return 1;
	if (sqlite3_prepare_v2(db, "DELETE FROM users WHERE username = ?1 AND domain = ?2", -1, &st,
			       NULL) != SQLITE_OK) {
		fprintf(stderr, "sbc-db: %s: %s\n", path, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		fprintf(stderr, "sbc-db: %s: %s\n", path, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_changes(db) == 0) {
		fprintf(stderr, "sbc-db: %s: no user %s@%s\n", path, user, domain);
		goto out;
	}
	printf("%s: removed user %s@%s\n", path, user, domain);
	ret = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

static int cmd_user_list(const struct schema *s, const char *path)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = open_current(path, s, SQLITE_OPEN_READONLY);
	int ret = 0;

	if (db == NULL)
		return 1;
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT username || '@' || domain || ' realm=' || realm || "
		    "CASE WHEN enabled THEN '' ELSE ' disabled' END || ' ha1=' || "
		    "trim(CASE WHEN ha1_sha256 IS NOT NULL THEN 'SHA-256,' ELSE '' END || "
		    "CASE WHEN ha1_md5 IS NOT NULL THEN 'MD5' ELSE '' END, ',') "
		    "FROM users ORDER BY domain, username",
		    -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "sbc-db: %s: %s\n", path, sqlite3_errmsg(db));
		ret = 1;
	} else {
		while (sqlite3_step(st) == SQLITE_ROW)
			printf("%s\n", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return ret;
}

static void print_rows(sqlite3 *db, const char *title, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return;
	printf("%s:\n", title);
	while (sqlite3_step(st) == SQLITE_ROW)
		printf("  %s\n", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static int cmd_status(const struct schema *s, const char *path)
{
	sqlite3 *db = open_current(path, s, SQLITE_OPEN_READONLY);

	if (db == NULL)
		return 1;
	printf("database: %s\nschema: %s version %zu (current)\n", path, s->name, s->count);
	if (strcmp(s->name, "regdb") == 0) {
		printf("bindings: %lld (expired, not yet removed: %lld)\n",
		       query_int(db, "SELECT count(*) FROM bindings"),
		       query_int(db, "SELECT count(*) FROM bindings WHERE expires <= "
				     "CAST(strftime('%s', 'now') AS INTEGER)"));
		printf("addresses-of-record: %lld\n",
		       query_int(db, "SELECT count(DISTINCT aor) FROM bindings"));
		sqlite3_close(db);
		return 0;
	}
	printf("config_version: %lld\n", query_int(db, "SELECT version FROM config_version"));
	printf("users: %lld (%lld enabled)\n", query_int(db, "SELECT count(*) FROM users"),
	       query_int(db, "SELECT count(*) FROM users WHERE enabled"));
	printf("trunks: %lld, routes: %lld, trusted networks: %lld\n",
	       query_int(db, "SELECT count(*) FROM trunks"),
	       query_int(db, "SELECT count(*) FROM routes"),
	       query_int(db, "SELECT count(*) FROM trusted_networks"));
	print_rows(db, "settings",
		   "SELECT k.key || ' = ' || coalesce(s.value, k.default_value || ' (default)') "
		   "FROM setting_keys k LEFT JOIN settings s ON s.key = k.key ORDER BY k.key");
	print_rows(db, "trunks",
		   "SELECT name || ' ' || address || ':' || port || ' ' || transport || "
		   "CASE WHEN enabled THEN '' ELSE ' (disabled)' END FROM trunks ORDER BY name");
	print_rows(db, "routes",
		   "SELECT CASE prefix WHEN '' THEN '(default)' ELSE prefix END || ' -> ' || trunk "
		   "FROM routes ORDER BY length(prefix) DESC, prefix");
	print_rows(db, "trusted networks", "SELECT cidr FROM trusted_networks ORDER BY cidr");
	sqlite3_close(db);
	return 0;
}

/* --check: the migrations are well formed and, given a database, it is current and sound. */
static int cmd_check(const struct schema *s, const char *path)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int ret = 0;

	printf("%s migrations: %zu, well formed\n", s->name, s->count);
	if (path == NULL)
		return 0;
	db = open_current(path, s, SQLITE_OPEN_READONLY);
	if (db == NULL)
		return 1;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *r = (const char *)sqlite3_column_text(st, 0);

			if (strcmp(r, "ok") != 0) {
				fprintf(stderr, "sbc-db: %s: integrity: %s\n", path, r);
				ret = 1;
			}
		}
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			fprintf(stderr, "sbc-db: %s: row %lld of %s violates a foreign key\n", path,
				(long long)sqlite3_column_int64(st, 1),
				(const char *)sqlite3_column_text(st, 0));
			ret = 1;
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (ret == 0)
		printf("%s: schema current, integrity ok, foreign keys ok\n", path);
	return ret;
}

static int need_args(int argc, int have, int want, const char *cmd)
{
	if (argc - have != want) {
		fprintf(stderr, "sbc-db: %s takes %d argument%s (see --help)\n", cmd, want,
			want == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"check", no_argument, NULL, 'c'},
		{"schema", required_argument, NULL, 's'},
		{"migrations", required_argument, NULL, 'm'},
		{"realm", required_argument, NULL, 'r'},
		{"disabled", no_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {.schema = "policy"};
	struct migrate_list dir_list = {0};
	struct schema s;
	int c, ret = 2;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sbc-db %s (SQLite %s)\n", SBC_VERSION, sqlite3_libversion());
			return 0;
		case 'c':
			o.check = true;
			break;
		case 's':
			o.schema = optarg;
			break;
		case 'm':
			o.migrations_dir = optarg;
			break;
		case 'r':
			o.realm = optarg;
			break;
		case 'd':
			o.disabled = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (load_schema(&o, &s, &dir_list) < 0)
		return 1;

	const char *cmd = optind < argc ? argv[optind] : NULL;
	int a = optind + 1; /* first argument of the command */

	if (o.check) {
		if (argc - optind > 1) {
			fprintf(stderr, "sbc-db: --check takes at most one database\n");
			goto out;
		}
		ret = cmd_check(&s, cmd);
	} else if (cmd == NULL) {
		usage(stderr);
	} else if (strcmp(cmd, "migrate") == 0) {
		if (need_args(argc, a, 1, cmd) == 0)
			ret = cmd_migrate(&s, argv[a]);
	} else if (strcmp(cmd, "load") == 0) {
		if (need_args(argc, a, 2, cmd) == 0)
			ret = cmd_load(&s, argv[a], argv[a + 1]);
	} else if (strcmp(cmd, "status") == 0) {
		if (need_args(argc, a, 1, cmd) == 0)
			ret = cmd_status(&s, argv[a]);
	} else if (strcmp(cmd, "user") == 0 && a < argc && strcmp(argv[a], "add") == 0) {
		if (need_args(argc, a + 1, 3, "user add") == 0) {
			if (strcmp(s.name, "policy") != 0)
				fprintf(stderr, "sbc-db: users live in the policy database\n");
			else
				ret = cmd_user_add(&s, &o, argv[a + 1], argv[a + 2], argv[a + 3]);
		}
	} else if (strcmp(cmd, "user") == 0 && a < argc && strcmp(argv[a], "del") == 0) {
		if (need_args(argc, a + 1, 2, "user del") == 0) {
			if (strcmp(s.name, "policy") != 0)
				fprintf(stderr, "sbc-db: users live in the policy database\n");
			else
				ret = cmd_user_del(&s, argv[a + 1], argv[a + 2]);
		}
	} else if (strcmp(cmd, "user") == 0 && a < argc && strcmp(argv[a], "list") == 0) {
		if (need_args(argc, a + 1, 1, "user list") == 0) {
			if (strcmp(s.name, "policy") != 0)
				fprintf(stderr, "sbc-db: users live in the policy database\n");
			else
				ret = cmd_user_list(&s, argv[a + 1]);
		}
	} else {
		fprintf(stderr, "sbc-db: unknown command '%s' (see --help)\n", cmd);
	}
out:
	migrate_list_free(&dir_list);
	return ret;
}
