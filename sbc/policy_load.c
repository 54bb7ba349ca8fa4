/* policy_load: reads the policy database read-only, in one transaction, into an immutable
 * snapshot and validates every value; frees snapshots and swaps them on reload. */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "migrate.h"
#include "policy_priv.h"

/* How long a load waits for a writer holding an exclusive lock (WAL readers rarely wait). */
#define POLICY_BUSY_TIMEOUT_MS 2000

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

/* Settings as data: each key of setting_keys this code uses, where it goes and its bounds (the
 * schema's triggers check the same ranges; checking again keeps a hand-edited file out). */
enum setting_kind {
	SETTING_U32,
	SETTING_REALM,
	SETTING_ALGORITHMS,
};

struct setting_def {
	const char *key;
	enum setting_kind kind;
	size_t offset; /* of the uint32_t in struct policy_settings (SETTING_U32) */
	uint32_t min, max;
};

#define U32_SETTING(k, field, lo, hi)                                           \
	{                                                                       \
		k, SETTING_U32, offsetof(struct policy_settings, field), lo, hi \
	}

static const struct setting_def setting_defs[] = {
	U32_SETTING("nat.test_mask", nat_test_mask, 0, 255),
	U32_SETTING("nat.keepalive_interval", keepalive_interval, 0, 3600),
	U32_SETTING("registrar.min_expires", reg_min_expires, 1, 86400),
	U32_SETTING("registrar.max_expires", reg_max_expires, 1, 86400),
	U32_SETTING("registrar.default_expires", reg_default_expires, 1, 86400),
	U32_SETTING("registrar.max_contacts", reg_max_contacts, 1, 100),
	{"auth.realm", SETTING_REALM, 0, 0, 0},
	{"auth.algorithms", SETTING_ALGORITHMS, 0, 0, 0},
	U32_SETTING("ratelimit.requests_per_second", rate_per_second, 1, 1000000),
	U32_SETTING("ratelimit.burst", rate_burst, 1, 1000000),
	U32_SETTING("ban.failed_auth_threshold", ban_threshold, 0, 1000),
	U32_SETTING("ban.window", ban_window, 1, 86400),
	U32_SETTING("ban.duration", ban_duration, 1, 604800),
};

#define N_SETTINGS (sizeof(setting_defs) / sizeof(setting_defs[0]))

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v = 0;

	if (*s == '\0' || strlen(s) > 10)
		return -EINVAL;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long long)(*c - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

/* "SHA-256,MD5": known algorithms, no repeats, at least one; spaces around items allowed. */
static int parse_algorithms(const char *s, struct policy_settings *st)
{
	st->auth_alg_count = 0;
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *b = s, *e = s + len;
		enum digest_alg alg;

		while (b < e && *b == ' ')
			b++;
		while (e > b && e[-1] == ' ')
			e--;
		if (digest_alg_parse(b, (size_t)(e - b), &alg) < 0)
			return -EINVAL;
		for (size_t i = 0; i < st->auth_alg_count; i++)
			if (st->auth_algs[i] == alg)
				return -EINVAL;
		st->auth_algs[st->auth_alg_count++] = alg;
		if (end == NULL)
			break;
		s = end + 1;
	}
	return st->auth_alg_count > 0 ? 0 : -EINVAL;
}

