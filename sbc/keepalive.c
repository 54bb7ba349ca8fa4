/* keepalive: pings every NAT'd binding once per interval, spread evenly over it, and counts the
 * answers the proxy reports. */
#include "keepalive.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

/* One binding to ping in the current round (a copy: the registrar may change meanwhile). */
struct ka_target {
	char uri[512];
	struct addr_port dst;
	enum sip_transport transport;
	uint64_t conn_id;
	bool options;  /* an OPTIONS went out: an answer is expected */
	bool answered; /* and it came */
};

struct keepalive {
	keepalive_send_fn send;
	void *send_arg;
	keepalive_foreach_fn foreach;
	void *foreach_arg;
	char local[256];
	uint64_t seed;
	uint32_t interval_s; /* for the next round */
	bool running;	     /* a round is under way */
	uint64_t round;	     /* number of the current round (in Call-IDs) */
	uint64_t round_start_ms;
	uint64_t round_len_ms; /* the interval the current round was started with */
	struct ka_target *targets;
	size_t count, cap;
	size_t next; /* first target not pinged yet */
	uint64_t counter;
	struct keepalive_stats stats;
	struct log_ratelimit log_rl;
};

/* Call-IDs of our OPTIONS: "ka-<seed>-<round>-<index>", all hex, so that a response maps back to
 * its target without a table of pending pings. */
#define KA_CALLID_PREFIX "ka-"

struct keepalive *keepalive_new(const struct keepalive_cfg *cfg)
{
	struct keepalive *ka;

	if (cfg == NULL || cfg->send == NULL || cfg->foreach == NULL || cfg->local == NULL ||
	    cfg->local[0] == '\0' || strlen(cfg->local) >= sizeof(ka->local)) {
		errno = EINVAL;
		return NULL;
	}
	ka = calloc(1, sizeof(*ka));
	if (ka == NULL)
		return NULL;
	ka->send = cfg->send;
	ka->send_arg = cfg->send_arg;
	ka->foreach = cfg->foreach;
	ka->foreach_arg = cfg->foreach_arg;
	strcpy(ka->local, cfg->local);
	ka->interval_s = cfg->interval_s;
	ka->seed = cfg->seed;
	if (ka->seed == 0 && getrandom(&ka->seed, sizeof(ka->seed), 0) != sizeof(ka->seed)) {
		int e = errno;

		free(ka);
		errno = e;
		return NULL;
	}
	return ka;
}

void keepalive_free(struct keepalive *ka)
{
	if (ka == NULL)
		return;
	free(ka->targets);
	free(ka);
}

void keepalive_set_interval(struct keepalive *ka, uint32_t interval_s)
{
	ka->interval_s = interval_s;
}

static void collect(void *arg, const struct registrar_target *t)
{
	struct keepalive *ka = arg;

	if (ka->count == ka->cap) {
		size_t cap = ka->cap ? ka->cap * 2 : 64;
		struct ka_target *n = realloc(ka->targets, cap * sizeof(*n));

		if (n == NULL) {
			/* Out of memory: this round pings fewer bindings; the next one tries again. */
			if (log_ratelimit_ok(&ka->log_rl, 1, 60000))
				LOG_WARN("keepalive: no memory for %zu targets", cap);
			return;
		}
		ka->targets = n;
		ka->cap = cap;
	}
	struct ka_target *k = &ka->targets[ka->count++];

	memset(k, 0, sizeof(*k));
	snprintf(k->uri, sizeof(k->uri), "%s", t->uri);
	k->dst = t->dst;
	k->transport = t->transport;
	k->conn_id = t->conn_id;
}

/* An OPTIONS request per RFC 3261 §11.1 with the mandatory headers of §8.1.1: a Via with a fresh
 * RFC 3261 branch and rport (RFC 3581, so that the answer comes back through the NAT to the port
 * we sent from), Max-Forwards 70, From with a tag, To without one, Call-ID, CSeq. */
static int build_options(struct keepalive *ka, size_t idx, char *buf, size_t len)
{
	const struct ka_target *t = &ka->targets[idx];
	uint64_t n = ++ka->counter;
	int w = snprintf(buf, len,
			 "OPTIONS %s SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP %s;branch=z9hG4bKka%016" PRIx64 "%" PRIx64 ";rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sip:keepalive@%s>;tag=ka%" PRIx64 "%" PRIx64 "\r\n"
			 "To: <%s>\r\n"
			 "Call-ID: " KA_CALLID_PREFIX "%016" PRIx64 "-%" PRIx64 "-%zx\r\n"
			 "CSeq: 1 OPTIONS\r\n"
			 "Content-Length: 0\r\n\r\n",
			 t->uri, ka->local, ka->seed, n, ka->local, ka->seed ^ n, n, t->uri,
			 ka->seed, ka->round, idx);

	return w < 0 || (size_t)w >= len ? -ENOSPC : w;
}

