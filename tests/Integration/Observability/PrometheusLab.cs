using System.Globalization;
using System.Text.Json;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Observability;

/// <summary>
/// Two agents (`nginx-ha-agent vrrp`, VRID 51, 100 ms adverts, metrics on their lab address) and a real Debian
/// Prometheus in a third namespace that scrapes them every second and evaluates the shipped rules
/// (deploy/prometheus/nginx-ha-rules.yaml) every second. Its API is asked through curl inside that namespace. With
/// Alertmanager, Prometheus sends its alerts to a real Debian Alertmanager in the same namespace, whose webhook
/// receiver (<see cref="WebhookReceiver"/>) is the test's. Dispose stops the agents, Prometheus and Alertmanager (by PID)
/// and removes the namespaces and files.
/// </summary>
public sealed class PrometheusLab : IDisposable
{
    public const int MetricsPort = 9464;
    public const string Vip = "198.18.0.100/24";
    // Inside the monitor namespace, which only this lab uses: fixed ports cannot meet another test's.
    const string PrometheusAddress = "127.0.0.1:9090";
    const string AlertmanagerAddress = "127.0.0.1:9093";

    readonly NetworkLab _lab;
    readonly string _directory;
    readonly AgentProcess?[] _agents = new AgentProcess?[2];
    readonly List<AgentProcess> _stopped = [];
    ChildProcess? _prometheus;
    ChildProcess? _alertmanager;
    WebhookReceiver? _webhook;

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

    /// <summary>The notifications Alertmanager delivered (only with <c>alertmanager: true</c>).</summary>
    public WebhookReceiver Webhook => _webhook ?? throw new InvalidOperationException("the lab runs without Alertmanager");

    /// <summary>The lab with both agents running (agent 0 MASTER) and Prometheus scraping both; with
    /// <paramref name="alertmanager"/>, Prometheus's alerts go to a real Alertmanager and from there to <see cref="Webhook"/>.</summary>
    public static async Task<PrometheusLab> StartAsync(string prefix, bool alertmanager = false)
    {
        RequiredTool.Locate("prometheus", "prometheus");
        RequiredTool.Locate("curl", "curl");
        if (alertmanager) RequiredTool.Locate("prometheus-alertmanager", "prometheus-alertmanager");
        var lab = new PrometheusLab(prefix);
        try
        {
            if (alertmanager) await lab.StartAlertmanagerAsync();
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
        string alerting = _alertmanager is null ? "" : "alerting: {alertmanagers: [{static_configs: [{targets: ['" + AlertmanagerAddress + "']}]}]}";
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
              evaluation_interval: 1s
            rule_files:
              - {RulesFile}
            {alerting}
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

    /// <summary>Alertmanager routes every alert at once (1 s group wait and interval) to the webhook, resolved ones too.</summary>
    async Task StartAlertmanagerAsync()
    {
        _webhook = new WebhookReceiver(Monitor);
        string config = Path.Combine(_directory, "alertmanager.yml");
        File.WriteAllText(config, $"""
            route:
              receiver: test
              group_by: [alertname, vrrp_instance, vrid]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: test
                webhook_configs:
                  - url: {_webhook.Url}
                    send_resolved: true
            """);
        _alertmanager = Monitor.Start("prometheus-alertmanager", $"--config.file={config}",
            $"--storage.path={Path.Combine(_directory, "alertmanager")}", $"--web.listen-address={AlertmanagerAddress}",
            "--cluster.listen-address=");
        await Eventually.Until(() => Monitor.TryExec("curl", "-sS", "--max-time", "5", $"http://{AlertmanagerAddress}/-/ready").StandardOutput,
            r => r.Contains("OK", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "alertmanager is ready");
    }

    /// <summary>Waits for a webhook notification with an alert that satisfies <paramref name="match"/>.</summary>
    public async Task<WebhookReceiver.NotifiedAlert> WaitForNotificationAsync(Func<WebhookReceiver.NotifiedAlert, bool> match,
        TimeSpan timeout, string what) =>
        (await Eventually.Until(() => Webhook.Notifications.SelectMany(n => n.Alerts).FirstOrDefault(match), a => a is not null, timeout, what))!;

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
        var notified = _webhook is null ? "" : $"webhook notifications: {string.Join("\n  ", _webhook.Notifications)}\n" +
            $"--- alertmanager ---\n{_alertmanager?.Output}\n";
        return $"alerts: {alerts}\n{notified}" + string.Join("\n", _agents.Concat(_stopped).Where(a => a is not null)
            .Select(a => $"--- {a!.Process.Name} ---\n{a.Process.Output}"));
    }

    public void Dispose()
    {
        foreach (var a in _agents.Concat(_stopped)) a?.Dispose();
        _webhook?.Dispose();
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
