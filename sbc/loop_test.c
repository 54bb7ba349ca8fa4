/* loop_test: unit tests for the event loop — timer heap driven by a fake clock, fd watchers on a
 * pipe, and signals through the signalfd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"

struct rec {
	int order[64];
	int n;
};

struct tctx {
	struct rec *rec;
	int id;
	struct loop_timer t;
	struct loop_timer *other; /* stopped by this timer's callback */
	uint64_t rearm;		  /* re-armed with this delay when non-zero */
	int rearms_left;
};

static void on_timer(struct loop *lp, void *arg)
{
	struct tctx *c = arg;

	c->rec->order[c->rec->n++] = c->id;
	if (c->other != NULL)
		loop_timer_stop(lp, c->other);
	if (c->rearms_left > 0) {
		c->rearms_left--;
		assert_int_equal(loop_timer_start(lp, &c->t, c->rearm), 0);
	}
}

static void tctx_init(struct tctx *c, struct rec *rec, int id)
{
	memset(c, 0, sizeof(*c));
	c->rec = rec;
	c->id = id;
	loop_timer_init(&c->t, on_timer, c);
}

static void test_timer_order(void **state)
{
	struct loop *lp = loop_new();
	struct rec rec = {0};
	struct tctx c[6];
	static const uint64_t delays[6] = {500, 100, 300, 100, 4000, 0};
	uint64_t t0;

	(void)state;
	assert_non_null(lp);
	t0 = loop_now(lp);
	for (int i = 0; i < 6; i++) {
		tctx_init(&c[i], &rec, i);
		assert_int_equal(loop_timer_start(lp, &c[i].t, delays[i]), 0);
	}
	assert_int_equal(loop_timer_count(lp), 6);
	/* Nothing is due before its time; equal expiry fires in start order. */
	assert_int_equal(loop_advance(lp, t0), 1);
	assert_int_equal(loop_advance(lp, t0 + 99), 0);
	assert_int_equal(loop_advance(lp, t0 + 300), 3);
	assert_int_equal(rec.n, 4);
	assert_int_equal(rec.order[0], 5);
	assert_int_equal(rec.order[1], 1);
	assert_int_equal(rec.order[2], 3);
	assert_int_equal(rec.order[3], 2);
	assert_false(loop_timer_armed(&c[1].t));
	assert_true(loop_timer_armed(&c[0].t));
	/* Time never goes backwards. */
	loop_advance(lp, t0);
	assert_int_equal(loop_now(lp), t0 + 300);
	assert_int_equal(loop_advance(lp, t0 + 10000), 2);
	assert_int_equal(rec.order[4], 0);
	assert_int_equal(rec.order[5], 4);
	assert_int_equal(loop_timer_count(lp), 0);
	loop_free(lp);
}

static void test_timer_cancel_restart(void **state)
{
	struct loop *lp = loop_new();
	struct rec rec = {0};
	struct tctx c[40];
	uint64_t t0 = loop_now(lp);

	(void)state;
	for (int i = 0; i < 40; i++) {
		tctx_init(&c[i], &rec, i);
		assert_int_equal(loop_timer_start(lp, &c[i].t, (uint64_t)((i * 7919) % 97)), 0);
	}
	/* Cancel every third timer, from anywhere in the heap. */
	for (int i = 0; i < 40; i += 3)
		loop_timer_stop(lp, &c[i].t);
	loop_timer_stop(lp, &c[0].t); /* twice is harmless */
	/* Restarting moves a timer later. */
	assert_int_equal(loop_timer_start(lp, &c[1].t, 1000), 0);
	assert_int_equal(loop_advance(lp, t0 + 96), 40 - 14 - 1);
	for (int i = 1; i < rec.n; i++) {
		int a = rec.order[i - 1], b = rec.order[i];

		assert_true((a * 7919) % 97 <= (b * 7919) % 97);
		assert_true(a % 3 != 0 && a != 1);
	}
	assert_int_equal(loop_advance(lp, t0 + 1000), 1);
	assert_int_equal(rec.order[rec.n - 1], 1);
	loop_free(lp);
}

