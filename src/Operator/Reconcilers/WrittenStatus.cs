using System.Collections.Concurrent;
using System.Text.Json;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// The status the operator last wrote per object, the resourceVersion that write returned, and when. A status reconcile
/// that runs before the informer has delivered our own write's echo (the agents' reports come one by one, each requeueing
/// the key) would otherwise build on the cached status from before it and write the same status again, or record its news
/// twice. Thread-safe; one key is reconciled by one worker at a time.
/// </summary>
public sealed class WrittenStatus<TStatus> where TStatus : class
{
    private readonly ConcurrentDictionary<string, (TStatus Status, long Version, DateTimeOffset At)> _written = new(StringComparer.Ordinal);

    /// <summary>The object's status as last written: the cached one, or ours when the cache holds an older version of the
    /// object than our last write returned (resourceVersions are etcd revisions; one that does not parse is not compared).</summary>
    public TStatus? Current(string key, TStatus? cached, string? cachedVersion)
    {
        if (!_written.TryGetValue(key, out var written) || written.Version == 0 || !long.TryParse(cachedVersion, out var version)) return cached;
        return version < written.Version ? written.Status : cached;
    }

    /// <summary>When the key's status was last written by this replica; null when never (or forgotten).</summary>
    public DateTimeOffset? LastWrite(string key) => _written.TryGetValue(key, out var written) ? written.At : null;

    /// <summary>Records a write and the server's answer to it (the patched object).</summary>
    public void Wrote(string key, TStatus status, object? response, DateTimeOffset at) => _written[key] = (status, ResourceVersionOf(response), at);

    public void Forget(string key) => _written.TryRemove(key, out _);

    /// <summary>How many objects' last writes are kept.</summary>
    public int Count => _written.Count;

    private static long ResourceVersionOf(object? response) =>
        ApiResponse.Metadata(response) is { } metadata
        && metadata.TryGetProperty("resourceVersion", out var version) && version.ValueKind == JsonValueKind.String
        && long.TryParse(version.GetString(), out var parsed)
            ? parsed
            : 0;
}
