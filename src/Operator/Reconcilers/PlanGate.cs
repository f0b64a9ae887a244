namespace NginxHa.Operator.Reconcilers;

/// <summary>What of a group or pool the plan reads, as far as its status needs to know: the generation (its spec) and whether
/// it is being deleted.</summary>
public readonly record struct PlanStamp(long Generation, bool Deleting);

/// <summary>
/// Holds status keys while the NodeHaConfig writes they would compete with (and whose plan they read) are still to come, and
/// hands them back after the plan attempt. Thread-safe.
/// <list type="bullet">
/// <item>From the start of a leader term until its first plan, every key: the first plan's NodeHaConfig writes (what the
/// agents wait for) then do not share the API server with the status of every group and pool (1,000 objects at scale, each a
/// status patch, most a finalizer patch and an Event too).</item>
/// <item>After that, while a plan is queued or running, every key once: a change's NodeHaConfig writes do not share the API
/// server with status writes started beside them (the first status of 500 groups and 500 pools runs for seconds after the
/// first plan, through the first changes). A key the plan hands back runs once even if the next plan is already pending,
/// so status is never starved by plans in a row.</item>
/// <item>And always while a plan is queued or running, the key of an object the last plan has not seen as it is now
/// (<see cref="PlanStamp"/>): an edited group's status then waits for the plan that has its new spec, instead of writing the
/// new observedGeneration with the old plan's VIPs (a second status write per edit).</item>
/// </list>
/// </summary>
public sealed class PlanGate
{
    private readonly object _lock = new();
    private bool _firstPlanDone;
    private HashSet<string> _held = new(StringComparer.Ordinal);
    private readonly HashSet<string> _passes = new(StringComparer.Ordinal); // handed back by a plan: not held again for a plan alone
    private IReadOnlyDictionary<string, PlanStamp> _planned = new Dictionary<string, PlanStamp>();

    public PlanGate() => _firstPlanDone = true; // no term yet: nothing waits for a first plan

    /// <summary>A term starts: hold every key until <see cref="Open"/>.</summary>
    public void Close()
    {
        lock (_lock) _firstPlanDone = false;
    }

    /// <summary>
    /// True when the key was held (the caller does not reconcile it now; <see cref="Open"/> hands it back): before the term's
    /// first plan; or while <paramref name="planPending"/> says a plan is queued or running, unless a plan handed the key back
    /// since it last ran, and even then when <paramref name="stamp"/> is not what the last plan saw of the object. Null stamp:
    /// the object is gone.
    /// </summary>
    public bool TryHold(string key, PlanStamp? stamp, Func<bool> planPending)
    {
        lock (_lock)
        {
            var stale = stamp is { } now && (!_planned.TryGetValue(key, out var seen) || seen != now);
            var hold = !_firstPlanDone || (planPending() && (stale || !_passes.Remove(key)));
            if (!hold) _passes.Remove(key);
            if (hold) _held.Add(key);
            return hold;
        }
    }

    /// <summary>A plan attempt is done (or failed) with what it saw of every object: the keys held so far, each once, to queue again.</summary>
    public IReadOnlyCollection<string> Open(IReadOnlyDictionary<string, PlanStamp> planned)
    {
        lock (_lock)
        {
            _planned = planned;
            _firstPlanDone = true;
            var held = _held;
            _held = new(StringComparer.Ordinal);
            _passes.UnionWith(held);
            return held;
        }
    }
}
