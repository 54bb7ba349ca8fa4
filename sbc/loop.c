/* loop: the single-threaded epoll event loop of sbc-sip — fd watchers, millisecond timers on a
 * min-heap driven by one timerfd, and signals through a signalfd. */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOOP_MAX_EVENTS 64

struct loop_watch {
	int fd;
	loop_fd_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	int tfd;
	int sfd;
	bool stop;
	uint64_t now_ms;
	uint64_t next_seq;
	uint64_t armed_ms; /* expiry the timerfd is armed for, 0 when disarmed */

	struct loop_timer **heap; /* heap[0] is the earliest */
	size_t heap_len, heap_cap;

	struct loop_watch **by_fd; /* indexed by fd */
	size_t by_fd_cap;

	/* The batch being dispatched, so loop_fd_del can drop pending events of a removed fd. */
	struct epoll_event events[LOOP_MAX_EVENTS];
	int nevents;

	loop_signal_cb on_hup;
	void *hup_arg;
	/* Internal watchers use these tags as epoll data instead of a loop_watch pointer. */
	struct loop_watch timer_watch, signal_watch;
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct loop *loop_new(void)
{
	struct loop *lp = calloc(1, sizeof(*lp));
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	if (lp == NULL)
		return NULL;
	lp->sfd = -1;
	lp->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (lp->epfd < 0)
		goto fail_free;
	lp->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (lp->tfd < 0)
		goto fail_ep;
	lp->timer_watch.fd = lp->tfd;
	ev.data.ptr = &lp->timer_watch;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->tfd, &ev) != 0)
		goto fail_tfd;
	lp->now_ms = monotonic_ms();
	return lp;

fail_tfd:
	err = errno;
	close(lp->tfd);
	errno = err;
fail_ep:
	err = errno;
	close(lp->epfd);
	errno = err;
fail_free:
	err = errno;
	free(lp);
	errno = err;
	return NULL;
}

void loop_free(struct loop *lp)
{
	if (lp == NULL)
		return;
	for (size_t i = 0; i < lp->by_fd_cap; i++)
		free(lp->by_fd[i]);
	free(lp->by_fd);
	free(lp->heap);
	if (lp->sfd >= 0)
		close(lp->sfd);
	close(lp->tfd);
	close(lp->epfd);
	free(lp);
}

/* ---- fd watchers ---- */

int loop_fd_add(struct loop *lp, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = {.events = events};
	struct loop_watch *w;

	if (fd < 0 || cb == NULL)
		return -EINVAL;
	if ((size_t)fd >= lp->by_fd_cap) {
		size_t cap = lp->by_fd_cap ? lp->by_fd_cap : 64;
		struct loop_watch **n;

		while (cap <= (size_t)fd)
			cap *= 2;
		n = realloc(lp->by_fd, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		memset(n + lp->by_fd_cap, 0, (cap - lp->by_fd_cap) * sizeof(*n));
		lp->by_fd = n;
		lp->by_fd_cap = cap;
	}
	if (lp->by_fd[fd] != NULL)
		return -EEXIST;
	w = malloc(sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int err = -errno;

		free(w);
		return err;
	}
	lp->by_fd[fd] = w;
	return 0;
}

static struct loop_watch *watch_of(const struct loop *lp, int fd)
{
	if (fd < 0 || (size_t)fd >= lp->by_fd_cap)
		return NULL;
	return lp->by_fd[fd];
}

int loop_fd_mod(struct loop *lp, int fd, uint32_t events)
{
	struct loop_watch *w = watch_of(lp, fd);
	struct epoll_event ev = {.events = events};

	if (w == NULL)
		return -ENOENT;
	ev.data.ptr = w;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
		return -errno;
	return 0;
}

int loop_fd_del(struct loop *lp, int fd)
{
	struct loop_watch *w = watch_of(lp, fd);

	if (w == NULL)
		return -ENOENT;
	/* The fd may already be closed by a peer error path; the watcher goes either way. */
	epoll_ctl(lp->epfd, EPOLL_CTL_DEL, fd, NULL);
	/* A callback earlier in this batch may remove a watcher whose event is still pending. */
	for (int i = 0; i < lp->nevents; i++)
		if (lp->events[i].data.ptr == w)
			lp->events[i].data.ptr = NULL;
	lp->by_fd[fd] = NULL;
	free(w);
	return 0;
}

/* ---- timers: a binary min-heap ordered by (expiry, start order) ---- */

uint64_t loop_now(const struct loop *lp)
{
	return lp->now_ms;
}

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx != 0;
}

size_t loop_timer_count(const struct loop *lp)
{
	return lp->heap_len;
}

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	if (a->expires_ms != b->expires_ms)
		return a->expires_ms < b->expires_ms;
	return a->seq < b->seq;
}

static void heap_set(struct loop *lp, size_t i, struct loop_timer *t)
{
	lp->heap[i] = t;
	t->heap_idx = i + 1;
}

static void heap_up(struct loop *lp, size_t i)
{
	struct loop_timer *t = lp->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, lp->heap[parent]))
			break;
		heap_set(lp, i, lp->heap[parent]);
		i = parent;
	}
	heap_set(lp, i, t);
}

static void heap_down(struct loop *lp, size_t i)
{
	struct loop_timer *t = lp->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;

		if (l >= lp->heap_len)
			break;
		if (r < lp->heap_len && timer_before(lp->heap[r], lp->heap[l]))
			m = r;
		if (!timer_before(lp->heap[m], t))
			break;
		heap_set(lp, i, lp->heap[m]);
		i = m;
	}
	heap_set(lp, i, t);
}

