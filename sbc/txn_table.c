/* txn_table: the transaction layer's matching keys (RFC 3261 §17.1.3, §17.2.3) and its hash table,
 * which grows by incremental rehash: a few buckets move per insert or removal, never the whole
 * table at once. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn_priv.h"

/* Old buckets moved per insert or removal while a rehash runs. The rehash of n buckets ends
 * after at most n / TXN_REHASH_STEP operations, long before the n inserts that would make the
 * table grow again. */
#define TXN_REHASH_STEP 8

/* ---- keys ---- */

bool txn_has_cookie(const char *branch)
{
	return strncmp(branch, TXN_BRANCH_COOKIE, sizeof(TXN_BRANCH_COOKIE) - 1) == 0;
}

static size_t key_append(char *key, size_t off, const char *s, bool lower)
{
	for (; *s != '\0' && off < TXN_KEY_MAX - 2; s++)
		key[off++] = lower ? (char)tolower((unsigned char)*s) : *s;
	key[off++] = '|';
	key[off] = '\0';
	return off;
}

/* The matching key of a request for server transactions (RFC 3261 §17.2.3): branch, sent-by and
 * method, ACK counting as INVITE. Without the magic cookie (RFC 2543 peers) Call-ID, From tag and
 * CSeq number stand in for the branch; To tag and Request-URI are left out, which is enough to
 * tell transactions of one peer apart. Returns the length, 0 when the facts are missing. */
size_t txn_server_key(const struct txn_msg *m, const char *method, char *key)
{
	char num[16];
	size_t off = 0;

	if (m->sent_by_host[0] == '\0' || method[0] == '\0')
		return 0;
	if (txn_has_cookie(m->branch)) {
		off = key_append(key, off, "S", false);
		off = key_append(key, off, method, false);
		off = key_append(key, off, m->branch, false);
	} else {
		if (m->call_id[0] == '\0')
			return 0;
		off = key_append(key, off, "S2543", false);
		off = key_append(key, off, method, false);
		off = key_append(key, off, m->call_id, false);
		off = key_append(key, off, m->from_tag, false);
		snprintf(num, sizeof(num), "%u", m->cseq);
		off = key_append(key, off, num, false);
	}
	/* RFC 3261 §19.1.4: host names compare case-insensitively. The port is compared as written
	 * (0 when absent): retransmissions, and a CANCEL (§9.1), repeat the request's Via. */
	off = key_append(key, off, m->sent_by_host, true);
	snprintf(num, sizeof(num), "%u", m->sent_by_port);
	return key_append(key, off, num, false);
}

/* The key of a client transaction (RFC 3261 §17.1.3): our branch and the CSeq method. */
size_t txn_client_key(const struct txn_msg *m, char *key)
{
	size_t off = 0;

	if (m->branch[0] == '\0' || m->method[0] == '\0')
		return 0;
	off = key_append(key, off, "C", false);
	off = key_append(key, off, m->method, false);
	return key_append(key, off, m->branch, false);
}

uint32_t txn_key_hash(const char *key, size_t len)
{
	/* FNV-1a: keys hold peer-chosen branches, but a chain only costs time, never correctness. */
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return h;
}

/* ---- the table ---- */

int txn_table_init(struct txn_table *tb, size_t nbuckets)
{
	memset(tb, 0, sizeof(*tb));
	tb->cur = calloc(nbuckets, sizeof(*tb->cur));
	if (tb->cur == NULL)
		return -ENOMEM;
	tb->ncur = nbuckets;
	return 0;
}

void txn_table_free(struct txn_table *tb)
{
	free(tb->cur);
	free(tb->old);
	memset(tb, 0, sizeof(*tb));
}

/* The old bucket a hash still lives in, or NULL when no rehash runs or it was moved already. */
static struct txn **old_bucket(const struct txn_table *tb, uint32_t h)
{
	size_t i;

	if (tb->old == NULL)
		return NULL;
	i = h & (tb->nold - 1);
	return i >= tb->moved ? &tb->old[i] : NULL;
}

static struct txn *chain_find(struct txn *t, uint32_t h, const char *key, size_t len)
{
	for (; t != NULL; t = t->hnext)
		if (t->hash == h && t->key_len == len && memcmp(t->key, key, len) == 0)
			return t;
	return NULL;
}

