using k8s;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>
/// Plays one agent per node: after its NodeHaConfig changes it writes a status (each instance MASTER on the node
/// with the instance's highest priority, BACKUP elsewhere; nginx Running; observedGeneration), rate-limited as the
/// real agent's NodeStatusPublisher is: the first change at once, then at most one write per interval, carrying the latest.
/// Like keepalived, an agent also reports again when its role changes without a config of its own: a node that came up first
/// and claimed MASTER turns BACKUP once a higher-priority peer's config arrives (without this, the first reports of a rack
/// stayed a split brain until its next config, and the operator's status and Events reflected that for every group).
/// </summary>
public sealed class AgentSimulator(IKubernetes client, ConfigWatch watch, TimeSpan interval, TimeProvider time, Action<string> log)
{
    private sealed class Agent
    {
        public bool Scheduled;
        public bool Dirty; // asked to look again while a look was scheduled or under way
        public long Reported;
        public DateTimeOffset NextAllowed = DateTimeOffset.MinValue;
        public string LastStates = "";
    }

    // Per VRRP instance, the nodes whose config carries it (the peers to re-evaluate when one of them gets a config).
    private readonly Dictionary<string, HashSet<string>> _instanceNodes = new(StringComparer.Ordinal);

    private readonly Dictionary<string, Agent> _agents = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _concurrency = new(32);
    private CancellationToken _stop;
    private long _writes, _failures;

    public long Writes => Interlocked.Read(ref _writes);
    public long Failures => Interlocked.Read(ref _failures);

    public void Start(CancellationToken stop)
    {
        _stop = stop;
        watch.SpecWritten += OnSpecWritten;
    }

    private void OnSpecWritten(string node)
    {
        var instances = watch.Informer.Get(null, node)?.Spec.VrrpInstances.Select(i => i.Name).ToList() ?? [];
        var peers = new HashSet<string>(StringComparer.Ordinal);
        lock (_lock)
            foreach (var instance in instances)
            {
                if (!_instanceNodes.TryGetValue(instance, out var nodes)) _instanceNodes[instance] = nodes = new(StringComparer.Ordinal);
                nodes.Add(node);
                peers.UnionWith(nodes);
            }
        Schedule(node);
        foreach (var peer in peers.Where(p => p != node)) Schedule(peer);
    }

    private void Schedule(string node)
    {
        TimeSpan wait;
        lock (_lock)
        {
            if (!_agents.TryGetValue(node, out var agent)) _agents[node] = agent = new Agent();
            agent.Dirty = true;
            if (agent.Scheduled) return;
            agent.Scheduled = true;
            wait = agent.NextAllowed - time.GetUtcNow();
        }
        _ = WriteLaterAsync(node, wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
    }

    private async Task WriteLaterAsync(string node, TimeSpan wait)
    {
        try
        {
            if (wait > TimeSpan.Zero) await Task.Delay(wait, time, _stop).ConfigureAwait(false);
            await _concurrency.WaitAsync(_stop).ConfigureAwait(false);
            try { await WriteAsync(node).ConfigureAwait(false); }
            finally { _concurrency.Release(); }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task WriteAsync(string node)
    {
        lock (_lock) _agents[node].Dirty = false; // what changes from here on brings another look
        var config = watch.Informer.Get(null, node);
        var generation = config?.Metadata.Generation ?? 0;
        var failed = false;
        var instances = config?.Spec.VrrpInstances.Select(i => Report(node, i)).ToList() ?? [];
        var states = string.Join(",", instances.Select(i => $"{i.Name}={i.State}"));
        if (config is not null && (generation > Reported(node) || states != LastStates(node)))
        {
            try
            {
                var status = new NodeHaConfigStatus
                {
                    ObservedGeneration = generation,
                    Nginx = new NginxStatus { State = NginxState.Running, LastReload = time.GetUtcNow() },
                    Instances = instances,
                };
                await client.CustomObjects.PatchClusterCustomObjectStatusAsync(
                    new k8s.Models.V1Patch(KubernetesJson.Serialize(new { status }), k8s.Models.V1Patch.PatchType.MergePatch),
                    ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, node, cancellationToken: _stop).ConfigureAwait(false);
                Interlocked.Increment(ref _writes);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed = true;
                Interlocked.Increment(ref _failures);
                log($"agent {node}: status not written: {OperatorLog.Describe(e)}");
            }
        }
        bool again;
        lock (_lock)
        {
            var agent = _agents[node];
            if (!failed && config is not null)
            {
                agent.Reported = Math.Max(agent.Reported, generation);
                agent.LastStates = states;
            }
            agent.NextAllowed = time.GetUtcNow() + interval;
            agent.Scheduled = false;
            again = failed || agent.Dirty || (watch.Informer.Get(null, node)?.Metadata.Generation ?? 0) > agent.Reported;
        }
        if (again) Schedule(node);
    }

    private long Reported(string node)
    {
        lock (_lock) return _agents.TryGetValue(node, out var agent) ? agent.Reported : 0;
    }

    private string LastStates(string node)
    {
        lock (_lock) return _agents.TryGetValue(node, out var agent) ? agent.LastStates : "";
    }

    /// <summary>
    /// MASTER where this node has the instance's highest priority among the configs that carry it (ties: the lowest node
    /// name). Only the nodes that ever carried the instance are looked at: a scan of every config for every instance
    /// reported cost the simulator about 80,000 comparisons per status write at 200 nodes, CPU taken from the API
    /// server and the operator it shares the machine with.
    /// </summary>
    private VrrpInstanceStatus Report(string node, VrrpInstanceConfig instance)
    {
        string[] carriers;
        lock (_lock) carriers = _instanceNodes.TryGetValue(instance.Name, out var nodes) ? [.. nodes] : [];
        var master = carriers
            .Select(n => watch.Informer.Get(null, n))
            .SelectMany(c => c is null ? [] : c.Spec.VrrpInstances.Where(i => i.Name == instance.Name).Select(i => (Node: c.Metadata.Name, i.Priority)))
            .OrderByDescending(p => p.Priority).ThenBy(p => p.Node, StringComparer.Ordinal).Select(p => p.Node).FirstOrDefault() ?? node;
        return new VrrpInstanceStatus
        {
            Name = instance.Name,
            State = master == node ? VrrpInstanceState.Master : VrrpInstanceState.Backup,
            Transitions = 0,
        };
    }
}
