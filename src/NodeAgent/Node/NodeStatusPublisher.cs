using NginxHa.Core.Resources;
using NginxHa.Core.Text;

namespace NginxHa.NodeAgent.Node;

/// <summary>Where a node's status goes: the NodeHaConfig status subresource in Kubernetes mode.</summary>
public interface INodeStatusWriter
{
    Task WriteAsync(NodeHaConfigStatus status, CancellationToken cancellationToken);
}

/// <summary>Where a rejected config is announced besides the status: an Event on the NodeHaConfig in Kubernetes mode.</summary>
public interface INodeEventWriter
{
    /// <summary>Quick and never throws: the write happens later.</summary>
    void ConfigRejected(string message);
}

/// <summary>
/// Publishes <see cref="NodeReconciler.Status"/> through a writer: the first change at once, then at most one write per
/// <paramref name="minInterval"/> carrying the latest status (a flapping VIP costs the API server one write per
/// interval, not one per transition). Writes never overlap; a failed one is logged and retried after the interval.
/// With <c>heard</c>, the status also lists the virtual routers heard on the wire, and a change among them (one
/// appears, is forgotten or changes its adverts) is a change like any other.
/// </summary>
public sealed class NodeStatusPublisher : IAsyncDisposable
{
    readonly NodeReconciler _reconciler;
    readonly INodeStatusWriter _writer;
    readonly TimeProvider _time;
    readonly TimeSpan _minInterval;
    readonly Action<string> _log;
    readonly Vrrp.HeardRouters? _heard;
    readonly Lock _gate = new();
    readonly CancellationTokenSource _stop = new();
    bool _pending;
    bool _writing;
    bool _final;
    ITimer? _timer;
    DateTimeOffset _nextAllowed = DateTimeOffset.MinValue;
    Task _current = Task.CompletedTask;

    public NodeStatusPublisher(NodeReconciler reconciler, INodeStatusWriter writer, TimeProvider time, TimeSpan minInterval, Action<string> log,
        Vrrp.HeardRouters? heard = null)
    {
        _heard = heard;
        _reconciler = reconciler;
        _writer = writer;
        _time = time;
        _minInterval = minInterval;
        _log = log;
        _reconciler.StatusChanged += OnChanged;
        if (_heard is not null) _heard.Changed += OnChanged;
    }

    /// <summary>What a write carries now: the reconciler's status and the routers heard.</summary>
    NodeHaConfigStatus CurrentStatus()
    {
        var status = _reconciler.Status;
        if (_heard is not null) status.HeardRouters = _heard.Report();
        return status;
    }

    /// <summary>Successful writes so far.</summary>
    public int Writes => Volatile.Read(ref _writes);
    int _writes;

    void OnChanged()
    {
        lock (_gate)
        {
            _pending = true;
            Schedule();
        }
    }

    /// <summary>Starts a write now or arms the timer for the next allowed moment. Caller holds the gate.</summary>
    void Schedule()
    {
        if (_final || _writing || _timer is not null || !_pending || _stop.IsCancellationRequested) return;
        var wait = _nextAllowed - _time.GetUtcNow();
        if (wait > TimeSpan.Zero)
        {
            _timer = _time.CreateTimer(_ => OnTimer(), null, wait, Timeout.InfiniteTimeSpan);
            return;
        }
        _pending = false;
        _writing = true;
        _nextAllowed = _time.GetUtcNow() + _minInterval;
        _current = WriteAsync(CurrentStatus());
    }

    void OnTimer()
    {
        lock (_gate)
        {
            _timer?.Dispose();
            _timer = null;
            Schedule();
        }
    }

    async Task WriteAsync(NodeHaConfigStatus status)
    {
        try
        {
            await _writer.WriteAsync(status, _stop.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _writes);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            _log($"status: writing the node's status failed, retrying in {_minInterval.TotalSeconds:0.###} s: {SafeText.Escape(ex.Message)}");
            lock (_gate) _pending = true;
        }
        lock (_gate)
        {
            _writing = false;
            Schedule();
        }
    }

    /// <summary>
    /// After a clean stop: writes the reconciler's status once more, now, whatever the interval, waiting for a write under
    /// way first. Without it a stopped agent's last report (MASTER) would stay on its NodeHaConfig and the operator would see
    /// two masters once the peer takes over. Bounded by <paramref name="timeout"/> (the API server may be away); returns
    /// whether it was written. Later status changes are not published.
    /// </summary>
    public async Task<bool> WriteFinalAsync(TimeSpan timeout)
    {
        _reconciler.StatusChanged -= OnChanged;
        if (_heard is not null) _heard.Changed -= OnChanged;
        Task current;
        lock (_gate)
        {
            _final = true; // no write starts after this but ours
            _timer?.Dispose();
            _timer = null;
            current = _current;
        }
        using var timer = new CancellationTokenSource(timeout, _time);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token, timer.Token);
        try
        {
            await current.WaitAsync(deadline.Token).ConfigureAwait(false);
            await _writer.WriteAsync(CurrentStatus(), deadline.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _writes);
            return true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _log($"status: the final status (nothing held) was not written: {SafeText.Escape(ex is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0.#} s" : ex.Message)}");
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reconciler.StatusChanged -= OnChanged;
        if (_heard is not null) _heard.Changed -= OnChanged;
        Task current;
        lock (_gate)
        {
            _stop.Cancel();
            _timer?.Dispose();
            _timer = null;
            current = _current;
        }
        await current.ConfigureAwait(false);
        _stop.Dispose();
    }
}
