namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// Pure: which of the nodes still holding a deleted group's VIPs the finalizer waits for. A node whose agent heartbeat has
/// expired counts as released: its agent is not running, so it sends no adverts and holds no VIP a peer would not take
/// (the agent drops its VIPs on the way out, and a node that died has none to defend). A node with no heartbeat known
/// (an agent older than heartbeats) is waited for.
/// </summary>
public static class ReleaseWait
{
    public sealed record Decision(IReadOnlyList<string> WaitingFor, IReadOnlyList<Heartbeat> Expired);

    public static Decision Decide(IReadOnlyList<string> holding, IReadOnlyDictionary<string, Heartbeat> heartbeats, DateTimeOffset now)
    {
        var waiting = new List<string>();
        var expired = new List<Heartbeat>();
        foreach (var node in holding)
        {
            if (heartbeats.TryGetValue(node, out var heartbeat) && heartbeat.ExpiredAt(now)) expired.Add(heartbeat);
            else waiting.Add(node);
        }
        return new Decision(waiting, expired);
    }

    /// <summary>The Event's note for the nodes counted as released (their names and when their heartbeat expired).</summary>
    public static string ExpiredNote(IReadOnlyList<Heartbeat> expired) =>
        $"counted as released: node(s) {string.Join(", ", expired.Select(h => $"{h.Node} (agent heartbeat expired at {h.ExpiresAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ})"))}; " +
        "an agent that is not running holds no virtual IP it can defend (one cut off from the API server drops the group once it sees it gone)";
}
