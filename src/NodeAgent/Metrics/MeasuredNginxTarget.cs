using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Node;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>The local nginx as the reconciler sees it, with every applied config counted (reloads by result, hash, rejections).</summary>
public sealed class MeasuredNginxTarget(INginxConfigTarget inner, NginxMetrics metrics) : INginxConfigTarget
{
    public NginxHealth Current => inner.Current;

    public event Action<NginxHealth>? HealthChanged
    {
        add => inner.HealthChanged += value;
        remove => inner.HealthChanged -= value;
    }

    public event Action? MasterExited
    {
        add => inner.MasterExited += value;
        remove => inner.MasterExited -= value;
    }

    public async Task<ConfigApplyResult> ApplyAsync(string renderedConfig, CancellationToken cancellationToken)
    {
        var result = await inner.ApplyAsync(renderedConfig, cancellationToken).ConfigureAwait(false);
        metrics.Applied(renderedConfig, result);
        return result;
    }
}