static void ping(struct keepalive *ka, size_t idx)
{
	struct ka_target *t = &ka->targets[idx];
	char buf[2048];
	int rc;

	if (t->transport == SIP_TRANSPORT_UDP) {
		int len = build_options(ka, idx, buf, sizeof(buf));

		if (len < 0) {
			ka->stats.send_errors++;
			return;
		}
		rc = ka->send(ka->send_arg, &t->dst, t->transport, t->conn_id, buf, (size_t)len);
		t->options = rc == 0;
	} else if (t->conn_id == 0) {
		/* The UA's connection closed: a new one from our side would not get through its
		 * NAT, so there is nothing to keep alive until it registers again. */
		ka->stats.skipped++;
		return;
	} else {
		/* RFC 5626 §4.4.1: a double CRLF keeps a connection-oriented flow alive. */
		rc = ka->send(ka->send_arg, &t->dst, t->transport, t->conn_id, "\r\n\r\n", 4);
	}
	if (rc == 0)
		ka->stats.sent++;
	else
		ka->stats.send_errors++;
}

/* Closes the current round: OPTIONS still unanswered count as timeouts. */
static void end_round(struct keepalive *ka)
{
	for (size_t i = 0; i < ka->next; i++)
		if (ka->targets[i].options && !ka->targets[i].answered)
			ka->stats.timeouts++;
	ka->count = 0;
	ka->next = 0;
	ka->running = false;
}

static uint64_t due(const struct keepalive *ka, size_t idx)
{
	return ka->round_start_ms + ka->round_len_ms * idx / ka->count;
}

uint64_t keepalive_run(struct keepalive *ka, uint64_t now_ms)
{
	if (ka->running && ka->next >= ka->count && now_ms >= ka->round_start_ms + ka->round_len_ms)
		end_round(ka);
	if (!ka->running) {
		if (ka->interval_s == 0)
			return UINT64_MAX;
		ka->running = true;
		ka->round++;
		ka->stats.rounds++;
		ka->round_start_ms = now_ms;
		ka->round_len_ms = (uint64_t)ka->interval_s * 1000;
		ka->foreach (ka->foreach_arg, collect, ka);
	}
	while (ka->next < ka->count && due(ka, ka->next) <= now_ms)
		ping(ka, ka->next++);
	if (ka->next < ka->count)
		return due(ka, ka->next);
	return ka->round_start_ms + ka->round_len_ms;
}

/* Parses lowercase/uppercase hex in s[0..len) into *out; false when empty, too long or not hex. */
static bool parse_hex(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 16)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* Splits the next '-'-terminated (or final) hex field off *s. */
static bool next_hex(const char **s, const char *end, uint64_t *out)
{
	const char *p = *s;
	const char *dash = memchr(p, '-', (size_t)(end - p));
	const char *e = dash ? dash : end;

	if (!parse_hex(p, (size_t)(e - p), out))
		return false;
	*s = dash ? dash + 1 : end;
	return true;
}

bool keepalive_response(struct keepalive *ka, const char *call_id, size_t len, int status)
{
	const size_t plen = sizeof(KA_CALLID_PREFIX) - 1;
	const char *p = call_id, *end = call_id + len;
	uint64_t seed, round, idx;

	(void)status;
	if (call_id == NULL || len <= plen || memcmp(call_id, KA_CALLID_PREFIX, plen) != 0)
		return false;
	p += plen;
	if (!next_hex(&p, end, &seed) || seed != ka->seed || !next_hex(&p, end, &round) ||
	    !next_hex(&p, end, &idx) || p != end)
		return false;
	/* Ours. Only an answer within its own round counts; a late one is still ours to drop. */
	if (ka->running && round == ka->round && idx < ka->next) {
		struct ka_target *t = &ka->targets[idx];

		if (t->options && !t->answered) {
			t->answered = true;
			ka->stats.answered++;
		}
	}
	return true;
}

void keepalive_get_stats(const struct keepalive *ka, struct keepalive_stats *out)
{
	*out = ka->stats;
}
