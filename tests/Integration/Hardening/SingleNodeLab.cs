using System.Net;
using System.Net.Sockets;
using System.Text;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Hardening;

/// <summary>Serialises the hardening suites: each starts agents, nginx and namespaces of its own.</summary>
[CollectionDefinition(Name)]
public sealed class HardeningCollection
{
    public const string Name = "hardening";
}

/// <summary>
/// One load balancer "lb1" (198.18.0.1) and a client (198.18.0.2) on a private bridge: lb1 runs
/// <c>nginx-ha-agent run</c> (or <c>vrrp</c>) on a site file with one ActivePassive VIP, 198.18.0.201/24 (VRRPv3,
/// 100 ms, vrid 61), in front of a pool whose only server is not there: nginx answers 502, which is enough to see that
/// it serves. Agents, nginx, mounts and namespaces started here are removed by <see cref="Dispose"/>.
/// </summary>
public sealed class SingleNodeLab : IDisposable
{
    public static readonly IPAddress Vip = IPAddress.Parse("198.18.0.201");
    public const int ListenPort = 80;
    public const int HealthPort = 18080;

    readonly NetworkLab _network;
    readonly List<AgentProcess> _agents = [];
    readonly List<string> _mounts = [];

    public SingleNodeLab(string prefix)
    {
        RequiredTool.Locate("nginx", "nginx");
        WorkDirectory = Directory.CreateTempSubdirectory($"{prefix}-hardening-").FullName;
        // Like /run: nginx workers (an unprivileged user) must reach the state directories below it.
        File.SetUnixFileMode(WorkDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _network = NetworkLab.Create(prefix, 2);
        SitePath = Path.Combine(WorkDirectory, "site.yaml");
        WriteSite(Site());
    }

    public string WorkDirectory { get; }
    public string SitePath { get; }
    public LabNode Lb1 => _network.Nodes[0];
    public LabNode Client => _network.Nodes[1];
    public string StateDirectory(string name = "lb1") => Path.Combine(WorkDirectory, name);
    public string NginxPidFile(string state) => Path.Combine(state, "nginx", "logs", "nginx.pid");

    /// <summary>The site file; <paramref name="interfaceName"/>, <paramref name="serverPort"/> and <paramref name="vrrp"/> vary.</summary>
    public static string Site(string interfaceName = "eth0", int serverPort = 8080, string vrrp = "{version: 3, advertisementInterval: 100ms}") => $$$"""
        apiVersion: v1
        kind: Node
        metadata: {name: lb1, labels: {role: edge}}
        status: {addresses: [{type: InternalIP, address: 198.18.0.1}]}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: NginxBackendPool
        metadata: {name: web, namespace: edge}
        spec:
          listeners: [{port: {{{ListenPort}}}}]
          backends: {servers: [{address: 198.18.0.2, port: {{{serverPort}}}}]}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {name: web, namespace: edge}
        spec:
          mode: ActivePassive
          virtualIPs: [{{{Vip}}}/24]
          nodeSelector: {matchLabels: {role: edge}}
          interface: {{{interfaceName}}}
          virtualRouterIds: [61]
          vrrp: {{{vrrp}}}
          backendPoolRef: web

        """;

    /// <summary>Replaces the file by rename, as editors do, so the agent never reads half a file.</summary>
    public void WriteSite(string content)
    {
        var temporary = SitePath + ".new";
        File.WriteAllText(temporary, content);
        File.Move(temporary, SitePath, overwrite: true);
    }

    public AgentProcess StartRun(string? state = null, string node = "lb1", IReadOnlyList<string>? extra = null, IReadOnlyList<string>? wrapper = null) =>
        Start(["run", "-f", SitePath, "--node", node, "--state-dir", state ?? StateDirectory(), .. extra ?? []], wrapper, $"run@{node}");

    /// <summary><c>nginx-ha-agent kubernetes</c> as lb1, following NodeHaConfig lb1 through <paramref name="kubeconfig"/>.</summary>
    public AgentProcess StartKubernetes(string kubeconfig, string? state = null) =>
        Start(["kubernetes", "--node", "lb1", "--kubeconfig", kubeconfig, "--state-dir", state ?? StateDirectory()], null, "kubernetes@lb1");

    public AgentProcess StartVrrp(string interfaceName = "eth0", IReadOnlyList<string>? wrapper = null) =>
        Start(["vrrp", "--interface", interfaceName, "--vrid", "61", "--priority", "100", "--vip", $"{Vip}/24", "--advert-interval", "100ms"],
            wrapper, "vrrp");

    AgentProcess Start(IReadOnlyList<string> arguments, IReadOnlyList<string>? wrapper, string name)
    {
        var agent = wrapper is null
            ? new AgentProcess(Lb1.Namespace, arguments, name)
            : new AgentProcess(Lb1.Namespace, [.. wrapper, .. AgentProcess.AgentCommand(), .. arguments], name, raw: true);
        _agents.Add(agent);
        return agent;
    }

    public bool HoldsVip() =>
        Lb1.Exec("ip", "-4", "-o", "addr", "show", "dev", "eth0").StandardOutput.Contains($" {Vip}/", StringComparison.Ordinal);

    /// <summary>The live nginx master named by the state dir's pid file, or null.</summary>
    public int? NginxMaster(string state)
    {
        try
        {
            if (!int.TryParse(File.ReadAllText(NginxPidFile(state)).Trim(), out int pid)) return null;
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z')) return null;
            return File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("nginx: master process", StringComparison.Ordinal) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The status line nginx answers on the VIP from the client, or the connection error.</summary>
    public string HttpStatusThroughVip() => HttpStatusAt(Vip);

    /// <summary>The status line nginx answers on <paramref name="address"/>:80 from the client, or the connection error.</summary>
    public string HttpStatusAt(IPAddress address) => Client.Run(() =>
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 2000, SendTimeout = 2000 };
            socket.Connect(new IPEndPoint(address, ListenPort));
            socket.Send(Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\nHost: test\r\n\r\n"));
            var buffer = new byte[256];
            int read = socket.Receive(buffer);
            var text = Encoding.ASCII.GetString(buffer, 0, read);
            return text.Split("\r\n")[0];
        }
        catch (SocketException e)
        {
            return $"error: {e.SocketErrorCode}";
        }
    });

    /// <summary>A TCP port is free on lb1 (nothing was left bound): a trial bind.</summary>
    public bool PortFreeOnLb1(int port) => Lb1.Run(() =>
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    });

