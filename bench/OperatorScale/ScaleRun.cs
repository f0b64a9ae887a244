using k8s;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>The initial full reconcile: from the operator's start to the last NodeHaConfig write before a quiet <see cref="ScaleOptions.Stable"/>.</summary>
/// <param name="CpuToAllWrittenMs">CPU time (ms) of each measured process from the operator's start to all written.</param>
public sealed record InitialResult(TimeSpan AllWritten, TimeSpan LastWrite, int Nodes, int Writes, IReadOnlyDictionary<string, long> Requests, double OperatorCpuMs,
    IReadOnlyDictionary<string, double> CpuToAllWrittenMs);

/// <summary>
/// The initial reconcile's tail: what the operator still sends after the last NodeHaConfig write (the groups' finalizers and
/// the first status of every group and pool), until it sends nothing for <see cref="ScaleOptions.Stable"/>.
/// <paramref name="QuietAt"/> is from the operator's start; <paramref name="Quiet"/> false when it never went quiet in time.
/// </summary>
public sealed record TailResult(TimeSpan QuietAt, bool Quiet, IReadOnlyDictionary<string, long> Requests);

/// <summary>One change: the latency to the last affected NodeHaConfig write seen, and every spec write in its window.</summary>
public sealed record ChangeResult(int Index, string Description, TimeSpan Latency, int Affected, int WritesOnAffected, int WritesElsewhere,
    int AffectedWrittenOnce, IReadOnlyDictionary<string, long> Requests, double OperatorCpuMs);

