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
		if (sipmsg_set_sdp(q->m, r->sdp, r->sdp_len) != 0)
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
	cb(cbarg, status);
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
	struct sip_via via;
	const char *sdp, *cid;
	size_t sdp_len, cid_len;

	if (!sipmsg_sdp(q->m, &sdp, &sdp_len))
		return -ENOENT;
	cid = sipmsg_call_id(q->m, &cid_len);
	if (!copy_str(call_id, sizeof(call_id), cid, cid_len) || sipmsg_via(q->m, 0, &via) != 0)
		return -EINVAL;
	struct ng_params p = {
		.cmd = q->op == MEDIA_OFFER ? NG_CMD_OFFER : NG_CMD_ANSWER,
		.call_id = call_id,
		.from_tag = sipmsg_from_tag(q->m),
		.to_tag = sipmsg_to_tag(q->m),
		.via_branch = via.branch[0] != '\0' ? via.branch : NULL,
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

int media_engage(struct media *md, enum media_op op, struct sip_msg *m, const struct addr_port *src,
		 bool natted, media_cb cb, void *arg, struct media_req **req)
{
	if (!sipmsg_sdp(m, &(const char *){0}, &(size_t){0}))
		return -ENOENT;
	struct media_req *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return -ENOMEM;
	*q = (struct media_req){
		.md = md, .m = m, .cb = cb, .arg = arg, .op = op, .src = *src, .natted = natted};
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