    /// <summary>A tmpfs of <paramref name="size"/> at <paramref name="directory"/>, unmounted by Dispose.</summary>
    public void MountTmpfs(string directory, string size, bool readOnly = false)
    {
        Directory.CreateDirectory(directory);
        Command.Run("mount", "-t", "tmpfs", "-o", $"size={size},mode=0755{(readOnly ? ",ro" : "")}", "tmpfs", directory);
        _mounts.Add(directory);
    }

    /// <summary>Waits until lb1 is MASTER with the VIP bound and nginx answers through it.</summary>
    public async Task WaitUntilServingAsync(AgentProcess agent)
    {
        await agent.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(30));
        await Eventually.Until(HttpStatusThroughVip, s => s.StartsWith("HTTP/1.1 ", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
            "nginx answers through the VIP");
    }

    public void Dispose()
    {
        var failures = new List<Exception>();
        foreach (var agent in _agents)
        {
            try
            {
                if (!agent.Process.HasExited) agent.StopAsync().GetAwaiter().GetResult();
            }
            catch (Exception e) { failures.Add(e); }
            agent.Dispose();
        }
        // nginx runs in its own session; a clean agent stop ended it, a failed one may not have.
        foreach (var state in Directory.GetDirectories(WorkDirectory))
            if (NginxMaster(state) is { } pid) ChildProcess.SignalPid(-pid, ChildProcess.SIGKILL);
        foreach (var mount in _mounts)
        {
            try { Command.Run("umount", mount); }
            catch (Exception e) { failures.Add(e); }
        }
        try { _network.Dispose(); }
        catch (Exception e) { failures.Add(e); }
        try { Directory.Delete(WorkDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { failures.Add(e); }
        if (failures.Count > 0) throw new AggregateException("single-node lab cleanup failed", failures);
    }
}