struct txn *txn_table_find(const struct txn_table *tb, const char *key, size_t len)
{
	uint32_t h = txn_key_hash(key, len);
	struct txn **ob = old_bucket(tb, h);
	struct txn *t = ob != NULL ? chain_find(*ob, h, key, len) : NULL;

	/* During a rehash an entry may be in its old bucket (not moved yet) or in cur (moved, or
	 * inserted since the rehash began). */
	return t != NULL ? t : chain_find(tb->cur[h & (tb->ncur - 1)], h, key, len);
}

/* Moves up to n old buckets to cur; frees the old array when the last one moved. */
static void rehash_step(struct txn_table *tb, size_t n)
{
	for (; tb->old != NULL && n > 0; n--) {
		struct txn *t = tb->old[tb->moved], *next;

		for (; t != NULL; t = next) {
			struct txn **head = &tb->cur[t->hash & (tb->ncur - 1)];

			next = t->hnext;
			t->hnext = *head;
			*head = t;
		}
		tb->old[tb->moved] = NULL;
		if (++tb->moved == tb->nold) {
			free(tb->old);
			tb->old = NULL;
			tb->nold = 0;
			tb->moved = 0;
		}
	}
}

void txn_table_settle(struct txn_table *tb)
{
	if (tb->old != NULL)
		rehash_step(tb, tb->nold - tb->moved);
}

/* Starts doubling the bucket array; the entries move over the next operations. */
static void rehash_start(struct txn_table *tb)
{
	struct txn **b;

	txn_table_settle(tb); /* nothing to do with TXN_REHASH_STEP > 1; safe anyway */
	b = calloc(tb->ncur * 2, sizeof(*b));
	if (b == NULL)
		return; /* longer chains, still correct; tried again on the next insert */
	tb->old = tb->cur;
	tb->nold = tb->ncur;
	tb->moved = 0;
	tb->cur = b;
	tb->ncur *= 2;
}

void txn_table_insert(struct txn_layer *tl, struct txn *t)
{
	struct txn_table *tb = &tl->table;
	struct txn **head;

	rehash_step(tb, TXN_REHASH_STEP);
	if (tb->old == NULL && tb->count >= tb->ncur)
		rehash_start(tb);
	head = &tb->cur[t->hash & (tb->ncur - 1)];
	t->hnext = *head;
	*head = t;
	tb->count++;
	tl->stats.active = tb->count;
}

static bool chain_unlink(struct txn **pp, const struct txn *t)
{
	for (; *pp != NULL; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			return true;
		}
	}
	return false;
}

void txn_table_remove(struct txn_layer *tl, struct txn *t)
{
	struct txn_table *tb = &tl->table;
	struct txn **ob = old_bucket(tb, t->hash);

	if ((ob != NULL && chain_unlink(ob, t)) ||
	    chain_unlink(&tb->cur[t->hash & (tb->ncur - 1)], t)) {
		t->hnext = NULL;
		tb->count--;
		tl->stats.active = tb->count;
	}
	rehash_step(tb, TXN_REHASH_STEP);
}

static struct txn *scan(struct txn **b, size_t from, size_t n,
			bool (*match)(const struct txn *, void *), void *arg)
{
	for (size_t i = from; i < n; i++)
		for (struct txn *t = b[i]; t != NULL; t = t->hnext)
			if (match == NULL || match(t, arg))
				return t;
	return NULL;
}

struct txn *txn_table_first(const struct txn_table *tb, bool (*match)(const struct txn *, void *),
			    void *arg)
{
	struct txn *t = tb->old != NULL ? scan(tb->old, tb->moved, tb->nold, match, arg) : NULL;

	return t != NULL ? t : scan(tb->cur, 0, tb->ncur, match, arg);
}

size_t txn_table_collect(const struct txn_table *tb, bool (*match)(const struct txn *, void *),
			 void *arg, struct txn **out, size_t max)
{
	size_t n = 0;

	for (size_t i = tb->old != NULL ? tb->moved : 0; tb->old != NULL && i < tb->nold; i++)
		for (struct txn *t = tb->old[i]; t != NULL && n < max; t = t->hnext)
			if (match(t, arg))
				out[n++] = t;
	for (size_t i = 0; i < tb->ncur; i++)
		for (struct txn *t = tb->cur[i]; t != NULL && n < max; t = t->hnext)
			if (match(t, arg))
				out[n++] = t;
	return n;
}
