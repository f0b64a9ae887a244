using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>libc calls for signals and pidfd-based exit watching (no .NET API for either on non-children).</summary>
internal static partial class LinuxProcessApi
{
    public const int SIGHUP = 1;
    public const int SIGQUIT = 3;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public const int ESRCH = 3;

    public const short POLLIN = 0x0001;

    // eventfd(2) flags.
    public const int EFD_CLOEXEC = 0x80000;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>pidfd_open(2): a descriptor that becomes readable when the process exits.</summary>
    [LibraryImport("libc", EntryPoint = "pidfd_open", SetLastError = true)]
    public static partial int PidfdOpen(int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>The children of a process (nginx: the master's workers); empty when it is gone.</summary>
    public static int[] ChildPids(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/task/{pid}/children")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Sends a signal; false when the process (or group, for a negative pid) no longer exists.</summary>
    public static bool TrySignal(int pid, int signal, out int errno)
    {
        errno = 0;
        if (Kill(pid, signal) == 0) return true;
        errno = Marshal.GetLastPInvokeError();
        return false;
    }
}
