namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// A queue one dedicated thread drains, blocking without spinning. BlockingCollection waits on a SemaphoreSlim, which
/// spins about 140 times (most of them sched_yield) before it sleeps: on the nginx supervisor's loop, woken once a
/// second by the health probe, that was 80 sched_yield calls a second and up to 150 ms of spinning under load
/// (docs/benchmarks.md, "Agent cost"). Monitor.Wait sleeps at once.
/// </summary>
public sealed class EventQueue<T>
{
    readonly Queue<T> _items = new();
    readonly object _gate = new();
    bool _completed;

    /// <summary>From any thread; false (the item dropped) once <see cref="CompleteAdding"/> was called.</summary>
    public bool Add(T item)
    {
        lock (_gate)
        {
            if (_completed) return false;
            _items.Enqueue(item);
            Monitor.Pulse(_gate);
            return true;
        }
    }

    /// <summary>No more items: the consumer ends once it has taken what is queued.</summary>
    public void CompleteAdding()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The items in order, waiting for each; ends after <see cref="CompleteAdding"/> and the last queued item.</summary>
    public IEnumerable<T> GetConsumingEnumerable()
    {
        while (true)
        {
            T item;
            lock (_gate)
            {
                while (_items.Count == 0)
                {
                    if (_completed) yield break;
                    Monitor.Wait(_gate);
                }
                item = _items.Dequeue();
            }
            yield return item;
        }
    }
}
