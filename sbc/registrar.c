/* registrar: answers REGISTER requests per RFC 3261 §10.3 and keeps the bindings in the
 * registrations database. Lookups, expiry, keepalive targets and the dump: registrar_lookup.c. */
#include "registrar.h"
#include "registrar_priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "policy.h"
#include "regdb.h"
#include "siplex.h"

/* Contacts read from one REGISTER at most (registrar.max_contacts is at most 100): bounds the
 * work a single request can ask for. */
#define REGISTRAR_CONTACTS_MAX 128

/* The longest Contact URI accepted: what a struct registrar_target can carry. */
#define REGISTRAR_URI_MAX sizeof(((struct registrar_target *)NULL)->uri)
_Static_assert(REGISTRAR_URI_MAX <= REGDB_CONTACT_MAX, "regdb must hold every Contact");

/* One Contact of a REGISTER, validated before any binding changes (RFC 3261 §10.3 step 7: the
 * request succeeds as a whole or leaves nothing behind). */
struct reg_contact {
	char uri[REGISTRAR_URI_MAX];
	uint32_t expires; /* granted, 0 = remove */
	uint16_t q;	  /* x 1000 */
};

struct conn_ids {
	uint64_t *ids;
	size_t n, cap;
};

static int collect_conn(void *arg, const struct regdb_binding *b)
{
	struct conn_ids *c = arg;

	if (b->transport == SIP_TRANSPORT_UDP || b->conn_id == 0)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		uint64_t *ids = realloc(c->ids, cap * sizeof(*ids));

		if (ids == NULL)
			return 1;
		c->ids = ids;
		c->cap = cap;
	}
	c->ids[c->n++] = b->conn_id;
	return 0;
}

/* The connections of a previous run are gone, and the transport numbers its new ones from 1
 * again: a stale id could name another phone's connection. UDP bindings keep theirs (it names
 * the listening socket, which the NAT's filtering expects to hear from again). Collected first,
 * changed after, so that no row changes under the reading statement. */
static void forget_connections(struct registrar *r)
{
	struct conn_ids c = {0};

	if (regdb_load_all(r->db, 0, collect_conn, &c) < 0)
		LOG_WARN("registrar: cannot read connections: %s", regdb_errmsg(r->db));
	if (c.n > 0)
		LOG_INFO("registrar: forgetting %zu connection(s) of the previous run", c.n);
	for (size_t i = 0; i < c.n; i++)
		if (regdb_conn_closed(r->db, c.ids[i]) < 0) {
			LOG_WARN("registrar: cannot forget connection %llu: %s",
				 (unsigned long long)c.ids[i], regdb_errmsg(r->db));
			break;
		}
	free(c.ids);
}

struct registrar *registrar_new(const char *path, const struct policy *policy, struct auth *auth,
				char *err, size_t errlen)
{
	struct registrar *r;

	if (path == NULL || policy == NULL || auth == NULL) {
		snprintf(err, errlen, "registrar: missing database path, policy or authenticator");
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "registrar: out of memory");
		return NULL;
	}
	r->db = regdb_open(path, err, errlen);
	if (r->db == NULL) {
		int e = errno;

		free(r);
		errno = e;
		return NULL;
	}
	r->policy = policy;
	r->auth = auth;
	/* Bindings live in the database itself: nothing to copy, but say what survived. */
	int n = regdb_load_all(r->db, (uint64_t)time(NULL), NULL, NULL);

	if (n < 0)
		LOG_WARN("registrar: %s: cannot count bindings: %s", path, regdb_errmsg(r->db));
	else
		LOG_INFO("registrar: %s: %d binding(s) restored", path, n);
	forget_connections(r);
	return r;
}

void registrar_free(struct registrar *r)
{
	if (r == NULL)
		return;
	regdb_close(r->db);
	free(r);
}

void registrar_set_policy(struct registrar *r, const struct policy *policy)
{
	r->policy = policy;
}

/* Appends formatted header lines to out->headers; false (and nothing appended) when they do not
 * fit. */
__attribute__((format(printf, 2, 3))) static bool add_header(struct registrar_reply *out,
							     const char *fmt, ...)
{
	size_t used = strlen(out->headers);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out->headers + used, sizeof(out->headers) - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(out->headers) - used) {
		out->headers[used] = '\0';
		return false;
	}
	return true;
}

