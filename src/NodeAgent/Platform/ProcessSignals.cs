using System.ComponentModel;
using System.Runtime.InteropServices;
using static NginxHa.NodeAgent.Platform.Posix;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Runs callbacks for process signals (SIGTERM, SIGINT, SIGHUP) on one thread that waits for them from the start,
/// in place of <see cref="PosixSignalRegistration"/>. .NET starts a new thread for each SIGTERM before it runs a
/// callback, which put about a millisecond between `kill -TERM` and the priority-0 advert. The handler itself is
/// C (ProcessSignals.c): it only records the signal and writes to eventfds, this thread's and those given to
/// <see cref="WakeOnSignal"/> (an event loop that acts on the signal itself, like a <see cref="ShutdownLatch"/>).
/// While a signal has a subscription or a watched descriptor, its default action (ending the process) does not happen.
/// </summary>
public static unsafe partial class ProcessSignals
{
    const string Library = "libnha_signals";
    const int MaxSignal = 64;

    static readonly Lock Gate = new();
    static readonly Dictionary<int, List<Subscription>> BySignal = [];
    static int _wakeFd = -1;
    static Thread? _dispatcher;

    /// <summary>
    /// Calls <paramref name="handler"/> on the signal thread each time <paramref name="signal"/> arrives, until the
    /// result is disposed; the last disposal for a signal puts back what the process did with it before. Named
    /// <see cref="PosixSignal"/> values and raw Linux signal numbers (cast to PosixSignal) are both accepted.
    /// </summary>
    public static IDisposable Subscribe(PosixSignal signal, Action handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Add(LinuxNumber(signal), handler);
    }

    /// <summary>A subscription with a null handler only keeps the signal handler installed (for watched descriptors).</summary>
    static Subscription Add(int number, Action? handler)
    {
        lock (Gate)
        {
            if (_wakeFd < 0)
            {
                int fd = Open();
                if (fd < 0) throw new Win32Exception(-fd, "signal eventfd could not be created");
                _wakeFd = fd;
            }
            if (!BySignal.TryGetValue(number, out var list))
            {
                int rc = Install(number);
                if (rc < 0) throw new Win32Exception(-rc, $"signal {number}: sigaction failed");
                BySignal[number] = list = [];
            }
            var subscription = new Subscription(number, handler);
            list.Add(subscription);
            UpdateDispatch(number, list);
            if (handler is not null) _dispatcher ??= StartDispatcher(_wakeFd);
            return subscription;
        }
    }

    /// <summary>
    /// Also writes to <paramref name="eventFd"/> straight from the signal handler, until the result is disposed (after
    /// which no handler writes to it any more and it may be closed). For an event loop that acts on the signal
    /// itself: its thread is then the first one woken, with no thread in between.
    /// </summary>
    public static IDisposable WakeOnSignal(PosixSignal signal, int eventFd)
    {
        int number = LinuxNumber(signal);
        // Keeps the handler installed for as long as the descriptor is watched.
        var subscription = Add(number, handler: null);
        lock (Gate)
        {
            int rc = Watch(number, eventFd);
            if (rc < 0)
            {
                subscription.Dispose();
                throw new Win32Exception(-rc, $"signal {number}: no room to watch one more descriptor");
            }
        }
        return new Watcher(number, eventFd, subscription);
    }

    sealed class Watcher(int number, int eventFd, IDisposable subscription) : IDisposable
    {
        bool _disposed;

        public void Dispose()
        {
            lock (Gate)
            {
                if (_disposed) return;
                _disposed = true;
                _ = Unwatch(number, eventFd);
            }
            subscription.Dispose();
        }
    }

    /// <summary>True while the process's disposition for the signal is this class's handler.</summary>
    public static bool IsHandling(PosixSignal signal) => IsCurrent(LinuxNumber(signal)) == 1;

