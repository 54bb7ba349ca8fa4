/* bencode: decoder, lookup helpers, encoder and ng framing for the bencode used by the rtpengine
 * "ng" protocol (integers i42e, strings 4:spam, lists l...e, dictionaries d...e). */
#ifndef SBC_COMMON_BENCODE_H
#define SBC_COMMON_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits the decoder enforces on untrusted input. */
#define BENCODE_MAX_DEPTH     32 /* nested lists/dictionaries */
#define BENCODE_MAX_ITEMS     65536
#define BENCODE_NG_COOKIE_MAX 128 /* longest ng cookie accepted or written */

enum bencode_type {
	BENCODE_INT = 1,
	BENCODE_STR,
	BENCODE_LIST,
	BENCODE_DICT,
};

/* One decoded value. A decoded document is a flat array of items in pre-order: a container is
 * followed by its whole subtree (span items), so the next sibling of item x is x + 1 + x->span.
 * Dictionary children alternate key (always a string) and value. Strings point into the input
 * buffer, which must outlive the items, and are not NUL-terminated. Read-only for users. */
struct bencode_item {
	uint8_t type;	/* enum bencode_type */
	uint32_t count; /* list: elements; dict: key/value pairs; 0 otherwise */
	uint32_t span;	/* items in the subtree below this one (0 for int and string) */
	union {
		int64_t i;
		struct {
			const char *s;
			size_t len;
		} str;
	};
};

/* Why decoding failed: the byte offset in the input and a static, human-readable reason. */
struct bencode_err {
	size_t offset;
	const char *reason;
};

/* Decodes exactly one value filling all of buf[0..len) into items[0..cap) (items[0] is the root).
 * Returns the number of items used, -EINVAL for malformed input (truncation, bad integer, leading
 * zeros, "i-0e", overflow, string length past the end, non-string dictionary key, trailing data)
 * or -E2BIG when the input nests deeper than BENCODE_MAX_DEPTH or needs more than cap items. err
 * (may be NULL) says where and why. Thread-safe; no allocation. */
int bencode_decode(const char *buf, size_t len, struct bencode_item *items, size_t cap,
		   struct bencode_err *err);

/* As bencode_decode() into one malloc'ed block of at most max_items items (capped at
 * BENCODE_MAX_ITEMS); the caller frees the result with free(). Returns NULL and sets errno
 * (EINVAL, E2BIG, ENOMEM) on failure. */
struct bencode_item *bencode_decode_new(const char *buf, size_t len, size_t max_items,
					struct bencode_err *err);

/* First child of a list or dictionary (a dictionary's first key), or NULL when empty or not a
 * container. */
const struct bencode_item *bencode_first(const struct bencode_item *container);

/* The child after item inside container, or NULL at the end. */
const struct bencode_item *bencode_next(const struct bencode_item *container,
					const struct bencode_item *item);

/* The value stored under key (NUL-terminated) in dict, or NULL when dict is not a dictionary or has
 * no such key. With duplicate keys the first one wins. */
const struct bencode_item *bencode_dict_get(const struct bencode_item *dict, const char *key);

/* True when item is a string equal to s (NUL-terminated). */
bool bencode_str_eq(const struct bencode_item *item, const char *s);

/* The string under key in dict: sets *s and *len and returns true; false when absent or not a
 * string. */
bool bencode_dict_get_str(const struct bencode_item *dict, const char *key, const char **s,
			  size_t *len);

/* The integer under key in dict: returns true and sets *out; false when absent or not an integer. */
bool bencode_dict_get_int(const struct bencode_item *dict, const char *key, int64_t *out);

/* Reads item as an integer: a bencode integer, or a string holding a plain decimal number (ng
 * clients send some numbers as strings, e.g. Kamailio's "delete-delay"). Returns 0 or -EINVAL. */
int bencode_item_to_int(const struct bencode_item *item, int64_t *out);

/* Encoder into a caller's buffer. The first error is sticky: after -ENOSPC every later call
 * returns -ENOSPC and writes nothing, so a reply can be built without checking each step.
 * Dictionary keys are written in the order given (the ng peers do not require sorted keys). */
struct bencode_writer {
	char *buf;
	size_t cap;
	size_t len;
	int err;
	unsigned depth;
};

/* Starts writing into buf[0..cap). */
void bencode_writer_init(struct bencode_writer *w, char *buf, size_t cap);

/* Each returns 0 or the sticky error (-ENOSPC when buf is full, -EINVAL when nesting is wrong). */
int bencode_put_int(struct bencode_writer *w, int64_t v);
int bencode_put_str(struct bencode_writer *w, const char *s, size_t len);
int bencode_put_cstr(struct bencode_writer *w, const char *s);
int bencode_put_dict(struct bencode_writer *w); /* opens a dictionary */
int bencode_put_list(struct bencode_writer *w); /* opens a list */
int bencode_put_end(struct bencode_writer *w);	/* closes the innermost open container */
/* A key and a value inside a dictionary. */
int bencode_put_kv_str(struct bencode_writer *w, const char *key, const char *val);
int bencode_put_kv_int(struct bencode_writer *w, const char *key, int64_t v);

/* Checks that every container was closed and returns 0 with *len set to the bytes written, or the
 * sticky error, or -EINVAL for an unclosed container. */
int bencode_writer_finish(const struct bencode_writer *w, size_t *len);

/* Splits an ng datagram "cookie SP bencoded-dict" without copying: the cookie is 1 to
 * BENCODE_NG_COOKIE_MAX bytes without SP, the body starts with 'd' and runs to the end. Returns 0
 * or -EINVAL (err says why; may be NULL). The body still has to be decoded. */
int bencode_ng_split(const char *dgram, size_t len, const char **cookie, size_t *cookie_len,
		     const char **body, size_t *body_len, struct bencode_err *err);

/* Starts an ng reply in w: writes "cookie SP" so that the caller then writes the dictionary.
 * Returns 0, -EINVAL for a cookie that bencode_ng_split() would refuse, or -ENOSPC. */
int bencode_ng_reply_start(struct bencode_writer *w, const char *cookie, size_t cookie_len);

#endif