static int reply(struct registrar_reply *out, int code, const char *reason)
{
	out->code = code;
	out->reason = reason;
	return 0;
}

/* RFC 3261 §20.17: Date in the RFC 1123 form, always GMT. Names from a table: strftime's would
 * follow the locale. */
static void add_date(struct registrar_reply *out, uint64_t now_s)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)now_s;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return;
	add_header(out, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
		   tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		   tm.tm_sec);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The canonical AOR "user@domain": the user part with %HH escapes decoded (RFC 3261 §19.1.4
 * compares users unescaped and case-sensitively), the domain in lower case. Returns 0 or
 * -EINVAL. */
int registrar_canon_aor(const char *aor, char *out, size_t len)
{
	const char *at = aor ? strrchr(aor, '@') : NULL;
	size_t o = 0;

	if (at == NULL || at == aor || at[1] == '\0')
		return -EINVAL;
	for (const char *p = aor; p < at; p++) {
		char c = *p;

		if (c == '%' && at - p > 2 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			c = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 2;
		}
		if (c == '\0' || o + 1 >= len)
			return -EINVAL;
		out[o++] = c;
	}
	for (const char *p = at; *p; p++) {
		if (o + 1 >= len)
			return -EINVAL;
		out[o++] = (char)tolower((unsigned char)*p);
	}
	out[o] = '\0';
	return 0;
}

/* RFC 3261 §25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). Returns the
 * value x 1000, or -1. */
static int parse_q(const char *v, size_t len)
{
	int q;

	if (len == 0 || (v[0] != '0' && v[0] != '1'))
		return -1;
	q = (v[0] - '0') * 1000;
	if (len == 1)
		return q;
	if (v[1] != '.' || len > 5)
		return -1;
	int scale = 100;

	for (size_t i = 2; i < len; i++, scale /= 10) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		q += (v[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* The contact-params of Contact element idx: what follows its URI (and the closing '>') up to
 * the end of the element. */
static void contact_params(const char *uri, size_t urilen, const char **params, size_t *len)
{
	const char *p = uri + urilen, *e;

	if (uri[-1] == '<' && *p == '>')
		p++;
	for (e = p; *e != '\0' && *e != '\r' && *e != '\n'; e++)
		;
	*params = p;
	*len = siplex_first_elem(p, (size_t)(e - p));
}

/* True when contact i repeats an earlier one of the same request: the first one counts (a second
 * update with the same Call-ID and CSeq would fail the step 7 order check). */
static bool duplicate(const struct reg_contact *c, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(c[j].uri, c[i].uri) == 0)
			return true;
	return false;
}

/* Reads and checks every Contact of m. Returns the count, or 0 with out filled (a 4xx). */
static size_t read_contacts(struct registrar *r, const struct sip_msg *m, unsigned int n,
			    struct reg_contact *c, struct registrar_reply *out)
{
	const struct policy_settings *ps = policy_settings(r->policy);
	uint32_t hdr_expires;
	bool has_hdr = sipmsg_expires(m, &hdr_expires) == 0;
	size_t adds = 0;

	for (unsigned int i = 0; i < n; i++) {
		const char *uri, *params;
		size_t len, plen;
		struct siplex_span param, value;
		uint32_t e;

		if (sipmsg_contact_uri(m, i, &uri, &len) != 0 || len == 0) {
			reply(out, 400, "Bad Contact");
			return 0;
		}
		/* It must fit whole where the proxy takes it as a Request-URI. */
		if (len >= REGISTRAR_URI_MAX) {
			reply(out, 400, "Contact Too Long");
			return 0;
		}
		/* RFC 3261 §10.3 step 6: "*" only alone (checked by the caller for element 0). */
		if (len == 1 && uri[0] == '*') {
			reply(out, 400, "Invalid Contact *");
			return 0;
		}
		memcpy(c[i].uri, uri, len);
		c[i].uri[len] = '\0';
		/* RFC 3261 §10.3 step 7 / §10.2.1.1: the Contact's expires parameter, else the
		 * Expires header, else the local default. */
		if (sipmsg_contact_expires(m, i, &e) != 0)
			e = has_hdr ? hdr_expires : ps->reg_default_expires;
		/* RFC 3261 §10.3 step 7: too brief (but 0, which removes) is a 423 with
		 * Min-Expires (§20.23); too long is shortened, which the 200 tells the UA. */
		if (e != 0 && e < ps->reg_min_expires) {
			reply(out, 423, "Interval Too Brief");
			add_header(out, "Min-Expires: %u\r\n", ps->reg_min_expires);
			return 0;
		}
		if (e > ps->reg_max_expires)
			e = ps->reg_max_expires;
		c[i].expires = e;
		c[i].q = 1000;
		contact_params(uri, len, &params, &plen);
		if (siplex_via_param(params, plen, "q", &param, &value)) {
			int q = parse_q(params + value.off, value.len);

			if (q < 0) {
				reply(out, 400, "Bad q Value");
				return 0;
			}
			c[i].q = (uint16_t)q;
		}
		if (e != 0 && !duplicate(c, i))
			adds++;
	}
	/* More new contacts in one request than an AOR may hold: no binding could be replaced to
	 * make room, so refuse. */
	if (adds > ps->reg_max_contacts) {
		reply(out, 403, "Too Many Contacts");
		return 0;
	}
	return n;
}

struct evict_ctx {
	const struct reg_contact *c; /* the request's contacts: never evicted */
	size_t n;
	char victim[REGDB_CONTACT_MAX + 1];
	char call_id[REGDB_CALL_ID_MAX + 1];
	uint32_t cseq;
	uint64_t expires;
};

static int evict_pick(void *arg, const struct regdb_binding *b)
{
	struct evict_ctx *e = arg;

	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->c[i].uri, b->contact) == 0)
			return 0;
	/* The list goes from most to least recently updated within a q: "<=" keeps the older of
	 * two bindings that expire together. */
	if (e->victim[0] == '\0' || b->expires <= e->expires) {
		snprintf(e->victim, sizeof(e->victim), "%s", b->contact);
		snprintf(e->call_id, sizeof(e->call_id), "%s", b->call_id);
		e->cseq = b->cseq;
		e->expires = b->expires;
	}
	return 0;
}

