/* rtpload: one party of many concurrent RTP streams at a fixed total packet rate, measuring what
 * comes back (loss and one-way latency) for the side-by-side relay benchmark (tests/perf/lab.py).
 *
 *   rtpload --bind IP:PORT --peers FILE --pps N --secs S [--size BYTES] [--party K] [--start NS]
 *
 * FILE holds one IP:PORT a line: stream i sends to line i (a relay port, or the other party for
 * a direct baseline). All streams send from, and receive on, one socket: a relay keys its legs by
 * its own port, so one source address per party is enough and keeps the generator cheap. Each
 * packet is RTP (RFC 3550 §5.1: version 2, PT 8, sequence number, timestamp, SSRC = party << 24 |
 * stream) followed by a magic word and the sending time (CLOCK_REALTIME, ns). The receive time
 * is the kernel's (SO_TIMESTAMPNS), so the latency does not include this process's scheduling.
 * Both parties run on one host, so their clocks agree. --start (CLOCK_REALTIME, ns) makes both
 * parties begin together, after both have bound their sockets.
 *
 * Prints one JSON object: {"sent":n,"received":n,"foreign":n,"p50_us":x,"p99_us":x,"max_us":x}.
 * Exit status 0, or 2 on bad arguments or socket errors.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#define RTPLOAD_MAX_STREAMS 65536
#define RTPLOAD_BATCH	    32
#define RTPLOAD_MAGIC	    0x52544c44u /* "RTLD" */
#define RTPLOAD_HDR	    28		/* RTP 12 + magic 4 + time 8 + stream 4 */
#define RTPLOAD_HIST_US	    100000	/* 1 µs buckets up to 100 ms; later ones share the last */
#define RTPLOAD_DRAIN_NS    300000000LL /* keep receiving this long after the last send */

struct rtpload_opts {
	struct sockaddr_in bind;
	const char *peers;
	uint64_t pps;
	double secs;
	unsigned size;
	unsigned party;
	int64_t start;
};

struct rtpload {
	int fd;
	unsigned n_peers;
	struct sockaddr_in *peers;
	uint32_t *seq; /* next sequence number per stream */
	uint64_t sent, received, foreign;
	int64_t max_us;
	uint32_t *hist; /* latency histogram, RTPLOAD_HIST_US + 1 buckets */
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: rtpload --bind IP:PORT --peers FILE --pps N --secs S "
			"[--size BYTES] [--party K] [--start NS]\n");
}

static int parse_opts(int argc, char **argv, struct rtpload_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = 172; /* 20 ms of G.711 */
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--bind")) {
			if (parse_addr(v, &o->bind))
				return -EINVAL;
		} else if (!strcmp(k, "--peers")) {
			o->peers = v;
		} else if (!strcmp(k, "--pps")) {
			o->pps = strtoull(v, NULL, 10);
		} else if (!strcmp(k, "--secs")) {
			o->secs = strtod(v, NULL);
		} else if (!strcmp(k, "--size")) {
			o->size = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(k, "--start")) {
			o->start = strtoll(v, NULL, 10);
		} else if (!strcmp(k, "--party")) {
			o->party = (unsigned)strtoul(v, NULL, 10) & 0xff;
		} else {
			return -EINVAL;
		}
	}
	if (argc % 2 != 1 || !o->bind.sin_family || !o->peers || !o->pps || o->secs <= 0 ||
	    o->size < RTPLOAD_HDR || o->size > 1400)
		return -EINVAL;
	return 0;
}

static int load_peers(struct rtpload *r, const char *path)
{
	char line[128];
	FILE *f = fopen(path, "r");

	if (!f)
		return -errno;
	r->peers = calloc(RTPLOAD_MAX_STREAMS, sizeof(*r->peers));
	if (!r->peers) {
		fclose(f);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), f) && r->n_peers < RTPLOAD_MAX_STREAMS) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (parse_addr(line, &r->peers[r->n_peers])) {
			fclose(f);
			return -EINVAL;
		}
		r->n_peers++;
	}
	fclose(f);
	return r->n_peers ? 0 : -EINVAL;
}

static int open_socket(struct rtpload *r, const struct sockaddr_in *bind_to)
{
	int one = 1, buf = 8 << 20;

	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (r->fd < 0)
		return -errno;
	/* Deep buffers: a loss must be the relay's, not this socket's (FORCE needs root). */
	if (setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)))
		setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (setsockopt(r->fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf)))
		setsockopt(r->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (setsockopt(r->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) ||
	    bind(r->fd, (const struct sockaddr *)bind_to, sizeof(*bind_to)))
		return -errno;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

/* Sends n packets (n <= RTPLOAD_BATCH), round robin over the streams from *next. */
static void send_batch(struct rtpload *r, const struct rtpload_opts *o, unsigned n, unsigned *next)
{
	static const uint8_t zero[1400];
	uint8_t hdr[RTPLOAD_BATCH][RTPLOAD_HDR];
	struct iovec iov[RTPLOAD_BATCH][2];
	struct mmsghdr msg[RTPLOAD_BATCH];
	int64_t t = now_ns();
	int done;

	memset(msg, 0, sizeof(msg[0]) * n);
	for (unsigned i = 0; i < n; i++) {
		unsigned s = *next;
		uint32_t seq = r->seq[s]++;
		uint8_t *h = hdr[i];

		*next = (s + 1) % r->n_peers;
		h[0] = 0x80; /* RFC 3550 §5.1: V=2, no padding, extension or CSRC */
		h[1] = 8;    /* PCMA */
		h[2] = (uint8_t)(seq >> 8);
		h[3] = (uint8_t)seq;
		put32(h + 4, seq * 160);
		put32(h + 8, (uint32_t)o->party << 24 | s);
		put32(h + 12, RTPLOAD_MAGIC);
		put32(h + 16, (uint32_t)((uint64_t)t >> 32));
		put32(h + 20, (uint32_t)t);
		put32(h + 24, s);
		iov[i][0] = (struct iovec){.iov_base = h, .iov_len = RTPLOAD_HDR};
		iov[i][1] =
			(struct iovec){.iov_base = (void *)zero, .iov_len = o->size - RTPLOAD_HDR};
		msg[i].msg_hdr.msg_name = &r->peers[s];
		msg[i].msg_hdr.msg_namelen = sizeof(r->peers[s]);
		msg[i].msg_hdr.msg_iov = iov[i];
		msg[i].msg_hdr.msg_iovlen = 2;
	}
	/* A packet the kernel refuses (full buffer) is still counted as sent: it is lost load. */
	done = sendmmsg(r->fd, msg, n, 0);
	(void)done;
	r->sent += n;
}

static void account(struct rtpload *r, const uint8_t *p, size_t len, const struct msghdr *mh)
{
	int64_t rx = 0, tx, us;

	if (len < RTPLOAD_HDR || get32(p + 12) != RTPLOAD_MAGIC) {
		r->foreign++;
		return;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			rx = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		}
	}
	if (!rx)
		rx = now_ns();
	tx = (int64_t)((uint64_t)get32(p + 16) << 32 | get32(p + 20));
	us = (rx - tx) / 1000;
	if (us < 0)
		us = 0;
	if (us > r->max_us)
		r->max_us = us;
	r->hist[us < RTPLOAD_HIST_US ? us : RTPLOAD_HIST_US]++;
	r->received++;
}

