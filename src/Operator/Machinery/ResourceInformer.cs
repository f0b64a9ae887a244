using k8s;
using k8s.Models;

namespace NginxHa.Operator.Machinery;

/// <summary>One page of a list: the items and the list's resourceVersion (the point a watch continues from).</summary>
public sealed record ListPage<T>(IReadOnlyList<T> Items, string ResourceVersion, string? Continue);

/// <summary>The two calls an informer makes for one kind (see <see cref="ApiListWatch"/> for the real ones).</summary>
public interface IListWatch<T>
{
    string Description { get; }
    Task<ListPage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken);

    /// <summary>A watch from <paramref name="resourceVersion"/>, with bookmarks, ended by the server after
    /// <paramref name="timeoutSeconds"/>. ERROR events (e.g. 410 Expired) go to <paramref name="onError"/>.</summary>
    IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string resourceVersion, int timeoutSeconds,
        Action<Exception> onError, CancellationToken cancellationToken);
}

public enum InformerEventType { Added, Modified, Deleted }

public sealed record InformerOptions
{
    public int PageSize { get; init; } = 500;

    /// <summary>timeoutSeconds of each watch: the server ends it after this long and it is re-opened from the last resourceVersion.</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A watch that delivers nothing (no event, no bookmark) for this long is closed and re-opened:
    /// KubernetesClient watches can stop delivering without an error. The server sends a bookmark about every minute.</summary>
    public TimeSpan WatchdogSilence { get; init; } = TimeSpan.FromSeconds(150);

    /// <summary>Between attempts after an error. Capped low, since the cap is about how long the operator stays blind after
    /// an API server comes back: at 30 s (45 s with jitter), and a 429 while the server's storage re-initialized, the
    /// informers came back 16 to 30 s after the server in a 60 s outage test, which once missed its 60 s bound in CI.
    /// Seven kinds retrying every 5 s cost a server nothing.</summary>
    public Backoff ErrorBackoff { get; init; } = new(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(5), Jitter: 0.5);

    /// <summary>Applied to every object before it is cached, e.g. to drop a Secret's data the operator never reads.</summary>
    public Func<object, object>? Transform { get; init; }
}

