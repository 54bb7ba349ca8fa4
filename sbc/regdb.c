/* regdb: stores sbc-sip's registrations (bindings) in their own SQLite file with prepared
 * statements, enforcing RFC 3261 §10.3's Call-ID/CSeq ordering on every update. */
#include "regdb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sqlite3.h>

#include "db_migrations.h"
#include "migrate.h"

#define REGDB_BUSY_TIMEOUT_MS 1000

#define BINDING_COLUMNS                                                                           \
	"aor, contact, received_ip, received_port, transport, socket, conn_id, natted, expires, " \
	"user_agent, call_id, cseq, q"

/* Every statement, prepared once at open (tables as data). */
enum regdb_stmt {
	ST_GET,
	ST_UPSERT,
	ST_DELETE,
	ST_STALE_ALL,
	ST_DELETE_ALL,
	ST_LIST,
	ST_COUNT,
	ST_EXPIRED,
	ST_EXPIRE,
	ST_ALL,
	ST_CONN_CLOSED,
	ST_COUNT_OF_STATEMENTS,
};

static const char *const stmt_sql[ST_COUNT_OF_STATEMENTS] = {
	[ST_GET] = "SELECT call_id, cseq FROM bindings WHERE aor = ?1 AND contact = ?2",
	[ST_UPSERT] =
		"INSERT INTO bindings (" BINDING_COLUMNS ", updated) VALUES "
		"(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) "
		"ON CONFLICT (aor, contact) DO UPDATE SET received_ip = excluded.received_ip, "
		"received_port = excluded.received_port, transport = excluded.transport, "
		"socket = excluded.socket, conn_id = excluded.conn_id, "
		"natted = excluded.natted, expires = excluded.expires, "
		"user_agent = excluded.user_agent, call_id = excluded.call_id, "
		"cseq = excluded.cseq, q = excluded.q, updated = excluded.updated",
	[ST_DELETE] = "DELETE FROM bindings WHERE aor = ?1 AND contact = ?2",
	[ST_STALE_ALL] = "SELECT count(*) FROM bindings WHERE aor = ?1 AND call_id = ?2 AND "
			 "cseq >= ?3",
	[ST_DELETE_ALL] = "DELETE FROM bindings WHERE aor = ?1",
	[ST_LIST] = "SELECT " BINDING_COLUMNS " FROM bindings WHERE aor = ?1 AND expires > ?2 "
		    "ORDER BY q DESC, updated DESC, contact",
	[ST_COUNT] = "SELECT count(*) FROM bindings WHERE aor = ?1 AND expires > ?2",
	[ST_EXPIRED] = "SELECT " BINDING_COLUMNS " FROM bindings WHERE expires <= ?1",
	[ST_EXPIRE] = "DELETE FROM bindings WHERE expires <= ?1",
	[ST_ALL] = "SELECT " BINDING_COLUMNS " FROM bindings WHERE expires > ?1 "
		   "ORDER BY aor, q DESC, updated DESC, contact",
	[ST_CONN_CLOSED] = "UPDATE bindings SET conn_id = 0 WHERE conn_id = ?1",
};

struct regdb {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT_OF_STATEMENTS];
	bool batch; /* an outer transaction is open; regdb_flush commits it */
};

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

struct regdb *regdb_open(const char *path, char *err, size_t errlen)
{
	struct regdb *r = calloc(1, sizeof(*r));
	char why[512];
	int rc;

