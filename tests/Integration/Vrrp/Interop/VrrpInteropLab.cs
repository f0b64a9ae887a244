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
    readonly List<IDisposable> _owned = [];
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
        _owned.Add(keepalived);
        return keepalived;
    }

    /// <summary>Runs <c>nginx-ha-agent vrrp</c> (the build output next to the tests) in the node's namespace.</summary>
    public AgentProcess StartAgent(LabNode node, params string[] arguments)
    {
        var agent = new AgentProcess(node.Namespace, ["vrrp", "--interface", node.InterfaceName, .. arguments], $"agent@{NameOf(node)}");
        _owned.Add(agent);
        return agent;
    }

    /// <summary>Path for a file the agent reads (a password), mode 0600, removed with the lab.</summary>
    public string WriteSecretFile(string content)
    {
        var dir = Directory.CreateTempSubdirectory("nginx-ha-secret-");
        var path = Path.Combine(dir.FullName, "vrrp-pass");
        File.WriteAllText(path, content + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _owned.Add(new DirectoryRemover(dir.FullName));
        return path;
    }

    /// <summary>
    /// From the client: starts a connection to the VIP every 10 ms until <paramref name="router"/>'s banner answers.
    /// Returns the time from <paramref name="since"/> until that answer. Attempts overlap, so a SYN lost during
    /// the hand-over (TCP would retry it only after 1 s) cannot hold up the attempts started after it.
    /// </summary>
    public async Task<TimeSpan> WaitUntilServedByAsync(LabNode router, long since, TimeSpan timeout, IPAddress? vip = null)
    {
        string expected = NameOf(router);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        string last = "nothing";
        var changes = new List<string>();
        var pending = new List<Task<string>>();
        long nextStart = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() < deadline || pending.Count > 0)
        {
            if (Stopwatch.GetTimestamp() >= nextStart && Stopwatch.GetTimestamp() < deadline)
            {
                pending.Add(Task.Run(() => ReadBannerAsync(vip)));
                nextStart += Stopwatch.Frequency / 100;
            }
            // Answers are taken in the order the attempts started, so the history reads in time order.
            while (pending.Count > 0 && pending[0].IsCompleted)
            {
                var answer = await pending[0];
                pending.RemoveAt(0);
                if (answer != last) changes.Add($"+{Stopwatch.GetElapsedTime(since).TotalMilliseconds:F0}ms {answer}");
                last = answer;
                if (last == expected)
                {
                    LastProbeHistory = string.Join(", ", changes);
                    return Stopwatch.GetElapsedTime(since);
                }
            }
            await Task.Delay(2);
        }
        throw new TimeoutException($"the VIP was not served by {expected} within {timeout}; answers: {string.Join(", ", changes)}");
    }

    /// <summary>What the client saw during the last wait: each change of answer with its time.</summary>
    public string LastProbeHistory { get; private set; } = "";

    /// <summary>The banner the VIP answers with now, or a description of the failure.</summary>
    public async Task<string> ReadBannerAsync(IPAddress? vip = null)
    {
        vip ??= Vip;
        using var socket = Client.Run(() => new Socket(vip.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        using var attempt = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        try
        {
            // WaitAsync bounds the attempt even where the socket call does not act on the token.
            await socket.ConnectAsync(new IPEndPoint(vip, BannerPort), attempt.Token).AsTask().WaitAsync(attempt.Token);
            var buffer = new byte[64];
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, attempt.Token).AsTask().WaitAsync(attempt.Token);
            return Encoding.ASCII.GetString(buffer, 0, n).Trim();
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return ex is SocketException s ? s.SocketErrorCode.ToString() : "timeout";
        }
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
        _ = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using var connection = await listener.AcceptSocketAsync(_stop.Token);
                    await connection.SendAsync(banner, SocketFlags.None);
                    connection.Shutdown(SocketShutdown.Both);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (SocketException)
                {
                    // A client gave up mid-accept: keep serving.
                }
            }
        });
        _owned.Add(new ListenerStopper(listener));
    }

    public void Dispose()
    {
        _stop.Cancel();
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _lab.Dispose();
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
