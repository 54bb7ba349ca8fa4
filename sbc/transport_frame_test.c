/* transport_frame_test: unit tests for stream framing — Content-Length, partial messages, CRLF
 * keepalives and malformed framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "transport_frame.h"

#define MAX 65536

static enum transport_frame_kind frame(const char *s, size_t *n)
{
	const char *why;

	return transport_frame(s, strlen(s), MAX, n, &why);
}

static const char msg[] = "OPTIONS sip:a@b SIP/2.0\r\n"
			  "Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK1\r\n"
			  "Content-Length: 4\r\n"
			  "\r\n"
			  "body";

static void test_whole_and_partial(void **state)
{
	char buf[512];
	size_t n, len = strlen(msg);
	const char *why;

	(void)state;
	assert_int_equal(frame(msg, &n), TRANSPORT_FRAME_MESSAGE);
	assert_int_equal(n, len);
	/* Every prefix waits for more. */
	for (size_t k = 0; k < len; k++)
		assert_int_equal(transport_frame(msg, k, MAX, &n, &why), TRANSPORT_FRAME_MORE);
	/* Two messages back to back: the first one alone is framed. */
	memcpy(buf, msg, len);
	memcpy(buf + len, msg, len);
	assert_int_equal(transport_frame(buf, 2 * len, MAX, &n, &why), TRANSPORT_FRAME_MESSAGE);
	assert_int_equal(n, len);
}

static void test_header_forms(void **state)
{
	size_t n;

	(void)state;
	/* Compact form, case, whitespace before the colon, bare LF line ends. */
	assert_int_equal(frame("ACK sip:x SIP/2.0\r\nl : 2\r\n\r\nab", &n),
			 TRANSPORT_FRAME_MESSAGE);
	assert_int_equal(n, strlen("ACK sip:x SIP/2.0\r\nl : 2\r\n\r\nab"));
	assert_int_equal(frame("ACK sip:x SIP/2.0\ncontent-LENGTH:0\n\n", &n),
			 TRANSPORT_FRAME_MESSAGE);
	assert_int_equal(n, strlen("ACK sip:x SIP/2.0\ncontent-LENGTH:0\n\n"));
	/* Repeated with the same value is tolerated. */
	assert_int_equal(frame("SIP/2.0 200 OK\r\nContent-Length: 0\r\nl: 0\r\n\r\n", &n),
			 TRANSPORT_FRAME_MESSAGE);
	/* A header merely ending in "l" or a continuation line is not Content-Length. */
	assert_int_equal(
		frame("SIP/2.0 200 OK\r\nUrl: 5\r\n l: 9\r\nContent-Length: 0\r\n\r\n", &n),
		TRANSPORT_FRAME_MESSAGE);
	/* Octets after the body belong to the next message. */
	assert_int_equal(frame("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\nSIP/2.0", &n),
			 TRANSPORT_FRAME_MESSAGE);
	assert_int_equal(n, strlen("SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
}

static void test_keepalive(void **state)
{
	size_t n;

	(void)state;
	/* RFC 5626 §4.4.1: CRLFCRLF ping; its prefixes wait; a single CRLF (pong) is skipped. */
	assert_int_equal(frame("\r\n\r\n", &n), TRANSPORT_FRAME_PING);
	assert_int_equal(n, 4);
	assert_int_equal(frame("\r\n\r\nOPTIONS", &n), TRANSPORT_FRAME_PING);
	assert_int_equal(frame("\r", &n), TRANSPORT_FRAME_MORE);
	assert_int_equal(frame("\r\n", &n), TRANSPORT_FRAME_MORE);
	assert_int_equal(frame("\r\n\r", &n), TRANSPORT_FRAME_MORE);
	assert_int_equal(frame("\r\nOPTIONS", &n), TRANSPORT_FRAME_SKIP);
	assert_int_equal(n, 2);
	assert_int_equal(frame("\nOPTIONS", &n), TRANSPORT_FRAME_SKIP);
	assert_int_equal(n, 1);
}

static void test_errors(void **state)
{
	static char big[MAX + 100];
	size_t n;
	const char *why;

	(void)state;
	assert_int_equal(frame("OPTIONS sip:x SIP/2.0\r\nVia: a\r\n\r\n", &n),
			 TRANSPORT_FRAME_ERROR);
	assert_int_equal(frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: x\r\n\r\n", &n),
			 TRANSPORT_FRAME_ERROR);
	assert_int_equal(frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n", &n),
			 TRANSPORT_FRAME_ERROR);
	assert_int_equal(frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: 1 2\r\n\r\n", &n),
			 TRANSPORT_FRAME_ERROR);
	assert_int_equal(frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: 9999999999\r\n\r\n", &n),
			 TRANSPORT_FRAME_ERROR);
	assert_int_equal(frame("OPTIONS sip:x SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\n", &n),
			 TRANSPORT_FRAME_ERROR);
	assert_int_equal(frame("\rX", &n), TRANSPORT_FRAME_ERROR);
	/* A body past the limit, and headers that never end. */
	assert_int_equal(frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: 70000\r\n\r\n", &n),
			 TRANSPORT_FRAME_ERROR);
	memset(big, 'a', sizeof(big));
	assert_int_equal(transport_frame(big, sizeof(big), MAX, &n, &why), TRANSPORT_FRAME_ERROR);
	assert_non_null(why);
	assert_int_equal(transport_frame(big, MAX - 1, MAX, &n, &why), TRANSPORT_FRAME_MORE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_partial),
		cmocka_unit_test(test_header_forms),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