/// <summary>
/// The benchmark's steps against a cluster: create the nodes, pools and groups; watch NodeHaConfigs and play the agents;
/// start the operator (a callback: a process in the benchmark, in-process in the test) and time the initial reconcile;
/// then make the changes one at a time and time each to the last affected NodeHaConfig written.
/// </summary>
/// <param name="operatorCpu">The operator's CPU time so far (utime + stime of its process), when it runs apart; NaN otherwise.
/// On a loaded machine the wall-clock latencies mostly measure the wait for a core; the CPU time does not.</param>
/// <param name="processCpu">CPU time so far (ms) of every process sharing the machine that is measured (the API server,
/// etcd, the front, the simulator, the operator): where the initial reconcile's cores went.</param>
public sealed class ScaleRun(IKubernetes client, ScaleOptions options, Action<string> log,
    Func<CancellationToken, Task<IReadOnlyDictionary<string, long>>>? requestCounts = null, Func<TimeSpan>? operatorCpu = null,
    Func<IReadOnlyDictionary<string, double>>? processCpu = null)
{
    private double CpuMs() => operatorCpu is null ? double.NaN : operatorCpu().TotalMilliseconds;

    private readonly ScaleModel _model = new(options);
    private readonly TimeProvider _time = TimeProvider.System;
    private ConfigWatch? _watch;
    private long _operatorStarted;
    private AgentSimulator? _agents;

    public ScaleModel Model => _model;
    public AgentSimulator Agents => _agents ?? throw new InvalidOperationException("not started");

    public async Task CreateAsync(CancellationToken cancellationToken)
    {
        await ForAllAsync(options.Nodes, n => client.CoreV1.CreateNodeAsync(_model.Node(n), cancellationToken: cancellationToken)).ConfigureAwait(false);
        await ForAllAsync(options.Pools, p => client.CustomObjects.CreateNamespacedCustomObjectAsync(_model.Pool(p), ApiGroup.Group, ApiGroup.Version,
            options.Namespace, Kinds.NginxBackendPools, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await ForAllAsync(options.Groups, g => client.CustomObjects.CreateNamespacedCustomObjectAsync(_model.Group(g), ApiGroup.Group, ApiGroup.Version,
            options.Namespace, Kinds.VirtualIpGroups, cancellationToken: cancellationToken)).ConfigureAwait(false);
        log($"created {options.Nodes} nodes, {options.Pools} pools, {options.Groups} groups");
    }

    private static async Task ForAllAsync(int count, Func<int, Task> create)
    {
        using var gate = new SemaphoreSlim(16);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync().ConfigureAwait(false);
            try { await create(i).ConfigureAwait(false); }
            finally { gate.Release(); }
        })).ConfigureAwait(false);
    }

    /// <summary>Starts the NodeHaConfig watch and the agents; returns once the watch has listed.</summary>
    public async Task<Task> WatchAsync(CancellationToken cancellationToken)
    {
        var informer = new ResourceInformer<NodeHaConfigResource>(
            ApiListWatch.Custom<NodeHaConfigResource>(client, ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs),
            new OperatorLog(TextWriter.Null, _time), _time);
        _watch = new ConfigWatch(informer, _time);
        _agents = new AgentSimulator(client, _watch, options.StatusInterval, _time, log);
        _agents.Start(cancellationToken);
        var run = informer.RunAsync(cancellationToken);
        await informer.Synced.WaitAsync(cancellationToken).ConfigureAwait(false);
        return run;
    }

    public async Task<InitialResult> InitialAsync(Func<CancellationToken, Task> startOperator, CancellationToken cancellationToken)
    {
        var watch = _watch ?? throw new InvalidOperationException("WatchAsync first");
        var expected = _model.Expected();
        var before = await CountsAsync(cancellationToken).ConfigureAwait(false);
        var first = watch.Count;
        var cpuAtStart = processCpu?.Invoke() ?? new Dictionary<string, double>();
        var started = _operatorStarted = _time.GetTimestamp();
        await startOperator(cancellationToken).ConfigureAwait(false);
        var deadline = started + (long)(options.Timeout.TotalSeconds * _time.TimestampFrequency);
        TimeSpan? allWritten = null;
        IReadOnlyDictionary<string, double> cpuToAllWritten = new Dictionary<string, double>();
        while (true)
        {
            var now = _time.GetTimestamp();
            if (allWritten is null)
            {
                var current = watch.Current();
                if (expected.All(e => current.TryGetValue(e.Key, out var spec) && spec.VrrpInstances.Count == e.Value.Instances && spec.BackendPools.Count == e.Value.Pools)
                    && current.Count == expected.Count)
                {
                    allWritten = _time.GetElapsedTime(started);
                    cpuToAllWritten = (processCpu?.Invoke() ?? new Dictionary<string, double>())
                        .ToDictionary(p => p.Key, p => p.Value - cpuAtStart.GetValueOrDefault(p.Key));
                }
            }
            var writes = watch.Since(first);
            var last = writes.Count > 0 ? writes[^1].Timestamp : started;
            if (allWritten is not null && _time.GetElapsedTime(last) >= options.Stable)
                return new InitialResult(allWritten.Value, TimeSpan.FromSeconds((double)(last - started) / _time.TimestampFrequency), expected.Count, writes.Count,
                    Diff(before, await CountsAsync(cancellationToken).ConfigureAwait(false)), CpuMs(), cpuToAllWritten);
            if (now > deadline)
                throw new TimeoutException($"the initial reconcile did not finish within {options.Timeout}: {watch.Current().Count} of {expected.Count} NodeHaConfigs, {writes.Count} writes");
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits for the operator's requests (the front's counts not marked as the simulator's) to stop for
    /// <see cref="ScaleOptions.Stable"/>, at most <see cref="ScaleOptions.Timeout"/>: the changes then measure a settled
    /// operator, and what the initial reconcile still sent is counted here instead of in the first changes.
    /// </summary>
    public async Task<TailResult> SettleAsync(CancellationToken cancellationToken)
    {
        static long Operator(IReadOnlyDictionary<string, long> counts) => counts.Where(c => !SimulatorUserAgent.IsSimulator(c.Key)).Sum(c => c.Value);
        var before = await CountsAsync(cancellationToken).ConfigureAwait(false);
        var deadline = _time.GetTimestamp() + (long)(options.Timeout.TotalSeconds * _time.TimestampFrequency);
        var seen = Operator(before);
        var lastChange = _time.GetTimestamp();
        while (true)
        {
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            var counts = await CountsAsync(cancellationToken).ConfigureAwait(false);
            var now = _time.GetTimestamp();
            if (Operator(counts) != seen)
            {
                seen = Operator(counts);
                lastChange = now;
            }
            var quiet = _time.GetElapsedTime(lastChange) >= options.Stable;
            if (quiet || now > deadline)
            {
                var result = new TailResult(TimeSpan.FromSeconds((double)(lastChange - _operatorStarted) / _time.TimestampFrequency), quiet,
                    Diff(before, counts));
                log($"initial reconcile's tail: the operator {(quiet ? "quiet" : "still busy")} after {result.QuietAt.TotalMilliseconds:F0} ms from its start, " +
                    $"{result.Requests.Where(r => !SimulatorUserAgent.IsSimulator(r.Key)).Sum(r => r.Value)} requests after the initial reconcile");
                return result;
            }
        }
    }

    public async Task<IReadOnlyList<ChangeResult>> ChangesAsync(CancellationToken cancellationToken)
    {
        var watch = _watch ?? throw new InvalidOperationException("WatchAsync first");
        var results = new List<ChangeResult>();
        for (var k = 0; k < options.Changes; k++)
        {
            var change = _model.Change(k);
            var before = await CountsAsync(cancellationToken).ConfigureAwait(false);
            var cpuBefore = CpuMs();
            var first = watch.Count;
            var started = _time.GetTimestamp();
            var patch = new k8s.Models.V1Patch(change.MergePatch, k8s.Models.V1Patch.PatchType.MergePatch);
            await client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, ApiGroup.Group, ApiGroup.Version, change.Namespace, change.Plural, change.Name,
                cancellationToken: cancellationToken).ConfigureAwait(false);
            var deadline = started + (long)(options.Timeout.TotalSeconds * _time.TimestampFrequency);
            Dictionary<string, long> arrived;
            while (true)
            {
                arrived = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var write in watch.Since(first))
                    if (change.AffectedNodes.Contains(write.Node) && write.Spec is not null && change.Arrived(write.Spec)) arrived.TryAdd(write.Node, write.Timestamp);
                if (arrived.Count == change.AffectedNodes.Count) break;
                if (_time.GetTimestamp() > deadline)
                    throw new TimeoutException($"change {k} ({change.Description}) reached {arrived.Count} of {change.AffectedNodes.Count} nodes within {options.Timeout}");
                await Task.Delay(5, cancellationToken).ConfigureAwait(false);
            }
            await Task.Delay(options.Settle, cancellationToken).ConfigureAwait(false); // writes that come late still count against this change
            var writes = watch.Since(first);
            var onAffected = writes.Count(w => change.AffectedNodes.Contains(w.Node));
            var once = change.AffectedNodes.Count(n => writes.Count(w => w.Node == n) == 1);
            var latency = TimeSpan.FromSeconds((double)(arrived.Values.Max() - started) / _time.TimestampFrequency);
            var result = new ChangeResult(k, change.Description, latency, change.AffectedNodes.Count, onAffected, writes.Count - onAffected, once,
                Diff(before, await CountsAsync(cancellationToken).ConfigureAwait(false)), CpuMs() - cpuBefore);
            results.Add(result);
            log($"change {k}: {change.Description}: {latency.TotalMilliseconds:F1} ms (operator CPU {result.OperatorCpuMs:F0} ms), {onAffected} write(s) on {change.AffectedNodes.Count} affected node(s), {result.WritesElsewhere} elsewhere");
        }
        return results;
    }

    private async Task<IReadOnlyDictionary<string, long>> CountsAsync(CancellationToken cancellationToken) =>
        requestCounts is null ? new Dictionary<string, long>() : await requestCounts(cancellationToken).ConfigureAwait(false);

    private static IReadOnlyDictionary<string, long> Diff(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after) =>
        after.Select(a => (a.Key, Count: a.Value - before.GetValueOrDefault(a.Key))).Where(a => a.Count != 0)
            .ToDictionary(a => a.Key, a => a.Count, StringComparer.Ordinal);
}
