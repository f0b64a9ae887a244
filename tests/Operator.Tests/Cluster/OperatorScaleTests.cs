using System.Text.Json.Nodes;
using k8s;
using NginxHa.Bench.OperatorScale;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>
/// Keeps bench/operator-scale.sh from rotting: its simulator at a small size (6 nodes in racks of 2, 10 groups,
/// 10 pools, 6 changes) against the test cluster, with the operator in-process. Counts only, no timings: the
/// initial reconcile writes each node once, and each change writes each affected node's NodeHaConfig exactly once
/// and no other node's, with as many operator NodeHaConfig requests at the front as writes.
/// </summary>
public sealed class OperatorScaleTests : IAsyncLifetime
{
    private readonly ApiServer _server = new();
    private readonly StringWriter _log = new();

    public async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        await _server.ApplyCrdsAsync(string.Join("\n---\n", await Task.WhenAll(new[] { "virtualipgroups", "nginxbackendpools", "nodehaconfigs" }
                .Select(k => File.ReadAllTextAsync(ApiServer.RepositoryPath($"crds/nginx-ha.io_{k}.yaml"))))),
            "/apis/nginx-ha.io/v1alpha1/virtualipgroups", "/apis/nginx-ha.io/v1alpha1/nginxbackendpools", "/apis/nginx-ha.io/v1alpha1/nodehaconfigs");
    }

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Each_change_writes_the_NodeHaConfig_of_each_affected_node_once_and_of_no_other_node()
    {
        var options = new ScaleOptions
        {
            Nodes = 6, Groups = 10, Pools = 10, RackSize = 2, Changes = 6, Namespace = "scale",
            Settle = TimeSpan.FromSeconds(1), Stable = TimeSpan.FromSeconds(1), Timeout = TimeSpan.FromSeconds(90),
        };
        using var simulator = new Kubernetes(_server.Config(), new SimulatorUserAgent());
        using var operatorClient = _server.Client();
        using var http = new HttpClient { BaseAddress = new Uri(_server.Config().Host) };
        async Task<IReadOnlyDictionary<string, long>> Counts(CancellationToken ct) =>
            JsonNode.Parse(await http.GetStringAsync("/_testcluster/requests", ct))!.AsObject()
                .ToDictionary(p => p.Key, p => p.Value!.GetValue<long>());
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var run = new ScaleRun(simulator, options, line => { lock (_log) _log.WriteLine(line); }, Counts);
        await run.CreateAsync(stop.Token);
        var watching = await run.WatchAsync(stop.Token);
        var operatorRun = Task.CompletedTask;
        try
        {
            var initial = await run.InitialAsync(_ =>
            {
                var controller = new OperatorController(operatorClient, new OperatorOptions { Instance = "scale-test" },
                    new OperatorLog(TextWriter.Synchronized(_log), TimeProvider.System));
                operatorRun = controller.RunAsync(stop.Token);
                return Task.CompletedTask;
            }, stop.Token);
            Assert.Equal(6, initial.Nodes);
            Assert.True(initial.Writes == 6, $"{initial.Writes} NodeHaConfig writes for 6 nodes in the initial reconcile\n{_log}");

            // The tail (finalizers, first statuses) ends before the changes: their windows count steady state only.
            var tail = await run.SettleAsync(stop.Token);
            Assert.True(tail.Quiet, $"the operator never went quiet after the initial reconcile\n{_log}");
            var changes = await run.ChangesAsync(stop.Token);
            Assert.Equal(6, changes.Count);
            Assert.All(changes, c => Assert.DoesNotContain(c.Requests, r => !SimulatorUserAgent.IsSimulator(r.Key)
                && r.Key.EndsWith(" patch virtualipgroups", StringComparison.Ordinal)));
            Assert.True(Report.CountProblems(changes).Count == 0, string.Join("\n", Report.CountProblems(changes)) + "\n" + _log);
            Assert.All(changes, c => Assert.Equal(2, c.Affected)); // one rack
            Assert.All(changes, c => Assert.Equal(c.Affected, c.Requests
                .Where(r => !SimulatorUserAgent.IsSimulator(r.Key) && r.Key.EndsWith(" patch nodehaconfigs", StringComparison.Ordinal)).Sum(r => r.Value)));
            Assert.Equal(0, run.Agents.Failures);
            Assert.True(run.Agents.Writes >= 6 + 6 * 2, $"{run.Agents.Writes} agent status writes"); // each config generation reported
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(operatorRun, watching).WaitAsync(TimeSpan.FromSeconds(30));
        }
    }
}
