/* registrar_lookup: what the registrar's bindings are used for once stored — location lookups
 * for the proxy, expiry, connections that closed, keepalive targets and the control dump. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "regdb.h"
#include "registrar.h"
#include "registrar_priv.h"
#include "siplex.h"

/* Parses the host:port of a URI into ap when the host is an IP literal. */
static bool uri_addr(const char *uri, struct addr_port *ap, bool *secure)
{
	struct siplex_span hp;
	size_t len = strlen(uri);

	*secure = strncasecmp(uri, "sips:", 5) == 0;
	if (!siplex_uri_hostport(uri, len, &hp))
		return false;
	const char *h = uri + hp.off, *end = h + hp.len, *colon;
	size_t hostlen;

	if (*h == '[') {
		const char *rb = memchr(h, ']', hp.len);

		if (rb == NULL)
			return false;
		hostlen = (size_t)(rb + 1 - h);
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(h, ':', hp.len);
		hostlen = colon ? (size_t)(colon - h) : hp.len;
	}
	if (!addr_parse(h, hostlen, &ap->ip))
		return false;
	ap->port = *secure ? 5061 : 5060;
	if (colon != NULL) {
		unsigned long port = 0;

		for (const char *p = colon + 1; p < end; p++) {
			if (*p < '0' || *p > '9')
				return false;
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return false;
		}
		if (port == 0)
			return false;
		ap->port = (uint16_t)port;
	}
	return true;
}

/* Where a request for binding b goes. A NAT'd UA is reached only through the path its REGISTER
 * came by; another one at its Contact (when that is an address; a name is left to the received
 * path too, as resolving it here would block the loop). */
static void to_target(const struct regdb_binding *b, struct registrar_target *t)
{
	struct siplex_span param, value;
	bool secure;

	memset(t, 0, sizeof(*t));
	snprintf(t->uri, sizeof(t->uri), "%s", b->contact);
	t->natted = b->natted;
	t->transport = b->transport;
	t->conn_id = b->conn_id;
	t->dst = b->received;
	if (b->natted || !uri_addr(b->contact, &t->dst, &secure)) {
		t->dst = b->received;
		return;
	}
	/* RFC 3263 §4.1: the transport parameter of the URI names the transport. */
	if (siplex_via_param(b->contact, strlen(b->contact), "transport", &param, &value)) {
		char tr[8];

		if (value.len < sizeof(tr)) {
			memcpy(tr, b->contact + value.off, value.len);
			tr[value.len] = '\0';
			sip_transport_parse(tr, &t->transport);
		}
	} else if (secure) {
		t->transport = SIP_TRANSPORT_TLS;
	}
}

struct lookup_ctx {
	struct registrar_target *out;
	size_t max, n;
};

static int lookup_one(void *arg, const struct regdb_binding *b)
{
	struct lookup_ctx *l = arg;

	if (l->n >= l->max)
		return 1;
	to_target(b, &l->out[l->n++]);
	return 0;
}

size_t registrar_lookup(struct registrar *r, const char *aor, uint64_t now_s,
			struct registrar_target *out, size_t max)
{
	char canon[REGDB_AOR_MAX + 1];
	struct lookup_ctx l = {.out = out, .max = max};

	if (max == 0 || registrar_canon_aor(aor, canon, sizeof(canon)) != 0)
		return 0;
	/* regdb lists the highest q first (RFC 3261 §16.6: best targets first). */
	if (regdb_list(r->db, canon, now_s, lookup_one, &l) < 0 &&
	    log_ratelimit_ok(&r->log_rl, 5, 60000))
		LOG_ERR("registrar: lookup %s: %s", canon, regdb_errmsg(r->db));
	return l.n;
}

size_t registrar_expire(struct registrar *r, uint64_t now_s)
{
	int n = regdb_expire(r->db, now_s, NULL, NULL);

	if (n < 0) {
		if (log_ratelimit_ok(&r->log_rl, 5, 60000))
			LOG_ERR("registrar: expiry: %s", regdb_errmsg(r->db));
		return 0;
	}
	return (size_t)n;
}

void registrar_conn_closed(struct registrar *r, uint64_t conn_id)
{
	if (regdb_conn_closed(r->db, conn_id) < 0 && log_ratelimit_ok(&r->log_rl, 5, 60000))
		LOG_ERR("registrar: connection %llu closed: %s", (unsigned long long)conn_id,
			regdb_errmsg(r->db));
}

struct natted_ctx {
	void (*fn)(void *arg, const struct registrar_target *t);
	void *arg;
};

static int natted_one(void *arg, const struct regdb_binding *b)
{
	struct natted_ctx *c = arg;
	struct registrar_target t;

	if (!b->natted)
		return 0;
	to_target(b, &t);
	c->fn(c->arg, &t);
	return 0;
}

void registrar_foreach_natted(struct registrar *r, uint64_t now_s,
			      void (*fn)(void *arg, const struct registrar_target *t), void *arg)
{
	struct natted_ctx c = {.fn = fn, .arg = arg};

	if (regdb_load_all(r->db, now_s, natted_one, &c) < 0 &&
	    log_ratelimit_ok(&r->log_rl, 5, 60000))
		LOG_ERR("registrar: keepalive targets: %s", regdb_errmsg(r->db));
}

struct dump_ctx {
	json_t *arr;
	uint64_t now_s;
	bool failed;
};

/* A JSON string of s; bytes that are not UTF-8 (a User-Agent may carry anything) become '?'
 * rather than failing the whole dump. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");

	if (j != NULL)
		return j;
	char *copy = strdup(s);

	if (copy == NULL)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static int dump_one(void *arg, const struct regdb_binding *b)
{
	struct dump_ctx *d = arg;
	char rec[ADDR_STRLEN];
	json_t *o = json_pack("{s:o, s:o, s:s, s:s, s:b, s:I, s:o}", "aor", jstr(b->aor), "contact",
			      jstr(b->contact), "received",
			      addr_port_format(&b->received, rec, sizeof(rec)), "transport",
			      sip_transport_name(b->transport), "natted", b->natted, "expires_in",
			      (json_int_t)(b->expires > d->now_s ? b->expires - d->now_s : 0),
			      "user_agent", jstr(b->user_agent));

	if (o == NULL || json_array_append_new(d->arr, o) != 0) {
		d->failed = true;
		return 1;
	}
	return 0;
}

json_t *registrar_dump(struct registrar *r, uint64_t now_s)
{
	struct dump_ctx d = {.arr = json_array(), .now_s = now_s};

	if (d.arr == NULL)
		return NULL;
	if (regdb_load_all(r->db, now_s, dump_one, &d) < 0 || d.failed) {
		json_decref(d.arr);
		return NULL;
	}
	return d.arr;
}

void registrar_flush(struct registrar *r)
{
	if (regdb_flush(r->db) != 0)
		LOG_ERR("registrations: cannot write the database (%s): the last changes are lost",
			regdb_errmsg(r->db));
}