/* Reads everything waiting on the socket. */
static void receive(struct rtpload *r)
{
	static const unsigned n = RTPLOAD_BATCH;
	uint8_t buf[RTPLOAD_BATCH][1500];
	uint8_t ctl[RTPLOAD_BATCH][CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov[RTPLOAD_BATCH];
	struct mmsghdr msg[RTPLOAD_BATCH];
	int got;

	do {
		memset(msg, 0, sizeof(msg));
		for (unsigned i = 0; i < n; i++) {
			iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = sizeof(buf[i])};
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
			msg[i].msg_hdr.msg_control = ctl[i];
			msg[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		got = recvmmsg(r->fd, msg, n, MSG_DONTWAIT, NULL);
		for (int i = 0; i < got; i++)
			account(r, buf[i], msg[i].msg_len, &msg[i].msg_hdr);
	} while (got == (int)n);
}

static double percentile(const struct rtpload *r, double q)
{
	uint64_t want = (uint64_t)((double)r->received * q), acc = 0;

	for (unsigned i = 0; i <= RTPLOAD_HIST_US; i++) {
		acc += r->hist[i];
		if (acc > want)
			return i;
	}
	return RTPLOAD_HIST_US;
}

/* Sends at the fixed rate for the given time, receiving in the gaps, then drains. */
static void run(struct rtpload *r, const struct rtpload_opts *o)
{
	int64_t start, end, gap = 1000000000LL / (int64_t)o->pps;
	unsigned next = 0;
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};

	while (o->start && now_ns() < o->start) {
		int64_t w = o->start - now_ns();
		struct timespec ts = {.tv_sec = w / 1000000000LL, .tv_nsec = w % 1000000000LL};

		if (w > 0)
			nanosleep(&ts, NULL);
	}
	start = now_ns();
	end = start + (int64_t)(o->secs * 1e9);

	for (;;) {
		int64_t t = now_ns(), wait;
		uint64_t due;

		if (t >= end + RTPLOAD_DRAIN_NS)
			break;
		due = t < end ? (uint64_t)((double)(t - start) * (double)o->pps / 1e9) + 1
			      : r->sent;
		while (r->sent < due) {
			uint64_t k = due - r->sent;

			send_batch(r, o, k < RTPLOAD_BATCH ? (unsigned)k : RTPLOAD_BATCH, &next);
		}
		receive(r);
		wait = t < end ? start + (int64_t)r->sent * gap - now_ns() : 1000000;
		if (wait > 0) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = wait};

			ppoll(&pfd, 1, &ts, NULL);
		}
	}
	receive(r);
}

int main(int argc, char **argv)
{
	struct rtpload_opts o;
	struct rtpload r = {.fd = -1};
	int rc;

	if (parse_opts(argc, argv, &o)) {
		usage();
		return 2;
	}
	/* Short sleeps should be short: the default 50 µs slack would batch the packets. */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	rc = load_peers(&r, o.peers);
	if (rc) {
		fprintf(stderr, "rtpload: %s: %s\n", o.peers, strerror(-rc));
		return 2;
	}
	r.seq = calloc(r.n_peers, sizeof(*r.seq));
	r.hist = calloc(RTPLOAD_HIST_US + 1, sizeof(*r.hist));
	if (!r.seq || !r.hist) {
		fprintf(stderr, "rtpload: out of memory\n");
		return 2;
	}
	rc = open_socket(&r, &o.bind);
	if (rc) {
		fprintf(stderr, "rtpload: socket: %s\n", strerror(-rc));
		return 2;
	}
	run(&r, &o);
	printf("{\"sent\":%llu,\"received\":%llu,\"foreign\":%llu,\"p50_us\":%.0f,"
	       "\"p99_us\":%.0f,\"max_us\":%lld}\n",
	       (unsigned long long)r.sent, (unsigned long long)r.received,
	       (unsigned long long)r.foreign, r.received ? percentile(&r, 0.5) : -1.0,
	       r.received ? percentile(&r, 0.99) : -1.0, (long long)r.max_us);
	close(r.fd);
	free(r.seq);
	free(r.hist);
	free(r.peers);
	return 0;
}
