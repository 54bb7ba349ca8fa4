/* migrate: applies numbered SQL migrations to a SQLite database, one transaction per step, and
 * refuses databases that are newer than the program or whose applied steps were edited. */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"

/* A migration larger than this is a mistake (data belongs in seeds, not in schema steps). */
#define MIGRATE_FILE_MAX (1024 * 1024)

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t len, const char *fmt,
							  ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

void migrate_list_free(struct migrate_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free((char *)list->steps[i].name);
		free((char *)list->steps[i].sql);
	}
	free(list->steps);
	list->steps = NULL;
	list->count = 0;
}

int migrate_list_check(const struct migrate_step *steps, size_t count, char *err, size_t errlen)
{
	for (size_t i = 0; i < count; i++) {
		if (steps[i].version != i + 1) {
			set_err(err, errlen, "migration %zu: expected version %04zu, found %04u",
				i + 1, i + 1, steps[i].version);
			return -EINVAL;
		}
		if (steps[i].name == NULL || steps[i].name[0] == '\0' || steps[i].sql == NULL ||
		    steps[i].sql[0] == '\0') {
			set_err(err, errlen, "migration %04u: empty name or SQL", steps[i].version);
			return -EINVAL;
		}
	}
	return 0;
}

/* "NNNN_name.sql" with name in [a-z0-9_]+: returns the version and the name's span, else 0. */
static unsigned int parse_file_name(const char *fname, size_t *name_len)
{
	size_t len = strlen(fname);
	unsigned int version = 0;

	if (len < 4 + 1 + 1 + 4 || strcmp(fname + len - 4, ".sql") != 0 || fname[4] != '_')
		return 0;
	for (int i = 0; i < 4; i++) {
		if (fname[i] < '0' || fname[i] > '9')
			return 0;
		version = version * 10 + (unsigned int)(fname[i] - '0');
	}
	for (size_t i = 5; i < len - 4; i++) {
		char c = fname[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	*name_len = len - 4 - 5;
	return version;
}

static char *read_file(const char *path, char *err, size_t errlen, int *rc)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (f == NULL) {
		*rc = -errno;
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		*rc = -EIO;
		set_err(err, errlen, "%s: cannot determine size", path);
		goto out;
	}
	if (size > MIGRATE_FILE_MAX) {
		*rc = -EFBIG;
		set_err(err, errlen, "%s: larger than %d bytes", path, MIGRATE_FILE_MAX);
		goto out;
	}
	buf = malloc((size_t)size + 1);
	if (buf == NULL) {
		*rc = -ENOMEM;
		set_err(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		*rc = -EIO;
		set_err(err, errlen, "%s: short read", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[size] = '\0';
	if (strlen(buf) != (size_t)size) {
		*rc = -EINVAL;
		set_err(err, errlen, "%s: contains a NUL byte", path);
		free(buf);
		buf = NULL;
	}
out:
	fclose(f);
	return buf;
}

static int step_cmp(const void *a, const void *b)
{
	const struct migrate_step *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

int migrate_dir_load(const char *dir, struct migrate_list *list, char *err, size_t errlen)
{
	struct migrate_list out = {0};
	size_t cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int rc = 0;

	if (d == NULL) {
		rc = -errno;
		set_err(err, errlen, "%s: %s", dir, strerror(errno));
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		size_t name_len = 0, flen = strlen(de->d_name);
		unsigned int version;
		char path[4096];

		if (flen < 4 || strcmp(de->d_name + flen - 4, ".sql") != 0)
			continue;
		version = parse_file_name(de->d_name, &name_len);
		if (version == 0) {
			rc = -EINVAL;
			set_err(err, errlen,
				"%s/%s: a migration is named NNNN_name.sql (NNNN from 0001, name "
				"in "
				"[a-z0-9_])",
				dir, de->d_name);
			goto fail;
		}
		if (out.count == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct migrate_step *n = realloc(out.steps, ncap * sizeof(*n));

			if (n == NULL) {
				rc = -ENOMEM;
				set_err(err, errlen, "out of memory");
				goto fail;
			}
			out.steps = n;
			cap = ncap;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    sizeof(path)) {
			rc = -ENAMETOOLONG;
			set_err(err, errlen, "%s/%s: path too long", dir, de->d_name);
			goto fail;
		}
		struct migrate_step *s = &out.steps[out.count];
		s->version = version;
		s->name = strndup(de->d_name + 5, name_len);
		s->sql = NULL;
		out.count++; /* counted now so that migrate_list_free releases a half-built step */
		if (s->name == NULL) {
			rc = -ENOMEM;
			set_err(err, errlen, "out of memory");
			goto fail;
		}
		s->sql = read_file(path, err, errlen, &rc);
		if (s->sql == NULL)
			goto fail;
	}
	qsort(out.steps, out.count, sizeof(out.steps[0]), step_cmp);
	for (size_t i = 0; i < out.count; i++) {
		if (out.steps[i].version != i + 1) {
			rc = -EINVAL;
			if (out.steps[i].version < i + 1)
				set_err(err, errlen, "%s: two migrations numbered %04u", dir,
					out.steps[i].version);
			else
				set_err(err, errlen,
					"%s: migration %04zu is missing (next is %04u)", dir, i + 1,
					out.steps[i].version);
			goto fail;
		}
	}
	closedir(d);
	*list = out;
	return 0;
fail:
	closedir(d);
	migrate_list_free(&out);
	return rc;
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		set_err(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int table_exists(sqlite3 *db, const char *name, bool *exists, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		set_err(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		set_err(err, errlen, "cannot read the schema: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -EIO;
	}
	*exists = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return 0;
}

int migrate_version(sqlite3 *db, unsigned int *version, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	bool exists;
	int rc = table_exists(db, "schema_migrations", &exists, err, errlen);

	if (rc < 0)
		return rc;
	*version = 0;
	if (!exists)
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1,
			       &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		set_err(err, errlen, "cannot read schema_migrations: %s", sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -EIO;
	}
	sqlite3_int64 v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (v < 0 || v > 9999) {
		set_err(err, errlen, "schema_migrations holds an impossible version %lld",
			(long long)v);
		return -EIO;
	}
	*version = (unsigned int)v;
	return 0;
}

/* The runner's own bookkeeping table; migrations never touch it. */
static const char create_table_sql[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version INTEGER PRIMARY KEY CHECK (version BETWEEN 1 AND 9999),"
	" name TEXT NOT NULL CHECK (length(name) > 0),"
	" sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
	" applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')))";

/* Looks step's version up in schema_migrations: 1 recorded with the same name and text, 0 not
 * recorded, -EPROTO recorded differently (err says so), -EIO on a database error. */
static int recorded(sqlite3 *db, const struct migrate_step *step, const char *sha, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT name, sha256 FROM schema_migrations WHERE version = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		set_err(err, errlen, "cannot read schema_migrations: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int(st, 1, (int)step->version);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = 0;
	} else if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *have = (const char *)sqlite3_column_text(st, 1);

		if (name && have && strcmp(name, step->name) == 0 && strcmp(have, sha) == 0) {
			rc = 1;
		} else {
			set_err(err, errlen,
				"migration %04u was applied as \"%s\" with other contents than "
				"this "
				"program's %04u_%s.sql: landed migrations must never be edited; "
				"restore "
				"the original file and add a new numbered migration instead",
				step->version, name ? name : "?", step->version, step->name);
			rc = -EPROTO;
		}
	} else {
		set_err(err, errlen, "cannot read schema_migrations: %s", sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static int record(sqlite3 *db, const struct migrate_step *step, const char *sha, char *err,
		  size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(db,
			       "INSERT INTO schema_migrations (version, name, sha256) "
			       "VALUES (?1, ?2, ?3)",
			       -1, &st, NULL) != SQLITE_OK) {
		set_err(err, errlen, "cannot record migration: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int(st, 1, (int)step->version);
	sqlite3_bind_text(st, 2, step->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, sha, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		set_err(err, errlen, "cannot record migration %04u: %s", step->version,
			sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Fails when the step left rows that violate a foreign key (checked by hand because foreign keys
 * are off while steps run, as SQLite's table-rebuild procedure requires). */
static int check_foreign_keys(sqlite3 *db, const struct migrate_step *step, char *err,
			      size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK) {
		set_err(err, errlen, "foreign_key_check: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		set_err(err, errlen, "migration %04u_%s leaves a row of %s violating a foreign key",
			step->version, step->name, (const char *)sqlite3_column_text(st, 0));
		rc = -EINVAL;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		set_err(err, errlen, "foreign_key_check: %s", sqlite3_errmsg(db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static int apply_one(sqlite3 *db, const struct migrate_step *step, migrate_progress_fn progress,
		     void *arg, char *err, size_t errlen)
{
	char sha[DIGEST_HEX_MAX];
	const char *parts[1] = {step->sql};
	int rc;

	digest_hex_join(DIGEST_ALG_SHA256, parts, 1, sha);
	/* IMMEDIATE takes the write lock first, so a concurrent runner waits and then sees the step
	 * recorded instead of applying it twice. */
	rc = exec_sql(db, "BEGIN IMMEDIATE", err, errlen, "cannot start a transaction");
	if (rc < 0)
		return rc;
	rc = recorded(db, step, sha, err, errlen);
	if (rc != 0)
		goto done;
	if (progress)
		progress(arg, MIGRATE_EVENT_APPLYING, step);
	char what[128];
	snprintf(what, sizeof(what), "migration %04u_%s", step->version, step->name);
	rc = exec_sql(db, step->sql, err, errlen, what);
	if (rc < 0)
		goto done;
	if (sqlite3_get_autocommit(db)) {
		/* The step ended our transaction itself: its effects are already committed. */
		set_err(err, errlen,
			"migration %04u_%s must not contain BEGIN/COMMIT: the runner wraps each "
			"step "
			"in a transaction",
			step->version, step->name);
		return -EINVAL;
	}
	rc = check_foreign_keys(db, step, err, errlen);
	if (rc < 0)
		goto done;
	rc = record(db, step, sha, err, errlen);
done:
	if (rc < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if (exec_sql(db, "COMMIT", err, errlen, "cannot commit") < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -EIO;
	}
	if (progress)
		progress(arg, rc == 1 ? MIGRATE_EVENT_CURRENT : MIGRATE_EVENT_APPLIED, step);
	return rc == 1 ? 0 : 1;
}

static int foreign_keys_enabled(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int on = 0;

	if (sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		on = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return on;
}

int migrate_apply(sqlite3 *db, const struct migrate_step *steps, size_t count,
		  migrate_progress_fn progress, void *arg, char *err, size_t errlen)
{
	unsigned int version;
	int applied = 0, rc, fk;

	rc = migrate_list_check(steps, count, err, errlen);
	if (rc < 0)
		return rc;
	if (!sqlite3_get_autocommit(db)) {
		set_err(err, errlen, "migrate_apply called inside an open transaction");
		return -EBUSY;
	}
	if (sqlite3_db_readonly(db, "main") == 1) {
		set_err(err, errlen,
			"the database is opened read-only; migrations need write access");
		return -EROFS;
	}
	rc = exec_sql(db, create_table_sql, err, errlen, "cannot create schema_migrations");
	if (rc < 0)
		return rc;
	rc = migrate_version(db, &version, err, errlen);
	if (rc < 0)
		return rc;
	if (version > count) {
		set_err(err, errlen,
			"database schema version %u is newer than this program knows (%zu): it was "
			"migrated by a newer release; run that release's `sbc-db migrate`, or "
			"upgrade this program",
			version, count);
		return -EPROTO;
	}
	/* SQLite's table-rebuild procedure needs foreign keys off while a step runs; each step is
	 * checked with foreign_key_check before it commits instead. */
	fk = foreign_keys_enabled(db);
	if (fk)
		exec_sql(db, "PRAGMA foreign_keys = OFF", NULL, 0, "");
	for (size_t i = 0; i < count; i++) {
		rc = apply_one(db, &steps[i], progress, arg, err, errlen);
		if (rc < 0)
			break;
		applied += rc;
	}
	if (fk)
		exec_sql(db, "PRAGMA foreign_keys = ON", NULL, 0, "");
	return rc < 0 ? rc : applied;
}
