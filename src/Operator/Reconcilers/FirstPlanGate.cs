namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// Holds the status keys that come up before a leader term's first plan is done, and hands them back once it is: the first
/// plan's NodeHaConfig writes (what the agents wait for) then do not share the API server with the status of every group and
/// pool (1,000 objects at scale, each a status patch, most a finalizer patch and an Event too). Thread-safe.
/// </summary>
public sealed class FirstPlanGate
{
    private readonly object _lock = new();
    private HashSet<string>? _held;

    /// <summary>A term starts: hold keys until <see cref="Open"/>.</summary>
    public void Close()
    {
        lock (_lock) _held ??= new(StringComparer.Ordinal);
    }

    /// <summary>True when the key was held (the caller does not reconcile it now); false once the gate is open.</summary>
    public bool TryHold(string key)
    {
        lock (_lock)
        {
            if (_held is null) return false;
            _held.Add(key);
            return true;
        }
    }

    /// <summary>The first plan is done (or failed): the keys held so far, each once, to queue again. Nothing is held after this.</summary>
    public IReadOnlyCollection<string> Open()
    {
        lock (_lock)
        {
            var held = _held ?? [];
            _held = null;
            return held;
        }
    }
}
