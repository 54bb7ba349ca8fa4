/* ctlsock_test: the JSON-lines control socket — dispatch, errors, pipelined and oversized requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctlsock.h"

static json_t *cmd_echo(void *arg, const json_t *req, const char **error)
{
	int *calls = arg;

	(*calls)++;
	(void)error;
	return json_pack("{s:O}", "echo", json_object_get(req, "x"));
}

static json_t *cmd_fail(void *arg, const json_t *req, const char **error)
{
	(void)arg;
	(void)req;
	*error = "no such thing";
	return NULL;
}

static const struct ctlsock_cmd cmds[] = {
	{"echo", cmd_echo, "returns x"},
	{"fail", cmd_fail, "always fails"},
};

static int connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sun.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Services the socket until n reply lines arrived on fd; returns them in buf. */
static void read_lines(struct ctlsock *cs, int fd, int n, char *buf, size_t len)
{
	size_t got = 0;
	int lines = 0;

	for (int round = 0; round < 200 && lines < n; round++) {
		ctlsock_service(cs);
		ssize_t r = recv(fd, buf + got, len - got - 1, MSG_DONTWAIT);

		if (r > 0) {
			got += (size_t)r;
			buf[got] = '\0';
			lines = 0;
			for (char *p = buf; (p = strchr(p, '\n')) != NULL; p++)
				lines++;
		} else {
			usleep(1000);
		}
	}
	buf[got] = '\0';
	assert_int_equal(lines, n);
}

static void test_dispatch(void **state)
{
	char dir[] = "/tmp/ctlsock-XXXXXX", path[128], buf[4096];
	int calls = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	struct ctlsock *cs = ctlsock_new(path, cmds, 2, &calls);

	assert_non_null(cs);
	int fd = connect_to(path);
	const char req[] = "{\"cmd\":\"echo\",\"x\":42}\n{\"cmd\":\"fail\"}\nnot json\n"
			   "{\"cmd\":\"nope\"}\n[1]\n{\"cmd\":\"help\"}\n";

	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	read_lines(cs, fd, 6, buf, sizeof(buf));
	assert_non_null(strstr(buf, "{\"echo\":42,\"ok\":true}\n"));
	assert_non_null(strstr(buf, "{\"ok\":false,\"error\":\"no such thing\"}\n"));
	assert_non_null(strstr(buf, "\"error\":\"request is not valid JSON\""));
	assert_non_null(strstr(buf, "\"error\":\"unknown command"));
	assert_non_null(strstr(buf, "\"error\":\"request is not a JSON object\""));
	assert_non_null(strstr(buf, "\"help\":\"always fails\""));
	assert_int_equal(calls, 1);
	/* A line that never ends is refused and the connection closed. */
	char *big = malloc(70000);

	memset(big, 'x', 70000);
	send(fd, big, 70000, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (int i = 0; i < 50; i++) {
		ctlsock_service(cs);
		usleep(1000);
		send(fd, big, 70000, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	free(big);
	ssize_t r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(r > 0);
	buf[r] = '\0';
	assert_non_null(strstr(buf, "request line too long"));
	assert_true(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0); /* closed or reset */
	close(fd);
	ctlsock_free(cs);
	assert_int_not_equal(access(path, F_OK), 0);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