/* registrar.max_contacts: when the request brought the AOR past the limit, the bindings that
 * would expire first (the ones their UA stopped refreshing, typically after a reboot with a new
 * port) make room for the new ones. Returns 0 or -EIO. */
static int evict(struct registrar *r, const char *aor, const struct reg_contact *c, size_t n,
		 uint64_t now_s)
{
	uint32_t max = policy_settings(r->policy)->reg_max_contacts;

	for (;;) {
		int count = regdb_count(r->db, aor, now_s);
		struct evict_ctx e = {.c = c, .n = n};

		if (count < 0)
			return -EIO;
		if ((uint32_t)count <= max)
			return 0;
		if (regdb_list(r->db, aor, now_s, evict_pick, &e) < 0)
			return -EIO;
		if (e.victim[0] == '\0')
			return 0; /* only the request's own contacts: read_contacts bounded them */
		/* Its own Call-ID with a higher CSeq passes the step 7 check: this removal is ours,
		 * not the UA's. */
		int rc = regdb_remove(r->db, aor, e.victim, e.call_id, e.cseq + 1);

		if (rc == -ENOENT)
			return 0; /* gone meanwhile: never loop on it */
		if (rc < 0)
			return -EIO;
	}
}

struct list_ctx {
	struct registrar_reply *out;
	uint64_t now_s;
	bool truncated;
};

static int list_contact(void *arg, const struct regdb_binding *b)
{
	struct list_ctx *l = arg;
	uint64_t left = b->expires > l->now_s ? b->expires - l->now_s : 0;
	bool ok;

	if (b->q == 1000)
		ok = add_header(l->out, "Contact: <%s>;expires=%llu\r\n", b->contact,
				(unsigned long long)left);
	else
		ok = add_header(l->out, "Contact: <%s>;expires=%llu;q=%u.%03u\r\n", b->contact,
				(unsigned long long)left, b->q / 1000u, b->q % 1000u);
	if (!ok) {
		l->truncated = true;
		return 1;
	}
	return 0;
}

/* RFC 3261 §10.3 step 8: 200 OK listing every current binding with its remaining time, and a
 * Date header. */
static int reply_ok(struct registrar *r, const char *aor, uint64_t now_s,
		    struct registrar_reply *out)
{
	struct list_ctx l = {.out = out, .now_s = now_s};