static int apply_setting(const struct setting_def *d, const char *value, struct policy_settings *st,
			 char *err, size_t errlen)
{
	switch (d->kind) {
	case SETTING_U32: {
		uint32_t *field = (uint32_t *)((char *)st + d->offset);

		if (parse_u32(value, d->min, d->max, field) < 0) {
			set_err(err, errlen, "setting %s = '%s': not an integer in [%u, %u]",
				d->key, value, d->min, d->max);
			return -EINVAL;
		}
		return 0;
	}
	case SETTING_REALM:
		/* The realm is a quoted-string in every challenge (RFC 3261 §25.1). */
		if (value[0] == '\0' || strlen(value) > POLICY_REALM_MAX ||
		    strpbrk(value, "\"\\\r\n") != NULL) {
			set_err(err, errlen,
				"setting auth.realm = '%s': 1 to %d characters without '\"', '\\' "
				"or "
				"line breaks",
				value, POLICY_REALM_MAX);
			return -EINVAL;
		}
		memcpy(st->realm, value, strlen(value) + 1);
		return 0;
	case SETTING_ALGORITHMS:
		if (parse_algorithms(value, st) < 0) {
			set_err(err, errlen,
				"setting auth.algorithms = '%s': a comma-separated list of "
				"distinct "
				"MD5 / SHA-256",
				value);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static int db_error(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	set_err(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	return -EIO;
}

static int load_settings(sqlite3 *db, struct policy_settings *st, char *err, size_t errlen)
{
	bool seen[N_SETTINGS] = {false};
	sqlite3_stmt *q = NULL;
	int rc, ret = 0;

	/* A key without a row in settings takes its default from setting_keys. */
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT k.key, coalesce(s.value, k.default_value) FROM setting_keys k "
		    "LEFT JOIN settings s ON s.key = k.key",
		    -1, &q, NULL) != SQLITE_OK)
		return db_error(db, "settings", err, errlen);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(q, 0);
		const char *value = (const char *)sqlite3_column_text(q, 1);

		for (size_t i = 0; key && value && i < N_SETTINGS; i++) {
			if (strcmp(key, setting_defs[i].key) != 0)
				continue;
			ret = apply_setting(&setting_defs[i], value, st, err, errlen);
			if (ret < 0)
				goto out;
			seen[i] = true;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = db_error(db, "settings", err, errlen);
		goto out;
	}
	for (size_t i = 0; i < N_SETTINGS; i++) {
		if (!seen[i]) {
			set_err(err, errlen, "setting %s is not in setting_keys",
				setting_defs[i].key);
			ret = -EINVAL;
			goto out;
		}
	}
	if (st->reg_min_expires > st->reg_default_expires ||
	    st->reg_default_expires > st->reg_max_expires) {
		set_err(err, errlen,
			"settings: registrar.min_expires (%u) <= registrar.default_expires (%u) <= "
			"registrar.max_expires (%u) does not hold",
			st->reg_min_expires, st->reg_default_expires, st->reg_max_expires);
		ret = -EINVAL;
	}
out:
	sqlite3_finalize(q);
	return ret;
}

static bool is_lower_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static int user_cmp(const void *a, const void *b)
{
	const struct policy_user *x = a, *y = b;
	int c = strcmp(x->domain, y->domain);

	return c ? c : strcmp(x->username, y->username);
}

static char *dup_col(sqlite3_stmt *q, int col)
{
	const char *s = (const char *)sqlite3_column_text(q, col);

	return s ? strdup(s) : NULL;
}

static void free_user(struct policy_user *u)
{
	free((char *)u->username);
	free((char *)u->domain);
	free((char *)u->realm);
	for (int a = 0; a < DIGEST_ALG_COUNT; a++)
		free((char *)u->ha1[a]);
}

static int load_users(sqlite3 *db, struct policy *p, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	size_t cap = 0;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT username, domain, realm, ha1_md5, ha1_sha256 FROM users "
			       "WHERE enabled",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(db, "users", err, errlen);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (p->n_users == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct policy_user *n = realloc(p->users, ncap * sizeof(*n));

			if (n == NULL)
				goto nomem;
			p->users = n;
			cap = ncap;
		}
		struct policy_user *u = &p->users[p->n_users];
		memset(u, 0, sizeof(*u));
		p->n_users++; /* counted at once so that policy_free releases a partial row */
		u->username = dup_col(q, 0);
		u->domain = dup_col(q, 1);
		u->realm = dup_col(q, 2);
		if (u->username == NULL || u->domain == NULL || u->realm == NULL)
			goto nomem;
		for (char *d = (char *)u->domain; *d; d++)
			*d = (char)tolower((unsigned char)*d);
		for (int a = 0; a < DIGEST_ALG_COUNT; a++) {
			if (sqlite3_column_type(q, 3 + a) == SQLITE_NULL)
				continue;
			u->ha1[a] = dup_col(q, 3 + a);
			if (u->ha1[a] == NULL)
				goto nomem;
			if (!is_lower_hex(u->ha1[a], 2 * digest_alg_len((enum digest_alg)a))) {
				set_err(err, errlen, "user %s@%s: HA1 for %s is not %zu hex digits",
					u->username, u->domain, digest_alg_name((enum digest_alg)a),
					2 * digest_alg_len((enum digest_alg)a));
				ret = -EINVAL;
				goto out;
			}
		}
		if (u->ha1[DIGEST_ALG_MD5] == NULL && u->ha1[DIGEST_ALG_SHA256] == NULL) {
			set_err(err, errlen, "user %s@%s has no HA1 for any algorithm", u->username,
				u->domain);
			ret = -EINVAL;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = db_error(db, "users", err, errlen);
		goto out;
	}
	if (p->n_users > 0)
		qsort(p->users, p->n_users, sizeof(p->users[0]), user_cmp);
	for (size_t i = 1; i < p->n_users; i++) {
		if (user_cmp(&p->users[i - 1], &p->users[i]) == 0) {
			/* Possible only if the UNIQUE constraint met domains differing in case. */
			set_err(err, errlen, "user %s@%s is defined twice", p->users[i].username,
				p->users[i].domain);
			ret = -EINVAL;
			goto out;
		}
	}
	goto out;
nomem:
	set_err(err, errlen, "users: out of memory");
	ret = -ENOMEM;
out:
	sqlite3_finalize(q);
	return ret;
}

static int trunk_cmp(const void *a, const void *b)
{
	const struct policy_trunk *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int load_trunks(sqlite3 *db, struct policy *p, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	size_t cap = 0;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT name, address, port, transport FROM trunks WHERE enabled",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(db, "trunks", err, errlen);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (p->n_trunks == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct policy_trunk *n = realloc(p->trunks, ncap * sizeof(*n));

			if (n == NULL)
				goto nomem;
			p->trunks = n;
			cap = ncap;
		}
		struct policy_trunk *t = &p->trunks[p->n_trunks];
		memset(t, 0, sizeof(*t));
		p->n_trunks++;
		t->name = dup_col(q, 0);
		if (t->name == NULL)
			goto nomem;
		const char *address = (const char *)sqlite3_column_text(q, 1);
		const char *transport = (const char *)sqlite3_column_text(q, 3);
		sqlite3_int64 port = sqlite3_column_int64(q, 2);

		if (address == NULL || !addr_parse(address, strlen(address), &t->addr.ip)) {
			set_err(err, errlen, "trunk %s: address '%s' is not an IP address", t->name,
				address ? address : "");
			ret = -EINVAL;
			goto out;
		}
		if (port < 1 || port > 65535) {
			set_err(err, errlen, "trunk %s: port %lld out of range", t->name,
				(long long)port);
			ret = -EINVAL;
			goto out;
		}
		t->addr.port = (uint16_t)port;
		if (transport == NULL || sip_transport_parse(transport, &t->transport) < 0 ||
		    (t->transport != SIP_TRANSPORT_UDP && t->transport != SIP_TRANSPORT_TCP)) {
			set_err(err, errlen, "trunk %s: transport '%s' is not udp or tcp", t->name,
				transport ? transport : "");
			ret = -EINVAL;
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = db_error(db, "trunks", err, errlen);
		goto out;
	}
	if (p->n_trunks > 0)
		qsort(p->trunks, p->n_trunks, sizeof(p->trunks[0]), trunk_cmp);
	goto out;
nomem:
	set_err(err, errlen, "trunks: out of memory");
	ret = -ENOMEM;
out:
	sqlite3_finalize(q);
	return ret;
}

static int route_cmp(const void *a, const void *b)
{
	const struct policy_route *x = a, *y = b;

	return strcmp(x->prefix, y->prefix);
}

static bool valid_prefix(const char *s)
{
	if (strlen(s) > POLICY_PREFIX_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || *s == '+' || *s == '*' || *s == '#'))
			return false;
	return true;
}

static int load_routes(sqlite3 *db, struct policy *p, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	size_t cap = 0;
	int rc, ret = 0;

	/* Routes whose trunk is disabled are left out: the trunk is not in the snapshot. */
	if (sqlite3_prepare_v2(db,
			       "SELECT r.prefix, r.trunk FROM routes r JOIN trunks t "
			       "ON t.name = r.trunk WHERE t.enabled",
			       -1, &q, NULL) != SQLITE_OK)
		return db_error(db, "routes", err, errlen);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *prefix = (const char *)sqlite3_column_text(q, 0);
		const char *trunk = (const char *)sqlite3_column_text(q, 1);

		if (prefix == NULL || !valid_prefix(prefix)) {
			set_err(err, errlen, "route '%s': a prefix is up to %d of 0-9 + * #",
				prefix ? prefix : "", POLICY_PREFIX_MAX);
			ret = -EINVAL;
			goto out;
		}
		const struct policy_trunk *t = trunk ? policy_trunk_find(p, trunk) : NULL;
		if (t == NULL) {
			set_err(err, errlen, "route '%s': trunk '%s' not found", prefix,
				trunk ? trunk : "");
			ret = -EINVAL;
			goto out;
		}
		if (p->n_routes == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct policy_route *n = realloc(p->routes, ncap * sizeof(*n));

			if (n == NULL)
				goto nomem;
			p->routes = n;
			cap = ncap;
		}
		struct policy_route *r = &p->routes[p->n_routes];
		r->prefix = strdup(prefix);
		if (r->prefix == NULL)
			goto nomem;
		p->n_routes++;
		r->len = strlen(prefix);
		r->trunk = t;
		if (r->len > p->max_prefix)
			p->max_prefix = r->len;
	}
	if (rc != SQLITE_DONE) {
		ret = db_error(db, "routes", err, errlen);
		goto out;
	}
	if (p->n_routes > 0)
		qsort(p->routes, p->n_routes, sizeof(p->routes[0]), route_cmp);
	for (size_t i = 1; i < p->n_routes; i++) {
		if (strcmp(p->routes[i - 1].prefix, p->routes[i].prefix) == 0) {
			set_err(err, errlen, "route prefix '%s' is defined twice",
				p->routes[i].prefix);
			ret = -EINVAL;
			goto out;
		}
	}
	goto out;
nomem:
	set_err(err, errlen, "routes: out of memory");
	ret = -ENOMEM;
out:
	sqlite3_finalize(q);
	return ret;
}

