using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Node;

/// <summary>The local nginx as the reconciler sees it: <see cref="NginxSupervisor"/> in production.</summary>
public interface INginxConfigTarget
{
    NginxHealth Current { get; }

    /// <summary>Raised on every health change, in order; handlers must be quick (they only post to speakers).</summary>
    event Action<NginxHealth>? HealthChanged;

    /// <summary>The master exited: raised at once, before the health change that follows it.</summary>
    event Action? MasterExited;

    /// <summary>Validates (nginx -t) and applies a rendered config; a rejected one leaves the running config serving.</summary>
    Task<ConfigApplyResult> ApplyAsync(string renderedConfig, CancellationToken cancellationToken);
}
