using System.ComponentModel;
using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Wakes one event-loop thread when another thread signals it, or when a timeout ends, to the microsecond:
/// ppoll(2) on an eventfd and a timerfd. .NET's own timed waits (Monitor, SemaphoreSlim, BlockingCollection)
/// take whole milliseconds and were seen here to wake 0.2 to 1.3 ms after the deadline, and a poll timeout
/// gets 0.1 % of itself as slack from the kernel (3.6 ms on a VRRPv2 Master_Down_Interval); a timerfd fires
/// on time, which is how keepalived meets its deadlines. A signal given before the wait is kept (the eventfd
/// counter), so none is lost between a check and a wait.
/// </summary>
public sealed unsafe partial class EventLoopSignal : IDisposable
{
    const int EFD_CLOEXEC = 0x80000;
    const int EFD_NONBLOCK = 0x800;
    const int CLOCK_MONOTONIC = 1;
    const int TFD_CLOEXEC = 0x80000;
    const int TFD_NONBLOCK = 0x800;
    const short POLLIN = 0x1;
    const int EINTR = 4;
    const int EAGAIN = 11;

    readonly int _signalFd;
    readonly int _timerFd;
    // Signal and Dispose take it, so a signal after Dispose never writes to a closed (or reused) descriptor.
    readonly Lock _gate = new();
    bool _disposed;

    public EventLoopSignal()
    {
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
    /// Blocks until signalled (true, and the signal is consumed) or until <paramref name="timeout"/> passes
    /// (false). A null timeout waits for a signal only. Only the one waiting thread may call it.
    /// </summary>
    public bool Wait(TimeSpan? timeout)
    {
        // Arming replaces any earlier deadline and clears an expiry nobody read; a zero value would disarm.
        long nanoseconds = timeout is { } t ? Math.Max(1, t.Ticks * 100) : 0;
        var arm = new TimerSpec { Value = new TimeSpec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 } };
        if (TimerFdSetTime(_timerFd, 0, &arm, null) != 0)
            throw new Win32Exception(Marshal.GetLastPInvokeError(), "timerfd_settime failed");

        var fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = _signalFd, Events = POLLIN };
        fds[1] = new PollFd { Fd = _timerFd, Events = POLLIN };
        if (PPoll(fds, 2, null, null) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != EINTR) throw new Win32Exception(errno, "ppoll failed");
            // A signal handler ran: the caller checks its clock and waits again.
        }
        return Drain(_signalFd);
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

    /// <summary>struct itimerspec: no interval (one shot), then the relative expiry.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct TimerSpec
    {
        public TimeSpec Interval;
        public TimeSpec Value;
    }

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    private static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "timerfd_create", SetLastError = true)]
    private static partial int TimerFdCreate(int clock, int flags);

    [LibraryImport("libc", EntryPoint = "timerfd_settime", SetLastError = true)]
    private static partial int TimerFdSetTime(int fd, int flags, TimerSpec* value, TimerSpec* old);

    [LibraryImport("libc", EntryPoint = "ppoll", SetLastError = true)]
    private static partial int PPoll(PollFd* fds, nuint count, TimeSpec* timeout, void* signalMask);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint Read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
