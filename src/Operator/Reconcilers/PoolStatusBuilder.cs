using NginxHa.Core.Resources;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// Pure: the status of one NginxBackendPool: the upstream servers in force, the nodes whose config carries it, the
/// nodes whose nginx refused it, and a Ready condition (NotReferenced, SecretMissing, NoEndpoints, NotServed,
/// NginxRejected or Served) whose lastTransitionTime moves only when its status flips.
/// </summary>
public static class PoolStatusBuilder
{
    public const int MaxErrorLength = 512;

    /// <param name="resolved">The pool as the planner saw it (Service endpoints resolved into servers).</param>
    /// <param name="referencedBy">VirtualIpGroups ("ns/name") whose backendPoolRef names this pool.</param>
    /// <param name="missingSecrets">Secrets the pool names that do not exist, "name (field)".</param>
    public static NginxBackendPoolStatus Build(NginxBackendPoolResource pool, NginxBackendPool resolved, IReadOnlyList<string> referencedBy,
        IReadOnlyList<NodeHaConfigResource> configs, IReadOnlyList<string> missingSecrets, DateTimeOffset now)
    {
        var key = Kinds.Key(pool.Metadata);
        var status = new NginxBackendPoolStatus
        {
            ObservedGeneration = pool.Metadata.Generation,
            Endpoints = resolved.Spec.Backends.Servers.Select(s => $"{(s.Address.Contains(':') ? $"[{s.Address}]" : s.Address)}:{s.Port}").ToList(),
        };
        foreach (var config in configs.OrderBy(c => c.Metadata.Name, StringComparer.Ordinal))
        {
            if (config.Spec.BackendPools.All(p => p.Name != key)) continue;
            status.Nodes.Add(config.Metadata.Name);
            if (config.Status?.Nginx is { } nginx && (nginx.State == NginxState.Failed || !string.IsNullOrEmpty(nginx.LastError)))
            {
                var error = nginx.LastError ?? "nginx failed";
                status.RejectedBy.Add(new NodeError { Node = config.Metadata.Name, Error = error.Length <= MaxErrorLength ? error : error[..MaxErrorLength] + "..." });
            }
        }

        Condition ready;
        if (referencedBy.Count == 0)
            ready = New(false, "NotReferenced", $"no VirtualIpGroup in namespace {pool.Metadata.NamespaceProperty} names this pool in spec.backendPoolRef, so nothing serves it");
        else if (missingSecrets.Count > 0)
            ready = New(false, GroupReasons.SecretMissing, $"Secret(s) not found: {string.Join(", ", missingSecrets)}");
        else if (status.Endpoints.Count == 0)
            ready = New(false, "NoEndpoints", $"Service {pool.Spec.Backends.Service?.Name} has no ready endpoints: nginx answers 503");
        else if (status.RejectedBy.Count > 0)
            ready = New(false, "NginxRejected", $"nginx refused the config on {string.Join("; ", status.RejectedBy.Select(r => $"{r.Node}: {r.Error}"))}");
        else if (status.Nodes.Count == 0)
            ready = New(false, "NotServed", $"no node carries it yet (groups: {string.Join(", ", referencedBy)})");
        else
            ready = New(true, "Served", $"served on {string.Join(", ", status.Nodes)} by {status.Endpoints.Count} upstream server(s)");
        ready.ObservedGeneration = pool.Metadata.Generation;
        var before = pool.Status?.Conditions.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
        ready.LastTransitionTime = before is not null && before.Status == ready.Status ? before.LastTransitionTime ?? now : now;
        status.Conditions.Add(ready);
        return status;
    }

    private static Condition New(bool value, string reason, string message) => new()
    {
        Type = ConditionTypes.Ready,
        Status = value ? ConditionStatus.True : ConditionStatus.False,
        Reason = reason,
        Message = message,
    };
}
