// The signal-handler half of ProcessSignals.cs (built by NginxHa.NodeAgent.csproj with clang).
//
// .NET's PosixSignalRegistration runs a SIGTERM callback on a thread it starts when the signal arrives (a clone
// and an 8 MB stack mapping): about 1 ms before a priority-0 advert can leave, where keepalived needs 0.4 ms.
// This handler does only what is async-signal-safe: it records the signal in a bit mask and writes to an
// eventfd. A thread that is already waiting on that eventfd runs the managed callbacks; no managed code ever
// runs in signal context.
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NHA_MAX_SIGNAL 64
#define NHA_MAX_WATCHERS 8

// Created once and never closed, so a handler still running on another thread never writes to a reused descriptor.
static int g_wake_fd = -1;
// Bit (n - 1) set: signal n arrived and nha_signals_take has not returned it yet.
static uint64_t g_pending;
static struct sigaction g_original[NHA_MAX_SIGNAL + 1];
static int g_installed[NHA_MAX_SIGNAL + 1];
// Set while the signal has managed callbacks: only then is the callbacks' thread woken.
static int g_dispatch[NHA_MAX_SIGNAL + 1];
// Descriptors plus one (0 = free slot) the handler also writes to, per signal.
static int g_watchers[NHA_MAX_SIGNAL + 1][NHA_MAX_WATCHERS];
// Handlers running right now: nha_signals_unwatch waits for them before the caller may close a descriptor.
static int g_handlers_running;

static void on_signal(int sig)
{
    int saved_errno = errno;
    __atomic_add_fetch(&g_handlers_running, 1, __ATOMIC_SEQ_CST);
    uint64_t one = 1;
    ssize_t written;
    // Event loops first: they act on the signal; the callbacks' thread only follows up.
    // A write fails only with EAGAIN when a counter is full, and then its waiter is woken anyway.
    for (int i = 0; i < NHA_MAX_WATCHERS; i++)
    {
        int slot = __atomic_load_n(&g_watchers[sig][i], __ATOMIC_SEQ_CST);
        if (slot != 0)
            written = write(slot - 1, &one, sizeof one);
    }
    if (__atomic_load_n(&g_dispatch[sig], __ATOMIC_SEQ_CST))
    {
        __atomic_fetch_or(&g_pending, UINT64_C(1) << (sig - 1), __ATOMIC_SEQ_CST);
        written = write(g_wake_fd, &one, sizeof one);
    }
    (void)written;
    __atomic_sub_fetch(&g_handlers_running, 1, __ATOMIC_SEQ_CST);
    errno = saved_errno;
}

// The eventfd that becomes readable when a forwarded signal arrives; -errno on failure. Not thread-safe:
// the managed side calls it under its lock.
int nha_signals_open(void)
{
    if (g_wake_fd < 0)
    {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            return -errno;
        g_wake_fd = fd;
    }
    return g_wake_fd;
}

// Points the signal at on_signal, keeping the disposition it replaces for nha_signals_restore. 0 or -errno.
int nha_signals_install(int sig)
{
    if (sig < 1 || sig > NHA_MAX_SIGNAL)
        return -EINVAL;
    if (g_wake_fd < 0)
        return -EBADF;
    if (g_installed[sig])
        return 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigfillset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(sig, &action, &g_original[sig]) != 0)
        return -errno;
    g_installed[sig] = 1;
    return 0;
}

// Puts back the disposition nha_signals_install replaced. 0 or -errno.
int nha_signals_restore(int sig)
{
    if (sig < 1 || sig > NHA_MAX_SIGNAL)
        return -EINVAL;
    if (!g_installed[sig])
        return 0;
    if (sigaction(sig, &g_original[sig], NULL) != 0)
        return -errno;
    g_installed[sig] = 0;
    return 0;
}

// Turns waking the callbacks' thread for the signal on (1) or off (0). 0 or -EINVAL.
int nha_signals_dispatch(int sig, int on)
{
    if (sig < 1 || sig > NHA_MAX_SIGNAL)
        return -EINVAL;
    __atomic_store_n(&g_dispatch[sig], on ? 1 : 0, __ATOMIC_SEQ_CST);
    return 0;
}

// Makes the handler also write to fd (an eventfd) when the signal arrives. 0, -EINVAL or -ENOSPC. The managed
// side calls it under its lock, with the handler installed.
int nha_signals_watch(int sig, int fd)
{
    if (sig < 1 || sig > NHA_MAX_SIGNAL || fd < 0)
        return -EINVAL;
    for (int i = 0; i < NHA_MAX_WATCHERS; i++)
    {
        if (__atomic_load_n(&g_watchers[sig][i], __ATOMIC_SEQ_CST) == 0)
        {
            __atomic_store_n(&g_watchers[sig][i], fd + 1, __ATOMIC_SEQ_CST);
            return 0;
        }
    }
    return -ENOSPC;
}

// Stops writes to fd for the signal and returns once no handler can still be writing to it, so the caller may
// close it. 0 or -EINVAL.
int nha_signals_unwatch(int sig, int fd)
{
    if (sig < 1 || sig > NHA_MAX_SIGNAL || fd < 0)
        return -EINVAL;
    for (int i = 0; i < NHA_MAX_WATCHERS; i++)
    {
        int expected = fd + 1;
        __atomic_compare_exchange_n(&g_watchers[sig][i], &expected, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    // A handler that started before the slot was cleared may hold the descriptor; it finishes in microseconds.
    while (__atomic_load_n(&g_handlers_running, __ATOMIC_SEQ_CST) != 0)
        sched_yield();
    return 0;
}

// The signals that arrived since the last call, as a bit mask (bit n - 1 for signal n), and clears them.
uint64_t nha_signals_take(void)
{
    return __atomic_exchange_n(&g_pending, 0, __ATOMIC_SEQ_CST);
}

// 1 when the process's current disposition for the signal is this file's handler (something else may have
// replaced it since nha_signals_install), 0 when not, -errno on failure.
int nha_signals_is_current(int sig)
{
    struct sigaction current;
    if (sig < 1 || sig > NHA_MAX_SIGNAL)
        return -EINVAL;
    if (sigaction(sig, NULL, &current) != 0)
        return -errno;
    return (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == on_signal;
}