static int load_trusted(sqlite3 *db, struct policy *p, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(db, "SELECT cidr FROM trusted_networks ORDER BY cidr", -1, &q,
			       NULL) != SQLITE_OK)
		return db_error(db, "trusted_networks", err, errlen);
	p->trusted.count = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *cidr = (const char *)sqlite3_column_text(q, 0);

		if (p->trusted.count == ADDR_SET_MAX) {
			set_err(err, errlen, "trusted_networks: more than %d networks",
				ADDR_SET_MAX);
			ret = -E2BIG;
			goto out;
		}
		if (cidr == NULL ||
		    addr_cidr_parse(cidr, strlen(cidr), &p->trusted.nets[p->trusted.count]) < 0) {
			set_err(err, errlen, "trusted network '%s' is not IP/PREFIX",
				cidr ? cidr : "");
			ret = -EINVAL;
			goto out;
		}
		p->trusted.count++;
	}
	if (rc != SQLITE_DONE)
		ret = db_error(db, "trusted_networks", err, errlen);
out:
	sqlite3_finalize(q);
	return ret;
}

static int check_schema(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	unsigned int version;
	char why[256];

	if (migrate_version(db, &version, why, sizeof(why)) < 0) {
		set_err(err, errlen, "%s", why);
		return -EIO;
	}
	if (version == POLICY_SCHEMA_VERSION)
		return 0;
	if (version == 0)
		set_err(err, errlen,
			"not a policy database (no schema_migrations): run `sbc-db migrate %s` "
			"(and `sbc-db load %s SEED.sql`)",
			path, path);
	else if (version < POLICY_SCHEMA_VERSION)
		set_err(err, errlen,
			"schema version %u is older than this sbc-sip needs (%d): run `sbc-db "
			"migrate %s`",
			version, POLICY_SCHEMA_VERSION, path);
	else
		set_err(err, errlen,
			"schema version %u is newer than this sbc-sip knows (%d): upgrade sbc-sip "
			"to the release that migrated it",
			version, POLICY_SCHEMA_VERSION);
	return -EPROTO;
}

