using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Platform;

/// <summary>Another agent already holds a lock: which one, and what to do about it.</summary>
public sealed class AgentLockedException(string message) : Exception(message);

/// <summary>
/// One agent per node and per state directory. Two agents for one node would fight over its VIPs (the second removes
/// the first's live VIP as "left by an earlier run"); two on one state directory stop each other's nginx. Each lock is
/// an flock on a file: the kernel drops it when the process dies however it dies, so a crash never leaves a stale
/// lock. The node lock lives under /run and is named after the node and the network namespace (a host's network is
/// its namespace: agents of the same node name in separate namespaces, as in the tests, do not collide).
/// </summary>
public sealed partial class AgentLock : IDisposable
{
    public const string DefaultNodeLockDirectory = "/run/nginx-ha/locks";

    readonly List<IDisposable> _held = [];

    AgentLock() { }

    /// <summary>Takes both locks or none; the exception names the lock file and the process holding it.</summary>
    public static AgentLock Acquire(string node, string stateDirectory, string nodeLockDirectory = DefaultNodeLockDirectory)
    {
        var agentLock = new AgentLock();
        try
        {
            agentLock.Take(Path.Combine(nodeLockDirectory, $"node-{SafeFileName(node)}.{NetworkNamespaceId()}.lock"),
                $"node \"{node}\" already has an agent running in this network namespace");
            agentLock.Take(Path.Combine(stateDirectory, "agent.lock"),
                $"state directory {stateDirectory} is in use by another agent");
            return agentLock;
        }
        catch
        {
            agentLock.Dispose();
            throw;
        }
    }

    void Take(string path, string what)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        // libc open, not FileStream: .NET puts its own flock on files it opens, which would turn a held lock into an
        // unexplained sharing error in the second agent before it could read who holds it.
        int fd = Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0x180 /* 0600 */);
        if (fd < 0)
            throw new IOException($"cannot open the lock file {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (Flock(fd, LOCK_EX | LOCK_NB) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EWOULDBLOCK)
                    throw new IOException($"cannot lock {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
                var holder = ReadHolder(handle);
                throw new AgentLockedException($"{what} ({(holder is null ? "" : $"pid {holder}, ")}lock {path}); " +
                    "stop that agent first, or give this one another --node / --state-dir; nothing was changed");
            }
            // The holder's pid, for the message a second agent prints.
            var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
            Ftruncate(fd, 0);
            RandomAccess.Write(handle, pid, 0);
            _held.Add(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    static string? ReadHolder(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        try
        {
            var buffer = new byte[16];
            int read = RandomAccess.Read(handle, buffer, 0);
            var text = System.Text.Encoding.ASCII.GetString(buffer, 0, read).Trim();
            return int.TryParse(text, out var pid) ? pid.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The inode of this process's network namespace, as /proc/self/ns/net names it ("net:[4026531840]").</summary>
    static string NetworkNamespaceId()
    {
        try
        {
            var target = new FileInfo("/proc/self/ns/net").LinkTarget ?? "";
            var digits = new string(target.Where(char.IsAsciiDigit).ToArray());
            return digits.Length > 0 ? $"netns-{digits}" : "netns-unknown";
        }
        catch (IOException)
        {
            return "netns-unknown";
        }
    }

    static string SafeFileName(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_').ToArray());

    public void Dispose()
    {
        foreach (var held in _held) held.Dispose();
        _held.Clear();
    }

    // Closing a descriptor releases its flock.
    const int LOCK_EX = 2, LOCK_NB = 4, EWOULDBLOCK = 11;
    const int O_RDWR = 0x2, O_CREAT = 0x40, O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);
}
