/* ctlsock: a daemon's UNIX control socket speaking JSON lines — one request object per line, one
 * reply object per line — dispatched through a table of commands. Used by every plane and sbcctl. */
#ifndef SBC_COMMON_CTLSOCK_H
#define SBC_COMMON_CTLSOCK_H

#include <jansson.h>
#include <stddef.h>

/* Handles one request (the whole decoded object, "cmd" included). Returns a new reply object
 * (ownership passes to ctlsock, which adds "ok": true), or NULL with *error set to a static or
 * long-lived message (the reply is then {"ok": false, "error": ...}). */
typedef json_t *(*ctlsock_fn)(void *arg, const json_t *req, const char **error);

struct ctlsock_cmd {
	const char *name;
	ctlsock_fn fn;
	const char *help; /* one line, shown by the built-in "help" command */
};

struct ctlsock;

/* Listens on path (replacing a stale socket file) with the commands in cmds[0..n) (the table must
 * outlive the socket). Returns NULL with errno set. */
struct ctlsock *ctlsock_new(const char *path, const struct ctlsock_cmd *cmds, size_t n, void *arg);

/* One file descriptor that becomes readable when anything is to be done: add it to the daemon's
 * loop and call ctlsock_service() then. */
int ctlsock_fd(const struct ctlsock *cs);

/* Accepts connections, reads requests, runs their commands and writes replies, without blocking.
 * Call when ctlsock_fd() is readable (calling it at other times is harmless). */
void ctlsock_service(struct ctlsock *cs);

/* Closes every connection and the listening socket, and removes the socket file. NULL is fine. */
void ctlsock_free(struct ctlsock *cs);

/* Client side (sbcctl, tests): sends one request line to the socket at path and waits at most
 * timeout_ms for the reply line. Returns the decoded reply or NULL with errno set. */
json_t *ctlsock_call(const char *path, const json_t *req, int timeout_ms);

#endif
