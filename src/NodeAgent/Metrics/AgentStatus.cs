using System.Text.Json;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>The node's state as JSON (the /status endpoint) and as the table `nginx-ha-agent status` prints.</summary>
public static class AgentStatus
{
    public static void Write(Utf8JsonWriter json, string node, AgentMetrics metrics)
    {
        json.WriteStartObject();
        json.WriteString("node", node);
        json.WriteStartArray("instances");
        foreach (var i in metrics.Instances.OrderBy(i => i.Name, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString("name", i.Name);
            json.WriteNumber("vrid", i.VirtualRouterId);
            json.WriteString("interface", i.Interface);
            json.WriteString("state", TransitionReasons.Label(i.State));
            json.WriteNumber("priority", i.EffectivePriority);
            json.WriteString("master", i.State == VrrpState.Master ? "self" : i.Master?.ToString() ?? "");
            json.WriteNumber("vipsBound", i.VipsBound);
            json.WriteNumber("secondsSinceTransition", Math.Round(i.SinceLastTransition.TotalSeconds, 1));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (metrics.Nginx.Supervised)
        {
            json.WriteStartObject("nginx");
            json.WriteString("health", metrics.Nginx.Health.ToString().ToLowerInvariant());
            json.WriteNumber("restarts", metrics.Nginx.Restarts);
            json.WriteString("configHash", metrics.Nginx.ConfigHash ?? "");
            json.WriteEndObject();
        }
        json.WriteEndObject();
    }
}