    /// <summary>The Linux number of a named signal; a positive raw number passes through.</summary>
    public static int LinuxNumber(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGQUIT => 3,
        PosixSignal.SIGTERM => 15,
        PosixSignal.SIGCHLD => 17,
        PosixSignal.SIGCONT => 18,
        PosixSignal.SIGTSTP => 20,
        PosixSignal.SIGTTIN => 21,
        PosixSignal.SIGTTOU => 22,
        PosixSignal.SIGWINCH => 28,
        _ when (int)signal is > 0 and <= MaxSignal => (int)signal,
        _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "not a Linux signal"),
    };

    static Thread StartDispatcher(int wakeFd)
    {
        var thread = new Thread(() => DispatchLoop(wakeFd)) { IsBackground = true, Name = "process signals" };
        thread.Start();
        return thread;
    }

    /// <summary>Waits on the eventfd for the life of the process and runs the handlers of every signal that arrived.</summary>
    static void DispatchLoop(int wakeFd)
    {
        var fds = stackalloc PollFd[1];
        while (true)
        {
            fds[0] = new PollFd { Fd = wakeFd, Events = POLLIN };
            if (Poll(fds, 1, -1) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                Console.Error.WriteLine($"nginx-ha-agent: process signals: poll failed (errno {errno}); signals are no longer handled");
                return;
            }
            ulong counter;
            _ = Read(wakeFd, &counter, sizeof(ulong));
            ulong arrived = Take();
            for (int number = 1; number <= MaxSignal; number++)
            {
                if ((arrived & (1UL << (number - 1))) == 0) continue;
                Subscription[] handlers;
                lock (Gate)
                    handlers = BySignal.TryGetValue(number, out var list) ? [.. list] : [];
                foreach (var s in handlers)
                    s.Invoke();
            }
        }
    }

    /// <summary>The callbacks' thread is woken only for signals with callbacks, so it never competes for the CPU otherwise.</summary>
    static void UpdateDispatch(int number, List<Subscription> list) =>
        _ = SetDispatch(number, list.Any(s => s.HasHandler) ? 1 : 0);

    sealed class Subscription(int number, Action? handler) : IDisposable
    {
        bool _disposed;

        public bool HasHandler => handler is not null;

        public void Invoke()
        {
            lock (Gate)
                if (_disposed || handler is null) return;
            try
            {
                handler();
            }
            catch (Exception ex)
            {
                // One failing handler must not end signal handling for the rest of the process.
                Console.Error.WriteLine($"nginx-ha-agent: signal {number} handler failed: {ex.Message}");
            }
        }

        public void Dispose()
        {
            lock (Gate)
            {
                if (_disposed) return;
                _disposed = true;
                var list = BySignal[number];
                list.Remove(this);
                UpdateDispatch(number, list);
                if (list.Count > 0) return;
                BySignal.Remove(number);
                int rc = Restore(number);
                if (rc < 0) throw new Win32Exception(-rc, $"signal {number}: sigaction failed while restoring");
            }
        }
    }

    [LibraryImport(Library, EntryPoint = "nha_signals_open")]
    private static partial int Open();

    [LibraryImport(Library, EntryPoint = "nha_signals_install")]
    private static partial int Install(int signal);

    [LibraryImport(Library, EntryPoint = "nha_signals_restore")]
    private static partial int Restore(int signal);

    [LibraryImport(Library, EntryPoint = "nha_signals_dispatch")]
    private static partial int SetDispatch(int signal, int on);

    [LibraryImport(Library, EntryPoint = "nha_signals_watch")]
    private static partial int Watch(int signal, int fd);

    [LibraryImport(Library, EntryPoint = "nha_signals_unwatch")]
    private static partial int Unwatch(int signal, int fd);

    [LibraryImport(Library, EntryPoint = "nha_signals_take")]
    private static partial ulong Take();

    [LibraryImport(Library, EntryPoint = "nha_signals_is_current")]
    private static partial int IsCurrent(int signal);
}
