using k8s;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>The initial full reconcile: from the operator's start to the last NodeHaConfig write before a quiet <see cref="ScaleOptions.Stable"/>;
/// and, when the operator's queue can be read, to the start of its first idle <see cref="ScaleOptions.IdleQuiet"/> (every group's and pool's
/// status included), with its CPU and requests to that point. <paramref name="OperatorCpuMs"/> and <paramref name="Requests"/> run to the
/// idle point when there is one, else to the last write's quiet period.</summary>
public sealed record InitialResult(TimeSpan AllWritten, TimeSpan LastWrite, int Nodes, int Writes, IReadOnlyDictionary<string, long> Requests, double OperatorCpuMs,
    TimeSpan? Idle = null, double AllWrittenCpuMs = double.NaN);

/// <summary>One change: the latency to the last affected NodeHaConfig write seen, and every spec write in its window; the operator's queue
/// when it was made and the time to the operator idle again (null: its queue is not read). CPU and requests run from the change to
/// that idle point, else to the end of <see cref="ScaleOptions.Settle"/>.</summary>
public sealed record ChangeResult(int Index, string Description, TimeSpan Latency, int Affected, int WritesOnAffected, int WritesElsewhere,
    int AffectedWrittenOnce, IReadOnlyDictionary<string, long> Requests, double OperatorCpuMs, OperatorQueue? QueueAtStart = null, TimeSpan? Idle = null);

