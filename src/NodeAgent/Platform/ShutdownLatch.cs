using System.ComponentModel;
using System.Runtime.InteropServices;
using static NginxHa.NodeAgent.Platform.Posix;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Set once and for good, by <see cref="Set"/> or straight from a signal handler: an eventfd that is written and
/// never read, so every event loop polling <see cref="Fd"/> wakes and keeps seeing it. A SIGTERM then wakes each
/// VRRP speaker's own thread directly, and its priority-0 advert does not wait for a second thread to be
/// scheduled (on an idle virtual CPU that cost about a millisecond).
/// </summary>
public sealed unsafe class ShutdownLatch : IDisposable
{
    readonly List<IDisposable> _watches = [];
    readonly Lock _gate = new();
    bool _disposed;

    public ShutdownLatch()
    {
        Fd = EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (Fd < 0) throw new Win32Exception(Marshal.GetLastPInvokeError(), "eventfd failed");
    }

    /// <summary>A latch the given signals set from their handler (and that <see cref="Set"/> sets too).</summary>
    public static ShutdownLatch OnSignals(params PosixSignal[] signals)
    {
        var latch = new ShutdownLatch();
        try
        {
            foreach (var signal in signals)
                latch._watches.Add(ProcessSignals.WakeOnSignal(signal, latch.Fd));
        }
        catch
        {
            latch.Dispose();
            throw;
        }
        return latch;
    }

    /// <summary>Readable (POLLIN) from the moment the latch is set, for good.</summary>
    public int Fd { get; }

    public bool IsSet
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                var fd = new PollFd { Fd = Fd, Events = POLLIN };
                return Poll(&fd, 1, 0) == 1 && (fd.ReturnedEvents & POLLIN) != 0;
            }
        }
    }

    public void Set()
    {
        lock (_gate)
        {
            if (_disposed) return;
            ulong one = 1;
            _ = Write(Fd, &one, sizeof(ulong));
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            // Unwatching waits until no signal handler can still write to the descriptor; only then is it closed.
            foreach (var w in _watches) w.Dispose();
            Close(Fd);
        }
    }
}
