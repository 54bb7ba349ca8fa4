/* ng_cmd_test_harness: the fake relay, set-up and request helpers of the ng_cmd tests (see
 * ng_cmd_test_harness.h). */
#include "ng_cmd_test_harness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

static int f_stream_new(void *arg, struct ng_stream_ports *sp)
{
	struct fake *f = arg;

	if (f->next_port >= 30100)
		return -ENOSPC;
	sp->worker = 0;
	if (sp->addr == NG_ADDR_ANY)
		sp->addr = (uint8_t)(f->naddrs ? f->next_addr++ % f->naddrs : 0);
	f->addr[f->next_port] = f->addr[f->next_port + 2] = sp->addr;
	sp->port[0] = f->next_port;
	sp->port[1] = (uint16_t)(f->next_port + 2);
	f->next_port = (uint16_t)(f->next_port + 4);
	f->streams++;
	return 0;
}

static void f_stream_free(void *arg, const struct ng_stream_ports *sp)
{
	struct fake *f = arg;

	f->freed++;
	f->set[sp->port[0]] = f->set[sp->port[1]] = false;
}

static int f_leg_set(void *arg, const struct ng_stream_ports *sp, unsigned leg,
		     const struct latch_expect *exp, bool update)
{
	struct fake *f = arg;
	uint16_t p = sp->port[leg];

	assert_int_equal(update, f->set[p]);
	f->set[p] = true;
	f->exp[p] = *exp;
	if (update)
		f->updates++;
	else
		f->sets++;
	return 0;
}

static int f_leg_stats(void *arg, const struct ng_stream_ports *sp, unsigned leg,
		       struct ng_leg_stats *out)
{
	struct fake *f = arg;

	*out = f->stats[sp->port[leg]];
	return 0;
}

static void f_timeout(void *arg, const struct ng_call *call, uint64_t idle_ms)
{
	struct fake *f = arg;

	(void)idle_ms;
	f->timeouts++;
	f->timed_out = call;
}

static const struct ng_ops fake_ops = {
	.stream_new = f_stream_new,
	.stream_free = f_stream_free,
	.leg_set = f_leg_set,
	.leg_stats = f_leg_stats,
	.media_timeout = f_timeout,
};

const char SDP_A[] = "v=0\r\n"
		     "o=alice 2890844526 2890844526 IN IP4 192.168.1.10\r\n"
		     "s=-\r\n"
		     "c=IN IP4 192.168.1.10\r\n"
		     "t=0 0\r\n"
		     "m=audio 27910 RTP/AVP 0 8 101\r\n"
		     "a=rtpmap:101 telephone-event/8000\r\n"
		     "a=ice-ufrag:abcd\r\n"
		     "a=ice-pwd:0123456789abcdef01234567\r\n"
		     "a=candidate:1 1 UDP 2130706431 192.168.1.10 27910 typ host\r\n"
		     "a=sendrecv\r\n";

const char SDP_B[] = "v=0\r\n"
		     "o=bob 1 1 IN IP4 198.51.100.20\r\n"
		     "s=-\r\n"
		     "c=IN IP4 198.51.100.20\r\n"
		     "t=0 0\r\n"
		     "m=audio 40000 RTP/AVP 0\r\n";

int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct ng_cmd_cfg cfg;

	assert_non_null(c);
	c->f = calloc(1, sizeof(*c->f));
	c->f->next_port = 30000;
	memset(&cfg, 0, sizeof(cfg));
	cfg.media_addr[0].family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &cfg.media_addr[0].v4);
	cfg.media_timeout_s = 30;
	c->nc = ng_cmd_new(&cfg, &fake_ops, c->f);
	c->srv = ng_server_new(c->nc, 0);
	c->now.ms = 1000000;
	c->now.unix_s = 1700000000;
	*state = c;
	return 0;
}

int teardown(void **state)
{
	struct ctx *c = *state;

	free(c->items);
	ng_server_free(c->srv);
	ng_cmd_free(c->nc);
	free(c->f);
	free(c);
	return 0;
}

/* Sends "cookie SP <dict written by the caller into w>" and decodes the reply's dictionary. */
const struct bencode_item *send_req(struct ctx *c, const char *cookie, const char *body,
				    size_t blen)
{
	char dgram[8192];
	int n = snprintf(dgram, sizeof(dgram), "%s ", cookie);
	ssize_t r;
	const char *rc, *rb;
	size_t rcl, rbl;

	memcpy(dgram + n, body, blen);
	r = ng_server_handle(c->srv, dgram, (size_t)n + blen, &c->now, c->reply, sizeof(c->reply));
	assert_true(r > 0);
	c->reply_len = (size_t)r;
	assert_int_equal(bencode_ng_split(c->reply, c->reply_len, &rc, &rcl, &rb, &rbl, NULL), 0);
	assert_int_equal(rcl, strlen(cookie));
	assert_memory_equal(rc, cookie, rcl);
	free(c->items);
	c->items = bencode_decode_new(rb, rbl, 10000, NULL);
	assert_non_null(c->items);
	return c->items;
}

