/* media_test: offer/answer through a fake dataplane on loopback — the SDP is replaced by the
 * relay's, the NAT verdict and received-from are sent, refusals become 488 and silence 500. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "bencode.h"
#include "loop.h"
#include "media.h"

static const char invite_fmt[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
				 "Via: SIP/2.0/UDP 192.168.1.10:5060;branch=z9hG4bKm1\r\n"
				 "From: <sip:alice@example.com>;tag=ft1\r\n"
				 "To: <sip:bob@example.com>\r\n"
				 "Call-ID: media-test-1\r\nCSeq: 1 INVITE\r\n"
				 "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s";
static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 192.168.1.10\r\ns=-\r\nc=IN IP4 192.168.1.10\r\n"
			  "t=0 0\r\nm=audio 27910 RTP/AVP 0\r\n";
static const char relay_sdp[] = "v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\n"
				"c=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";

struct fake {
	int fd;
	uint16_t port;
	char last_flags[64];
	char last_rf[64];
};

static void fake_open(struct fake *f)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sin);

	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(f->fd, (struct sockaddr *)&sin, &sl);
	f->port = ntohs(sin.sin_port);
}

/* Answers the next offer/answer (ignoring pings) with result (and the relay SDP when ok). */
static bool fake_serve(struct fake *f, const char *result)
{
	char buf[65536], out[4096];
	struct sockaddr_in from;
	socklen_t sl = sizeof(from);

	for (;;) {
		ssize_t n = recvfrom(f->fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &sl);
		const char *cookie, *body, *cmd;
		size_t cl, bl, cmdl;

		if (n <= 0)
			return false;
		assert_int_equal(bencode_ng_split(buf, (size_t)n, &cookie, &cl, &body, &bl, NULL),
				 0);
		struct bencode_item *d = bencode_decode_new(body, bl, 256, NULL);

		assert_non_null(d);
		assert_true(bencode_dict_get_str(d, "command", &cmd, &cmdl));
		bool ping = cmdl == 4 && memcmp(cmd, "ping", 4) == 0;
		const struct bencode_item *fl = bencode_dict_get(d, "flags");
		const struct bencode_item *rf = bencode_dict_get(d, "received-from");

		if (!ping) {
			f->last_flags[0] = f->last_rf[0] = '\0';
			if (fl != NULL && bencode_first(fl) != NULL)
				snprintf(f->last_flags, sizeof(f->last_flags), "%.*s",
					 (int)bencode_first(fl)->str.len, bencode_first(fl)->str.s);
			if (rf != NULL && bencode_first(rf) != NULL) {
				const struct bencode_item *a = bencode_next(rf, bencode_first(rf));

				if (a != NULL)
					snprintf(f->last_rf, sizeof(f->last_rf), "%.*s",
						 (int)a->str.len, a->str.s);
			}
		}
		free(d);
		struct bencode_writer w;
		size_t len;

		bencode_writer_init(&w, out, sizeof(out));
		bencode_ng_reply_start(&w, cookie, cl);
		bencode_put_dict(&w);
		if (ping) {
			bencode_put_kv_str(&w, "result", "pong");
		} else {
			bencode_put_kv_str(&w, "result", result);
			if (strcmp(result, "ok") == 0)
				bencode_put_kv_str(&w, "sdp", relay_sdp);
			else
				bencode_put_kv_str(&w, "error-reason", "refused by the test");
		}
		bencode_put_end(&w);
		assert_int_equal(bencode_writer_finish(&w, &len), 0);
		sendto(f->fd, out, len, 0, (struct sockaddr *)&from, sl);
		if (!ping)
			return true;
	}
}

static int done_status = -1;

static void on_done(void *arg, int status, const char *relay, size_t len)
{
	(void)arg;
	done_status = status;
	/* The relay's SDP comes with success only. */
	if ((status == 0) != (relay != NULL && len > 0))
		done_status = 999;
}

