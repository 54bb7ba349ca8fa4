/* ctlsock: a daemon's UNIX control socket speaking JSON lines — one request object per line, one
 * reply object per line — dispatched through a table of commands. Used by every plane and sbcctl. */
#include "ctlsock.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* A request line longer than this is refused and the connection closed. */
#define CTLSOCK_MAX_LINE (64 * 1024)
/* Connections beyond this are refused: the socket is for operators and the management plane. */
#define CTLSOCK_MAX_CLIENTS 16

struct ctl_client {
	int fd;
	size_t len;
	char buf[CTLSOCK_MAX_LINE];
};

struct ctlsock {
	int listen_fd, epoll_fd;
	char path[108];
	const struct ctlsock_cmd *cmds;
	size_t ncmds;
	void *arg;
	struct ctl_client *clients[CTLSOCK_MAX_CLIENTS];
};

static json_t *cmd_help(const struct ctlsock *cs)
{
	json_t *list = json_array();

	for (size_t i = 0; i < cs->ncmds; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "cmd", cs->cmds[i].name, "help",
						      cs->cmds[i].help ? cs->cmds[i].help : ""));
	return json_pack("{s:o}", "commands", list);
}

/* Runs one request line and returns the reply object. */
static json_t *dispatch(struct ctlsock *cs, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *error = NULL;
	json_t *reply = NULL;

	if (req == NULL || !json_is_object(req)) {
		error = req == NULL ? "request is not valid JSON" : "request is not a JSON object";
		goto out;
	}
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (cmd == NULL) {
		error = "request has no \"cmd\" string";
		goto out;
	}
	if (strcmp(cmd, "help") == 0) {
		reply = cmd_help(cs);
		goto out;
	}
	for (size_t i = 0; i < cs->ncmds; i++) {
		if (strcmp(cmd, cs->cmds[i].name) == 0) {
			reply = cs->cmds[i].fn(cs->arg, req, &error);
			if (reply == NULL && error == NULL)
				error = "command failed";
			goto out;
		}
	}
	error = "unknown command (try {\"cmd\":\"help\"})";
out:
	json_decref(req);
	if (reply == NULL)
		return json_pack("{s:b, s:s}", "ok", 0, "error", error);
	json_object_set_new(reply, "ok", json_true());
	return reply;
}

static void client_close(struct ctlsock *cs, size_t idx)
{
	struct ctl_client *c = cs->clients[idx];

	epoll_ctl(cs->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	cs->clients[idx] = NULL;
}

/* Writes the whole reply; a client that does not read is dropped rather than waited for. */
static bool send_reply(int fd, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	bool ok = false;

	if (text != NULL) {
		size_t n = strlen(text), off = 0;

		text[n] = '\n';
		n++;
		while (off < n) {
			ssize_t w = send(fd, text + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		ok = off == n;
		free(text);
	}
	json_decref(reply);
	return ok;
}

static void client_read(struct ctlsock *cs, size_t idx)
{
	struct ctl_client *c = cs->clients[idx];

	for (;;) {
		ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);

		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
			client_close(cs, idx);
			return;
		}
		if (r < 0)
			return;
		c->len += (size_t)r;
		char *nl;

		while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			size_t line = (size_t)(nl - c->buf);

			if (!send_reply(c->fd, dispatch(cs, c->buf, line))) {
				client_close(cs, idx);
				return;
			}
			memmove(c->buf, nl + 1, c->len - line - 1);
			c->len -= line + 1;
		}
		if (c->len == sizeof(c->buf)) {
			send_reply(c->fd, json_pack("{s:b, s:s}", "ok", 0, "error",
						    "request line too long"));
			client_close(cs, idx);
			return;
		}
	}
}

static void accept_all(struct ctlsock *cs)
{
	for (;;) {
		int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		size_t i;

		if (fd < 0)
			return;
		for (i = 0; i < CTLSOCK_MAX_CLIENTS && cs->clients[i] != NULL; i++)
			;
		struct ctl_client *c = i < CTLSOCK_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;

		if (c == NULL) {
			LOG_WARN("control socket: refusing a connection (%d clients at most)",
				 CTLSOCK_MAX_CLIENTS);
			close(fd);
			continue;
		}
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i + 1};

		if (epoll_ctl(cs->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		cs->clients[i] = c;
	}
}

struct ctlsock *ctlsock_new(const char *path, const struct ctlsock_cmd *cmds, size_t n, void *arg)
{
	struct ctlsock *cs = calloc(1, sizeof(*cs));
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int e;

	if (cs == NULL)
		return NULL;
	cs->listen_fd = cs->epoll_fd = -1;
	cs->cmds = cmds;
	cs->ncmds = n;
	cs->arg = arg;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		e = ENAMETOOLONG;
		goto fail;
	}
	strcpy(sun.sun_path, path);
	strcpy(cs->path, path);
	cs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cs->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (cs->listen_fd < 0 || cs->epoll_fd < 0) {
		e = errno;
		goto fail;
	}
	unlink(path);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};

	if (bind(cs->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(cs->listen_fd, 8) < 0 ||
	    epoll_ctl(cs->epoll_fd, EPOLL_CTL_ADD, cs->listen_fd, &ev) < 0) {
		e = errno;
		goto fail;
	}
	return cs;
fail:
	ctlsock_free(cs);
	errno = e;
	return NULL;
}

int ctlsock_fd(const struct ctlsock *cs)
{
	return cs->epoll_fd;
}

void ctlsock_service(struct ctlsock *cs)
{
	struct epoll_event evs[CTLSOCK_MAX_CLIENTS + 1];
	int n = epoll_wait(cs->epoll_fd, evs, CTLSOCK_MAX_CLIENTS + 1, 0);

	for (int i = 0; i < n; i++) {
		uint64_t id = evs[i].data.u64;

		if (id == 0)
			accept_all(cs);
		else if (id <= CTLSOCK_MAX_CLIENTS && cs->clients[id - 1] != NULL)
			client_read(cs, (size_t)(id - 1));
	}
}

void ctlsock_free(struct ctlsock *cs)
{
	if (cs == NULL)
		return;
	for (size_t i = 0; i < CTLSOCK_MAX_CLIENTS; i++)
		if (cs->clients[i] != NULL)
			client_close(cs, i);
	if (cs->listen_fd >= 0) {
		close(cs->listen_fd);
		unlink(cs->path);
	}
	if (cs->epoll_fd >= 0)
		close(cs->epoll_fd);
	free(cs);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *ctlsock_call(const char *path, const json_t *req, int timeout_ms)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char buf[CTLSOCK_MAX_LINE];
	size_t len = 0;
	int fd, e = EIO;
	json_t *reply = NULL;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	char *text = json_dumps(req, JSON_COMPACT);

	if (text == NULL || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		e = text == NULL ? ENOMEM : errno;
		goto out;
	}
	size_t n = strlen(text);

	text[n] = '\n';
	if (send(fd, text, n + 1, MSG_NOSIGNAL) != (ssize_t)(n + 1)) {
		e = errno;
		goto out;
	}
	int64_t deadline = mono_ms() + timeout_ms;

	while (len < sizeof(buf)) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - mono_ms();

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			e = ETIMEDOUT;
			goto out;
		}
		ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);

		if (r <= 0) {
			e = r == 0 ? ECONNRESET : errno;
			goto out;
		}
		len += (size_t)r;
		char *nl = memchr(buf, '\n', len);

		if (nl != NULL) {
			reply = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
			e = reply == NULL ? EPROTO : 0;
			goto out;
		}
	}
	e = EMSGSIZE;
out:
	free(text);
	close(fd);
	errno = e;
	return reply;
}