/// <summary>
/// The benchmark's steps against a cluster: create the nodes, pools and groups; watch NodeHaConfigs and play the agents;
/// start the operator (a callback: a process in the benchmark, in-process in the test) and time the initial reconcile;
/// then make the changes one at a time and time each to the last affected NodeHaConfig written.
/// </summary>
/// <param name="operatorCpu">The operator's CPU time so far (utime + stime of its process), when it runs apart; NaN otherwise.
/// On a loaded machine the wall-clock latencies mostly measure the wait for a core; the CPU time does not.</param>
/// <param name="operatorQueue">The operator's work queue now. With it, the changes start only once the operator is idle (nothing
/// waiting, nothing in process, for <see cref="ScaleOptions.IdleQuiet"/>): each change is measured in the steady state, not
/// overlapping the initial status work or the last change's.</param>
public sealed class ScaleRun(IKubernetes client, ScaleOptions options, Action<string> log,
    Func<CancellationToken, Task<IReadOnlyDictionary<string, long>>>? requestCounts = null, Func<TimeSpan>? operatorCpu = null,
    Func<CancellationToken, Task<OperatorQueue>>? operatorQueue = null)
{
    private double CpuMs() => operatorCpu is null ? double.NaN : operatorCpu().TotalMilliseconds;

    private readonly ScaleModel _model = new(options);
    private readonly TimeProvider _time = TimeProvider.System;
    private ConfigWatch? _watch;
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
        var started = _time.GetTimestamp();
        await startOperator(cancellationToken).ConfigureAwait(false);
        var deadline = started + (long)(options.Timeout.TotalSeconds * _time.TimestampFrequency);
        TimeSpan? allWritten = null;
        var allWrittenCpu = double.NaN;
        var idle = operatorQueue is null ? null : new IdleWatch(options.IdleQuiet);
        var nextPoll = started;
        OperatorQueue? queue = null;
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
                    allWrittenCpu = CpuMs();
                }
            }
            // Idle counts only once every config is written: an operator still listing is not done.
            else if (idle is not null && now >= nextPoll)
            {
                var cpu = CpuMs();
                queue = await operatorQueue!(cancellationToken).ConfigureAwait(false);
                idle.Observe(queue.Idle, now, cpu, _time);
                nextPoll = now + (long)(options.IdlePoll.TotalSeconds * _time.TimestampFrequency);
            }
            var writes = watch.Since(first);
            var last = writes.Count > 0 ? writes[^1].Timestamp : started;
            if (allWritten is not null && _time.GetElapsedTime(last) >= options.Stable && (idle is null || idle.Confirmed))
            {
                var lastWrite = TimeSpan.FromSeconds((double)(last - started) / _time.TimestampFrequency);
                var requests = Diff(before, await CountsAsync(cancellationToken).ConfigureAwait(false));
                return idle is null
                    ? new InitialResult(allWritten.Value, lastWrite, expected.Count, writes.Count, requests, CpuMs(), null, allWrittenCpu)
                    : new InitialResult(allWritten.Value, lastWrite, expected.Count, writes.Count, requests, idle.QuietCpuMs,
                        TimeSpan.FromSeconds((double)(idle.QuietSince - started) / _time.TimestampFrequency), allWrittenCpu);
            }
            if (now > deadline)
                throw new TimeoutException($"the initial reconcile did not finish within {options.Timeout}: {watch.Current().Count} of {expected.Count} NodeHaConfigs, {writes.Count} writes" +
                                           (queue is null ? "" : $"; operator queue: {queue}"));
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Tells when the operator went idle and stayed so for <c>quiet</c>: the moment (and its CPU then) of the first idle sample of that run.</summary>
    private sealed class IdleWatch(TimeSpan quiet)
    {
        private long? _since;
        private double _cpu;

        public bool Confirmed { get; private set; }
        public long QuietSince => _since ?? throw new InvalidOperationException("not idle");
        public double QuietCpuMs => _cpu;

        public void Observe(bool idle, long timestamp, double cpuMs, TimeProvider time)
        {
            if (!idle)
            {
                _since = null;
                return;
            }
            if (_since is null) (_since, _cpu) = (timestamp, cpuMs);
            if (time.GetElapsedTime(_since.Value, timestamp) >= quiet) Confirmed = true;
        }
    }

    /// <summary>Polls the operator's queue until it has been idle for <see cref="ScaleOptions.IdleQuiet"/>; the start of that quiet run and the CPU then.</summary>
    private async Task<(long Since, double CpuMs)> WaitIdleAsync(Func<CancellationToken, Task<OperatorQueue>> queue, CancellationToken cancellationToken)
    {
        var idle = new IdleWatch(options.IdleQuiet);
        var deadline = _time.GetTimestamp() + (long)(options.Timeout.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            var now = _time.GetTimestamp();
            var cpu = CpuMs(); // before the scrape: the quiet run's CPU leaves out the scrape that saw it
            var state = await queue(cancellationToken).ConfigureAwait(false);
            idle.Observe(state.Idle, now, cpu, _time);
            if (idle.Confirmed) return (idle.QuietSince, idle.QuietCpuMs);
            if (now > deadline) throw new TimeoutException($"the operator did not go idle within {options.Timeout}: {state}");
            await Task.Delay(options.IdlePoll, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<ChangeResult>> ChangesAsync(CancellationToken cancellationToken)
    {
        var watch = _watch ?? throw new InvalidOperationException("WatchAsync first");
        var results = new List<ChangeResult>();
        for (var k = 0; k < options.Changes; k++)
        {
            var change = _model.Change(k);
            var queueAtStart = operatorQueue is null ? null : await operatorQueue(cancellationToken).ConfigureAwait(false);
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
            // Then the rest of its work (the status of the groups and pools it touched, after the agents' reports): the next change
            // starts with the operator idle, and this one's CPU and requests run to that point.
            var (idleAt, cpuAtIdle) = operatorQueue is null ? (_time.GetTimestamp(), CpuMs()) : await WaitIdleAsync(operatorQueue, cancellationToken).ConfigureAwait(false);
            var writes = watch.Since(first);
            var onAffected = writes.Count(w => change.AffectedNodes.Contains(w.Node));
            var once = change.AffectedNodes.Count(n => writes.Count(w => w.Node == n) == 1);
            var latency = TimeSpan.FromSeconds((double)(arrived.Values.Max() - started) / _time.TimestampFrequency);
            var result = new ChangeResult(k, change.Description, latency, change.AffectedNodes.Count, onAffected, writes.Count - onAffected, once,
                Diff(before, await CountsAsync(cancellationToken).ConfigureAwait(false)), cpuAtIdle - cpuBefore, queueAtStart,
                operatorQueue is null ? null : TimeSpan.FromSeconds((double)(idleAt - started) / _time.TimestampFrequency));
            results.Add(result);
            log($"change {k}: {change.Description}: {latency.TotalMilliseconds:F1} ms (operator CPU {result.OperatorCpuMs:F0} ms), {onAffected} write(s) on {change.AffectedNodes.Count} affected node(s), {result.WritesElsewhere} elsewhere" +
                (queueAtStart is null ? "" : $"; operator queue at the change: {queueAtStart}; idle again after {result.Idle!.Value.TotalMilliseconds:F0} ms"));
        }
        return results;
    }

    private async Task<IReadOnlyDictionary<string, long>> CountsAsync(CancellationToken cancellationToken) =>
        requestCounts is null ? new Dictionary<string, long>() : await requestCounts(cancellationToken).ConfigureAwait(false);

    private static IReadOnlyDictionary<string, long> Diff(IReadOnlyDictionary<string, long> before, IReadOnlyDictionary<string, long> after) =>
        after.Select(a => (a.Key, Count: a.Value - before.GetValueOrDefault(a.Key))).Where(a => a.Count != 0)
            .ToDictionary(a => a.Key, a => a.Count, StringComparer.Ordinal);
}