/* Runs the loop until the engagement finished, serving the fake with result (NULL: silence). */
static void run_until_done(struct loop *lp, struct fake *f, const char *result)
{
	for (int i = 0; i < 400 && done_status < 0; i++) {
		if (result != NULL)
			fake_serve(f, result);
		loop_run_once(lp, 5);
		if (result == NULL)
			loop_advance(lp, loop_now(lp) + 50);
	}
}

static struct sip_msg *make_invite(void)
{
	char msg[2048];
	struct sip_error err;

	snprintf(msg, sizeof(msg), invite_fmt, strlen(sdp), sdp);
	struct sip_msg *m = sipmsg_parse(msg, strlen(msg), SIP_TRANSPORT_UDP, &err);

	assert_non_null(m);
	return m;
}

static void test_engage(void **state)
{
	struct loop *lp = loop_new();
	struct fake f;
	struct addr_port src;

	(void)state;
	fake_open(&f);
	struct ng_dataplane_cfg dp = {.weight = 1};

	assert_int_equal(addr_port_parse("127.0.0.1:1", &dp.addr), 0);
	dp.addr.port = f.port;
	struct ng_client_cfg nc = {.dataplanes = &dp, .n_dataplanes = 1};
	struct ng_client *ng = ng_client_new(lp, &nc);
	struct media *md = media_new(ng);

	assert_non_null(md);
	assert_int_equal(addr_port_parse("203.0.113.9:52500", &src), 0);
	/* A NAT'd caller: the relay latches to where the SIP came from. */
	struct sip_msg *m = make_invite();

	done_status = -1;
	assert_int_equal(media_engage(md, MEDIA_OFFER, m, NULL, &src, true, on_done, NULL, NULL),
			 0);
	run_until_done(lp, &f, "ok");
	assert_int_equal(done_status, 0);
	assert_string_equal(f.last_flags, "SIP-source-address");
	assert_string_equal(f.last_rf, "203.0.113.9");
	size_t len;
	char *out = sipmsg_serialize(m, &len);

	assert_non_null(
		strstr(out, "Content-Length: 94\r\n\r\nv=0\r\no=- 1 1 IN IP4 198.51.100.1"));
	assert_int_equal(strlen(relay_sdp), 94);
	free(out);
	sipmsg_free(m);
	/* A directly reachable one: trust its SDP; a refusal means 488 upstream. */
	m = make_invite();
	done_status = -1;
	assert_int_equal(media_engage(md, MEDIA_ANSWER, m, NULL, &src, false, on_done, NULL, NULL),
			 0);
	run_until_done(lp, &f, "error");
	assert_int_equal(done_status, 488);
	assert_string_equal(f.last_flags, "trust-address");
	sipmsg_free(m);
	/* A dataplane that never answers: 500, and nothing is left behind. */
	m = make_invite();
	done_status = -1;
	assert_int_equal(media_engage(md, MEDIA_OFFER, m, NULL, &src, true, on_done, NULL, NULL),
			 0);
	run_until_done(lp, &f, NULL);
	assert_int_equal(done_status, 500);
	assert_int_equal(media_engaged(md), 1);
	assert_int_equal(media_failed(md), 2);
	sipmsg_free(m);
	/* A message without SDP is not engaged. */
	static const char bye[] = "BYE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;"
				  "branch=z9hG4bKb\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: "
				  "<sip:b@example.com>;tag=2\r\nCall-ID: x\r\nCSeq: 2 BYE\r\n"
				  "Content-Length: 0\r\n\r\n";
	struct sip_error err;

	m = sipmsg_parse(bye, strlen(bye), SIP_TRANSPORT_UDP, &err);
	assert_int_equal(media_engage(md, MEDIA_OFFER, m, NULL, &src, true, on_done, NULL, NULL),
			 -ENOENT);
	media_delete(md, m);
	sipmsg_free(m);
	media_free(md);
	ng_client_free(ng);
	loop_free(lp);
	close(f.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engage),
	};

	sipmsg_global_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
