namespace NginxHa.Operator.Machinery;

/// <summary>
/// A keyed work queue in the manner of client-go's rate-limited queue:
/// <list type="bullet">
/// <item>a key added several times before a worker takes it is processed once (de-duplication);</item>
/// <item>a key is never handed to two workers at once: added while in process, it is queued again only
/// when the worker is <see cref="Done"/> with it;</item>
/// <item>keys the <c>urgent</c> predicate picks are handed out before every other waiting key (the operator's
/// <c>plan</c>, which writes the nodes' configs, does not wait behind hundreds of status keys), and a worker may take
/// urgent keys only (<c>urgentOnly</c>), so one never waits for a worker busy with a slow status write either;</item>
/// <item><see cref="AddRateLimited"/> re-adds a failed key after an exponential backoff per key, reset by
/// <see cref="Forget"/>; <see cref="AddAfter"/> re-adds after a fixed delay (timers from the injected clock).</item>
/// </list>
/// The queue holds keys, not objects: the worker reads the current state from the informer caches (level-based).
/// </summary>
public sealed class WorkQueue<TKey> : IDisposable where TKey : notnull
{
    private readonly object _lock = new();
    private readonly TimeProvider _time;
    private readonly Backoff _retryBackoff;
    private readonly Queue<TKey> _ready = new();
    private readonly Queue<TKey> _urgentReady = new();
    private readonly Func<TKey, bool>? _urgent;
    private readonly HashSet<TKey> _dirty = new();
    private readonly HashSet<TKey> _processing = new();
    private readonly Dictionary<TKey, int> _failures = new();
    private readonly Dictionary<TKey, (DateTimeOffset Due, ITimer Timer)> _waiting = new();
    private readonly SemaphoreSlim _available = new(0); // at least one count per waiting key
    private readonly SemaphoreSlim _urgentAvailable = new(0); // at least one count per waiting urgent key
    private bool _shutDown;

    public WorkQueue(TimeProvider time, Backoff? retryBackoff = null, Func<TKey, bool>? urgent = null)
    {
        _time = time;
        _urgent = urgent;
        _retryBackoff = retryBackoff ?? new Backoff(TimeSpan.FromMilliseconds(5), TimeSpan.FromSeconds(300));
    }

    /// <summary>Keys waiting for a worker (not counting those in process or waiting for a delay).</summary>
    public int Count { get { lock (_lock) return _urgentReady.Count + _ready.Count; } }

    /// <summary>The keys waiting for a worker now (for metrics).</summary>
    public TKey[] Waiting() { lock (_lock) return [.. _urgentReady, .. _ready]; }

    /// <summary>Caller holds the lock. True when the key is urgent (the caller then also releases <see cref="_urgentAvailable"/>).</summary>
    private bool Enqueue(TKey key)
    {
        var urgent = _urgent?.Invoke(key) == true;
        (urgent ? _urgentReady : _ready).Enqueue(key);
        return urgent;
    }

    private void Signal(bool urgent)
    {
        _available.Release();
        if (urgent) _urgentAvailable.Release();
    }

    /// <summary>The key is waiting for a worker or in process (not counting a delayed re-add).</summary>
    public bool IsPending(TKey key)
    {
        lock (_lock) return _dirty.Contains(key) || _processing.Contains(key);
    }

    /// <summary>Failures of the key since it was last forgotten.</summary>
    public int Failures(TKey key) { lock (_lock) return _failures.GetValueOrDefault(key); }

    public void Add(TKey key)
    {
        bool urgent;
        lock (_lock)
        {
            if (_shutDown || !_dirty.Add(key)) return;
            if (_waiting.Remove(key, out var waiting)) waiting.Timer.Dispose();
            if (_processing.Contains(key)) return; // queued again by Done
            urgent = Enqueue(key);
        }
        Signal(urgent);
    }

