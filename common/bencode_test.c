/* bencode_test: unit tests for the bencode codec and ng framing, including hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "bencode.h"

#define CAP 256

static int decode(const char *s, struct bencode_item *items, struct bencode_err *err)
{
	return bencode_decode(s, strlen(s), items, CAP, err);
}

static void expect_invalid(const char *s, const char *reason)
{
	struct bencode_item items[CAP];
	struct bencode_err err = {0, NULL};

	assert_int_equal(decode(s, items, &err), -EINVAL);
	assert_non_null(err.reason);
	if (reason)
		assert_string_equal(err.reason, reason);
}

static void test_scalars(void **state)
{
	struct bencode_item it[CAP];
	int64_t v;

	(void)state;
	assert_int_equal(decode("i42e", it, NULL), 1);
	assert_int_equal(it[0].type, BENCODE_INT);
	assert_int_equal(it[0].i, 42);
	assert_int_equal(decode("i0e", it, NULL), 1);
	assert_int_equal(it[0].i, 0);
	assert_int_equal(decode("i-7e", it, NULL), 1);
	assert_int_equal(it[0].i, -7);
	assert_int_equal(decode("i9223372036854775807e", it, NULL), 1);
	assert_true(it[0].i == INT64_MAX);
	assert_int_equal(decode("i-9223372036854775808e", it, NULL), 1);
	assert_true(it[0].i == INT64_MIN);
	assert_int_equal(decode("4:spam", it, NULL), 1);
	assert_int_equal(it[0].type, BENCODE_STR);
	assert_int_equal(it[0].str.len, 4);
	assert_memory_equal(it[0].str.s, "spam", 4);
	assert_int_equal(decode("0:", it, NULL), 1);
	assert_int_equal(it[0].str.len, 0);
	/* Binary bytes, including NUL and 'e', are plain string content. */
	assert_int_equal(bencode_decode("3:a\0e", 5, it, CAP, NULL), 1);
	assert_int_equal(it[0].str.len, 3);
	assert_int_equal(bencode_item_to_int(&it[0], &v), -EINVAL);
}

static void test_bad_integers(void **state)
{
	(void)state;
	expect_invalid("i03e", "integer with leading zero");
	expect_invalid("i-0e", "negative zero");
	expect_invalid("i-03e", "negative zero");
	expect_invalid("ie", "integer without digits");
	expect_invalid("i-e", "integer without digits");
	expect_invalid("i+1e", "integer without digits");
	expect_invalid("i 1e", "integer without digits");
	expect_invalid("i12", "truncated integer");
	expect_invalid("i", "truncated integer");
	expect_invalid("i-", "truncated integer");
	expect_invalid("i12xe", "integer not terminated by 'e'");
	expect_invalid("i1.5e", "integer not terminated by 'e'");
	expect_invalid("i9223372036854775808e", "integer overflow");
	expect_invalid("i-9223372036854775809e", "integer overflow");
	expect_invalid("i99999999999999999999999999999999e", "integer overflow");
}

static void test_bad_strings(void **state)
{
	struct bencode_item it[CAP];
	struct bencode_err err;

	(void)state;
	expect_invalid("04:spam", "string length with leading zero");
	expect_invalid("5:spam", "string length past end of input");
	expect_invalid("4", "string length past end of input");
	expect_invalid("0", "truncated string length");
	expect_invalid("l0", "truncated string length");
	expect_invalid("4spam", "string length not followed by ':'");
	expect_invalid("4:", "string length past end of input");
	/* Huge lengths are refused while their digits are read, before any arithmetic can wrap. */
	expect_invalid("18446744073709551615:x", "string length past end of input");
	expect_invalid("18446744073709551616:x", "string length past end of input");
	expect_invalid("99999999999999999999999999999999999999:x",
		       "string length past end of input");
	/* A length that exactly fits is fine; one more byte is not. */
	assert_int_equal(decode("3:abc", it, &err), 1);
	assert_int_equal(decode("l3:abce", it, &err), 2);
	expect_invalid("l4:abce", "truncated input");
}

