using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Vrrp.Interop;

/// <summary>
/// Two routers (n0, n1) and a client (n2) on a private bridge. Each router runs a TCP banner server
/// answering its own name, so the client can tell which router holds the VIP.
/// </summary>
public sealed class VrrpInteropLab : IDisposable
{
    public const int BannerPort = 7000;
    public static readonly IPAddress Vip = IPAddress.Parse("198.18.0.100");
    public const string VipWithPrefix = "198.18.0.100/24";

    readonly NetworkLab _lab;
    readonly DisposableBag _owned = new();
    readonly CancellationTokenSource _stop = new();

    public VrrpInteropLab(string prefix)
    {
        _lab = NetworkLab.Create(prefix, 3);
        foreach (var router in new[] { Router0, Router1 })
            StartBannerServer(router, NameOf(router));
    }

    public LabNode Router0 => _lab.Nodes[0];
    public LabNode Router1 => _lab.Nodes[1];
    public LabNode Client => _lab.Nodes[2];

    public static string NameOf(LabNode node) => node.Namespace[^2..];

    public KeepalivedProcess StartKeepalived(LabNode node, KeepalivedInstance instance)
    {
        var keepalived = new KeepalivedProcess(node.Namespace, instance, $"keepalived@{NameOf(node)}");
        return _owned.Own(keepalived);
    }

    /// <summary>Runs <c>nginx-ha-agent vrrp</c> (the build output next to the tests) in the node's namespace.</summary>
    public AgentProcess StartAgent(LabNode node, params string[] arguments)
    {
        var agent = new AgentProcess(node.Namespace, ["vrrp", "--interface", node.InterfaceName, .. arguments], $"agent@{NameOf(node)}");
        return _owned.Own(agent);
    }