    /// <summary>Adds the key after the delay; an earlier pending delay for the same key wins.</summary>
    public void AddAfter(TKey key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }
        lock (_lock)
        {
            if (_shutDown || _dirty.Contains(key)) return;
            var due = _time.GetUtcNow() + delay;
            if (_waiting.TryGetValue(key, out var existing))
            {
                if (existing.Due <= due) return;
                existing.Timer.Dispose();
            }
            var timer = _time.CreateTimer(_ => Fire(key, due), null, delay, Timeout.InfiniteTimeSpan);
            _waiting[key] = (due, timer);
        }
    }

    private void Fire(TKey key, DateTimeOffset due)
    {
        lock (_lock)
        {
            if (!_waiting.TryGetValue(key, out var waiting) || waiting.Due != due) return;
            _waiting.Remove(key);
            waiting.Timer.Dispose();
        }
        Add(key);
    }

    /// <summary>Re-adds a key whose reconcile failed, after its per-key exponential backoff.</summary>
    public TimeSpan AddRateLimited(TKey key)
    {
        int attempt;
        lock (_lock) attempt = _failures[key] = _failures.GetValueOrDefault(key) + 1;
        var delay = _retryBackoff.Delay(attempt);
        AddAfter(key, delay);
        return delay;
    }

    /// <summary>The key succeeded: its next failure starts the backoff from the beginning.</summary>
    public void Forget(TKey key)
    {
        lock (_lock) _failures.Remove(key);
    }

    /// <summary>Waits for a key (with <paramref name="urgentOnly"/>, for an urgent one); the caller must call <see cref="Done"/> with it.</summary>
    public async Task<TKey> TakeAsync(CancellationToken cancellationToken, bool urgentOnly = false)
    {
        while (true)
        {
            // Either lane may take a key the other was signalled for: a wake-up can find nothing, never the reverse.
            await (urgentOnly ? _urgentAvailable : _available).WaitAsync(cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                if (_urgentReady.Count + (urgentOnly ? 0 : _ready.Count) == 0) continue;
                var key = _urgentReady.Count > 0 ? _urgentReady.Dequeue() : _ready.Dequeue();
                _dirty.Remove(key);
                _processing.Add(key);
                return key;
            }
        }
    }

    public void Done(TKey key)
    {
        bool? urgent = null;
        lock (_lock)
        {
            _processing.Remove(key);
            if (_dirty.Contains(key) && !_shutDown) urgent = Enqueue(key);
        }
        if (urgent is { } u) Signal(u);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _shutDown = true;
            foreach (var (_, waiting) in _waiting) waiting.Timer.Dispose();
            _waiting.Clear();
        }
    }
}

/// <summary>What a reconcile asks of the queue: nothing more, or another look after a delay (e.g. a timeout).</summary>
public readonly record struct ReconcileResult(TimeSpan? RequeueAfter)
{
    public static ReconcileResult Done => default;
    public static ReconcileResult After(TimeSpan delay) => new(delay);
}

public static class WorkQueueWorkers
{
    /// <summary>
    /// Runs <paramref name="workers"/> loops taking any key (urgent ones first) and <paramref name="urgentWorkers"/> loops
    /// taking urgent keys only, until cancelled. A reconcile that throws is retried with the key's backoff; one that succeeds
    /// is forgotten (and re-added after its RequeueAfter, if any).
    /// </summary>
    public static Task RunAsync<TKey>(WorkQueue<TKey> queue, int workers, Func<TKey, CancellationToken, Task<ReconcileResult>> reconcile,
        OperatorLog log, CancellationToken cancellationToken, int urgentWorkers = 0) where TKey : notnull =>
        Task.WhenAll(Enumerable.Range(0, workers + urgentWorkers).Select(worker => Task.Run(async () =>
        {
            var urgentOnly = worker >= workers;
            while (!cancellationToken.IsCancellationRequested)
            {
                TKey key;
                try { key = await queue.TakeAsync(cancellationToken, urgentOnly).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                try
                {
                    var result = await reconcile(key, cancellationToken).ConfigureAwait(false);
                    queue.Forget(key);
                    if (result.RequeueAfter is { } after) queue.AddAfter(key, after);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    queue.Done(key);
                    queue.Add(key); // not finished: the next leader's (or this one's next) run picks it up
                    return;
                }
                catch (Exception e)
                {
                    var delay = queue.AddRateLimited(key);
                    log.Warn($"reconcile {key} failed (retry in {delay.TotalMilliseconds:0} ms): {OperatorLog.Describe(e)}");
                }
                finally
                {
                    queue.Done(key);
                }
            }
        }, CancellationToken.None)));
}