	if (r == NULL) {
		set_err(err, errlen, "registrations %s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		set_err(err, errlen, "registrations %s: cannot open: %s", path,
			r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
		rc = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(r->db, REGDB_BUSY_TIMEOUT_MS);
	/* sbc-sip is the only user of this file: an exclusive lock spares the file locks and the
	 * shared-memory index of every transaction (lookups cost no system call, a save a few
	 * writes) and keeps a second sbc-sip from using the same file. */
	sqlite3_exec(r->db,
		     "PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA "
		     "synchronous = NORMAL",
		     NULL, NULL, NULL);
	rc = migrate_apply(r->db, db_migrations_regdb, db_migrations_regdb_count, NULL, NULL, why,
			   sizeof(why));
	if (rc < 0 && sqlite3_errcode(r->db) == SQLITE_BUSY) {
		set_err(err, errlen, "registrations %s: in use by another process (%s)", path, why);
		rc = -EBUSY;
		goto fail;
	}
	if (rc < 0) {
		set_err(err, errlen, "registrations %s: %s", path, why);
		goto fail;
	}
	for (int i = 0; i < ST_COUNT_OF_STATEMENTS; i++) {
		if (sqlite3_prepare_v3(r->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->st[i],
				       NULL) != SQLITE_OK) {
			set_err(err, errlen, "registrations %s: %s", path, sqlite3_errmsg(r->db));
			rc = -EIO;
			goto fail;
		}
	}
	return r;
fail:
	regdb_close(r);
	errno = -rc;
	return NULL;
}

void regdb_close(struct regdb *r)
{
	if (r == NULL)
		return;
	regdb_flush(r);
	for (int i = 0; i < ST_COUNT_OF_STATEMENTS; i++)
		sqlite3_finalize(r->st[i]);
	sqlite3_close(r->db);
	free(r);
}

const char *regdb_errmsg(const struct regdb *r)
{
	return sqlite3_errmsg(r->db);
}

/* Takes a cached statement, reset and cleared for new bindings. */
static sqlite3_stmt *stmt(struct regdb *r, enum regdb_stmt which)
{
	sqlite3_stmt *s = r->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int exec(struct regdb *r, const char *sql)
{
	return sqlite3_exec(r->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Changes are grouped: the first one opens a transaction that regdb_flush() commits, so a burst
 * of registrations costs one commit (and its WAL writes) instead of one each. Every public
 * change still runs in its own savepoint, atomic alone and nested inside regdb_begin. */
static int batch_open(struct regdb *r)
{
	if (r->batch)
		return 0;
	if (exec(r, "BEGIN IMMEDIATE") < 0)
		return -EIO;
	r->batch = true;
	return 0;
}

int regdb_flush(struct regdb *r)
{
	if (!r->batch)
		return 0;
	r->batch = false;
	if (exec(r, "COMMIT") < 0) {
		exec(r, "ROLLBACK");
		return -EIO;
	}
	return 0;
}

static int op_begin(struct regdb *r)
{
	if (batch_open(r) < 0)
		return -EIO;
	return exec(r, "SAVEPOINT regdb_op");
}

static int op_end(struct regdb *r, int rc)
{
	if (rc < 0) {
		exec(r, "ROLLBACK TO regdb_op");
		exec(r, "RELEASE regdb_op");
		return rc;
	}
	return exec(r, "RELEASE regdb_op") < 0 ? -EIO : rc;
}

/* RFC 3261 §10.3 step 7 for one binding: 1 exists and may be changed, 0 does not exist, -ESTALE
 * same Call-ID with a CSeq not higher than the stored one, -EIO. */
static int check_order(struct regdb *r, const char *aor, const char *contact, const char *call_id,
		       uint32_t cseq)
{
	sqlite3_stmt *s = stmt(r, ST_GET);
	int rc;

	sqlite3_bind_text(s, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, contact, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc != SQLITE_ROW)
		rc = -EIO;
	else if (strcmp((const char *)sqlite3_column_text(s, 0), call_id) == 0 &&
		 (uint64_t)sqlite3_column_int64(s, 1) >= cseq)
		rc = -ESTALE;
	else
		rc = 1;
	sqlite3_reset(s);
	return rc;
}

static bool fits(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	return n >= min && n <= max;
}

static int validate(const struct regdb_binding *b)
{
	if (!fits(b->aor, 1, REGDB_AOR_MAX) || !fits(b->contact, 1, REGDB_CONTACT_MAX) ||
	    !fits(b->call_id, 1, REGDB_CALL_ID_MAX) || !fits(b->socket, 0, REGDB_SOCKET_MAX))
		return -EINVAL;
	if (b->received.ip.family != AF_INET && b->received.ip.family != AF_INET6)
		return -EINVAL;
	if (b->received.port == 0 || b->cseq > INT32_MAX || b->q > 1000)
		return -EINVAL;
	if (b->expires == 0 || b->expires > INT64_MAX || b->conn_id > INT64_MAX)
		return -EINVAL;
	if (b->transport > SIP_TRANSPORT_WSS)
		return -EINVAL;
	return 0;
}

int regdb_save(struct regdb *r, const struct regdb_binding *b, uint64_t now, bool *created)
{
	char ip[ADDR_STRLEN], ua[REGDB_USER_AGENT_MAX + 1];
	sqlite3_stmt *s;
	int rc, exists;

	if (validate(b) < 0 || now > INT64_MAX)
		return -EINVAL;
	/* A long User-Agent is only informational: keep its start. */
	snprintf(ua, sizeof(ua), "%s", b->user_agent ? b->user_agent : "");
	addr_format(&b->received.ip, ip, sizeof(ip));
	rc = op_begin(r);
	if (rc < 0)
		return rc;
	exists = check_order(r, b->aor, b->contact, b->call_id, b->cseq);
	if (exists < 0)
		return op_end(r, exists);
	s = stmt(r, ST_UPSERT);
	sqlite3_bind_text(s, 1, b->aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, b->contact, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, b->received.port);
	sqlite3_bind_text(s, 5, sip_transport_name(b->transport), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, b->socket ? b->socket : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)b->conn_id);
	sqlite3_bind_int(s, 8, b->natted ? 1 : 0);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)b->expires);
	sqlite3_bind_text(s, 10, ua, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, b->call_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 12, b->cseq);
	sqlite3_bind_int(s, 13, b->q);
	sqlite3_bind_int64(s, 14, (sqlite3_int64)now);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	if (rc == 0 && created)
		*created = exists == 0;
	return op_end(r, rc);
}

int regdb_remove(struct regdb *r, const char *aor, const char *contact, const char *call_id,
		 uint32_t cseq)
{
	sqlite3_stmt *s;
	int rc;

	if (aor == NULL || contact == NULL || call_id == NULL)
		return -EINVAL;
	rc = op_begin(r);
	if (rc < 0)
		return rc;
	rc = check_order(r, aor, contact, call_id, cseq);
	if (rc == 0)
		rc = -ENOENT;
	if (rc < 0)
		return op_end(r, rc);
	s = stmt(r, ST_DELETE);
	sqlite3_bind_text(s, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, contact, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(s);
	return op_end(r, rc);
}

int regdb_remove_all(struct regdb *r, const char *aor, const char *call_id, uint32_t cseq)
{
	sqlite3_stmt *s;
	int rc;

	if (aor == NULL || call_id == NULL)
		return -EINVAL;
	rc = op_begin(r);
	if (rc < 0)
		return rc;
	/* RFC 3261 §10.3 step 6: "*" removes every binding, each one subject to the step 7 rule;
	 * one that refuses fails the whole request. */
	s = stmt(r, ST_STALE_ALL);
	sqlite3_bind_text(s, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, call_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, cseq);
	if (sqlite3_step(s) != SQLITE_ROW)
		rc = -EIO;
	else if (sqlite3_column_int64(s, 0) > 0)
		rc = -ESTALE;
	sqlite3_reset(s);
	if (rc < 0)
		return op_end(r, rc);
	s = stmt(r, ST_DELETE_ALL);
	sqlite3_bind_text(s, 1, aor, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(r->db) : -EIO;
	sqlite3_reset(s);
	return op_end(r, rc);
}

static void row_to_binding(sqlite3_stmt *s, struct regdb_binding *b)
{
	const char *ip = (const char *)sqlite3_column_text(s, 2);
	const char *transport = (const char *)sqlite3_column_text(s, 4);

	memset(b, 0, sizeof(*b));
	b->aor = (const char *)sqlite3_column_text(s, 0);
	b->contact = (const char *)sqlite3_column_text(s, 1);
	if (ip == NULL || !addr_parse(ip, strlen(ip), &b->received.ip))
		b->received.ip.family = 0; /* the schema keeps this from happening */
	b->received.port = (uint16_t)sqlite3_column_int(s, 3);
	if (transport == NULL || sip_transport_parse(transport, &b->transport) < 0)
		b->transport = SIP_TRANSPORT_UDP;
	b->socket = (const char *)sqlite3_column_text(s, 5);
	b->conn_id = (uint64_t)sqlite3_column_int64(s, 6);
	b->natted = sqlite3_column_int(s, 7) != 0;
	b->expires = (uint64_t)sqlite3_column_int64(s, 8);
	b->user_agent = (const char *)sqlite3_column_text(s, 9);
	b->call_id = (const char *)sqlite3_column_text(s, 10);
	b->cseq = (uint32_t)sqlite3_column_int64(s, 11);
	b->q = (uint16_t)sqlite3_column_int(s, 12);
}

/* Steps s to the end, calling fn per row until it asks to stop. Returns rows visited or -EIO. */
static int visit(sqlite3_stmt *s, regdb_binding_fn fn, void *arg)
{
	struct regdb_binding b;
	int n = 0, rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		n++;
		if (fn) {
			row_to_binding(s, &b);
			if (fn(arg, &b) != 0) {
				rc = SQLITE_DONE;
				break;
			}
		}
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? n : -EIO;
}

int regdb_list(struct regdb *r, const char *aor, uint64_t now, regdb_binding_fn fn, void *arg)
{
	sqlite3_stmt *s = stmt(r, ST_LIST);

	sqlite3_bind_text(s, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)(now > INT64_MAX ? INT64_MAX : now));
	return visit(s, fn, arg);
}

int regdb_count(struct regdb *r, const char *aor, uint64_t now)
{
	sqlite3_stmt *s = stmt(r, ST_COUNT);
	int rc;

	sqlite3_bind_text(s, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)(now > INT64_MAX ? INT64_MAX : now));
	rc = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -EIO;
	sqlite3_reset(s);
	return rc;
}

int regdb_expire(struct regdb *r, uint64_t now, regdb_binding_fn fn, void *arg)
{
	sqlite3_int64 t = (sqlite3_int64)(now > INT64_MAX ? INT64_MAX : now);
	sqlite3_stmt *s;
	int rc = op_begin(r);

	if (rc < 0)
		return rc;
	if (fn) {
		/* Every expired binding is reported, so the callback cannot stop the deletion. */
		s = stmt(r, ST_EXPIRED);
		sqlite3_bind_int64(s, 1, t);
		rc = visit(s, fn, arg);
		if (rc < 0)
			return op_end(r, rc);
	}
	s = stmt(r, ST_EXPIRE);
	sqlite3_bind_int64(s, 1, t);
	rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(r->db) : -EIO;
	sqlite3_reset(s);
	return op_end(r, rc);
}

int regdb_load_all(struct regdb *r, uint64_t now, regdb_binding_fn fn, void *arg)
{
	sqlite3_stmt *s = stmt(r, ST_ALL);

	sqlite3_bind_int64(s, 1, (sqlite3_int64)(now > INT64_MAX ? INT64_MAX : now));
	return visit(s, fn, arg);
}

int regdb_conn_closed(struct regdb *r, uint64_t conn_id)
{
	sqlite3_stmt *s;
	int rc;

	if (conn_id == 0 || conn_id > INT64_MAX)
		return 0;
	s = stmt(r, ST_CONN_CLOSED);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)conn_id);
	rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(r->db) : -EIO;
	sqlite3_reset(s);
	return rc;
}

int regdb_begin(struct regdb *r)
{
	if (batch_open(r) < 0)
		return -EIO;
	return exec(r, "SAVEPOINT regdb_group");
}

int regdb_commit(struct regdb *r)
{
	if (exec(r, "RELEASE regdb_group") < 0) {
		regdb_rollback(r);
		return -EIO;
	}
	return 0;
}

int regdb_rollback(struct regdb *r)
{
	int rc = exec(r, "ROLLBACK TO regdb_group");

	exec(r, "RELEASE regdb_group");
	return rc;
}
