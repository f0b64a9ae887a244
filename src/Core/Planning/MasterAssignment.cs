namespace NginxHa.Core.Planning;

/// <summary>
/// Chooses the preferred master of each instance of one group.
/// Rules, in order:
/// 1. An instance keeps its previous preferred master while that node is still eligible (no needless move).
/// 2. Instances without one (new, or their node left) go to the least-loaded eligible node; among equals
///    the node at index i mod n, so a fresh plan is exactly "VIP i on node i mod n" (seed 000).
/// 3. Then, while some node carries two or more instances more than another eligible node, one instance
///    moves from the most to the least loaded (preferring one whose fresh home is the receiver).
///    So a joining node takes VIPs only when the spread would otherwise be uneven by more than one; a move
///    is a planned handover (connections through that VIP are cut), so no more are moved than that.
/// </summary>
internal static class MasterAssignment
{
    /// <param name="nodes">All nodes of the group, sorted by name.</param>
    /// <param name="eligible">Per instance, the nodes that can run it (a subset of nodes).</param>
    /// <param name="previous">Per instance, the previous preferred master, if any.</param>
    public static string[] Assign(IReadOnlyList<string> nodes, IReadOnlyList<IReadOnlyList<string>> eligible, IReadOnlyList<string?> previous)
    {
        var count = eligible.Count;
        var assigned = new string?[count];
        var load = nodes.ToDictionary(n => n, _ => 0, StringComparer.Ordinal);
        string FreshHome(int instance) => nodes[instance % nodes.Count];

        for (var i = 0; i < count; i++)
        {
            if (previous[i] is { } node && eligible[i].Contains(node))
            {
                assigned[i] = node;
                load[node]++;
            }
        }

        for (var i = 0; i < count; i++)
        {
            if (assigned[i] is not null || eligible[i].Count == 0) continue;
            var least = eligible[i].Min(n => load[n]);
            var tied = eligible[i].Where(n => load[n] == least).ToList();
            var choice = tied.Contains(FreshHome(i)) ? FreshHome(i) : tied[0];
            assigned[i] = choice;
            load[choice]++;
        }

        while (TryFindMove(nodes, eligible, assigned, load, FreshHome, out var instance, out var receiver))
        {
            load[assigned[instance]!]--;
            load[receiver]++;
            assigned[instance] = receiver;
        }
        return assigned.Select(a => a ?? "").ToArray();
    }

    // Each move lowers the sum of squared loads, so the loop ends.
    private static bool TryFindMove(IReadOnlyList<string> nodes, IReadOnlyList<IReadOnlyList<string>> eligible, string?[] assigned,
        Dictionary<string, int> load, Func<int, string> freshHome, out int instance, out string receiver)
    {
        foreach (var donor in nodes.OrderByDescending(n => load[n]).ThenBy(n => n, StringComparer.Ordinal))
        {
            foreach (var candidate in nodes.Where(n => load[n] <= load[donor] - 2).OrderBy(n => load[n]).ThenBy(n => n, StringComparer.Ordinal))
            {
                var movable = Enumerable.Range(0, assigned.Length)
                    .Where(i => assigned[i] == donor && eligible[i].Contains(candidate)).ToList();
                if (movable.Count == 0) continue;
                instance = movable.Cast<int?>().FirstOrDefault(i => freshHome(i!.Value) == candidate) ?? movable[^1];
                receiver = candidate;
                return true;
            }
        }
        instance = -1;
        receiver = "";
        return false;
    }
}