static void test_containers(void **state)
{
	struct bencode_item it[CAP];
	const struct bencode_item *x;
	const char *s;
	size_t len;
	int64_t v;
	int n;

	(void)state;
	n = decode("d3:bar4:spam3:fooi42e4:listli1e0:lee5:emptydee", it, NULL);
	assert_int_equal(n, 12);
	assert_int_equal(it[0].type, BENCODE_DICT);
	assert_int_equal(it[0].count, 4);
	assert_int_equal(it[0].span, 11);
	assert_true(bencode_dict_get_str(&it[0], "bar", &s, &len));
	assert_int_equal(len, 4);
	assert_memory_equal(s, "spam", 4);
	assert_true(bencode_dict_get_int(&it[0], "foo", &v));
	assert_int_equal(v, 42);
	assert_false(bencode_dict_get_int(&it[0], "bar", &v));
	assert_false(bencode_dict_get_str(&it[0], "foo", &s, &len));
	assert_null(bencode_dict_get(&it[0], "missing"));
	assert_null(bencode_dict_get(&it[0], "fo"));
	assert_null(bencode_dict_get(&it[1], "bar")); /* not a dictionary */

	x = bencode_dict_get(&it[0], "list");
	assert_non_null(x);
	assert_int_equal(x->type, BENCODE_LIST);
	assert_int_equal(x->count, 3);
	x = bencode_first(x);
	assert_int_equal(x->type, BENCODE_INT);
	x = bencode_next(bencode_dict_get(&it[0], "list"), x);
	assert_true(bencode_str_eq(x, ""));
	x = bencode_next(bencode_dict_get(&it[0], "list"), x);
	assert_int_equal(x->type, BENCODE_LIST);
	assert_int_equal(x->count, 0);
	assert_null(bencode_first(x));
	assert_null(bencode_next(bencode_dict_get(&it[0], "list"), x));

	x = bencode_dict_get(&it[0], "empty");
	assert_int_equal(x->type, BENCODE_DICT);
	assert_int_equal(x->count, 0);
	assert_null(bencode_first(x));

	/* Iterating a dictionary yields key, value, key, value. */
	n = 0;
	for (x = bencode_first(&it[0]); x; x = bencode_next(&it[0], x))
		n++;
	assert_int_equal(n, 8);

	/* Duplicate keys: the first wins. */
	assert_int_equal(decode("d1:ai1e1:ai2ee", it, NULL), 5);
	assert_true(bencode_dict_get_int(&it[0], "a", &v));
	assert_int_equal(v, 1);
}

static void test_bad_containers(void **state)
{
	(void)state;
	expect_invalid("di1ei2ee", "dictionary key is not a string");
	expect_invalid("dli1eei1ee", "dictionary key is not a string");
	expect_invalid("dd1:aee", "dictionary key is not a string");
	expect_invalid("d3:fooe", "dictionary key without value");
	expect_invalid("d3:fooi1e3:bare", "dictionary key without value");
	expect_invalid("l", "truncated input");
	expect_invalid("d", "truncated input");
	expect_invalid("li1e", "truncated input");
	expect_invalid("d3:foo", "truncated input");
	expect_invalid("", "truncated input");
	expect_invalid("e", "unexpected byte");
	expect_invalid("x", "unexpected byte");
	expect_invalid("lxe", "unexpected byte");
	expect_invalid("i1ex", "trailing data after value");
	expect_invalid("dee", "trailing data after value");
	expect_invalid("lei1e", "trailing data after value");
	expect_invalid("4:spam ", "trailing data after value");
}

static void test_depth(void **state)
{
	struct bencode_item it[CAP];
	struct bencode_err err;
	char buf[2 * (BENCODE_MAX_DEPTH + 1) + 1];
	size_t bomb_len = 1 << 20;
	char *bomb;

	(void)state;
	memset(buf, 'l', BENCODE_MAX_DEPTH);
	memset(buf + BENCODE_MAX_DEPTH, 'e', BENCODE_MAX_DEPTH);
	assert_int_equal(bencode_decode(buf, 2 * BENCODE_MAX_DEPTH, it, CAP, &err),
			 BENCODE_MAX_DEPTH);
	assert_int_equal(it[0].span, BENCODE_MAX_DEPTH - 1);

	memset(buf, 'l', BENCODE_MAX_DEPTH + 1);
	memset(buf + BENCODE_MAX_DEPTH + 1, 'e', BENCODE_MAX_DEPTH + 1);
	assert_int_equal(bencode_decode(buf, 2 * (BENCODE_MAX_DEPTH + 1), it, CAP, &err), -E2BIG);
	assert_string_equal(err.reason, "nesting too deep");
	assert_int_equal(err.offset, BENCODE_MAX_DEPTH);

	/* A megabyte of "l" (or of "d1:a") stops at the depth limit without touching the rest. */
	bomb = malloc(bomb_len);
	assert_non_null(bomb);
	memset(bomb, 'l', bomb_len);
	assert_int_equal(bencode_decode(bomb, bomb_len, it, CAP, &err), -E2BIG);
	for (size_t i = 0; i + 4 <= bomb_len; i += 4)
		memcpy(bomb + i, "d1:a", 4);
	assert_int_equal(bencode_decode(bomb, bomb_len, it, CAP, &err), -E2BIG);
	assert_string_equal(err.reason, "nesting too deep");
	free(bomb);
}

