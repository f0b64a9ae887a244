using System.Net;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// A load balancer node running the agent like a service: started, stopped, crashed and started again on the same state
/// directory. nginx runs in its own session (the agent starts it through setsid), so it outlives a killed agent: Dispose
/// ends it through its process group, found from the pid file and checked to be an nginx master. The subclass says how
/// the agent is run (<see cref="StandaloneNode"/> from a manifest file, Kubernetes mode against the test cluster).
/// </summary>
public abstract class AgentNode : IDisposable
{
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    readonly List<AgentProcess> _runs = [];
    readonly HashSet<int> _nginxMasters = [];

    protected AgentNode(string name, LabNode node, string stateDirectory)
    {
        Name = name;
        Node = node;
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

    /// <summary>The agent's command-line arguments and the name its process goes by in failure messages.</summary>
    protected abstract (IReadOnlyList<string> Arguments, string Label) AgentCommand();

    public AgentProcess Start()
    {
        if (_runs.Count > 0 && !Agent.Process.HasExited) throw new InvalidOperationException($"{Name}: the agent is already running");
        var (arguments, label) = AgentCommand();
        var agent = new AgentProcess(Node.Namespace, arguments, label);
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

    public virtual void Dispose()
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
        GC.SuppressFinalize(this);
        if (failures.Count > 0) throw new InvalidOperationException($"{Name}: cleanup: {string.Join("; ", failures)}");
    }
}