	add_date(out, now_s);
	if (regdb_list(r->db, aor, now_s, list_contact, &l) < 0)
		return -EIO;
	if (l.truncated && log_ratelimit_ok(&r->log_rl, 5, 60000))
		LOG_WARN("registrar: %s: too many bindings to list them all in the 200", aor);
	return reply(out, 200, "OK");
}

static int db_failed(struct registrar *r, struct registrar_reply *out)
{
	if (log_ratelimit_ok(&r->log_rl, 5, 60000))
		LOG_ERR("registrar: database: %s", regdb_errmsg(r->db));
	out->headers[0] = '\0';
	reply(out, 500, "Server Internal Error");
	return -EIO;
}

/* RFC 3261 §10.3 step 7: an older request (same Call-ID, CSeq not higher) fails the whole
 * request, with the 500 the step prescribes for any failed update. */
static int out_of_order(struct registrar_reply *out)
{
	out->headers[0] = '\0';
	return reply(out, 500, "Request Out Of Order");
}

/* Applies the contacts of one REGISTER in one transaction. */
static int update(struct registrar *r, const char *aor, const struct sip_msg *m,
		  const struct registrar_src *src, const char *call_id, uint32_t cseq,
		  const struct reg_contact *c, size_t n, uint64_t now_s,
		  struct registrar_reply *out)
{
	char ua[REGDB_USER_AGENT_MAX + 1] = "";
	size_t ualen;
	const char *uav = sipmsg_header(m, "User-Agent", &ualen);
	int rc = 0;

	if (uav != NULL)
		snprintf(ua, sizeof(ua), "%.*s",
			 (int)(ualen < REGDB_USER_AGENT_MAX ? ualen : REGDB_USER_AGENT_MAX), uav);
	if (regdb_begin(r->db) < 0)
		return db_failed(r, out);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (duplicate(c, i))
			continue;
		if (c[i].expires == 0) {
			rc = regdb_remove(r->db, aor, c[i].uri, call_id, cseq);
			if (rc == -ENOENT)
				rc = 0;
			continue;
		}
		/* The Contact stays as the UA wrote it (it becomes the Request-URI); the source
		 * address:port is the path requests take back through its NAT. */
		struct regdb_binding b = {
			.aor = aor,
			.contact = c[i].uri,
			.received = src->addr,
			.transport = src->transport,
			.conn_id = src->conn_id,
			.natted = src->fx != NULL && src->fx->natted != 0,
			.expires = now_s + c[i].expires,
			.user_agent = ua,
			.call_id = call_id,
			.cseq = cseq,
			.q = c[i].q,
		};

		rc = regdb_save(r->db, &b, now_s, NULL);
	}
	if (rc == 0)
		rc = evict(r, aor, c, n, now_s);
	if (rc < 0) {
		regdb_rollback(r->db);
		if (rc == -ESTALE)
			return out_of_order(out);
		if (rc == -EINVAL) {
			out->headers[0] = '\0';
			return reply(out, 400, "Bad Binding");
		}
		return db_failed(r, out);
	}
	if (regdb_commit(r->db) < 0)
		return db_failed(r, out);
	return 0;
}

static int challenge(struct registrar *r, const struct registrar_src *src, bool stale,
		     uint64_t now_s, struct registrar_reply *out)
{
	size_t used = strlen(out->headers);

	if (auth_challenge(r->auth, false, stale, now_s, &src->addr.ip, out->headers + used,
			   sizeof(out->headers) - used) < 0) {
		out->headers[used] = '\0';
		return reply(out, 500, "Server Internal Error");
	}
	return reply(out, 401, "Unauthorized");
}