void loop_timer_stop(struct loop *lp, struct loop_timer *t)
{
	size_t i;
	struct loop_timer *last;

	if (t->heap_idx == 0)
		return;
	i = t->heap_idx - 1;
	t->heap_idx = 0;
	last = lp->heap[--lp->heap_len];
	if (i == lp->heap_len)
		return;
	heap_set(lp, i, last);
	heap_up(lp, i);
	heap_down(lp, last->heap_idx - 1);
}

int loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t delay_ms)
{
	loop_timer_stop(lp, t);
	if (lp->heap_len == lp->heap_cap) {
		size_t cap = lp->heap_cap ? lp->heap_cap * 2 : 64;
		struct loop_timer **n = realloc(lp->heap, cap * sizeof(*n));

		if (n == NULL)
			return -ENOMEM;
		lp->heap = n;
		lp->heap_cap = cap;
	}
	t->expires_ms = lp->now_ms + delay_ms;
	t->seq = lp->next_seq++;
	heap_set(lp, lp->heap_len++, t);
	heap_up(lp, lp->heap_len - 1);
	return 0;
}

unsigned int loop_advance(struct loop *lp, uint64_t now_ms)
{
	/* Timers started by callbacks of this pass wait for the next pass, even with a zero delay,
	 * so a callback that re-arms itself cannot keep the loop here forever. */
	uint64_t pass_seq = lp->next_seq;
	unsigned int fired = 0;

	if (now_ms > lp->now_ms)
		lp->now_ms = now_ms;
	while (lp->heap_len > 0) {
		struct loop_timer *t = lp->heap[0];

		if (t->expires_ms > lp->now_ms || t->seq >= pass_seq)
			break;
		loop_timer_stop(lp, t);
		fired++;
		t->cb(lp, t->arg);
	}
	return fired;
}

/* Arms the timerfd for the earliest timer (absolute CLOCK_MONOTONIC), only when it changed. */
static void timerfd_sync(struct loop *lp)
{
	struct itimerspec its = {0};
	uint64_t want = lp->heap_len > 0 ? lp->heap[0]->expires_ms : 0;

	if (want == lp->armed_ms)
		return;
	if (want != 0) {
		/* An absolute time already past fires at once, which is what a due timer needs. */
		its.it_value.tv_sec = (time_t)(want / 1000u);
		its.it_value.tv_nsec = (long)(want % 1000u) * 1000000L;
	}
	if (timerfd_settime(lp->tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		lp->armed_ms = want;
}

/* ---- signals ---- */

int loop_signals_init(struct loop *lp, loop_signal_cb on_hup, void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t set;

	if (lp->sfd >= 0)
		return -EALREADY;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Blocked so they are only ever read from the signalfd, never delivered asynchronously. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -errno;
	lp->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (lp->sfd < 0)
		return -errno;
	lp->signal_watch.fd = lp->sfd;
	ev.data.ptr = &lp->signal_watch;
	if (epoll_ctl(lp->epfd, EPOLL_CTL_ADD, lp->sfd, &ev) != 0) {
		int err = -errno;

		close(lp->sfd);
		lp->sfd = -1;
		return err;
	}
	lp->on_hup = on_hup;
	lp->hup_arg = arg;
	return 0;
}

static void signals_read(struct loop *lp)
{
	struct signalfd_siginfo si;

	while (read(lp->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			LOG_NOTICE("signal %u: stopping", si.ssi_signo);
			lp->stop = true;
			break;
		case SIGHUP:
			LOG_NOTICE("SIGHUP: reload");
			if (lp->on_hup != NULL)
				lp->on_hup(lp, SIGHUP, lp->hup_arg);
			break;
		default:
			break;
		}
	}
}

/* ---- running ---- */

int loop_run_once(struct loop *lp, int max_wait_ms)
{
	uint64_t now;
	int n;

	loop_advance(lp, monotonic_ms());
	timerfd_sync(lp);
	n = epoll_wait(lp->epfd, lp->events, LOOP_MAX_EVENTS, max_wait_ms);
	if (n < 0) {
		lp->nevents = 0;
		return errno == EINTR ? 0 : -errno;
	}
	lp->nevents = n;
	now = monotonic_ms();
	if (now > lp->now_ms)
		lp->now_ms = now;
	for (int i = 0; i < n; i++) {
		struct loop_watch *w = lp->events[i].data.ptr;

		if (w == NULL)
			continue;
		if (w == &lp->timer_watch) {
			uint64_t ticks;

			/* Reading clears the expiry; due timers run below. */
			if (read(lp->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
				LOG_WARN("timerfd read: %s", strerror(errno));
			lp->armed_ms = 0;
			continue;
		}
		if (w == &lp->signal_watch) {
			signals_read(lp);
			continue;
		}
		w->cb(lp, w->fd, lp->events[i].events, w->arg);
	}
	lp->nevents = 0;
	loop_advance(lp, lp->now_ms);
	return 0;
}

int loop_run(struct loop *lp)
{
	while (!lp->stop) {
		int rc = loop_run_once(lp, -1);

		if (rc < 0)
			return rc;
	}
	return 0;
}

void loop_stop(struct loop *lp)
{
	lp->stop = true;
}

bool loop_stopped(const struct loop *lp)
{
	return lp->stop;
}