static int load_config_version(sqlite3 *db, struct policy *p, char *err, size_t errlen)
{
	sqlite3_stmt *q = NULL;
	int ret = 0;

	if (sqlite3_prepare_v2(db, "SELECT version FROM config_version WHERE id = 1", -1, &q,
			       NULL) != SQLITE_OK)
		return db_error(db, "config_version", err, errlen);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0) >= 0) {
		p->config_version = (uint64_t)sqlite3_column_int64(q, 0);
	} else {
		set_err(err, errlen, "config_version has no row");
		ret = -EINVAL;
	}
	sqlite3_finalize(q);
	return ret;
}

struct policy *policy_load(const char *path, char *err, size_t errlen)
{
	struct policy *p = calloc(1, sizeof(*p));
	char why[512] = "";
	sqlite3 *db = NULL;
	int rc, read_err = SQLITE_OK;

	if (p == NULL) {
		set_err(err, errlen, "policy %s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	/* Read-only: policy belongs to sbc-mgmt (ARCHITECTURE.md, SQLite databases). */
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		set_err(why, sizeof(why), "cannot open: %s (create it with `sbc-db migrate %s`)",
			db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), path);
		rc = -ENOENT;
		goto fail;
	}
	sqlite3_busy_timeout(db, POLICY_BUSY_TIMEOUT_MS);
	/* One read transaction: every table from the same commit of sbc-mgmt. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_error(db, "begin", why, sizeof(why));
		goto fail;
	}
	rc = check_schema(db, path, why, sizeof(why));
	if (rc == 0)
		rc = load_config_version(db, p, why, sizeof(why));
	if (rc == 0)
		rc = load_settings(db, &p->settings, why, sizeof(why));
	if (rc == 0)
		rc = load_users(db, p, why, sizeof(why));
	if (rc == 0)
		rc = load_trunks(db, p, why, sizeof(why));
	if (rc == 0)
		rc = load_routes(db, p, why, sizeof(why));
	if (rc == 0)
		rc = load_trusted(db, p, why, sizeof(why));
	read_err = sqlite3_errcode(db);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc < 0)
		goto fail;
	sqlite3_close(db);
	return p;
fail:
	if (read_err == SQLITE_READONLY || read_err == SQLITE_CANTOPEN)
		/* A read-only WAL reader must create -wal/-shm unless they already exist. */
		set_err(err, errlen,
			"policy %s: %s (a reader that cannot write the database's directory needs "
			"its -wal and -shm files to exist; sbc-db keeps them, see "
			"docs/database.md)",
			path, why);
	else
		set_err(err, errlen, "policy %s: %s", path, why);
	sqlite3_close(db);
	policy_free(p);
	errno = -rc;
	return NULL;
}

void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_users; i++)
		free_user(&p->users[i]);
	free(p->users);
	for (size_t i = 0; i < p->n_trunks; i++)
		free((char *)p->trunks[i].name);
	free(p->trunks);
	for (size_t i = 0; i < p->n_routes; i++)
		free(p->routes[i].prefix);
	free(p->routes);
	free(p);
}

int policy_reload(struct policy **current, const char *path, char *err, size_t errlen)
{
	char why[512];
	struct policy *next = policy_load(path, why, sizeof(why));

	if (next == NULL) {
		int rc = -errno;

		if (*current)
			set_err(err, errlen, "%s; keeping config_version %llu", why,
				(unsigned long long)(*current)->config_version);
		else
			set_err(err, errlen, "%s", why);
		return rc;
	}
	/* The swap is one pointer assignment; nothing else refers to the old snapshot once the
	 * caller's event loop is here. */
	struct policy *old = *current;
	*current = next;
	policy_free(old);
	return 0;
}
