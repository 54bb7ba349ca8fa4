/* media: engages the dataplane for SDP-bearing messages — offer and answer over the ng protocol
 * with the NAT verdict and where the SIP came from, SDP replaced by the relay's — and releases it
 * when a call ends. */
#include "media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct media {
	struct ng_client *ng;
	uint64_t engaged, failed, deleted;
	struct log_ratelimit rl;
};

/* One engagement waiting for the dataplane. */
struct media_req {
	struct media *md;
	struct sip_msg *m;
	media_cb cb;
	void *arg;
	uint64_t id; /* the ng request */
	enum media_op op;
	struct addr_port src;
	bool natted;
	bool retried;
	bool keep_sdp;
	char via_branch[128];
};

static int req_send(struct media_req *q);

struct media *media_new(struct ng_client *ng)
{
	struct media *md = calloc(1, sizeof(*md));

	if (md == NULL)
		return NULL;
	md->ng = ng;
	return md;
}

void media_free(struct media *md)
{
	free(md);
}

static void on_reply(void *arg, const struct ng_reply *r)
{
	struct media_req *q = arg;
	struct media *md = q->md;
	int status = 0;

	/* A dataplane that died takes the first offer of a new call with it: it is out of rotation
	 * now and the offer untied, so one more try goes to another dataplane. */
	if (r->status == NG_STATUS_TIMEOUT && q->op == MEDIA_OFFER && !q->retried) {
		q->retried = true;
		LOG_NOTICE("media: dataplane %d did not answer an offer: trying another",
			   r->dataplane);
		if (req_send(q) == 0)
			return;
	}

	if (r->status == NG_STATUS_OK && r->sdp != NULL) {
		if (!q->keep_sdp && sipmsg_set_sdp(q->m, r->sdp, r->sdp_len) != 0)
			status = 500;
	} else if (r->status == NG_STATUS_ERROR) {
		/* RFC 3261 §21.4.26: the session description could not be accepted. */
		status = 488;
	} else {
		status = 500;
	}
	if (status != 0) {
		md->failed++;
		if (log_ratelimit_ok(&md->rl, 10, 1000))
			LOG_WARN("media: dataplane %d: %.*s", r->dataplane,
				 (int)r->error_reason_len,
				 r->error_reason != NULL ? r->error_reason : "");
	} else {
		md->engaged++;
	}
	media_cb cb = q->cb;
	void *cbarg = q->arg;

	free(q);
	cb(cbarg, status, status == 0 ? r->sdp : NULL, status == 0 ? r->sdp_len : 0);
}