int registrar_handle(struct registrar *r, const struct sip_msg *m, const struct registrar_src *src,
		     uint64_t now_s, struct registrar_reply *out)
{
	char domain[256], to[REGDB_AOR_MAX + 1], aor[REGDB_AOR_MAX + 1], user[128];
	char call_id[REGDB_CALL_ID_MAX + 1];
	struct sip_host ruri;
	const char *cid;
	size_t cidlen;

	memset(out, 0, sizeof(*out));
	/* Step 1 (the Request-URI names a domain we serve) is the caller's. Its host is the domain
	 * the user is authenticated in, except that an address (which can only be the SBC's own)
	 * stands for the default domain, the realm: phones often register to the SBC's address,
	 * and the proxy's lookups map that address the same way. */
	if (sipmsg_ruri(m, &ruri) != 0)
		return reply(out, 400, "Bad Request-URI");
	if (ruri.is_ip)
		snprintf(domain, sizeof(domain), "%s", policy_settings(r->policy)->realm);
	else
		for (size_t i = 0; i < sizeof(domain); i++) {
			domain[i] = (char)tolower((unsigned char)ruri.host[i]);
			if (domain[i] == '\0')
				break;
		}
	domain[sizeof(domain) - 1] = '\0';

	/* Step 3: authenticate (RFC 3261 §22). */
	switch (auth_verify(r->auth, m, false, domain, now_s, &src->addr.ip, user, sizeof(user))) {
	case AUTH_OK:
		break;
	case AUTH_NO_CREDENTIALS:
		return challenge(r, src, false, now_s, out);
	case AUTH_STALE:
		return challenge(r, src, true, now_s, out);
	case AUTH_FAILED:
		out->auth_failed = true;
		return challenge(r, src, false, now_s, out);
	case AUTH_MALFORMED:
	default:
		return reply(out, 400, "Malformed Authorization");
	}

	/* Step 4: the authenticated user may change only its own bindings. Step 5: the AOR of To
	 * must belong to the domain of the Request-URI (404). */
	if (sipmsg_to_aor(m, to, sizeof(to)) != 0 || registrar_canon_aor(to, aor, sizeof(aor)) != 0)
		return reply(out, 400, "Bad To");
	char *at = strrchr(aor, '@');

	*at = '\0';
	bool same_user = strcmp(aor, user) == 0;

	*at = '@';
	if (!same_user)
		return reply(out, 403, "Forbidden");
	if (strcmp(at + 1, domain) != 0 && strcasecmp(at + 1, ruri.host) != 0)
		return reply(out, 404, "Not Found");
	/* The binding is kept under the domain the proxy looks up ("alice@192.0.2.1" registered
	 * to our address is "alice@<realm>"). */
	size_t ulen = (size_t)(at + 1 - aor);

	if (ulen + strlen(domain) >= sizeof(aor))
		return reply(out, 400, "Bad To");
	memcpy(at + 1, domain, strlen(domain) + 1);

	cid = sipmsg_call_id(m, &cidlen);
	uint32_t cseq = sipmsg_cseq(m);

	/* regdb keeps Call-IDs up to REGDB_CALL_ID_MAX; RFC 3261 §8.1.1.5 keeps CSeq below 2^31. */
	if (cid == NULL || cidlen == 0 || cidlen > REGDB_CALL_ID_MAX)
		return reply(out, 400, "Bad Call-ID");
	if (cseq > INT32_MAX)
		return reply(out, 400, "Bad CSeq");
	memcpy(call_id, cid, cidlen);
	call_id[cidlen] = '\0';

	/* Step 6: "Contact: *" removes every binding, only alone and with Expires: 0. */
	unsigned int n = sipmsg_contact_count(m);

	if (n > 0 && sipmsg_contact_is_star(m)) {
		uint32_t e;

		if (n != 1 || sipmsg_expires(m, &e) != 0 || e != 0)
			return reply(out, 400, "Invalid Contact *");
		int rc = regdb_remove_all(r->db, aor, call_id, cseq);

		if (rc == -ESTALE)
			return out_of_order(out);
		if (rc < 0)
			return db_failed(r, out);
		return reply_ok(r, aor, now_s, out) < 0 ? db_failed(r, out) : 0;
	}

	/* Step 7: all contacts checked first, then applied together. */
	if (n > REGISTRAR_CONTACTS_MAX)
		return reply(out, 403, "Too Many Contacts");
	if (n > 0) {
		struct reg_contact *c = calloc(n, sizeof(*c));
		int rc;

		if (c == NULL) {
			reply(out, 500, "Server Internal Error");
			return -ENOMEM;
		}
		if (read_contacts(r, m, n, c, out) == 0) {
			free(c);
			return 0;
		}
		rc = update(r, aor, m, src, call_id, cseq, c, n, now_s, out);
		free(c);
		if (rc < 0 || out->code != 0)
			return rc;
	}
	/* Step 8 (a REGISTER without Contact only asks for the list). */
	return reply_ok(r, aor, now_s, out) < 0 ? db_failed(r, out) : 0;
}
