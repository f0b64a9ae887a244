using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// Runs code inside a named network namespace (/var/run/netns/NAME). A fresh thread enters the
/// namespace with setns(CLONE_NEWNET), runs the code and ends, so no pooled thread is ever moved.
/// Sockets created inside stay in that namespace after the thread is gone, so create them in
/// <see cref="Run{T}"/> and use them (async included) from anywhere. Do not await inside: the
/// continuation would run on a pool thread in the test's own namespace.
/// </summary>
public static class NetworkNamespace
{
    private const int CLONE_NEWNET = 0x40000000;

    // DllImport rather than LibraryImport: the test project does not allow unsafe code.
    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNs(int fd, int nsType);

    public static string PathOf(string name) => Path.Combine("/var/run/netns", name);

    public static T Run<T>(string name, Func<T> action)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle(PathOf(name), FileMode.Open, FileAccess.Read))
                {
                    if (SetNs((int)handle.DangerousGetHandle(), CLONE_NEWNET) != 0)
                        throw new InvalidOperationException($"setns into network namespace \"{name}\" failed: errno {Marshal.GetLastPInvokeError()}");
                }
                result = action();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = $"netns {name}",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    public static void Run(string name, Action action) => Run(name, () =>
    {
        action();
        return true;
    });
}