/* Copies a header value into a NUL-terminated buffer; false when it does not fit. */
static bool copy_str(char *dst, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

/* Builds and sends the ng request of q. Returns 0 or -errno. */
static int req_send(struct media_req *q)
{
	char call_id[256];
	const char *sdp, *cid;
	size_t sdp_len, cid_len;

	if (!sipmsg_sdp(q->m, &sdp, &sdp_len))
		return -ENOENT;
	cid = sipmsg_call_id(q->m, &cid_len);
	if (!copy_str(call_id, sizeof(call_id), cid, cid_len))
		return -EINVAL;
	struct ng_params p = {
		.cmd = q->op == MEDIA_OFFER ? NG_CMD_OFFER : NG_CMD_ANSWER,
		.call_id = call_id,
		.from_tag = sipmsg_from_tag(q->m),
		.to_tag = sipmsg_to_tag(q->m),
		.via_branch = q->via_branch[0] != '\0' ? q->via_branch : NULL,
		.sdp = sdp,
		.sdp_len = sdp_len,
		.received_from = &q->src.ip,
		/* The NAT verdict, as Kamailio's default configuration passes it. */
		.flags = q->natted ? NG_FLAG_SIP_SOURCE_ADDRESS : NG_FLAG_TRUST_ADDRESS,
		.replace = NG_REPLACE_ORIGIN | NG_REPLACE_SESSION_CONNECTION,
		.ice_remove = true,
	};

	if (p.from_tag == NULL)
		return -EINVAL;
	return ng_client_request(q->md->ng, &p, on_reply, q, &q->id);
}

int media_engage(struct media *md, enum media_op op, struct sip_msg *m, const struct media_opts *o,
		 const struct addr_port *src, bool natted, media_cb cb, void *arg,
		 struct media_req **req)
{
	if (!sipmsg_sdp(m, &(const char *){0}, &(size_t){0}))
		return -ENOENT;
	struct media_req *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return -ENOMEM;
	*q = (struct media_req){.md = md,
				.m = m,
				.cb = cb,
				.arg = arg,
				.op = op,
				.src = *src,
				.natted = natted,
				.keep_sdp = o != NULL && o->keep_sdp};
	if (o != NULL && o->via_branch != NULL &&
	    !copy_str(q->via_branch, sizeof(q->via_branch), o->via_branch, strlen(o->via_branch))) {
		free(q);
		return -EINVAL;
	}
	int rc = req_send(q);

	if (rc != 0) {
		free(q);
		if (rc != -ENOENT)
			md->failed++;
		return rc;
	}
	if (req != NULL)
		*req = q;
	return 0;
}

void media_cancel(struct media *md, struct media_req *req)
{
	if (req == NULL)
		return;
	ng_client_cancel(md->ng, req->id);
	free(req);
}

static void on_deleted(void *arg, const struct ng_reply *r)
{
	(void)arg;
	(void)r;
}

void media_delete_call(struct media *md, const char *call_id, const char *from_tag)
{
	struct ng_params p = {.cmd = NG_CMD_DELETE, .call_id = call_id, .from_tag = from_tag};

	if (from_tag != NULL && ng_client_request(md->ng, &p, on_deleted, NULL, NULL) == 0)
		md->deleted++;
}

void media_delete_branch(struct media *md, const char *call_id, const char *from_tag,
			 const char *via_branch)
{
	struct ng_params p = {.cmd = NG_CMD_DELETE,
			      .call_id = call_id,
			      .from_tag = from_tag,
			      .via_branch = via_branch};

	if (from_tag != NULL && via_branch != NULL && via_branch[0] != '\0' &&
	    ng_client_request(md->ng, &p, on_deleted, NULL, NULL) == 0)
		md->deleted++;
}

void media_delete(struct media *md, const struct sip_msg *m)
{
	char call_id[256];
	const char *cid;
	size_t cid_len;

	cid = sipmsg_call_id(m, &cid_len);
	if (copy_str(call_id, sizeof(call_id), cid, cid_len))
		media_delete_call(md, call_id, sipmsg_from_tag(m));
}

uint64_t media_engaged(const struct media *md)
{
	return md->engaged;
}

uint64_t media_failed(const struct media *md)
{
	return md->failed;
}

void media_sdp_clear(struct media_sdp *s)
{
	free(s->sdp);
	memset(s, 0, sizeof(*s));
}

void media_sdp_capture(struct media_sdp *out, const struct sip_msg *m, const char *tag,
		       const struct addr_port *src, bool natted)
{
	const char *sdp;
	size_t len;

	media_sdp_clear(out);
	if (!sipmsg_sdp(m, &sdp, &len) || (out->sdp = malloc(len)) == NULL)
		return;
	memcpy(out->sdp, sdp, len);
	out->len = len;
	snprintf(out->tag, sizeof(out->tag), "%s", tag != NULL ? tag : "");
	out->src = *src;
	out->natted = natted;
}

/* The restore's answer, sent when its offer is through. */
struct media_restore_req {
	struct media *md;
	char call_id[256];
	struct media_sdp answer;
	char offer_tag[128];
	char branch[40];
};

static void restore_answered(void *arg, const struct ng_reply *r)
{
	(void)arg;
	(void)r;
}

static void restore_offered(void *arg, const struct ng_reply *r)
{
	struct media_restore_req *q = arg;

	if (r->status == NG_STATUS_OK) {
		struct ng_params p = {
			.cmd = NG_CMD_ANSWER,
			.call_id = q->call_id,
			.from_tag = q->offer_tag,
			.to_tag = q->answer.tag,
			.via_branch = q->branch[0] != '\0' ? q->branch : NULL,
			.sdp = q->answer.sdp,
			.sdp_len = q->answer.len,
			.received_from = &q->answer.src.ip,
			.flags = q->answer.natted ? NG_FLAG_SIP_SOURCE_ADDRESS
						  : NG_FLAG_TRUST_ADDRESS,
			.replace = NG_REPLACE_ORIGIN | NG_REPLACE_SESSION_CONNECTION,
			.ice_remove = true,
		};

		ng_client_request(q->md->ng, &p, restore_answered, NULL, NULL);
	} else {
		LOG_WARN("media: restoring call %s after a refused re-offer failed", q->call_id);
	}
	media_sdp_clear(&q->answer);
	free(q);
}

void media_restore(struct media *md, const char *call_id, const struct media_sdp *offer,
		   const struct media_sdp *answer)
{
	struct media_restore_req *q;

	if (offer->sdp == NULL || answer->sdp == NULL || (q = calloc(1, sizeof(*q))) == NULL)
		return;
	q->md = md;
	snprintf(q->call_id, sizeof(q->call_id), "%s", call_id);
	snprintf(q->offer_tag, sizeof(q->offer_tag), "%s", offer->tag);
	snprintf(q->branch, sizeof(q->branch), "%s", offer->branch);
	q->answer = *answer;
	q->answer.sdp = malloc(answer->len);
	if (q->answer.sdp == NULL) {
		free(q);
		return;
	}
	memcpy(q->answer.sdp, answer->sdp, answer->len);
	struct ng_params p = {
		.cmd = NG_CMD_OFFER,
		.call_id = q->call_id,
		.from_tag = offer->tag,
		.to_tag = answer->tag,
		.via_branch = q->branch[0] != '\0' ? q->branch : NULL,
		.sdp = offer->sdp,
		.sdp_len = offer->len,
		.received_from = &offer->src.ip,
		.flags = offer->natted ? NG_FLAG_SIP_SOURCE_ADDRESS : NG_FLAG_TRUST_ADDRESS,
		.replace = NG_REPLACE_ORIGIN | NG_REPLACE_SESSION_CONNECTION,
		.ice_remove = true,
	};

	if (ng_client_request(md->ng, &p, restore_offered, q, NULL) != 0) {
		media_sdp_clear(&q->answer);
		free(q);
	}
}