void kv(struct bencode_writer *w, const char *k, const char *v)
{
	bencode_put_kv_str(w, k, v);
}

void list(struct bencode_writer *w, const char *k, const char *const *vals)
{
	bencode_put_cstr(w, k);
	bencode_put_list(w);
	for (; *vals; vals++)
		bencode_put_cstr(w, *vals);
	bencode_put_end(w);
}

size_t simple(char *buf, size_t cap, const char *cmd, const char *k2, const char *v2)
{
	struct bencode_writer w;
	size_t len;

	bencode_writer_init(&w, buf, cap);
	bencode_put_dict(&w);
	kv(&w, "command", cmd);
	kv(&w, "call-id", "call-1@192.168.1.10");
	if (k2)
		kv(&w, k2, v2);
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	return len;
}

bool result_is(const struct bencode_item *d, const char *r)
{
	return bencode_str_eq(bencode_dict_get(d, "result"), r);
}

const char *reply_sdp(const struct bencode_item *d, size_t *len)
{
	const char *s;

	assert_true(bencode_dict_get_str(d, "sdp", &s, len));
	return s;
}

bool contains(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle)) != NULL;
}

/* A request on call "call-1@192.168.1.10" with trust-address; NULL keys are left out. */
const struct bencode_item *ng(struct ctx *c, const char *cmd, const char *from, const char *to,
			      const char *vb, const char *sdp)
{
	char body[4096], cookie[16];
	struct bencode_writer w;
	size_t len;

	bencode_writer_init(&w, body, sizeof(body));
	bencode_put_dict(&w);
	kv(&w, "command", cmd);
	kv(&w, "call-id", "call-1@192.168.1.10");
	if (from)
		kv(&w, "from-tag", from);
	if (to)
		kv(&w, "to-tag", to);
	if (vb)
		kv(&w, "via-branch", vb);
	if (sdp)
		kv(&w, "sdp", sdp);
	list(&w, "flags", (const char *const[]){"trust-address", NULL});
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	snprintf(cookie, sizeof(cookie), "g%u", ++c->seq);
	return send_req(c, cookie, body, len);
}

/* An SDP from ip with one audio stream on port, and a video stream on vport unless 0. */
const char *sdp_at(char *buf, size_t cap, const char *ip, unsigned port, unsigned vport)
{
	int n = snprintf(buf, cap,
			 "v=0\r\no=x 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
			 "m=audio %u RTP/AVP 0\r\n",
			 ip, ip, port);

	if (vport)
		snprintf(buf + n, cap - (size_t)n, "m=video %u RTP/AVP 96\r\n", vport);
	return buf;
}

/* The reply is ok and its SDP's audio port is port. */
void reply_port(const struct bencode_item *d, unsigned port)
{
	char want[32];
	const char *sdp;
	size_t len;

	assert_true(result_is(d, "ok"));
	sdp = reply_sdp(d, &len);
	snprintf(want, sizeof(want), "m=audio %u ", port);
	if (!contains(sdp, len, want))
		fail_msg("reply SDP without '%s': %.*s", want, (int)len, sdp);
}

void exp_is(struct ctx *c, uint16_t port, const char *ip, unsigned rtp_port)
{
	char buf[64];

	assert_true(c->f->set[port]);
	assert_string_equal(addr_format(&c->f->exp[port].addr, buf, sizeof(buf)), ip);
	assert_int_equal(c->f->exp[port].rtp_port, rtp_port);
}

int setup_addrs(void **state)
{
	struct ctx *c;
	struct ng_cmd_cfg cfg;

	setup(state);
	c = *state;
	ng_server_free(c->srv);
	ng_cmd_free(c->nc);
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_media = 2;
	inet_pton(AF_INET, "192.0.2.1", &cfg.media_addr[0].v4);
	inet_pton(AF_INET, "198.51.100.7", &cfg.media_addr[1].v4);
	cfg.media_addr[0].family = cfg.media_addr[1].family = AF_INET;
	c->f->naddrs = 2;
	c->nc = ng_cmd_new(&cfg, &fake_ops, c->f);
	c->srv = ng_server_new(c->nc, 0);
	return c->nc && c->srv ? 0 : -1;
}
