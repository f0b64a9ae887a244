using System.Net;
using System.Net.Sockets;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// A load balancer node running <c>nginx-ha-agent run</c> like a service: started, stopped, crashed and started again
/// on the same state directory. nginx runs in its own session (the agent starts it through setsid), so it outlives a
/// killed agent: Dispose ends it through its process group, found from the pid file and checked to be an nginx master.
/// </summary>
public sealed class StandaloneNode : IDisposable
{
    const int SolSocket = 1, SoReuseAddr = 2;
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    readonly string _manifestPath;
    readonly List<AgentProcess> _runs = [];
    readonly HashSet<int> _nginxMasters = [];

    public StandaloneNode(string name, LabNode node, string manifestPath, string stateDirectory)
    {
        Name = name;
        Node = node;
        _manifestPath = manifestPath;
        StateDirectory = stateDirectory;
    }

    public string Name { get; }
    public LabNode Node { get; }
    public string StateDirectory { get; }
    public IPAddress Address => Node.IPv4;

    /// <summary>Where the agent's nginx writes its master pid (the supervisor's layout under STATE/nginx).</summary>
    public string NginxPidFile => Path.Combine(StateDirectory, "nginx", "logs", "nginx.pid");

    /// <summary>The agent run started last (it may have exited since).</summary>
    public AgentProcess Agent => _runs.Count > 0 ? _runs[^1] : throw new InvalidOperationException($"{Name}: no agent was started");

    /// <summary>Every run's output, oldest first, for failure messages.</summary>
    public string Output => string.Join($"\n--- {Name}: agent restarted ---\n", _runs.Select(r => r.Process.Output));

    public AgentProcess Start()
    {
        if (_runs.Count > 0 && !Agent.Process.HasExited) throw new InvalidOperationException($"{Name}: the agent is already running");
        var agent = new AgentProcess(Node.Namespace, ["run", "-f", _manifestPath, "--node", Name, "--state-dir", StateDirectory], $"agent@{Name}");
        _runs.Add(agent);
        return agent;
    }

    /// <summary>SIGTERM, as systemd or the kubelet stops the agent; returns its exit code.</summary>
    public Task<int> StopAsync()
    {
        Agent.Process.Signal(ChildProcess.SIGTERM);
        return Agent.Process.WaitForExitAsync(StopTimeout);
    }

    /// <summary>The whole node dies: SIGKILL to the agent and to its nginx, nothing gets to clean up.</summary>
    public async Task CrashAsync()
    {
        int? nginx = NginxMasterPid();
        Agent.Crash();
        if (nginx is { } pid) KillProcessGroup(pid);
        // Only now: nginx inherited the agent's stdout, and the exit wait also waits for that pipe to close.
        await Agent.Process.WaitForExitAsync(StopTimeout);
    }

    /// <summary>The live nginx master named by the pid file, or null.</summary>
    public int? NginxMasterPid()
    {
        if (!File.Exists(NginxPidFile)) return null;
        if (!int.TryParse(File.ReadAllText(NginxPidFile).Trim(), out int pid) || !IsNginxMaster(pid)) return null;
        _nginxMasters.Add(pid);
        return pid;
    }

    /// <summary>Waits for a live nginx master other than <paramref name="previous"/>.</summary>
    public Task<int?> WaitForNginxMasterAsync(int? previous, TimeSpan timeout) =>
        Eventually.Until(NginxMasterPid, pid => pid is not null && pid != previous, timeout, $"{Name}: a new nginx master runs");

    /// <summary>SIGKILL to the nginx master alone (its workers are left to the agent, as after a real crash).</summary>
    public int KillNginxMaster()
    {
        int pid = NginxMasterPid() ?? throw new InvalidOperationException($"{Name}: no nginx master in {NginxPidFile}\n{Output}");
        ChildProcess.SignalPid(pid, ChildProcess.SIGKILL);
        return pid;
    }

    /// <summary>
    /// Makes nginx unable to start here, the way a stray service holding its port does: kills nginx's process group
    /// and, before the agent's restart can bind, listens on 127.0.0.1:80, which nginx's wildcard listener needs too.
    /// Clients of the VIP are refused, not accepted by the blocker. Dispose the socket to let nginx start again.
    /// </summary>
    public async Task<Socket> BlockNginxListenPortAsync()
    {
        for (int attempt = 1; attempt <= 5; attempt++)
        {
            int master = await WaitForNginxMasterAsync(null, TimeSpan.FromSeconds(5)) ?? 0;
            var blocker = Node.Run(() => KillAndOccupy(master));
            if (blocker is not null) return blocker;
            // The agent's restart bound the port first; try again on the new master.
        }
        throw new InvalidOperationException($"{Name}: nginx kept winning the race for port {SeedManifest.ListenPort}\n{Output}");
    }

    static Socket? KillAndOccupy(int nginxMaster)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // Not blocked by TIME_WAIT leftovers; nginx's bind still fails because this socket listens.
        socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        KillProcessGroup(nginxMaster);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, SeedManifest.ListenPort));
                socket.Listen(1);
                return socket;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                Thread.SpinWait(1000); // the killed workers still hold the port for a moment
            }
        }
        socket.Dispose();
        return null;
    }

    public void SetLink(bool up) => Node.Exec("ip", "link", "set", Node.InterfaceName, up ? "up" : "down");

    public bool Holds(IPAddress address) =>
        Node.Exec("ip", "-4", "-o", "addr", "show", "dev", Node.InterfaceName).StandardOutput.Contains($" {address}/", StringComparison.Ordinal);

    /// <summary>Checked through /proc so a reused pid is never signalled: nginx titles its master "nginx: master process ...".</summary>
    internal static bool IsNginxMaster(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z')) return false;
            return File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("nginx: master process", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>nginx runs through setsid, so its master leads a group holding its workers.</summary>
    internal static void KillProcessGroup(int master)
    {
        if (IsNginxMaster(master)) ChildProcess.SignalPid(-master, ChildProcess.SIGKILL);
    }

    public void Dispose()
    {
        var failures = new List<string>();
        if (_runs.Count > 0 && !Agent.Process.HasExited)
        {
            try
            {
                // A clean stop removes the VIPs and stops nginx, as a user would.
                StopAsync().GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                failures.Add(e.Message);
            }
        }
        NginxMasterPid();
        foreach (int pid in _nginxMasters)
        {
            try { KillProcessGroup(pid); }
            catch (InvalidOperationException e) { failures.Add(e.Message); }
        }
        foreach (var run in _runs) run.Dispose();
        if (failures.Count > 0) throw new InvalidOperationException($"{Name}: cleanup: {string.Join("; ", failures)}");
    }
}