    /// <summary>Path for a file the agent reads (a password), mode 0600, removed with the lab.</summary>
    public string WriteSecretFile(string content)
    {
        var dir = Directory.CreateTempSubdirectory("nginx-ha-secret-");
        var path = Path.Combine(dir.FullName, "vrrp-pass");
        File.WriteAllText(path, content + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _owned.Own(new DirectoryRemover(dir.FullName));
        return path;
    }

    /// <summary>
    /// From the client: starts a connection to the VIP every 10 ms until <paramref name="router"/>'s banner answers.
    /// Returns the time from <paramref name="since"/> until that answer. Attempts overlap, so a SYN lost during
    /// the hand-over (TCP would retry it only after 1 s) cannot hold up the attempts started after it. One thread
    /// inside the client's namespace drives every attempt with non-blocking sockets: no thread-pool hop that a busy
    /// test process could delay stands between an answer on the wire and the time taken of it.
    /// </summary>
    public Task<TimeSpan> WaitUntilServedByAsync(LabNode router, long since, TimeSpan timeout, IPAddress? vip = null)
    {
        string expected = NameOf(router);
        var endpoint = new IPEndPoint(vip ?? Vip, BannerPort);
        return Task.Factory.StartNew(() => Client.Run(() =>
        {
            var (at, _) = ProbeUntil(endpoint, answer => answer == expected, since, timeout);
            return at ?? throw new TimeoutException($"the VIP was not served by {expected} within {timeout}; answers: {LastProbeHistory}");
        }), TaskCreationOptions.LongRunning);
    }

    static readonly TimeSpan AttemptTimeout = TimeSpan.FromMilliseconds(150);

    /// <summary>Probes until an answer passes <paramref name="accept"/>: returns its time and the answer, or no time and the last answer.</summary>
    (TimeSpan? At, string Answer) ProbeUntil(IPEndPoint endpoint, Func<string, bool> accept, long since, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        long attemptTicks = (long)(AttemptTimeout.TotalSeconds * Stopwatch.Frequency);
        var pending = new List<BannerAttempt>();
        var changes = new List<string>();
        string last = "nothing";
        long nextStart = Stopwatch.GetTimestamp();
        try
        {
            while (Stopwatch.GetTimestamp() < deadline || pending.Count > 0)
            {
                long now = Stopwatch.GetTimestamp();
                if (now >= nextStart && now < deadline)
                {
                    pending.Add(BannerAttempt.Start(endpoint));
                    nextStart += Stopwatch.Frequency / 100;
                }
                foreach (var attempt in pending) attempt.Advance(attemptTicks);
                // Answers are taken in the order the attempts started, so the history reads in time order.
                while (pending.Count > 0 && pending[0].Answer is { } answer)
                {
                    var done = pending[0];
                    pending.RemoveAt(0);
                    done.Dispose();
                    var at = TimeSpan.FromSeconds((double)(done.AnsweredAt - since) / Stopwatch.Frequency);
                    if (answer != last) changes.Add($"+{at.TotalMilliseconds:F0}ms {answer}");
                    last = answer;
                    if (accept(answer))
                    {
                        LastProbeHistory = string.Join(", ", changes);
                        return (at, answer);
                    }
                }
                Thread.Sleep(1);
            }
        }
        finally
        {
            foreach (var attempt in pending) attempt.Dispose();
        }
        LastProbeHistory = string.Join(", ", changes);
        return (null, last);
    }

    /// <summary>One connection to the banner port, advanced without blocking: connect, then read the banner.</summary>
    sealed class BannerAttempt : IDisposable
    {
        readonly Socket _socket;
        readonly long _started = Stopwatch.GetTimestamp();
        bool _connected;

        BannerAttempt(Socket socket) => _socket = socket;

        public string? Answer { get; private set; }
        public long AnsweredAt { get; private set; }

        public static BannerAttempt Start(IPEndPoint endpoint)
        {
            var attempt = new BannerAttempt(new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { Blocking = false });
            try
            {
                attempt._socket.Connect(endpoint);
                attempt._connected = true;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
            }
            catch (SocketException e)
            {
                attempt.Finish(e.SocketErrorCode.ToString());
            }
            return attempt;
        }

        public void Advance(long timeoutTicks)
        {
            if (Answer is not null) return;
            try
            {
                if (!_connected && (_socket.Poll(0, SelectMode.SelectWrite) || _socket.Poll(0, SelectMode.SelectError)))
                {
                    var error = (SocketError)(int)_socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
                    if (error != SocketError.Success)
                    {
                        Finish(error.ToString());
                        return;
                    }
                    _connected = true;
                }
                if (_connected && _socket.Poll(0, SelectMode.SelectRead))
                {
                    var buffer = new byte[64];
                    int n = _socket.Receive(buffer);
                    Finish(Encoding.ASCII.GetString(buffer, 0, n).Trim());
                    return;
                }
            }
            catch (SocketException e)
            {
                Finish(e.SocketErrorCode.ToString());
                return;
            }
            if (Stopwatch.GetTimestamp() - _started > timeoutTicks) Finish("timeout");
        }

        void Finish(string answer)
        {
            Answer = answer;
            AnsweredAt = Stopwatch.GetTimestamp();
        }

        public void Dispose() => _socket.Dispose();
    }

    /// <summary>What the client saw during the last wait: each change of answer with its time.</summary>
    public string LastProbeHistory { get; private set; } = "";

    /// <summary>
    /// Which router's banner the VIP answers with, or the client's last failure if none answers within
    /// <paramref name="within"/>. A router that has just logged MASTER may not have bound the VIP or answered the
    /// client's neighbor solicitation yet, so failures are retried; the first banner is the answer.
    /// </summary>
    public Task<string> ReadBannerAsync(IPAddress? vip = null, TimeSpan? within = null)
    {
        var endpoint = new IPEndPoint(vip ?? Vip, BannerPort);
        string[] banners = [NameOf(Router0), NameOf(Router1)];
        return Task.Factory.StartNew(
            () => Client.Run(() => ProbeUntil(endpoint, banners.Contains, Stopwatch.GetTimestamp(), within ?? TimeSpan.FromSeconds(3)).Answer),
            TaskCreationOptions.LongRunning);
    }

    /// <summary>True if the VIP is bound on the node's interface.</summary>
    public static bool HoldsVip(LabNode node, IPAddress? vip = null) =>
        node.Exec("ip", "-o", "addr", "show", "dev", node.InterfaceName).StandardOutput.Contains($" {vip ?? Vip}/", StringComparison.Ordinal);

    void StartBannerServer(LabNode node, string name)
    {
        var listener = node.Run(() =>
        {
            var l = new TcpListener(IPAddress.IPv6Any, BannerPort);
            l.Server.DualMode = true;
            l.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            l.Start();
            return l;
        });
        var banner = Encoding.ASCII.GetBytes(name + "\n");
        // A thread of its own, blocking on accept: the banner goes out the moment a client connects, even while the
        // test process's thread pool is busy (an answer held back by the pool would read as a VIP not served).
        new Thread(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var connection = listener.AcceptSocket();
                    connection.Send(banner);
                    connection.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
                {
                    // The listener was stopped (the lab ends), or a client gave up mid-accept: keep serving until stopped.
                }
            }
        })
        { IsBackground = true, Name = $"banner {name}" }.Start();
        _owned.Own(new ListenerStopper(listener));
    }

    public void Dispose()
    {
        _stop.Cancel();
        var failures = new List<Exception>();
        _owned.DisposeAll(failures);
        _lab.Dispose();
        if (failures.Count > 0) throw new AggregateException("VRRP interop lab cleanup failed", failures);
    }

    sealed class ListenerStopper(TcpListener listener) : IDisposable
    {
        public void Dispose() => listener.Stop();
    }

    sealed class DirectoryRemover(string path) : IDisposable
    {
        public void Dispose() => Directory.Delete(path, recursive: true);
    }
}

