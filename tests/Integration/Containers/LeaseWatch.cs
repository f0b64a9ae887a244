using k8s;
using k8s.Models;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>One state of the Lease as a watch event brought it, with the time it arrived here.</summary>
public sealed record LeaseSeen(DateTimeOffset At, string? Holder, DateTime? RenewTime, int? DurationSeconds, int? Transitions)
{
    public override string ToString() =>
        $"{At:HH:mm:ss.fff} holder {Holder ?? "-"} renewed {RenewTime:HH:mm:ss.fff} duration {DurationSeconds} s transitions {Transitions}";
}

/// <summary>
/// Follows one Lease through a watch of the test cluster (a field selector on its name, so it may not exist yet):
/// every change is recorded with its arrival time, and waiters are completed by the change itself, not by polling.
/// The watch is opened again when the server ends it. Dispose stops it.
/// </summary>
public sealed class LeaseWatch : IDisposable
{
    readonly k8s.Kubernetes _client;
    readonly CancellationTokenSource _stop = new();
    readonly List<LeaseSeen> _seen = [];
    readonly List<(Func<LeaseSeen, bool> Match, TaskCompletionSource<LeaseSeen> Done)> _waiters = [];
    readonly Task _run;

    public LeaseWatch(string kubeconfig, string @namespace, string name)
    {
        _client = new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        Namespace = @namespace;
        Name = name;
        _run = Task.Run(RunAsync);
    }

    public string Namespace { get; }
    public string Name { get; }

    /// <summary>Every state seen so far, in arrival order.</summary>
    public IReadOnlyList<LeaseSeen> Seen
    {
        get { lock (_seen) return [.. _seen]; }
    }

    /// <summary>Why the watch last ended, for failure messages.</summary>
    public Exception? LastError { get; private set; }

    async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var request = _client.CoordinationV1.ListNamespacedLeaseWithHttpMessagesAsync(Namespace, fieldSelector: $"metadata.name={Name}",
                    watch: true, cancellationToken: _stop.Token);
                using var response = await request;
#pragma warning disable CS0618 // WatchAsync is marked for a future rename; it is the call that takes onError
                await foreach (var (type, lease) in request.WatchAsync<V1Lease, V1LeaseList>(_ => { }, _stop.Token))
#pragma warning restore CS0618
                {
                    if (type is WatchEventType.Added or WatchEventType.Modified)
                        Record(new LeaseSeen(DateTimeOffset.UtcNow, lease.Spec?.HolderIdentity, lease.Spec?.RenewTime, lease.Spec?.LeaseDurationSeconds,
                            lease.Spec?.LeaseTransitions));
                    else if (type is WatchEventType.Deleted)
                        Record(new LeaseSeen(DateTimeOffset.UtcNow, null, null, null, null));
                }
            }
            catch (Exception e) when (!_stop.IsCancellationRequested)
            {
                LastError = e;
                // The server went away (an outage the test made): open the watch again shortly.
                try { await Task.Delay(200, _stop.Token); }
                catch (OperationCanceledException) { }
            }
            catch (Exception) when (_stop.IsCancellationRequested) { }
        }
    }

    void Record(LeaseSeen seen)
    {
        List<TaskCompletionSource<LeaseSeen>> done = [];
        lock (_seen)
        {
            _seen.Add(seen);
            foreach (var waiter in _waiters.Where(w => w.Match(seen)).ToList())
            {
                _waiters.Remove(waiter);
                done.Add(waiter.Done);
            }
        }
        foreach (var d in done) d.TrySetResult(seen);
    }

    /// <summary>The first state seen at or after <paramref name="after"/> that matches (one already seen counts).</summary>
    public async Task<LeaseSeen> WaitForAsync(Func<LeaseSeen, bool> match, DateTimeOffset after, TimeSpan timeout, string what)
    {
        var done = new TaskCompletionSource<LeaseSeen>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_seen)
        {
            if (_seen.FirstOrDefault(s => s.At >= after && match(s)) is { } already) return already;
            _waiters.Add((s => s.At >= after && match(s), done));
        }
        try
        {
            return await done.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            lock (_seen) _waiters.RemoveAll(w => w.Done == done);
            throw new TimeoutException($"Lease {Namespace}/{Name}: {what} within {timeout.TotalSeconds} s; seen:\n{string.Join("\n", Seen.TakeLast(12))}\nlast watch error: {LastError?.Message ?? "none"}");
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _run.Wait(TimeSpan.FromSeconds(10)); }
        catch (AggregateException) { }
        _client.Dispose();
        _stop.Dispose();
    }
}
