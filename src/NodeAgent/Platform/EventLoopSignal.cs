using System.ComponentModel;
using System.Runtime.InteropServices;
using static NginxHa.NodeAgent.Platform.Posix;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Wakes one event-loop thread when another thread signals it, or when a timeout ends, to the microsecond:
/// ppoll(2) on an eventfd and a timerfd. .NET's own timed waits (Monitor, SemaphoreSlim, BlockingCollection)
/// take whole milliseconds and were seen here to wake 0.2 to 1.3 ms after the deadline, and a poll timeout
/// gets 0.1 % of itself as slack from the kernel (3.6 ms on a VRRPv2 Master_Down_Interval); a timerfd fires
/// on time, which is how keepalived meets its deadlines. A signal given before the wait is kept (the eventfd
/// counter), so none is lost between a check and a wait. A <see cref="ShutdownLatch"/>, when given, is polled
/// too, so a SIGTERM wakes this thread straight from the signal handler.
/// </summary>
public sealed unsafe class EventLoopSignal : IDisposable
{
    readonly int _signalFd;
    readonly int _timerFd;
    readonly ShutdownLatch? _shutdown;
    // Signal and Dispose take it, so a signal after Dispose never writes to a closed (or reused) descriptor.
    readonly Lock _gate = new();
    bool _disposed;

    public EventLoopSignal(ShutdownLatch? shutdown = null)
    {
        _shutdown = shutdown;
        _signalFd = EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (_signalFd < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "eventfd failed");
        _timerFd = TimerFdCreate(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (_timerFd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Close(_signalFd);
            throw new Win32Exception(errno, "timerfd_create failed");
        }
    }

    /// <summary>True once a wait has seen the shutdown latch set; it stays true.</summary>
    public bool ShutdownRequested { get; private set; }

    /// <summary>Wakes the waiter now, or makes its next wait return at once. Safe from any thread; a no-op after Dispose.</summary>
    public void Signal()
    {
        lock (_gate)
        {
            if (_disposed) return;
            ulong one = 1;
            // EAGAIN only when the counter is full: the waiter is woken anyway.
            if (Write(_signalFd, &one, sizeof(ulong)) < 0 && Marshal.GetLastPInvokeError() is not (EAGAIN or EINTR))
                throw new Win32Exception(Marshal.GetLastPInvokeError(), "eventfd write failed");
        }
    }

    /// <summary>
    /// Blocks until signalled (true, and the signal is consumed), until the shutdown latch is set (true, and
    /// <see cref="ShutdownRequested"/> is set) or until <paramref name="timeout"/> passes (false). A null timeout
    /// waits for a signal only. Only the one waiting thread may call it.
    /// </summary>
    public bool Wait(TimeSpan? timeout)
    {
        // Arming replaces any earlier deadline and clears an expiry nobody read; a zero value would disarm.
        long nanoseconds = timeout is { } t ? Math.Max(1, t.Ticks * 100) : 0;
        var arm = new TimerSpec { Value = new TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 } };
        if (TimerFdSetTime(_timerFd, 0, &arm, null) != 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "timerfd_settime failed");

        var fds = stackalloc PollFd[3];
        fds[0] = new PollFd { Fd = _signalFd, Events = POLLIN };
        fds[1] = new PollFd { Fd = _timerFd, Events = POLLIN };
        // The latch is level-triggered and never drained: once seen it is only remembered, not polled again.
        bool pollLatch = _shutdown is not null && !ShutdownRequested;
        if (pollLatch) fds[2] = new PollFd { Fd = _shutdown!.Fd, Events = POLLIN };
        // A signal handler that ran on this thread interrupts the poll; poll again: the timerfd keeps the deadline,
        // and the handler may have set the latch.
        while (PPoll(fds, pollLatch ? 3u : 2u, null, null) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR) throw new Win32Exception(errno, "ppoll failed");
        }
        bool latchSeen = pollLatch && (fds[2].ReturnedEvents & POLLIN) != 0;
        if (latchSeen) ShutdownRequested = true;
        return Drain(_signalFd) | latchSeen;
    }

    static bool Drain(int fd)
    {
        ulong count;
        return Read(fd, &count, sizeof(ulong)) == sizeof(ulong);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Close(_signalFd);
            Close(_timerFd);
        }
    }
}
