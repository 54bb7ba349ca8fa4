/* ng_server: ng over UDP with a reply cache by cookie (see docs/ng-protocol.md). */
#include "ng_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "bencode.h"

#define NG_MAX_ITEMS 4096 /* a Kamailio request has a few dozen items */

/* A cached reply. It starts with its request's cookie and a space (ng framing), so the cookie is
 * not kept a second time: 24 bytes a slot. */
struct cache_slot {
	uint64_t stored_ms; /* 0 = empty */
	char *reply;
	uint32_t reply_len;
	uint8_t cookie_len;
};

struct ng_server {
	struct ng_cmd *cmd;
	int fd;
	unsigned nslots;
	struct ng_server_stats stats;
	char *rx, *tx; /* NG_SERVER_MAX_DGRAM + 1 each */
	struct cache_slot *slots;
};

struct ng_server *ng_server_new(struct ng_cmd *cmd, unsigned cache_slots)
{
	struct ng_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->cmd = cmd;
	srv->fd = -1;
	srv->nslots = cache_slots ? cache_slots : 1024;
	srv->slots = calloc(srv->nslots, sizeof(*srv->slots));
	srv->rx = malloc(NG_SERVER_MAX_DGRAM + 1);
	srv->tx = malloc(NG_SERVER_MAX_DGRAM + 1);
	if (!srv->slots || !srv->rx || !srv->tx) {
		ng_server_free(srv);
		errno = ENOMEM;
		return NULL;
	}
	return srv;
}

void ng_server_free(struct ng_server *srv)
{
	if (!srv)
		return;
	if (srv->fd >= 0)
		close(srv->fd);
	for (unsigned i = 0; srv->slots && i < srv->nslots; i++)
		free(srv->slots[i].reply);
	free(srv->slots);
	free(srv->rx);
	free(srv->tx);
	free(srv);
}

static struct cache_slot *slot_of(struct ng_server *srv, const char *cookie, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)cookie[i]) * 16777619u;
	return &srv->slots[h % srv->nslots];
}

static void cache_store(struct cache_slot *s, const char *cookie, size_t clen, const char *reply,
			size_t rlen, uint64_t now_ms)
{
	char *copy;

	/* Replies begin with "cookie SP" (bencode_ng_reply_start). */
	if (rlen <= clen || memcmp(reply, cookie, clen) || reply[clen] != ' ' || rlen > UINT32_MAX)
		return;
	copy = malloc(rlen);
	if (!copy)
		return; /* not cached: a retransmission would run the command again */
	free(s->reply);
	memcpy(copy, reply, rlen);
	s->reply = copy;
	s->reply_len = (uint32_t)rlen;
	s->cookie_len = (uint8_t)clen;
	s->stored_ms = now_ms ? now_ms : 1;
}

ssize_t ng_server_handle(struct ng_server *srv, const char *dgram, size_t len,
			 const struct ng_now *now, char *out, size_t cap)
{
	const char *cookie, *body;
	size_t clen, blen, rlen;
	struct bencode_item *items;
	struct bencode_writer w;
	struct bencode_err err;
	struct cache_slot *s;

	if (bencode_ng_split(dgram, len, &cookie, &clen, &body, &blen, &err)) {
		srv->stats.malformed++;
		return -EINVAL;
	}
	srv->stats.requests++;
	s = slot_of(srv, cookie, clen);
	if (s->stored_ms && now->ms - s->stored_ms < NG_SERVER_CACHE_MS && s->cookie_len == clen &&
	    !memcmp(s->reply, cookie, clen)) {
		if (s->reply_len > cap)
			return -ENOSPC;
		srv->stats.retransmits++;
		memcpy(out, s->reply, s->reply_len);
		return (ssize_t)s->reply_len;
	}
	bencode_writer_init(&w, out, cap);
	if (bencode_ng_reply_start(&w, cookie, clen))
		return -EINVAL;
	items = bencode_decode_new(body, blen, NG_MAX_ITEMS, &err);
	if (!items) {
		char reason[128];

		srv->stats.malformed++;
		snprintf(reason, sizeof(reason), "Failed to decode bencode: %s at byte %zu",
			 err.reason ? err.reason : "?", err.offset);
		ng_cmd_error(&w, reason);
	} else {
		ng_cmd_handle(srv->cmd, items, now, &w);
		free(items);
	}
	if (bencode_writer_finish(&w, &rlen))
		return -ENOSPC;
	cache_store(s, cookie, clen, out, rlen, now->ms);
	srv->stats.replies++;
	return (ssize_t)rlen;
}

int ng_server_open(struct ng_server *srv, const struct addr_port *listen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (listen->ip.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = listen->ip.v4;
		sin->sin_port = htons(listen->port);
		sl = sizeof(*sin);
	} else if (listen->ip.family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = listen->ip.v6;
		sin6->sin6_port = htons(listen->port);
		sl = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	fd = socket(listen->ip.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (srv->fd >= 0)
		close(srv->fd);
	srv->fd = fd;
	return fd;
}

unsigned ng_server_poll(struct ng_server *srv, const struct ng_now *now, unsigned max)
{
	unsigned n = 0;

	while (srv->fd >= 0 && n < max) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(srv->fd, srv->rx, NG_SERVER_MAX_DGRAM, 0,
				       (struct sockaddr *)&from, &fl);
		ssize_t rlen;

		if (len < 0)
			break; /* EAGAIN, or an error the next poll will see again */
		n++;
		rlen = ng_server_handle(srv, srv->rx, (size_t)len, now, srv->tx,
					NG_SERVER_MAX_DGRAM);
		if (rlen <= 0)
			continue;
		if (sendto(srv->fd, srv->tx, (size_t)rlen, 0, (struct sockaddr *)&from, fl) < 0)
			srv->stats.send_errors++;
	}
	return n;
}

void ng_server_stats_read(const struct ng_server *srv, struct ng_server_stats *out)
{
	*out = srv->stats;
}