/// <summary>
/// Our agent as a separate process: the same binary and command line a user runs. By default the build next to the
/// tests (`dotnet nginx-ha-agent.dll`); NGINX_HA_AGENT=PATH runs that executable instead, e.g. the NativeAOT binary
/// of scripts/publish-agent.sh, so the same tests check the build that ships.
/// </summary>
public sealed class AgentProcess : IDisposable
{
    public const string ExecutableVariable = "NGINX_HA_AGENT";

    public static string AgentDll => Path.Combine(AppContext.BaseDirectory, "nginx-ha-agent.dll");

    readonly ChildProcess _process;

    /// <param name="raw">the arguments are the whole command line (e.g. the agent behind a wrapper such as setpriv).</param>
    public AgentProcess(string netns, IReadOnlyList<string> arguments, string name, bool raw = false)
    {
        _process = new ChildProcess("ip", ["netns", "exec", netns, .. (raw ? Array.Empty<string>() : AgentCommand()), .. arguments], name);
    }

    public static string[] AgentCommand()
    {
        if (Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } executable)
        {
            if (!File.Exists(executable)) throw new FileNotFoundException($"{ExecutableVariable} names no file", executable);
            return [Path.GetFullPath(executable)];
        }
        if (!File.Exists(AgentDll)) throw new FileNotFoundException("the agent was not built next to the tests", AgentDll);
        return ["dotnet", AgentDll];
    }

    public ChildProcess Process => _process;

    public Task<DateTimeOffset> WaitForStateAsync(string state, TimeSpan timeout, DateTimeOffset? after = null) =>
        _process.WaitForLineAsync(l => l.Contains($"-> {state} ("), timeout, after);

    public bool EnteredSince(string state, DateTimeOffset since) => _process.LinesSince(since).Any(l => l.Contains($"-> {state} ("));

    public void Crash() => _process.Signal(ChildProcess.SIGKILL);

    public Task<int> StopAsync()
    {
        _process.Signal(ChildProcess.SIGTERM);
        return _process.WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    public void Dispose() => _process.Dispose();
}
