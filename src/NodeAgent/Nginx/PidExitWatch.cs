using System.Runtime.InteropServices;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>
/// Event-driven exit watch: pidfd_open + poll on a dedicated thread. For a process that is not our child (sidecar nginx
/// in a shared process namespace) kill -0 is no use: an unreaped zombie still answers it. For our own child it reports
/// the exit on its own thread, without waiting for the thread pool that raises Process.Exited.
/// </summary>
internal sealed class PidExitWatch : IDisposable
{
    private readonly int _pidfd;
    private readonly int _wakeFd;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private readonly Action<PidExitWatch>? _onExited;
    private int _disposed;

    private PidExitWatch(int pid, int pidfd, int wakeFd, Action<PidExitWatch>? onExited)
    {
        Pid = pid;
        _onExited = onExited;
        _pidfd = pidfd;
        _wakeFd = wakeFd;
        _thread = new Thread(WaitLoop) { IsBackground = true, Name = $"pidfd-watch-{pid}" };
        _thread.Start();
    }

    public int Pid { get; }

    /// <summary>Completes when the process exits (or has already exited: a zombie's pidfd is readable at once).</summary>
    public Task Exited => _exited.Task;

    /// <param name="onExited">Runs on the watch's own thread the moment the process exits; it must not dispose the watch.</param>
    public static bool TryOpen(int pid, out PidExitWatch? watch, out string reason, Action<PidExitWatch>? onExited = null)
    {
        watch = null;
        var pidfd = LinuxProcessApi.PidfdOpen(pid, 0);
        if (pidfd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            reason = errno == LinuxProcessApi.ESRCH ? $"pid {pid} does not exist" : $"pidfd_open({pid}) failed with errno {errno}";
            return false;
        }
        var wakeFd = Posix.EventFd(0, Posix.EFD_CLOEXEC);
        if (wakeFd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            Posix.Close(pidfd);
            reason = $"eventfd failed with errno {errno}";
            return false;
        }
        watch = new PidExitWatch(pid, pidfd, wakeFd, onExited);
        reason = "";
        return true;
    }

    private unsafe void WaitLoop()
    {
        var fds = stackalloc Posix.PollFd[2];
        while (true)
        {
            fds[0] = new Posix.PollFd { Fd = _pidfd, Events = Posix.POLLIN };
            fds[1] = new Posix.PollFd { Fd = _wakeFd, Events = Posix.POLLIN };
            var ready = Posix.Poll(fds, 2, -1);
            if (ready < 0)
            {
                if (Marshal.GetLastPInvokeError() == Posix.EINTR) continue;
                _exited.TrySetException(new IOException($"poll on pidfd of {Pid} failed with errno {Marshal.GetLastPInvokeError()}"));
                return;
            }
            if ((fds[0].ReturnedEvents & Posix.POLLIN) != 0)
            {
                _onExited?.Invoke(this);
                _exited.TrySetResult();
            }
            // Woken by Dispose, or the process exited: either way this thread is done.
            return;
        }
    }

    /// <summary>Our child's exit status (exit code or signal), read without reaping it; null when not available.</summary>
    public string? PeekExit() => LinuxProcessApi.PeekExit(_pidfd);

    public unsafe void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        ulong one = 1;
        Posix.Write(_wakeFd, &one, sizeof(ulong));
        _thread.Join();
        Posix.Close(_pidfd);
        Posix.Close(_wakeFd);
        _exited.TrySetCanceled();
    }
}