static void test_item_limit(void **state)
{
	struct bencode_item it[4];
	struct bencode_err err;
	const char *s = "li1ei2ei3ei4ee";
	struct bencode_item *heap;

	(void)state;
	assert_int_equal(bencode_decode(s, strlen(s), it, 4, &err), -E2BIG);
	assert_string_equal(err.reason, "too many items");
	assert_int_equal(bencode_decode(s, strlen(s), it, 0, &err), -E2BIG);
	assert_int_equal(bencode_decode("li1ei2ei3ee", 11, it, 4, &err), 4);

	heap = bencode_decode_new(s, strlen(s), 100, &err);
	assert_non_null(heap);
	assert_int_equal(heap[0].count, 4);
	assert_int_equal(heap[4].i, 4);
	free(heap);
	errno = 0;
	assert_null(bencode_decode_new(s, strlen(s), 3, &err));
	assert_int_equal(errno, E2BIG);
	assert_null(bencode_decode_new("i1", 2, 100, &err));
	assert_int_equal(errno, EINVAL);
	/* The smallest items are two bytes each: the block sized from the length always suffices. */
	heap = bencode_decode_new("l0:0:0:lelee", 12, 100, &err);
	assert_non_null(heap);
	assert_int_equal(heap[0].span, 5);
	free(heap);
}

