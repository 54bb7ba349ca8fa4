/* bencode: decoder, lookup helpers, encoder and ng framing for the bencode used by the rtpengine
 * "ng" protocol (integers i42e, strings 4:spam, lists l...e, dictionaries d...e). */
#include "bencode.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(struct bencode_err *err, size_t offset, const char *reason, int rc)
{
	if (err) {
		err->offset = offset;
		err->reason = reason;
	}
	return rc;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parses "-?[0-9]+" at buf[*pos..len) the way BEP 3 defines bencode integers: no leading zeros and
 * no negative zero, so each integer has exactly one encoding. Stops at the first byte after the
 * digits. Returns 0 or -EINVAL with *reason set. */
static int parse_int(const char *buf, size_t len, size_t *pos, int64_t *out, const char **reason)
{
	size_t p = *pos;
	bool neg = false;
	uint64_t mag = 0, limit;

	if (p < len && buf[p] == '-') {
		neg = true;
		p++;
	}
	if (p >= len) {
		*reason = "truncated integer";
		*pos = p;
		return -EINVAL;
	}
	if (!is_digit(buf[p])) {
		*reason = "integer without digits";
		*pos = p;
		return -EINVAL;
	}
	if (buf[p] == '0' && (neg || (p + 1 < len && is_digit(buf[p + 1])))) {
		*reason = neg ? "negative zero" : "integer with leading zero";
		*pos = p;
		return -EINVAL;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	while (p < len && is_digit(buf[p])) {
		unsigned d = (unsigned)(buf[p] - '0');

		if (mag > (limit - d) / 10) {
			*reason = "integer overflow";
			*pos = p;
			return -EINVAL;
		}
		mag = mag * 10 + d;
		p++;
	}
	if (neg)
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	else
		*out = (int64_t)mag;
	*pos = p;
	return 0;
}

/* Parses "<length>:<bytes>" at buf[*pos..len); the length is checked against what is left of the
 * buffer before anything is read, so a huge length cannot reach past the end. */
static int parse_str(const char *buf, size_t len, size_t *pos, struct bencode_item *it,
		     struct bencode_err *err)
{
	size_t p = *pos, n = 0;

	if (buf[p] == '0' && p + 1 < len && is_digit(buf[p + 1]))
		return fail(err, p, "string length with leading zero", -EINVAL);
	while (p < len && is_digit(buf[p])) {
		unsigned d = (unsigned)(buf[p] - '0');

		/* n * 10 + d > len, written so that nothing can wrap */
		if (n > len / 10 || d > len - n * 10)
			return fail(err, p, "string length past end of input", -EINVAL);
		n = n * 10 + d;
		p++;
	}
	if (p >= len)
		return fail(err, p, "truncated string length", -EINVAL);
	if (buf[p] != ':')
		return fail(err, p, "string length not followed by ':'", -EINVAL);
	p++;
	if (n > len - p)
		return fail(err, p, "string length past end of input", -EINVAL);
	it->type = BENCODE_STR;
	it->str.s = buf + p;
	it->str.len = n;
	*pos = p + n;
	return 0;
}

/* An open container during decoding: its item index and how many children it has so far. */
struct frame {
	uint32_t idx;
	uint32_t children;
};

int bencode_decode(const char *buf, size_t len, struct bencode_item *items, size_t cap,
		   struct bencode_err *err)
{
	struct frame stack[BENCODE_MAX_DEPTH];
	unsigned depth = 0;
	size_t pos = 0, n = 0;
	const char *reason = NULL;

	if (cap > BENCODE_MAX_ITEMS)
		cap = BENCODE_MAX_ITEMS;
	/* Iterative, with an explicit bounded stack: hostile nesting cannot exhaust the C stack. */
	do {
		struct frame *top = depth ? &stack[depth - 1] : NULL;
		struct bencode_item *it;
		char c;
		int rc;

		if (pos >= len)
			return fail(err, pos, "truncated input", -EINVAL);
		c = buf[pos];
		if (c == 'e' && top) {
			it = &items[top->idx];
			if (it->type == BENCODE_DICT && top->children % 2)
				return fail(err, pos, "dictionary key without value", -EINVAL);
			it->count = it->type == BENCODE_DICT ? top->children / 2 : top->children;
			it->span = (uint32_t)(n - top->idx - 1);
			depth--;
			pos++;
			continue;
		}
		if (top && items[top->idx].type == BENCODE_DICT && top->children % 2 == 0 &&
		    !is_digit(c))
			return fail(err, pos, "dictionary key is not a string", -EINVAL);
		if (n >= cap)
			return fail(err, pos, "too many items", -E2BIG);
		it = &items[n];
		memset(it, 0, sizeof(*it));
		switch (c) {
		case 'i':
			pos++;
			rc = parse_int(buf, len, &pos, &it->i, &reason);
			if (rc)
				return fail(err, pos, reason, rc);
			if (pos >= len)
				return fail(err, pos, "truncated integer", -EINVAL);
			if (buf[pos] != 'e')
				return fail(err, pos, "integer not terminated by 'e'", -EINVAL);
			pos++;
			it->type = BENCODE_INT;
			break;
		case 'l':
		case 'd':
			if (depth == BENCODE_MAX_DEPTH)
				return fail(err, pos, "nesting too deep", -E2BIG);
			it->type = c == 'l' ? BENCODE_LIST : BENCODE_DICT;
			stack[depth].idx = (uint32_t)n;
			stack[depth].children = 0;
			pos++;
			break;
		default:
			if (!is_digit(c))
				return fail(err, pos, "unexpected byte", -EINVAL);
			rc = parse_str(buf, len, &pos, it, err);
			if (rc)
				return rc;
			break;
		}
		if (top)
			top->children++;
		if (it->type == BENCODE_LIST || it->type == BENCODE_DICT)
			depth++;
		n++;
	} while (depth > 0);
	if (pos != len)
		return fail(err, pos, "trailing data after value", -EINVAL);
	return (int)n;
}

struct bencode_item *bencode_decode_new(const char *buf, size_t len, size_t max_items,
					struct bencode_err *err)
{
	struct bencode_item *items;
	size_t cap = len / 2 + 1; /* every item takes at least two bytes ("0:", "le") */
	int rc;

	if (max_items > BENCODE_MAX_ITEMS)
		max_items = BENCODE_MAX_ITEMS;
	if (cap > max_items)
		cap = max_items;
	if (cap == 0) {
		fail(err, 0, "too many items", -E2BIG);
		errno = E2BIG;
		return NULL;
	}
	items = calloc(cap, sizeof(*items));
	if (!items) {
		fail(err, 0, "out of memory", -ENOMEM);
		errno = ENOMEM;
		return NULL;
	}
	rc = bencode_decode(buf, len, items, cap, err);
	if (rc < 0) {
		free(items);
		errno = -rc;
		return NULL;
	}
	return items;
}

const struct bencode_item *bencode_first(const struct bencode_item *container)
{
	if (!container || (container->type != BENCODE_LIST && container->type != BENCODE_DICT) ||
	    container->span == 0)
		return NULL;
	return container + 1;
}

const struct bencode_item *bencode_next(const struct bencode_item *container,
					const struct bencode_item *item)
{
	const struct bencode_item *next = item + 1 + item->span;

	return next <= container + container->span ? next : NULL;
}

bool bencode_str_eq(const struct bencode_item *item, const char *s)
{
	size_t n = strlen(s);

	return item && item->type == BENCODE_STR && item->str.len == n &&
	       memcmp(item->str.s, s, n) == 0;
}

const struct bencode_item *bencode_dict_get(const struct bencode_item *dict, const char *key)
{
	const struct bencode_item *k;

	if (!dict || dict->type != BENCODE_DICT)
		return NULL;
	for (k = bencode_first(dict); k; k = bencode_next(dict, k + 1)) {
		if (bencode_str_eq(k, key))
			return k + 1; /* a key is a string: its value follows it directly */
	}
	return NULL;
}

bool bencode_dict_get_str(const struct bencode_item *dict, const char *key, const char **s,
			  size_t *len)
{
	const struct bencode_item *v = bencode_dict_get(dict, key);

	if (!v || v->type != BENCODE_STR)
		return false;
	*s = v->str.s;
	*len = v->str.len;
	return true;
}

bool bencode_dict_get_int(const struct bencode_item *dict, const char *key, int64_t *out)
{
	const struct bencode_item *v = bencode_dict_get(dict, key);

	if (!v || v->type != BENCODE_INT)
		return false;
	*out = v->i;
	return true;
}

int bencode_item_to_int(const struct bencode_item *item, int64_t *out)
{
	const char *reason;
	size_t pos = 0;
	int64_t v;

	if (!item)
		return -EINVAL;
	if (item->type == BENCODE_INT) {
		*out = item->i;
		return 0;
	}
	if (item->type != BENCODE_STR || parse_int(item->str.s, item->str.len, &pos, &v, &reason) ||
	    pos != item->str.len)
		return -EINVAL;
	*out = v;
	return 0;
}

void bencode_writer_init(struct bencode_writer *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
	w->depth = 0;
}

/* Appends all of p[0..n) or nothing. */
static int put_raw(struct bencode_writer *w, const char *p, size_t n)
{
	if (w->err)
		return w->err;
	if (n > w->cap - w->len) {
		w->err = -ENOSPC;
		return w->err;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

int bencode_put_int(struct bencode_writer *w, int64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "i%" PRId64 "e", v);

	return put_raw(w, tmp, (size_t)n);
}

int bencode_put_str(struct bencode_writer *w, const char *s, size_t len)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%zu:", len);

	if (w->err)
		return w->err;
	/* Check the whole string fits before writing its length, so nothing half-written remains. */
	if ((size_t)n > w->cap - w->len || len > w->cap - w->len - (size_t)n) {
		w->err = -ENOSPC;
		return w->err;
	}
	put_raw(w, tmp, (size_t)n);
	return put_raw(w, s, len);
}

int bencode_put_cstr(struct bencode_writer *w, const char *s)
{
	return bencode_put_str(w, s, strlen(s));
}

static int put_open(struct bencode_writer *w, char c)
{
	int rc;

	if (w->err)
		return w->err;
	if (w->depth == BENCODE_MAX_DEPTH) {
		w->err = -EINVAL;
		return w->err;
	}
	rc = put_raw(w, &c, 1);
	if (rc == 0)
		w->depth++;
	return rc;
}

int bencode_put_dict(struct bencode_writer *w)
{
	return put_open(w, 'd');
}

int bencode_put_list(struct bencode_writer *w)
{
	return put_open(w, 'l');
}

int bencode_put_end(struct bencode_writer *w)
{
	int rc;

	if (w->err)
		return w->err;
	if (w->depth == 0) {
		w->err = -EINVAL;
		return w->err;
	}
	rc = put_raw(w, "e", 1);
	if (rc == 0)
		w->depth--;
	return rc;
}

int bencode_put_kv_str(struct bencode_writer *w, const char *key, const char *val)
{
	bencode_put_cstr(w, key);
	return bencode_put_cstr(w, val);
}

int bencode_put_kv_int(struct bencode_writer *w, const char *key, int64_t v)
{
	bencode_put_cstr(w, key);
	return bencode_put_int(w, v);
}

int bencode_writer_finish(const struct bencode_writer *w, size_t *len)
{
	if (w->err)
		return w->err;
	if (w->depth)
		return -EINVAL;
	*len = w->len;
	return 0;
}

/* ng cookies are opaque tokens chosen by the client and echoed back verbatim; we accept visible
 * ASCII only so that a cookie is safe to log and cannot smuggle a separator. */
static bool cookie_byte_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

int bencode_ng_split(const char *dgram, size_t len, const char **cookie, size_t *cookie_len,
		     const char **body, size_t *body_len, struct bencode_err *err)
{
	size_t i;

	for (i = 0; i < len && dgram[i] != ' '; i++) {
		if (i == BENCODE_NG_COOKIE_MAX)
			return fail(err, i, "cookie too long", -EINVAL);
		if (!cookie_byte_ok((unsigned char)dgram[i]))
			return fail(err, i, "cookie has a control or non-ASCII byte", -EINVAL);
	}
	if (i == 0)
		return fail(err, 0, "empty cookie", -EINVAL);
	if (i == len)
		return fail(err, i, "no space after cookie", -EINVAL);
	if (i + 1 == len || dgram[i + 1] != 'd')
		return fail(err, i + 1, "message body is not a dictionary", -EINVAL);
	*cookie = dgram;
	*cookie_len = i;
	*body = dgram + i + 1;
	*body_len = len - i - 1;
	return 0;
}

int bencode_ng_reply_start(struct bencode_writer *w, const char *cookie, size_t cookie_len)
{
	if (cookie_len == 0 || cookie_len > BENCODE_NG_COOKIE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < cookie_len; i++) {
		if (!cookie_byte_ok((unsigned char)cookie[i]))
			return -EINVAL;
	}
	put_raw(w, cookie, cookie_len);
	return put_raw(w, " ", 1);
}
