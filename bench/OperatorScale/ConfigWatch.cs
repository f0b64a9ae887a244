using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>One NodeHaConfig spec write as a watch saw it (created, spec changed: a new generation, or deleted), and when.</summary>
public sealed record ConfigWrite(long Timestamp, string Node, long Generation, NodeHaConfigSpec? Spec);

/// <summary>
/// Every NodeHaConfig write seen through the operator's own informer (list, then watch), timestamped on arrival.
/// Status-only updates (the agents' reports) keep the generation and are not spec writes.
/// </summary>
public sealed class ConfigWatch
{
    private readonly TimeProvider _time;
    private readonly List<ConfigWrite> _writes = new();
    private readonly Lock _lock = new();

    public ConfigWatch(ResourceInformer<NodeHaConfigResource> informer, TimeProvider time)
    {
        _time = time;
        Informer = informer;
        informer.OnChange((type, old, config) =>
        {
            var deleted = type == InformerEventType.Deleted;
            if (type == InformerEventType.Modified && old is not null && old.Metadata.Generation == config.Metadata.Generation) return;
            var write = new ConfigWrite(_time.GetTimestamp(), config.Metadata.Name, config.Metadata.Generation ?? 0, deleted ? null : config.Spec);
            lock (_lock) _writes.Add(write);
            SpecWritten?.Invoke(config.Metadata.Name);
        });
    }

    public ResourceInformer<NodeHaConfigResource> Informer { get; }

    /// <summary>Raised on the informer's loop for each spec write (the simulated agents listen).</summary>
    public event Action<string>? SpecWritten;

    public int Count { get { lock (_lock) return _writes.Count; } }

    public IReadOnlyList<ConfigWrite> Since(int index)
    {
        lock (_lock) return _writes.Skip(index).ToList();
    }

    /// <summary>The newest spec per node (deleted nodes left out).</summary>
    public IReadOnlyDictionary<string, NodeHaConfigSpec> Current()
    {
        var result = new Dictionary<string, NodeHaConfigSpec>(StringComparer.Ordinal);
        lock (_lock)
            foreach (var write in _writes)
                if (write.Spec is null) result.Remove(write.Node);
                else result[write.Node] = write.Spec;
        return result;
    }
}
