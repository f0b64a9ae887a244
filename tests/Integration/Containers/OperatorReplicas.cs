using System.Net;
using System.Net.Sockets;
using System.Text;
using NginxHa.Core.Resources;
using NginxHa.Integration.Tests.Support;
using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// One operator replica as a kubelet runs it: the chart's Deployment pod (<see cref="PodmanPod"/>), in a network
/// namespace of its own (its pod network), with its own service account endpoint (<see cref="ServiceAccountApi"/>).
/// </summary>
public sealed class OperatorReplica(PodmanPod pod, LabNode node, ServiceAccountApi api)
{
    public const string Container = "operator";

    public PodmanPod Pod { get; } = pod;
    public LabNode Node { get; } = node;
    public ServiceAccountApi Api { get; } = api;

    /// <summary>The pod's name: its --identity $(POD_NAME), the holder it writes into the Lease.</summary>
    public string Name => Pod.Plan.PodName;

    public Uri Readiness => Pod.Plan.Container(Container).Readiness!;
    public Uri Liveness => Pod.Plan.Container(Container).Liveness!;
    public Uri Metrics => new(Readiness, "/metrics");

    /// <summary>The container's output over all its runs (podman keeps one log across restarts).</summary>
    public string Logs() => Pod.Logs(Container);

    /// <summary>The output since <paramref name="offset"/> (a length of <see cref="Logs"/> taken earlier).</summary>
    public string LogsSince(int offset)
    {
        var logs = Logs();
        return offset <= logs.Length ? logs[offset..] : logs;
    }

    /// <summary>What a kubelet's probe gets (status line and body), asked from inside the pod's network.</summary>
    public (string Status, string Body) Get(Uri url) => OperatorReplicas.HttpGet(Node, url);

    /// <summary>
    /// The samples of one metric on /metrics, summed over their labels (the exporter adds otel_scope_name), e.g.
    /// "nginx_ha_operator_is_leader"; null when it has none.
    /// </summary>
    public double? Metric(string name)
    {
        var (status, body) = Get(Metrics);
        if (!status.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
            throw new InvalidOperationException($"{Name}: GET {Metrics}: {status} {body[..Math.Min(body.Length, 300)]}");
        var values = body.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.LastIndexOf('}') is var brace and >= 0 ? brace + 2 : name.Length + 1)..].Split(' ')[0],
                System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        return values.Count == 0 ? null : values.Sum();
    }

    /// <summary>Reconciles this replica finished (every kind and result): 0 for a replica that never led.</summary>
    public double Reconciles() => Metric("nginx_ha_operator_reconciles_total") ?? 0;

    public override string ToString() => Name;
}

/// <summary>
/// The chart's operator Deployment at 2 replicas: two pods from the operator image, each on a namespace of its own on
/// one private bridge (no route out), against the test cluster. Dispose removes the pods, the endpoints and the network.
/// </summary>
public sealed class OperatorReplicas : IDisposable
{
    public const string LeaseNamespace = "nginx-ha";
    public const string LeaseName = "nginx-ha-operator";

    readonly NetworkLab _network;
    readonly DisposableBag _owned = new();

    public OperatorReplicas(KubeCluster cluster, PodSpec spec, string prefix)
    {
        _network = NetworkLab.Create(prefix, 2);
        try
        {
            cluster.Ok("apply", "-f", cluster.WriteManifest($"{prefix}-namespaces.yaml", OperatorPodSite.Namespaces));
            All = _network.Nodes.Select((node, i) =>
            {
                var api = Own(new ServiceAccountApi(node, cluster.Url.Port));
                var pod = Own(new PodmanPod(spec, node, $"worker{i + 1}", api.Mount, $"op{(char)('a' + i)}", podNetwork: true));
                return new OperatorReplica(pod, node, api);
            }).ToList();
            LeaseDuration = ArgumentDuration(spec, "--lease-duration");
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public IReadOnlyList<OperatorReplica> All { get; } = [];

    /// <summary>The chart's --lease-duration; the retry period is 2/15 of it (client-go's proportions, RunCommand).</summary>
    public TimeSpan LeaseDuration { get; }
    public TimeSpan RetryPeriod => LeaseDuration * 2 / 15;

    public OperatorReplica Named(string? name) => All.SingleOrDefault(r => r.Name == name)
        ?? throw new InvalidOperationException($"no replica is named {name}: {string.Join(", ", All)}");

    public OperatorReplica Other(OperatorReplica replica) => All.Single(r => r != replica);

    public void StartAll()
    {
        foreach (var replica in All) replica.Pod.Start();
    }

    /// <summary>Waits until the replica's readiness probe answers 200, as a kubelet marks it Ready.</summary>
    public static Task WaitReadyAsync(OperatorReplica replica, TimeSpan timeout, Func<string> diagnosis) =>
        Eventually.Until(() => replica.Get(replica.Readiness).Status, s => s.StartsWith("HTTP/1.1 200", StringComparison.Ordinal), timeout,
            $"{replica}: readiness {replica.Readiness}\n{diagnosis()}");

    /// <summary>Every replica's state and output, for failure messages.</summary>
    public string Describe() => string.Join("\n", All.Select(r => r.Pod.Describe()));

    static TimeSpan ArgumentDuration(PodSpec spec, string flag)
    {
        var args = spec.Container(OperatorReplica.Container).Args;
        var at = args.ToList().IndexOf(flag);
        if (at < 0 || at + 1 >= args.Count) throw new InvalidOperationException($"the rendered operator has no {flag}: {string.Join(' ', args)}");
        return Duration.TryParse(args[at + 1], out var value, out var reason) ? value
            : throw new InvalidOperationException($"the rendered operator's {flag} {args[at + 1]}: {reason}");
    }

    /// <summary>A GET as a kubelet's probe makes it (HTTP/1.0, so the server closes after the answer): status line and body.</summary>
    public static (string Status, string Body) HttpGet(LabNode from, Uri url) => from.Run(() =>
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 3000, SendTimeout = 3000 };
            socket.Connect(new IPEndPoint(IPAddress.Parse(url.Host), url.Port));
            socket.Send(Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.0\r\nHost: {url.Host}\r\n\r\n"));
            using var answer = new MemoryStream();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = socket.Receive(buffer)) > 0) answer.Write(buffer, 0, read);
            var text = Encoding.UTF8.GetString(answer.ToArray());
            var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            return (text.Split("\r\n")[0], split < 0 ? "" : text[(split + 4)..]);
        }
        catch (SocketException e)
        {
            return ($"error: {e.SocketErrorCode}", "");
        }
    });

    T Own<T>(T owned) where T : IDisposable => _owned.Own(owned);

    public void Dispose()
    {
        var failures = new List<Exception>();
        _owned.DisposeAll(failures);
        try { _network.Dispose(); }
        catch (Exception e) { failures.Add(e); }
        if (failures.Count > 0) throw new AggregateException("operator replicas cleanup failed", failures);
    }
}
