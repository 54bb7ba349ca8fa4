/* migrate: the one SQLite schema migration runner every plane uses — numbered SQL steps applied in
 * order, each in its own transaction, recorded in schema_migrations. */
#ifndef SBC_COMMON_MIGRATE_H
#define SBC_COMMON_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

/* One migration: version N comes from the file name "NNNN_name.sql". Versions of a list are
 * 1, 2, 3, ... with no gap. The strings are owned by whoever built the list (static for a
 * compiled-in list, the list for migrate_dir_load). */
struct migrate_step {
	unsigned int version;
	const char *name; /* "policy" for 0001_policy.sql */
	const char *sql;
};

/* A list read from a directory by migrate_dir_load. */
struct migrate_list {
	struct migrate_step *steps;
	size_t count;
};

/* What the runner is doing, for progress reports. */
enum migrate_event {
	MIGRATE_EVENT_APPLYING, /* about to run step */
	MIGRATE_EVENT_APPLIED,	/* step committed */
	MIGRATE_EVENT_CURRENT,	/* step was applied earlier (with the same text) */
};

typedef void (*migrate_progress_fn)(void *arg, enum migrate_event ev,
				    const struct migrate_step *step);

/* Reads every "NNNN_name.sql" file of dir (name: [a-z0-9_]) into list, sorted by version. Other
 * files are ignored; a ".sql" file with another name, a duplicate or missing number is an error.
 * Returns 0, or -errno with err (errlen bytes) saying which file and why. On success the caller
 * frees the list with migrate_list_free. */
int migrate_dir_load(const char *dir, struct migrate_list *list, char *err, size_t errlen);

void migrate_list_free(struct migrate_list *list);

/* Checks a list: versions 1..count in order, non-empty names and SQL. Returns 0 or -EINVAL. */
int migrate_list_check(const struct migrate_step *steps, size_t count, char *err, size_t errlen);

/* Reads the schema version of db: the highest applied migration, 0 when the database has no
 * schema_migrations table (empty or not ours). Works on a read-only connection. Returns 0 or
 * -EIO with err set. */
int migrate_version(sqlite3 *db, unsigned int *version, char *err, size_t errlen);

/* Brings db up to the last step of steps[0..count). Creates schema_migrations if missing, then for
 * each step not yet recorded runs BEGIN IMMEDIATE, the step's SQL, records (version, name, SHA-256
 * of the SQL) and commits; a failing step is rolled back and stops the run (earlier steps stay).
 * Refuses (-EPROTO) a database whose version is newer than the list, or whose recorded step differs
 * from the list's (an edited migration), telling in err what to do. Running it again is a no-op.
 * progress may be NULL. The caller opens db read-write; the statements run while the write lock
 * is held, so two processes migrating at once apply each step once. Returns the number of steps
 * applied (>= 0) or -errno with err set. */
int migrate_apply(sqlite3 *db, const struct migrate_step *steps, size_t count,
		  migrate_progress_fn progress, void *arg, char *err, size_t errlen);

#endif
