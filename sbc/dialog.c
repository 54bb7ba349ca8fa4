/* dialog: the table of confirmed dialogs the proxy record-routes (RFC 3261 §12), keyed by
 * Call-ID and both tags, with what the control socket and the media layer need to know. */
#include "dialog.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIALOG_BUCKETS 4096
/* A bound, so a flood of answered calls cannot exhaust memory. */
#define DIALOG_MAX 200000

struct dialog_table {
	size_t count;
	struct dialog *buckets[DIALOG_BUCKETS];
};

/* FNV-1a over the Call-ID: the tags are compared, not hashed, so either tag order matches. */
static size_t bucket_of(const char *call_id, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)call_id[i]) * 16777619u;
	return h % DIALOG_BUCKETS;
}

struct dialog_table *dialog_table_new(void)
{
	return calloc(1, sizeof(struct dialog_table));
}

void dialog_table_free(struct dialog_table *t)
{
	if (t == NULL)
		return;
	for (size_t b = 0; b < DIALOG_BUCKETS; b++) {
		for (struct dialog *d = t->buckets[b], *n; d != NULL; d = n) {
			n = d->next;
			media_sdp_clear(&d->last_offer);
			media_sdp_clear(&d->last_answer);
			free(d);
		}
	}
	free(t);
}

static bool same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

struct dialog *dialog_find(struct dialog_table *t, const char *call_id, size_t call_id_len,
			   const char *tag_a, const char *tag_b)
{
	for (struct dialog *d = t->buckets[bucket_of(call_id, call_id_len)]; d != NULL;
	     d = d->next) {
		if (strlen(d->call_id) != call_id_len ||
		    memcmp(d->call_id, call_id, call_id_len) != 0)
			continue;
		if ((same(d->from_tag, tag_a) && same(d->to_tag, tag_b)) ||
		    (same(d->from_tag, tag_b) && same(d->to_tag, tag_a)))
			return d;
	}
	return NULL;
}

int dialog_add(struct dialog_table *t, const char *call_id, size_t call_id_len,
	       const char *from_tag, const char *to_tag, const char *caller, const char *callee,
	       uint64_t now_ms)
{
	if (dialog_find(t, call_id, call_id_len, from_tag, to_tag) != NULL)
		return 0;
	if (t->count >= DIALOG_MAX)
		return -ENOSPC;
	struct dialog *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -ENOMEM;
	snprintf(d->call_id, sizeof(d->call_id), "%.*s", (int)call_id_len, call_id);
	snprintf(d->from_tag, sizeof(d->from_tag), "%s", from_tag != NULL ? from_tag : "");
	snprintf(d->to_tag, sizeof(d->to_tag), "%s", to_tag != NULL ? to_tag : "");
	snprintf(d->caller, sizeof(d->caller), "%s", caller != NULL ? caller : "");
	snprintf(d->callee, sizeof(d->callee), "%s", callee != NULL ? callee : "");
	d->created_ms = now_ms;
	size_t b = bucket_of(call_id, call_id_len);

	d->next = t->buckets[b];
	t->buckets[b] = d;
	t->count++;
	return 0;
}

void dialog_remove(struct dialog_table *t, struct dialog *d)
{
	struct dialog **pp = &t->buckets[bucket_of(d->call_id, strlen(d->call_id))];

	while (*pp != NULL && *pp != d)
		pp = &(*pp)->next;
	if (*pp == NULL)
		return;
	*pp = d->next;
	t->count--;
	media_sdp_clear(&d->last_offer);
	media_sdp_clear(&d->last_answer);
	free(d);
}

size_t dialog_collect_due(struct dialog_table *t, uint64_t now_ms, struct dialog **out, size_t max)
{
	size_t n = 0;

	for (size_t b = 0; b < DIALOG_BUCKETS && n < max; b++)
		for (struct dialog *d = t->buckets[b]; d != NULL && n < max; d = d->next)
			if ((d->hold_deadline_ms != 0 && d->hold_deadline_ms <= now_ms) ||
			    (d->expire_ms != 0 && d->expire_ms <= now_ms))
				out[n++] = d;
	return n;
}

size_t dialog_count(const struct dialog_table *t)
{
	return t->count;
}

json_t *dialog_dump(const struct dialog_table *t, uint64_t now_ms)
{
	json_t *a = json_array();

	for (size_t b = 0; b < DIALOG_BUCKETS; b++)
		for (const struct dialog *d = t->buckets[b]; d != NULL; d = d->next)
			json_array_append_new(
				a,
				json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "call_id", d->call_id,
					  "from_tag", d->from_tag, "to_tag", d->to_tag, "caller",
					  d->caller, "callee", d->callee, "age_s",
					  (json_int_t)((now_ms - d->created_ms) / 1000)));
	return a;
}
