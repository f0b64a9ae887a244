using System.Globalization;
using System.Text.Json;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Observability;

/// <summary>
/// Two agents (`nginx-ha-agent vrrp`, VRID 51, 100 ms adverts, metrics on their lab address) and a real Debian
/// Prometheus in a third namespace that scrapes them every second and evaluates the shipped rules
/// (deploy/prometheus/nginx-ha-rules.yaml) every second. Its API is asked through curl inside that namespace.
/// Dispose stops the agents and Prometheus (by PID) and removes the namespaces and files.
/// </summary>
public sealed class PrometheusLab : IDisposable
{
    public const int MetricsPort = 9464;
    public const string Vip = "198.18.0.100/24";
    const string PrometheusAddress = "127.0.0.1:9090";

    readonly NetworkLab _lab;
    readonly string _directory;
    readonly AgentProcess?[] _agents = new AgentProcess?[2];
    readonly List<AgentProcess> _stopped = [];
    ChildProcess? _prometheus;

    public static readonly byte[] Priorities = [150, 100];

    PrometheusLab(string prefix)
    {
        _lab = NetworkLab.Create(prefix, 3);
        _directory = Directory.CreateTempSubdirectory($"{prefix}-{_lab.Id}-").FullName;
    }

    public static string RulesFile => Path.Combine(RepositoryRoot(), "deploy", "prometheus", "nginx-ha-rules.yaml");

    public LabNode Monitor => _lab.Nodes[2];
    public LabNode Node(int i) => _lab.Nodes[i];
    public AgentProcess Agent(int i) => _agents[i] ?? throw new InvalidOperationException($"agent {i} is not running");
    public string Target(int i) => $"{Node(i).IPv4}:{MetricsPort}";

    /// <summary>The lab with both agents running (agent 0 MASTER) and Prometheus scraping both.</summary>
    public static async Task<PrometheusLab> StartAsync(string prefix)
    {
        RequiredTool.Locate("prometheus", "prometheus");
        RequiredTool.Locate("curl", "curl");
        var lab = new PrometheusLab(prefix);
        try
        {
            lab.StartAgent(0);
            await lab.Agent(0).WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
            lab.StartAgent(1);
            await lab.Agent(1).WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(10));
            await lab.StartPrometheusAsync();
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    public AgentProcess StartAgent(int i)
    {
        if (_agents[i] is { } old) _stopped.Add(old);
        var node = Node(i);
        _agents[i] = new AgentProcess(node.Namespace,
        [
            "vrrp", "--interface", node.InterfaceName, "--vrid", "51", "--priority", Priorities[i].ToString(CultureInfo.InvariantCulture),
            "--vip", Vip, "--advert-interval", "100ms", "--metrics-address", Target(i),
        ], $"agent{i}");
        return _agents[i]!;
    }

    async Task StartPrometheusAsync()
    {
        string config = Path.Combine(_directory, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
              evaluation_interval: 1s
            rule_files:
              - {RulesFile}
            scrape_configs:
              - job_name: nginx-ha-agent
                static_configs:
                  - targets: ['{Target(0)}', '{Target(1)}']
            """);
        _prometheus = Monitor.Start("prometheus", $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(_directory, "data")}",
            $"--web.listen-address={PrometheusAddress}");
        await Eventually.Until(() => Api("/-/ready", raw: true), r => r.Contains("Ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30),
            "prometheus is ready");
        await Eventually.Until(TargetsUp, up => up == 2, TimeSpan.FromSeconds(30), "prometheus scrapes both agents");
    }

    int TargetsUp()
    {
        using var doc = JsonDocument.Parse(Api("/api/v1/targets"));
        return doc.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
            .Count(t => t.GetProperty("health").GetString() == "up");
    }

    /// <summary>Prometheus's answer to a GET of <paramref name="path"/>, from inside its namespace.</summary>
    public string Api(string path, bool raw = false)
    {
        var result = Monitor.TryExec("curl", "-sS", "--max-time", "5", $"http://{PrometheusAddress}{path}");
        if (raw) return result.StandardOutput + result.StandardError;
        if (result.ExitCode != 0) throw new InvalidOperationException($"curl {path}: {result.StandardError}\nprometheus:\n{_prometheus?.Output}");
        return result.StandardOutput;
    }

    /// <summary>The alerts Prometheus holds now (pending and firing).</summary>
    public IReadOnlyList<Alert> Alerts()
    {
        using var doc = JsonDocument.Parse(Api("/api/v1/alerts"));
        return doc.RootElement.GetProperty("data").GetProperty("alerts").EnumerateArray().Select(a => new Alert(
            a.GetProperty("labels").GetProperty("alertname").GetString()!,
            a.GetProperty("state").GetString()!,
            a.GetProperty("labels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? ""))).ToArray();
    }

    /// <summary>Values of an instant query, by the scraped instance label.</summary>
    public IReadOnlyDictionary<string, double> Query(string promql)
    {
        using var doc = JsonDocument.Parse(Api($"/api/v1/query?query={Uri.EscapeDataString(promql)}"));
        return doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().ToDictionary(
            r => r.GetProperty("metric").TryGetProperty("instance", out var i) ? i.GetString()! : "",
            r => double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture));
    }

    /// <summary>When the rule groups were last evaluated (the oldest of them).</summary>
    public DateTimeOffset LastRuleEvaluation()
    {
        using var doc = JsonDocument.Parse(Api("/api/v1/rules"));
        return doc.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .Select(g => DateTimeOffset.Parse(g.GetProperty("lastEvaluation").GetString()!, CultureInfo.InvariantCulture)).Min();
    }

    public Task<IReadOnlyList<Alert>> WaitForAlertAsync(string name, string state, TimeSpan timeout) =>
        Eventually.Until(Alerts, alerts => alerts.Any(a => a.Name == name && a.State == state), timeout, $"{name} is {state}");

    /// <summary>Drops VRRP arriving at this node (nftables in its namespace): the two agents stop hearing each other, both stay up.</summary>
    public void CutVrrp(int i)
    {
        RequiredTool.Locate("nft", "nftables");
        Node(i).Exec("nft", "add table inet nha_cut");
        Node(i).Exec("nft", "add chain inet nha_cut input { type filter hook input priority 0 ; policy accept ; }");
        Node(i).Exec("nft", "add rule inet nha_cut input ip protocol vrrp drop");
    }

    public void HealVrrp(int i) => Node(i).Exec("nft", "delete table inet nha_cut");

    /// <summary>What Prometheus and the agents said, for a failure message.</summary>
    public string Diagnostics()
    {
        string alerts;
        try
        {
            alerts = Api("/api/v1/alerts");
        }
        catch (Exception ex) when (ex is InvalidOperationException)
        {
            alerts = ex.Message;
        }
        return $"alerts: {alerts}\n" + string.Join("\n", _agents.Concat(_stopped).Where(a => a is not null)
            .Select(a => $"--- {a!.Process.Name} ---\n{a.Process.Output}"));
    }

    public void Dispose()
    {
        foreach (var a in _agents.Concat(_stopped)) a?.Dispose();
        try
        {
            _lab.Dispose();
        }
        finally
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "NginxHaOperator.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("NginxHaOperator.sln not found above the test binaries");
    }
}

public sealed record Alert(string Name, string State, IReadOnlyDictionary<string, string> Labels)
{
    public override string ToString() => $"{Name} {State} {{{string.Join(",", Labels.Select(l => $"{l.Key}={l.Value}"))}}}";
}