/// <summary>
/// Keeps a local cache of one kind in step with the API server, as client-go's reflector and YARP's
/// ResourceInformer do: a paged list, then a watch from the list's resourceVersion (always with timeoutSeconds
/// and bookmarks), re-opened from the last resourceVersion seen; on 410 Gone (Expired) a full re-list, whose
/// differences from the cache are delivered as events; errors back off with jitter; a watchdog re-opens a
/// silent watch. Handlers run on the informer's loop, in order, and must be quick (they enqueue keys).
/// </summary>
public sealed class ResourceInformer<T> where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IListWatch<T> _source;
    private readonly InformerOptions _options;
    private readonly TimeProvider _time;
    private readonly OperatorLog _log;
    private readonly Dictionary<string, T> _cache = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private readonly List<Action<InformerEventType, T?, T>> _handlers = new();
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lists, _watches, _expired, _watchdogFired;

    public ResourceInformer(IListWatch<T> source, OperatorLog log, TimeProvider? time = null, InformerOptions? options = null)
    {
        _source = source;
        _log = log;
        _time = time ?? TimeProvider.System;
        _options = options ?? new InformerOptions();
    }

    public string Description => _source.Description;

    /// <summary>Completes after the first full list is in the cache.</summary>
    public Task Synced => _synced.Task;

    /// <summary>Full lists made (the first one and every re-list).</summary>
    public long Lists => Interlocked.Read(ref _lists);
    public long Watches => Interlocked.Read(ref _watches);
    /// <summary>Watches ended by 410 Gone (resourceVersion expired).</summary>
    public long Expired => Interlocked.Read(ref _expired);
    /// <summary>Watches the watchdog closed for silence.</summary>
    public long WatchdogReconnects => Interlocked.Read(ref _watchdogFired);

    /// <summary>The resourceVersion the next watch starts from.</summary>
    public string? LastResourceVersion { get; private set; }

    /// <summary>Called with (type, old object or null, new object; for Deleted the last known object).</summary>
    public void OnChange(Action<InformerEventType, T?, T> handler)
    {
        lock (_lock) _handlers.Add(handler);
    }

    public static string KeyOf(T item) => KeyOf(item.Metadata.NamespaceProperty, item.Metadata.Name);
    public static string KeyOf(string? ns, string name) => string.IsNullOrEmpty(ns) ? name : $"{ns}/{name}";

    public T? Get(string key)
    {
        lock (_lock) return _cache.GetValueOrDefault(key);
    }

    public T? Get(string? ns, string name) => Get(KeyOf(ns, name));

    public IReadOnlyList<T> List()
    {
        lock (_lock) return _cache.Values.ToList();
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        string? resourceVersion = null;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (resourceVersion is null)
                {
                    resourceVersion = await ListAllAsync(cancellationToken).ConfigureAwait(false);
                    _synced.TrySetResult();
                    failures = 0; // the server answers again: a failing watch starts its backoff over
                }
                resourceVersion = await WatchOnceAsync(resourceVersion, cancellationToken).ConfigureAwait(false);
                failures = 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Continue from the last resourceVersion seen, not from where this watch began.
                if (resourceVersion is not null) lock (_lock) resourceVersion = LastResourceVersion ?? resourceVersion;
                var delay = _options.ErrorBackoff.Delay(++failures);
                _log.Warn($"informer {Description}: {OperatorLog.Describe(e)}; retrying in {delay.TotalMilliseconds:0} ms");
                try { await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
    }

    private async Task<string> ListAllAsync(CancellationToken cancellationToken)
    {
        var items = new Dictionary<string, T>(StringComparer.Ordinal);
        string? continueToken = null;
        string resourceVersion;
        do
        {
            var page = await _source.ListAsync(continueToken, _options.PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items) items[KeyOf(item)] = Transformed(item);
            continueToken = page.Continue;
            resourceVersion = page.ResourceVersion; // each page carries the RV of the list's snapshot
        } while (!string.IsNullOrEmpty(continueToken));
        Interlocked.Increment(ref _lists);

        var events = new List<(InformerEventType, T?, T)>();
        lock (_lock)
        {
            foreach (var (key, item) in items)
            {
                if (!_cache.TryGetValue(key, out var old)) events.Add((InformerEventType.Added, null, item));
                else if (old.Metadata.ResourceVersion != item.Metadata.ResourceVersion) events.Add((InformerEventType.Modified, old, item));
            }
            foreach (var (key, old) in _cache.Where(c => !items.ContainsKey(c.Key)).ToList())
                events.Add((InformerEventType.Deleted, old, old));
            _cache.Clear();
            foreach (var (key, item) in items) _cache[key] = item;
            LastResourceVersion = resourceVersion;
        }
        foreach (var e in events) Dispatch(e.Item1, e.Item2, e.Item3);
        _log.Debug($"informer {Description}: listed {items.Count} at resourceVersion {resourceVersion}");
        return resourceVersion;
    }

    /// <summary>Runs one watch to its end; returns the resourceVersion to continue from, or throws.
    /// On 410 Gone it returns null after a re-list is due (the caller's loop lists again).</summary>
    private async Task<string?> WatchOnceAsync(string resourceVersion, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _watches);
        using var watchCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var silent = false;
        using var watchdog = _time.CreateTimer(_ =>
        {
            silent = true;
            try { watchCts.Cancel(); } catch (ObjectDisposedException) { }
        }, null, _options.WatchdogSilence, Timeout.InfiniteTimeSpan);

        Exception? error = null;
        var expired = false;
        void OnError(Exception e)
        {
            if (e is KubernetesException { Status.Code: 410 } or KubernetesException { Status.Reason: "Expired" or "Gone" })
                expired = true;
            else
                error ??= e;
            try { watchCts.Cancel(); } catch (ObjectDisposedException) { }
        }

        var timeoutSeconds = (int)Math.Max(1, _options.WatchTimeout.TotalSeconds * (0.9 + 0.1 * Random.Shared.NextDouble()));
        var last = resourceVersion;
        try
        {
            await foreach (var (type, item) in _source.WatchAsync(resourceVersion, timeoutSeconds, OnError, watchCts.Token).ConfigureAwait(false))
            {
                watchdog.Change(_options.WatchdogSilence, Timeout.InfiniteTimeSpan);
                if (item.Metadata?.ResourceVersion is { Length: > 0 } rv) last = rv;
                Apply(type, item);
                lock (_lock) LastResourceVersion = last;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && (silent || expired || error is not null))
        {
        }

        if (expired)
        {
            Interlocked.Increment(ref _expired);
            _log.Info($"informer {Description}: resourceVersion {last} expired (410 Gone); listing again");
            return null;
        }
        if (error is not null) throw new InvalidOperationException($"watch failed: {OperatorLog.Describe(error)}", error);
        if (silent)
        {
            Interlocked.Increment(ref _watchdogFired);
            _log.Warn($"informer {Description}: watch silent for {_options.WatchdogSilence.TotalSeconds:0.#} s; re-opening from resourceVersion {last}");
        }
        return last;
    }

    private T Transformed(T item) => _options.Transform is { } transform ? (T)transform(item) : item;

    private void Apply(WatchEventType type, T item)
    {
        if (type == WatchEventType.Bookmark) return;
        item = Transformed(item);
        var key = KeyOf(item);
        T? old;
        lock (_lock)
        {
            _cache.TryGetValue(key, out old);
            if (type == WatchEventType.Deleted) _cache.Remove(key);
            else _cache[key] = item;
        }
        switch (type)
        {
            case WatchEventType.Added or WatchEventType.Modified:
                Dispatch(old is null ? InformerEventType.Added : InformerEventType.Modified, old, item);
                break;
            case WatchEventType.Deleted:
                Dispatch(InformerEventType.Deleted, old, item);
                break;
        }
    }

    private void Dispatch(InformerEventType type, T? old, T current)
    {
        Action<InformerEventType, T?, T>[] handlers;
        lock (_lock) handlers = _handlers.ToArray();
        foreach (var handler in handlers)
        {
            try { handler(type, old, current); }
            catch (Exception e) { _log.Warn($"informer {Description}: a handler failed: {OperatorLog.Describe(e)}"); }
        }
    }
}
