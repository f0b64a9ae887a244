using NginxHa.Core.Text;
using NginxHa.NodeAgent.Node;

namespace NginxHa.NodeAgent.Kubernetes;

/// <summary>An events.k8s.io/v1 Event about this node's NodeHaConfig (cluster-scoped, so its Events live in "default").</summary>
public sealed record AgentEvent(string Name, string Regarding, string Instance, string Type, string Reason, string Action, string Note, DateTimeOffset Time)
{
    public const string Namespace = "default";
    public const string Controller = "nginx-ha.io/agent";
}

/// <summary>
/// Writes the agent's Events about its NodeHaConfig: the same reason and note again within <see cref="Window"/> counts in
/// the first Event's series instead of making a new object (as client-go's recorder does), so a Secret that stays
/// missing costs one Event. A failed write is logged, never thrown: Events are a courtesy, the status is the record.
/// </summary>
public sealed class KubernetesEventRecorder(KubeApiClient api, string node, TimeProvider time, Action<string> log) : INodeEventWriter
{
    public const string ConfigRejectedReason = "ConfigRejected";

    /// <summary>A config this node could not apply: the reason the status's nginx.lastError gives.</summary>
    public void ConfigRejected(string message) => Warning(ConfigRejectedReason, "Apply", message);

    public static readonly TimeSpan Window = TimeSpan.FromMinutes(6);
    const int MaxNote = 1024;

    readonly Lock _gate = new();
    (string Reason, string Note, string Name, int Count, DateTimeOffset Last)? _last;
    Task _writing = Task.CompletedTask;

    /// <summary>Queues a Warning Event; writes run one after another, in order, off the caller's thread.</summary>
    public void Warning(string reason, string action, string note)
    {
        if (note.Length > MaxNote) note = note[..(MaxNote - 3)] + "...";
        var now = time.GetUtcNow();
        Func<Task> write;
        lock (_gate)
        {
            if (_last is { } last && last.Reason == reason && last.Note == note && now - last.Last < Window)
            {
                _last = last with { Count = last.Count + 1, Last = now };
                int count = last.Count + 1;
                write = () => api.PatchEventSeriesAsync(last.Name, count, now, CancellationToken.None);
            }
            else
            {
                var name = $"{node}.{now.ToUnixTimeMilliseconds() * 1000 + Random.Shared.Next(1000):x}";
                _last = (reason, note, name, 1, now);
                var e = new AgentEvent(name, node, $"{AgentEvent.Controller}/{node}", "Warning", reason, action, note, now);
                write = () => api.CreateEventAsync(e, CancellationToken.None);
            }
            _writing = _writing.ContinueWith(_ => WriteAsync(write, reason), TaskScheduler.Default).Unwrap();
        }
    }

    /// <summary>Completes when the queued writes have run (tests; a clean stop).</summary>
    public Task Flushed
    {
        get { lock (_gate) return _writing; }
    }

    async Task WriteAsync(Func<Task> write, string reason)
    {
        try
        {
            await write();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            lock (_gate) _last = null; // the next occurrence creates the Event again
            log($"kubernetes: event {reason} on NodeHaConfig {node} not written: {ex.GetType().Name}: {SafeText.Escape(ex.Message, 300)}");
        }
    }
}
