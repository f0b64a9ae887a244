using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace NginxHa.Bench.FailoverProbe;

/// <summary>
/// Opens a new TCP connection to the target every few milliseconds, and one more whenever an ARP for the
/// target arrives after the fault, and reads its banner; runs the fault (a signal it sends itself, or a
/// command) and reports the time from just before the fault until the first expected banner.
/// Uses the real clock on purpose: this is the measurement.
/// </summary>
public static class FailoverProbe
{
    private const int BannerBufferSize = 256;

    public static async Task<int> RunAsync(ProbeOptions options)
    {
        var expected = Encoding.ASCII.GetBytes(options.ExpectedBanner);
        var firstMatch = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long faultStart = 0; // Stopwatch timestamp; 0 until the fault runs.

        using var stopProbing = new CancellationTokenSource();
        void OnExpectedBanner()
        {
            var now = Stopwatch.GetTimestamp();
            var start = Volatile.Read(ref faultStart);
            if (start != 0 && now >= start)
                firstMatch.TrySetResult(now);
        }

        using var wire = options.SyncAdvertFrom is null ? null : WireWatcher.Start();
        var observations = new WireObservations(options.Target.Address, options.SyncAdvertFrom);
        // One more attempt the moment an ARP for the VIP arrives after the fault: where the VIP now lives is
        // announced then, so the result does not wait for the next tick of the attempt interval.
        var onArp = new List<Task>();
        if (wire is not null)
            wire.FrameSeen += (frame, at) =>
            {
                var start = Volatile.Read(ref faultStart);
                observations.Record(frame, at, start);
                if (start != 0 && at >= start && frame.Kind == WireFrameKind.Arp && frame.Sender.Equals(options.Target.Address)
                    && !stopProbing.IsCancellationRequested)
                {
                    lock (onArp)
                        onArp.Add(AttemptAsync(options, expected, stopProbing.Token, OnExpectedBanner));
                }
            };

        var attempts = new List<Task>();
        var probing = Task.Run(async () =>
        {
            using var ticks = new PeriodicTimer(options.AttemptInterval);
            do
            {
                attempts.Add(AttemptAsync(options, expected, stopProbing.Token, OnExpectedBanner));
                attempts.RemoveAll(t => t.IsCompleted);
            }
            while (await ticks.WaitForNextTickAsync(stopProbing.Token).ConfigureAwait(false));
        });

        Task<Process>? faultProcess = null;
        var faultFailed = false;
        // Stamps t0 and starts the fault: a signal is sent here (kill(2) takes microseconds); a command is started
        // on the pool, so a caller on the capture thread is not held up by a process start.
        void Fire()
        {
            Volatile.Write(ref faultStart, Stopwatch.GetTimestamp());
            if (options.Signal is { } signal)
            {
                foreach (var pid in signal.Pids)
                {
                    if (Kill(pid, signal.Number) != 0)
                    {
                        Console.Error.WriteLine($"kill -{signal.Name} {pid} failed: errno {Marshal.GetLastPInvokeError()}");
                        faultFailed = true;
                    }
                }
            }
            else if (options.FaultCommand.Length > 0)
            {
                faultProcess = Task.Run(() => StartCommand(options.FaultCommand));
            }
        }

        if (options.SyncAdvertFrom is null)
        {
            Fire();
        }
        else
        {
            // Firing right after the master's advert makes every run start at the same point of the advert cycle,
            // so runs differ by the implementations, not by where the fault fell. Without a delay the fault fires
            // on the capture thread as the advert is read, so no thread hop stands between the two.
            // --fault-delay moves that point, e.g. to spread faults over a health check's period.
            var noDelay = options.FaultDelay <= TimeSpan.Zero;
            if (!await observations.NextAdvertFromMaster(noDelay ? Fire : null, options.Timeout))
            {
                Console.Error.WriteLine($"no VRRP advert from {options.SyncAdvertFrom} within {options.Timeout.TotalSeconds} s; fault not run");
                await StopAsync(stopProbing, probing);
                Console.WriteLine("no-advert");
                return 1;
            }
            if (!noDelay)
            {
                await Task.Delay(options.FaultDelay).ConfigureAwait(false);
                Fire();
            }
        }
        Process? fault = faultProcess is null ? null : await faultProcess.ConfigureAwait(false);

        var finished = await Task.WhenAny(firstMatch.Task, Task.Delay(options.Timeout)).ConfigureAwait(false);
        await StopAsync(stopProbing, probing);
        await Task.WhenAll(attempts.ToArray()).ConfigureAwait(false);
        Task[] arpAttempts;
        lock (onArp)
            arpAttempts = [.. onArp];
        await Task.WhenAll(arpAttempts).ConfigureAwait(false);

        if (fault is not null)
        {
            using (fault)
            {
                await fault.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                if (fault.ExitCode != 0)
                {
                    Console.Error.WriteLine($"fault command '{string.Join(' ', options.FaultCommand)}' exited with {fault.ExitCode}");
                    faultFailed = true;
                }
            }
        }

        var t0 = Volatile.Read(ref faultStart);
        // A fault that did not run makes the time meaningless: say so instead of printing a number.
        Console.WriteLine(faultFailed ? "fault-failed"
            : finished == firstMatch.Task ? Milliseconds(t0, firstMatch.Task.Result)
            : "timeout");
        if (wire is not null)
            Console.WriteLine(observations.Describe(t0));
        return finished == firstMatch.Task && !faultFailed ? 0 : 1;
    }

    internal static string Milliseconds(long from, long to) =>
        Stopwatch.GetElapsedTime(from, to).TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture);

    private static Process StartCommand(string[] command)
    {
        var start = new ProcessStartInfo(command[0]) { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var argument in command[1..])
            start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start '{command[0]}'");
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) Console.Error.WriteLine(line.Data); };
        process.BeginOutputReadLine();
        return process;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private static async Task StopAsync(CancellationTokenSource stopProbing, Task probing)
    {
        stopProbing.Cancel();
        try
        {
            await probing.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task AttemptAsync(ProbeOptions options, byte[] expected, CancellationToken stop, Action onExpectedBanner)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(options.AttemptTimeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(options.Target, timeout.Token).ConfigureAwait(false);
            var http = options.HttpPath is not null;
            if (http)
                await socket.SendAsync(HttpReply.Request(options.HttpPath!, options.Target.ToString()), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            // A banner ends at its newline; an HTTP reply (Connection: close) at the end of the stream.
            var buffer = new byte[http ? HttpReply.MaxReplySize : BannerBufferSize];
            var filled = 0;
            while (filled < buffer.Length)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (read == 0)
                    break;
                filled += read;
                if (!http && Array.IndexOf(buffer, (byte)'\n', 0, filled) >= 0)
                    break;
            }
            var matches = http
                ? HttpReply.IsOkWithBody(buffer.AsSpan(0, filled), expected)
                : buffer.AsSpan(0, filled).TrimEnd("\r\n"u8).SequenceEqual(expected);
            if (matches)
                onExpectedBanner();
        }
        catch (OperationCanceledException)
        {
            // This attempt ran out of time (the VIP is moving); a later one will tell.
        }
        catch (SocketException)
        {
            // Refused or unreachable while the VIP moves; a later attempt will tell.
        }
    }
}
