using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// A process a test started (usually through <c>ip netns exec</c>, which execs in place so the PID is the
/// program's own). Output lines are kept for assertions; it is ended by PID, never by name.
/// </summary>
public sealed partial class ChildProcess : IDisposable
{
    readonly Process _process;
    readonly ConcurrentQueue<(DateTimeOffset At, string Line)> _lines = new();
    readonly SemaphoreSlim _lineArrived = new(0);

    public ChildProcess(string fileName, IEnumerable<string> arguments, string name, IReadOnlyDictionary<string, string>? environment = null)
    {
        Name = name;
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        _process = new Process { StartInfo = info, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        if (!_process.Start()) throw new InvalidOperationException($"{name}: {fileName} did not start");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public IReadOnlyList<string> Lines => _lines.Select(l => l.Line).ToArray();

    /// <summary>Lines read at or after <paramref name="since"/>.</summary>
    public IReadOnlyList<string> LinesSince(DateTimeOffset since) => _lines.Where(l => l.At >= since).Select(l => l.Line).ToArray();
    public string Output => string.Join("\n", Lines);

    void Add(string? line)
    {
        if (line is null) return;
        _lines.Enqueue((DateTimeOffset.UtcNow, line));
        _lineArrived.Release();
    }

    /// <summary>Waits for an output line matching <paramref name="match"/>; returns when it was read.</summary>
    public async Task<DateTimeOffset> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, DateTimeOffset? after = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            foreach (var (at, line) in _lines)
                if ((after is null || at >= after) && match(line)) return at;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"{Name}: no matching line within {timeout}; output so far:\n{Output}");
            await _lineArrived.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public void Signal(int signal)
    {
        if (!_process.HasExited && Kill(_process.Id, signal) != 0)
            throw new InvalidOperationException($"{Name}: kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name}: did not exit within {timeout}; output:\n{Output}");
        }
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true); // and its children (nginx workers, keepalived's VRRP child), by PID
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }

    public const int SIGKILL = 9, SIGTERM = 15, SIGSTOP = 19, SIGCONT = 18, SIGHUP = 1;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Sends a signal to a PID the test learned from a pid file (e.g. keepalived's VRRP child).</summary>
    public static void SignalPid(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