static void test_timer_from_callback(void **state)
{
	struct loop *lp = loop_new();
	struct rec rec = {0};
	struct tctx a, b, z;
	uint64_t t0 = loop_now(lp);

	(void)state;
	tctx_init(&a, &rec, 1);
	tctx_init(&b, &rec, 2);
	tctx_init(&z, &rec, 3);
	/* a stops b although b is due in the same pass. */
	a.other = &b.t;
	loop_timer_start(lp, &a.t, 10);
	loop_timer_start(lp, &b.t, 10);
	/* z re-arms itself with delay 0: it must not spin inside one pass. */
	z.rearm = 0;
	z.rearms_left = 1000;
	loop_timer_start(lp, &z.t, 20);
	assert_int_equal(loop_advance(lp, t0 + 20), 2);
	assert_int_equal(rec.order[0], 1);
	assert_int_equal(rec.order[1], 3);
	assert_false(loop_timer_armed(&b.t));
	assert_true(loop_timer_armed(&z.t));
	assert_int_equal(loop_advance(lp, t0 + 20), 1);
	loop_timer_stop(lp, &z.t);
	loop_free(lp);
}

struct fdctx {
	int calls;
	int other_fd;
	struct loop *lp;
};

static void on_readable(struct loop *lp, int fd, uint32_t events, void *arg)
{
	struct fdctx *c = arg;
	char buf[16];

	assert_true(events & EPOLLIN);
	c->calls++;
	assert_true(read(fd, buf, sizeof(buf)) > 0);
	if (c->other_fd >= 0) {
		/* Removing a watcher whose event is pending in this batch must be safe. */
		assert_int_equal(loop_fd_del(lp, c->other_fd), 0);
	}
}

static void test_fd_watch(void **state)
{
	struct loop *lp = loop_new();
	int p1[2], p2[2];
	struct fdctx c1 = {.other_fd = -1}, c2 = {.other_fd = -1};

	(void)state;
	assert_int_equal(pipe(p1), 0);
	assert_int_equal(pipe(p2), 0);
	assert_int_equal(loop_fd_add(lp, p1[0], EPOLLIN, on_readable, &c1), 0);
	assert_int_equal(loop_fd_add(lp, p1[0], EPOLLIN, on_readable, &c1), -EEXIST);
	assert_int_equal(loop_fd_add(lp, p2[0], EPOLLIN, on_readable, &c2), 0);
	assert_int_equal(loop_run_once(lp, 0), 0);
	assert_int_equal(c1.calls + c2.calls, 0);
	assert_int_equal(write(p1[1], "x", 1), 1);
	assert_int_equal(loop_run_once(lp, 1000), 0);
	assert_int_equal(c1.calls, 1);
	/* Both ready: whichever runs first removes the other. */
	c1.other_fd = p2[0];
	c2.other_fd = p1[0];
	assert_int_equal(write(p1[1], "x", 1), 1);
	assert_int_equal(write(p2[1], "x", 1), 1);
	assert_int_equal(loop_run_once(lp, 1000), 0);
	assert_int_equal(c1.calls + c2.calls, 2);
	assert_int_equal(loop_fd_del(lp, p1[0]) + loop_fd_del(lp, p2[0]), -ENOENT);
	assert_int_equal(loop_fd_mod(lp, 12345, EPOLLIN), -ENOENT);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	loop_free(lp);
}

static void test_timerfd_wakes(void **state)
{
	struct loop *lp = loop_new();
	struct rec rec = {0};
	struct tctx c;

	(void)state;
	tctx_init(&c, &rec, 7);
	loop_timer_start(lp, &c.t, 5);
	/* Nothing else is watched: only the timerfd can end this wait before 10 s. */
	for (int i = 0; i < 10 && rec.n == 0; i++)
		assert_int_equal(loop_run_once(lp, 10000), 0);
	assert_int_equal(rec.n, 1);
	loop_free(lp);
}

static void on_hup(struct loop *lp, int signo, void *arg)
{
	(void)lp;
	assert_int_equal(signo, SIGHUP);
	(*(int *)arg)++;
}

static void test_signals(void **state)
{
	struct loop *lp = loop_new();
	int hups = 0;

	(void)state;
	assert_int_equal(loop_signals_init(lp, on_hup, &hups), 0);
	assert_int_equal(loop_signals_init(lp, on_hup, &hups), -EALREADY);
	raise(SIGHUP);
	assert_int_equal(loop_run_once(lp, 1000), 0);
	assert_int_equal(hups, 1);
	assert_false(loop_stopped(lp));
	raise(SIGTERM);
	assert_int_equal(loop_run(lp), 0);
	assert_true(loop_stopped(lp));
	loop_free(lp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_cancel_restart),
		cmocka_unit_test(test_timer_from_callback),
		cmocka_unit_test(test_fd_watch),
		cmocka_unit_test(test_timerfd_wakes),
		cmocka_unit_test(test_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
