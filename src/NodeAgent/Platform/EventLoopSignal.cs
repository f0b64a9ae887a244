using System.ComponentModel;
using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Wakes one event-loop thread when another thread signals it, or when a timeout ends, to the microsecond:
/// an eventfd waited on with ppoll(2). .NET's own timed waits (Monitor, SemaphoreSlim, BlockingCollection)
/// take whole milliseconds and were seen here to wake 0.2 to 1.3 ms after the deadline; a VRRP take-over
/// is due at Master_Down_Interval after the last advert, and keepalived (timerfd) meets it within 0.3 ms.
/// A signal given before the wait is kept (the eventfd counter), so none is lost between a check and a wait.
/// </summary>
public sealed unsafe partial class EventLoopSignal : IDisposable
{
    const int EFD_CLOEXEC = 0x80000;
    const int EFD_NONBLOCK = 0x800;
    const short POLLIN = 0x1;
    const int EINTR = 4;
    const int EAGAIN = 11;
    const int PR_SET_TIMERSLACK = 29;
    const int PR_GET_TIMERSLACK = 30;

    readonly int _fd;
    // Signal and Dispose take it, so a signal after Dispose never writes to a closed (or reused) descriptor.
    readonly Lock _gate = new();
    bool _disposed;

    public EventLoopSignal()
    {
        _fd = EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (_fd < 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "eventfd failed");
    }

    /// <summary>Wakes the waiter now, or makes its next wait return at once. Safe from any thread; a no-op after Dispose.</summary>
    public void Signal()
    {
        lock (_gate)
        {
            if (_disposed) return;
            ulong one = 1;
            // EAGAIN only when the counter is full: the waiter is woken anyway.
            if (Write(_fd, &one, sizeof(ulong)) < 0 && Marshal.GetLastPInvokeError() is not (EAGAIN or EINTR))
                throw new Win32Exception(Marshal.GetLastPInvokeError(), "eventfd write failed");
        }
    }

    /// <summary>
    /// Blocks until signalled (true, and the signal is consumed) or until <paramref name="timeout"/> passes
    /// (false). A null timeout waits for a signal only.
    /// </summary>
    public bool Wait(TimeSpan? timeout)
    {
        var poll = new PollFd { Fd = _fd, Events = POLLIN };
        TimeSpec limit = default;
        if (timeout is { } t)
        {
            long nanoseconds = Math.Max(0, t.Ticks) * 100;
            limit = new TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
        }
        int ready = PPoll(&poll, 1, timeout is null ? null : &limit, null);
        if (ready < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == EINTR) return Drain(); // a signal handler ran: the caller checks its clock and waits again
            throw new Win32Exception(errno, "ppoll failed");
        }
        return ready > 0 && Drain();
    }

    bool Drain()
    {
        ulong count;
        return Read(_fd, &count, sizeof(ulong)) == sizeof(ulong);
    }

    /// <summary>
    /// Lets the kernel wake the calling thread at its deadline instead of up to 50 µs later (the default timer
    /// slack, which the kernel uses to batch wake-ups). For the one thread whose deadlines are failovers.
    /// </summary>
    public static void MinimizeTimerSlackOfCurrentThread() => PrCtl(PR_SET_TIMERSLACK, 1, 0, 0, 0);

    /// <summary>The calling thread's timer slack in nanoseconds.</summary>
    internal static long TimerSlackOfCurrentThread => PrCtl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

    /// <summary>Closes the eventfd. Only the waiting thread may call it, once it no longer waits.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Close(_fd);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    struct PollFd
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "ppoll", SetLastError = true)]
    private static partial int PPoll(PollFd* fds, nuint count, TimeSpec* timeout, void* signalMask);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "prctl")]
    private static partial int PrCtl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
}
