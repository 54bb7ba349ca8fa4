/* loop: the single-threaded epoll event loop of sbc-sip — fd watchers, millisecond timers on a
 * min-heap driven by one timerfd, and signals through a signalfd. */
#ifndef SBC_LOOP_H
#define SBC_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;

/* Called when fd is ready; events is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP). */
typedef void (*loop_fd_cb)(struct loop *lp, int fd, uint32_t events, void *arg);
/* Called once when a timer expires; the timer is disarmed before the call and may be restarted. */
typedef void (*loop_timer_cb)(struct loop *lp, void *arg);
/* Called when the SIGHUP reload signal arrives. */
typedef void (*loop_signal_cb)(struct loop *lp, int signo, void *arg);

/* A timer embedded in its owner's struct (no allocation per start). The fields are the loop's:
 * initialise with loop_timer_init and touch them through the functions below only. */
struct loop_timer {
	uint64_t expires_ms; /* loop time at which it fires */
	uint64_t seq;	     /* start order: equal expiry fires first-started first */
	size_t heap_idx;     /* 1-based position in the heap, 0 when disarmed */
	loop_timer_cb cb;
	void *arg;
};

/* Creates a loop (epoll instance and timerfd). Its clock starts at CLOCK_MONOTONIC now. Returns
 * NULL with errno set. Owned by the caller; main thread only, like every function here. */
struct loop *loop_new(void);

/* Frees the loop and closes its own fds. Watched fds are not closed (their owners close them);
 * armed timers are simply forgotten. NULL is allowed. */
void loop_free(struct loop *lp);

/* Watches fd for events (EPOLLIN/EPOLLOUT...). One watcher per fd. Returns 0, -EEXIST or -errno.
 * The fd stays owned by the caller. */
int loop_fd_add(struct loop *lp, int fd, uint32_t events, loop_fd_cb cb, void *arg);

/* Changes the events watched on fd. Returns 0, -ENOENT or -errno. */
int loop_fd_mod(struct loop *lp, int fd, uint32_t events);

/* Stops watching fd (call before closing it). Safe from inside any callback: events of this batch
 * still pending for fd are dropped. Returns 0 or -ENOENT. */
int loop_fd_del(struct loop *lp, int fd);

/* Sets up signal handling: SIGTERM and SIGINT stop the loop, SIGHUP calls on_hup (may be NULL).
 * The three signals are blocked for the process and read from a signalfd. Returns 0 or -errno. */
int loop_signals_init(struct loop *lp, loop_signal_cb on_hup, void *arg);

/* The loop's time in milliseconds (CLOCK_MONOTONIC, updated once per iteration, or set by
 * loop_advance in tests). */
uint64_t loop_now(const struct loop *lp);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb, void *arg);

/* Arms t to fire delay_ms after loop_now() (re-arms it when already armed). Returns 0 or
 * -ENOMEM. */
int loop_timer_start(struct loop *lp, struct loop_timer *t, uint64_t delay_ms);

/* Disarms t; nothing happens when it is not armed. */
void loop_timer_stop(struct loop *lp, struct loop_timer *t);

bool loop_timer_armed(const struct loop_timer *t);

/* Number of armed timers. */
size_t loop_timer_count(const struct loop *lp);

/* Sets the loop's time to now_ms (never backwards) and fires every timer due by then. This is the
 * clock seam for tests; the loop itself calls it with CLOCK_MONOTONIC. Returns the number fired. */
unsigned int loop_advance(struct loop *lp, uint64_t now_ms);

/* Waits up to max_wait_ms (-1: until an event) and dispatches one batch of events and due
 * timers. Returns 0, or -errno when epoll_wait fails (EINTR is not an error). */
int loop_run_once(struct loop *lp, int max_wait_ms);

/* Runs until loop_stop (or a stop signal). Returns 0 or -errno. */
int loop_run(struct loop *lp);

/* Makes loop_run return after the current iteration. */
void loop_stop(struct loop *lp);

bool loop_stopped(const struct loop *lp);

#endif