static void test_item_to_int(void **state)
{
	struct bencode_item it[CAP];
	int64_t v = 0;

	(void)state;
	assert_int_equal(decode("l2:30i5e2:-12:032:1x0:3:abce", it, NULL), 8);
	assert_int_equal(bencode_item_to_int(&it[1], &v), 0);
	assert_int_equal(v, 30);
	assert_int_equal(bencode_item_to_int(&it[2], &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(bencode_item_to_int(&it[3], &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(bencode_item_to_int(&it[4], &v), -EINVAL);
	assert_int_equal(bencode_item_to_int(&it[5], &v), -EINVAL);
	assert_int_equal(bencode_item_to_int(&it[6], &v), -EINVAL);
	assert_int_equal(bencode_item_to_int(&it[7], &v), -EINVAL);
	assert_int_equal(bencode_item_to_int(&it[0], &v), -EINVAL);
	assert_int_equal(bencode_item_to_int(NULL, &v), -EINVAL);
}

static const char sdp[] = "v=0\r\n"
			  "o=- 1 1 IN IP4 192.168.1.10\r\n"
			  "s=-\r\n"
			  "c=IN IP4 192.168.1.10\r\n"
			  "t=0 0\r\n"
			  "m=audio 27910 RTP/AVP 0 8 101\r\n"
			  "a=rtpmap:101 telephone-event/8000\r\n";

/* Writes the kind of offer Kamailio's rtpengine module sends. */
static void write_offer(struct bencode_writer *w)
{
	bencode_ng_reply_start(w, "4711_3", 6);
	bencode_put_dict(w);
	bencode_put_kv_str(w, "sdp", sdp);
	bencode_put_kv_str(w, "call-id", "a84b4c76e66710@pc33.example.com");
	bencode_put_kv_str(w, "from-tag", "1928301774");
	bencode_put_cstr(w, "received-from");
	bencode_put_list(w);
	bencode_put_cstr(w, "IP4");
	bencode_put_cstr(w, "203.0.113.9");
	bencode_put_end(w);
	bencode_put_cstr(w, "flags");
	bencode_put_list(w);
	bencode_put_cstr(w, "SIP-source-address");
	bencode_put_end(w);
	bencode_put_cstr(w, "supports");
	bencode_put_list(w);
	bencode_put_cstr(w, "load limit");
	bencode_put_end(w);
	bencode_put_kv_str(w, "command", "offer");
	bencode_put_kv_int(w, "delete delay", 0);
	bencode_put_end(w);
}

static size_t build_offer(char *buf, size_t cap)
{
	struct bencode_writer w;
	size_t len = 0;

	bencode_writer_init(&w, buf, cap);
	write_offer(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	return len;
}

static void test_ng_offer_roundtrip(void **state)
{
	char buf[2048];
	size_t len = build_offer(buf, sizeof(buf));
	struct bencode_item it[CAP];
	const struct bencode_item *flags, *rf;
	const char *cookie, *body, *s;
	size_t cookie_len, body_len, slen;
	int64_t v;

	(void)state;
	assert_int_equal(bencode_ng_split(buf, len, &cookie, &cookie_len, &body, &body_len, NULL),
			 0);
	assert_int_equal(cookie_len, 6);
	assert_memory_equal(cookie, "4711_3", 6);
	assert_true(bencode_decode(body, body_len, it, CAP, NULL) > 0);
	assert_true(bencode_dict_get_str(&it[0], "sdp", &s, &slen));
	assert_int_equal(slen, strlen(sdp));
	assert_memory_equal(s, sdp, slen);
	assert_true(bencode_str_eq(bencode_dict_get(&it[0], "command"), "offer"));
	rf = bencode_dict_get(&it[0], "received-from");
	assert_int_equal(rf->type, BENCODE_LIST);
	assert_true(bencode_str_eq(bencode_next(rf, bencode_first(rf)), "203.0.113.9"));
	flags = bencode_dict_get(&it[0], "flags");
	assert_true(bencode_str_eq(bencode_first(flags), "SIP-source-address"));
	assert_true(bencode_dict_get_int(&it[0], "delete delay", &v));
	assert_int_equal(v, 0);
}

/* Every proper prefix of a valid offer is refused, whether it is cut in the cookie, in a length,
 * inside a string, in an integer or before the closing 'e'. */
static void test_ng_truncation_everywhere(void **state)
{
	char buf[2048];
	size_t len = build_offer(buf, sizeof(buf));
	struct bencode_item it[CAP];
	const char *cookie, *body;
	size_t cookie_len, body_len;

	(void)state;
	for (size_t cut = 0; cut < len; cut++) {
		/* Copy each prefix to its own heap block so that ASan sees any read past it. */
		char *p = malloc(cut ? cut : 1);
		int rc;

		assert_non_null(p);
		memcpy(p, buf, cut);
		rc = bencode_ng_split(p, cut, &cookie, &cookie_len, &body, &body_len, NULL);
		if (rc == 0)
			rc = bencode_decode(body, body_len, it, CAP, NULL);
		assert_int_equal(rc, -EINVAL);
		free(p);
	}
}

/* Flipping each byte of the offer to a few hostile values never crashes or reads past the end. */
static void test_ng_mutations(void **state)
{
	static const char subst[] = {'e', 'i', 'l', 'd', '9', ':', '-', '0', '\0'};
	char buf[2048];
	size_t len = build_offer(buf, sizeof(buf));
	struct bencode_item it[CAP];

	(void)state;
	for (size_t pos = 0; pos < len; pos++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			char *p = malloc(len);
			const char *cookie, *body;
			size_t cookie_len, body_len;
			int rc;

			assert_non_null(p);
			memcpy(p, buf, len);
			p[pos] = subst[k];
			rc = bencode_ng_split(p, len, &cookie, &cookie_len, &body, &body_len, NULL);
			if (rc == 0)
				rc = bencode_decode(body, body_len, it, CAP, NULL);
			assert_true(rc == -EINVAL || rc == -E2BIG || rc > 0);
			free(p);
		}
	}
}

static void test_ng_split(void **state)
{
	const char *cookie, *body;
	size_t cookie_len, body_len;
	struct bencode_err err;
	char longc[BENCODE_NG_COOKIE_MAX + 8];

	(void)state;
	assert_int_equal(bencode_ng_split("abc d4:ping0:e", 14, &cookie, &cookie_len, &body,
					  &body_len, &err),
			 0);
	assert_int_equal(cookie_len, 3);
	assert_int_equal(body_len, 10);
	assert_memory_equal(body, "d4:ping0:e", 10);
	assert_int_equal(bencode_ng_split("abcde", 5, &cookie, &cookie_len, &body, &body_len, &err),
			 -EINVAL);
	assert_string_equal(err.reason, "no space after cookie");
	assert_int_equal(bencode_ng_split(" de", 3, &cookie, &cookie_len, &body, &body_len, &err),
			 -EINVAL);
	assert_string_equal(err.reason, "empty cookie");
	assert_int_equal(bencode_ng_split("c ", 2, &cookie, &cookie_len, &body, &body_len, &err),
			 -EINVAL);
	assert_string_equal(err.reason, "message body is not a dictionary");
	assert_int_equal(bencode_ng_split("c le", 4, &cookie, &cookie_len, &body, &body_len, &err),
			 -EINVAL);
	assert_int_equal(
		bencode_ng_split("c\n de", 5, &cookie, &cookie_len, &body, &body_len, &err),
		-EINVAL);
	assert_string_equal(err.reason, "cookie has a control or non-ASCII byte");
	assert_int_equal(bencode_ng_split("", 0, &cookie, &cookie_len, &body, &body_len, NULL),
			 -EINVAL);

	memset(longc, 'x', sizeof(longc));
	longc[BENCODE_NG_COOKIE_MAX] = ' ';
	longc[BENCODE_NG_COOKIE_MAX + 1] = 'd';
	longc[BENCODE_NG_COOKIE_MAX + 2] = 'e';
	assert_int_equal(bencode_ng_split(longc, BENCODE_NG_COOKIE_MAX + 3, &cookie, &cookie_len,
					  &body, &body_len, &err),
			 0);
	longc[BENCODE_NG_COOKIE_MAX] = 'x';
	longc[BENCODE_NG_COOKIE_MAX + 1] = ' ';
	longc[BENCODE_NG_COOKIE_MAX + 2] = 'd';
	longc[BENCODE_NG_COOKIE_MAX + 3] = 'e';
	assert_int_equal(bencode_ng_split(longc, BENCODE_NG_COOKIE_MAX + 4, &cookie, &cookie_len,
					  &body, &body_len, &err),
			 -EINVAL);
	assert_string_equal(err.reason, "cookie too long");
}

static void test_encoder(void **state)
{
	char buf[128];
	struct bencode_writer w;
	size_t len;

	(void)state;
	bencode_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(bencode_ng_reply_start(&w, "c1", 2), 0);
	bencode_put_dict(&w);
	bencode_put_kv_str(&w, "result", "pong");
	bencode_put_kv_int(&w, "n", -12);
	bencode_put_cstr(&w, "l");
	bencode_put_list(&w);
	bencode_put_int(&w, INT64_MIN);
	bencode_put_str(&w, "a\0b", 3);
	bencode_put_end(&w);
	bencode_put_end(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), 0);
	assert_int_equal(len, 59);
	assert_memory_equal(buf, "c1 d6:result4:pong1:ni-12e1:lli-9223372036854775808e3:a\0bee",
			    len);

	/* Unbalanced nesting. */
	bencode_writer_init(&w, buf, sizeof(buf));
	bencode_put_list(&w);
	assert_int_equal(bencode_writer_finish(&w, &len), -EINVAL);
	bencode_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(bencode_put_end(&w), -EINVAL);
	assert_int_equal(bencode_put_int(&w, 1), -EINVAL);
	bencode_writer_init(&w, buf, sizeof(buf));
	for (int i = 0; i < BENCODE_MAX_DEPTH; i++)
		assert_int_equal(bencode_put_list(&w), 0);
	assert_int_equal(bencode_put_list(&w), -EINVAL);

	assert_int_equal(bencode_ng_reply_start(&w, "", 0), -EINVAL);
	assert_int_equal(bencode_ng_reply_start(&w, "a b", 3), -EINVAL);
}

/* Every buffer shorter than the full offer fails with -ENOSPC, never overruns, and leaves the
 * bytes after its end untouched. */
static void test_encoder_nospace(void **state)
{
	char full[2048];
	size_t need = build_offer(full, sizeof(full));

	(void)state;
	for (size_t cap = 0; cap < need; cap++) {
		char buf[2048];
		struct bencode_writer w;
		size_t len;

		memset(buf, 0x5a, sizeof(buf));
		bencode_writer_init(&w, buf, cap);
		write_offer(&w);
		assert_int_equal(bencode_writer_finish(&w, &len), -ENOSPC);
		assert_true(w.len <= cap);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal((unsigned char)buf[i], 0x5a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_bad_integers),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_bad_containers),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_item_limit),
		cmocka_unit_test(test_item_to_int),
		cmocka_unit_test(test_ng_offer_roundtrip),
		cmocka_unit_test(test_ng_truncation_everywhere),
		cmocka_unit_test(test_ng_mutations),
		cmocka_unit_test(test_ng_split),
		cmocka_unit_test(test_encoder),
		cmocka_unit_test(test_encoder_nospace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
