using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>libc calls for signals and pidfd (no .NET API for either on non-children); eventfd, poll and close are in Platform/Posix.</summary>
internal static partial class LinuxProcessApi
{
    public const int SIGHUP = 1;
    public const int SIGQUIT = 3;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    public const int ESRCH = 3;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    /// <summary>pidfd_open(2): a descriptor that becomes readable when the process exits.</summary>
    [LibraryImport("libc", EntryPoint = "pidfd_open", SetLastError = true)]
    public static partial int PidfdOpen(int pid, uint flags);

    private const int P_PIDFD = 3;
    private const int WEXITED = 4;
    private const int WNOWAIT = 0x01000000;
    private const int CLD_EXITED = 1;

    [LibraryImport("libc", EntryPoint = "waitid", SetLastError = true)]
    private static unsafe partial int WaitId(int idType, int id, byte* info, int options);

    /// <summary>
    /// How an exited child of ours ended, read through its pidfd without reaping it (waitid WNOWAIT), so Process keeps
    /// its own bookkeeping; null when it is already reaped or not our child.
    /// </summary>
    public static unsafe string? PeekExit(int pidfd)
    {
        var info = stackalloc byte[128]; // siginfo_t
        new Span<byte>(info, 128).Clear();
        if (WaitId(P_PIDFD, pidfd, info, WEXITED | WNOWAIT) != 0) return null;
        int code = *(int*)(info + 8), status = *(int*)(info + 24); // si_code; si_status after si_pid and si_uid
        return code == CLD_EXITED ? $"exit code {status}" : $"killed by signal {status}";
    }

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
