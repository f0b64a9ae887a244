using k8s;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>
/// Plays one agent per node: after its NodeHaConfig changes it writes a status (each instance MASTER on the node
/// with the instance's highest priority, BACKUP elsewhere; nginx Running; observedGeneration), rate-limited as the
/// real agent's NodeStatusPublisher is: the first change at once, then at most one write per interval, carrying the latest.
/// </summary>
public sealed class AgentSimulator(IKubernetes client, ConfigWatch watch, TimeSpan interval, TimeProvider time, Action<string> log)
{
    private sealed class Agent
    {
        public bool Scheduled;
        public long Reported;
        public DateTimeOffset NextAllowed = DateTimeOffset.MinValue;
    }

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
        watch.SpecWritten += Schedule;
    }

    private void Schedule(string node)
    {
        TimeSpan wait;
        lock (_lock)
        {
            if (!_agents.TryGetValue(node, out var agent)) _agents[node] = agent = new Agent();
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
        var config = watch.Informer.Get(null, node);
        var generation = config?.Metadata.Generation ?? 0;
        var failed = false;
        if (config is not null && generation > Reported(node))
        {
            try
            {
                var status = new NodeHaConfigStatus
                {
                    ObservedGeneration = generation,
                    Nginx = new NginxStatus { State = NginxState.Running, LastReload = time.GetUtcNow() },
                    Instances = config.Spec.VrrpInstances.Select(i => Report(node, i)).ToList(),
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
            if (!failed) agent.Reported = Math.Max(agent.Reported, generation);
            agent.NextAllowed = time.GetUtcNow() + interval;
            agent.Scheduled = false;
            again = failed || (watch.Informer.Get(null, node)?.Metadata.Generation ?? 0) > agent.Reported;
        }
        if (again) Schedule(node);
    }

    private long Reported(string node)
    {
        lock (_lock) return _agents.TryGetValue(node, out var agent) ? agent.Reported : 0;
    }

    /// <summary>MASTER where this node has the instance's highest priority among all nodes' configs (ties: the lowest node name).</summary>
    private VrrpInstanceStatus Report(string node, VrrpInstanceConfig instance)
    {
        var master = watch.Informer.List()
            .SelectMany(c => c.Spec.VrrpInstances.Where(i => i.Name == instance.Name).Select(i => (Node: c.Metadata.Name, i.Priority)))
            .OrderByDescending(p => p.Priority).ThenBy(p => p.Node, StringComparer.Ordinal).Select(p => p.Node).FirstOrDefault() ?? node;
        return new VrrpInstanceStatus
        {
            Name = instance.Name,
            State = master == node ? VrrpInstanceState.Master : VrrpInstanceState.Backup,
            Transitions = 0,
        };
    }
}
