using k8s;
using k8s.Models;

namespace NginxHa.Operator.Machinery;

/// <summary>What an Event is about, and what makes two occurrences "the same" Event.</summary>
public sealed record EventSubject(string ApiVersion, string Kind, string? Namespace, string Name, string? Uid);

public sealed record EventKey(EventSubject Regarding, string Type, string Reason, string Action, string Note);

public static class EventTypes
{
    public const string Normal = "Normal";
    public const string Warning = "Warning";
}

/// <summary>
/// Decides, for one occurrence, whether to create a new events.k8s.io/v1 Event or to count it in the series of
/// an existing one (same object, type, reason, action and note within <see cref="Window"/>), as client-go's
/// event recorder does. Pure apart from the clock; the recorder does the writing.
/// </summary>
public sealed class EventAggregator(TimeProvider time, TimeSpan? window = null, int capacity = 4096)
{
    public TimeSpan Window { get; } = window ?? TimeSpan.FromMinutes(6);

    private readonly Dictionary<EventKey, Entry> _entries = new();
    private readonly object _lock = new();

    private sealed class Entry
    {
        public required string Name { get; init; }
        public required DateTimeOffset First { get; init; }
        public DateTimeOffset Last { get; set; }
        public int Count { get; set; }
    }

    public abstract record Decision(string Name, DateTimeOffset Time);
    /// <summary>Create the Event <paramref name="Name"/> with eventTime = Time.</summary>
    public sealed record Create(string Name, DateTimeOffset Time) : Decision(Name, Time);
    /// <summary>Set the Event's series to <paramref name="Count"/> occurrences, the last at Time.</summary>
    public sealed record Series(string Name, DateTimeOffset Time, int Count) : Decision(Name, Time);

    public Decision Observe(EventKey key)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var entry) && now - entry.Last < Window)
            {
                entry.Count++;
                entry.Last = now;
                return new Series(entry.Name, now, entry.Count);
            }
            if (_entries.Count >= capacity)
                foreach (var stale in _entries.Where(e => now - e.Value.Last >= Window).Select(e => e.Key).ToList()) _entries.Remove(stale);
            if (_entries.Count >= capacity) _entries.Remove(_entries.MinBy(e => e.Value.Last).Key);
            var name = $"{key.Regarding.Name}.{now.ToUnixTimeMilliseconds() * 1000 + Random.Shared.Next(1000):x}";
            _entries[key] = new Entry { Name = name, First = now, Last = now, Count = 1 };
            return new Create(name, now);
        }
    }

    /// <summary>Forgets an Event whose write failed, so the next occurrence creates it again.</summary>
    public void Forget(EventKey key)
    {
        lock (_lock) _entries.Remove(key);
    }
}

/// <summary>Writes events.k8s.io/v1 Events, aggregated by <see cref="EventAggregator"/>; a failed write is logged, never thrown.</summary>
public sealed class EventRecorder(IKubernetes client, string controller, string instance, OperatorLog log, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly EventAggregator _aggregator = new(time ?? TimeProvider.System);

    public async Task RecordAsync(EventSubject regarding, string type, string reason, string action, string note, CancellationToken cancellationToken)
    {
        // The API limits note to 1 KiB.
        if (note.Length > 1024) note = note[..1021] + "...";
        var key = new EventKey(regarding, type, reason, action, note);
        var decision = _aggregator.Observe(key);
        var ns = string.IsNullOrEmpty(regarding.Namespace) ? "default" : regarding.Namespace;
        try
        {
            switch (decision)
            {
                case EventAggregator.Create create:
                    await client.EventsV1.CreateNamespacedEventAsync(new Eventsv1Event
                    {
                        ApiVersion = "events.k8s.io/v1",
                        Kind = "Event",
                        Metadata = new V1ObjectMeta { Name = create.Name, NamespaceProperty = ns },
                        EventTime = create.Time.UtcDateTime,
                        ReportingController = controller,
                        ReportingInstance = instance,
                        Action = action,
                        Reason = reason,
                        Type = type,
                        Note = note,
                        Regarding = new V1ObjectReference
                        {
                            ApiVersion = regarding.ApiVersion, Kind = regarding.Kind, NamespaceProperty = regarding.Namespace,
                            Name = regarding.Name, Uid = regarding.Uid,
                        },
                    }, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
                    break;
                case EventAggregator.Series series:
                    var patch = new V1Patch(
                        $$$"""{"series":{"count":{{{series.Count}}},"lastObservedTime":"{{{series.Time.UtcDateTime:yyyy-MM-ddTHH:mm:ss.ffffffZ}}}"}}""",
                        V1Patch.PatchType.MergePatch);
                    await client.EventsV1.PatchNamespacedEventAsync(patch, series.Name, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _aggregator.Forget(key);
            log.Warn($"event {reason} on {regarding.Kind} {regarding.Namespace}/{regarding.Name} not written: {OperatorLog.Describe(e)}");
        }
    }
}
