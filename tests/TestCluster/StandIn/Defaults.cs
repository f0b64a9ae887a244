using System.Text;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.StandIn;

/// <summary>The few defaults and conversions of the real server that clients rely on.</summary>
public static class Defaults
{
    static int _nextClusterIp = 1;

    public static void Apply(ResourceKind kind, JsonObject obj, JsonObject? previous)
    {
        switch (kind.Kind)
        {
            case "Secret":
                // stringData is write-only: merged into data (base64), as the real server does.
                if (obj["stringData"] is JsonObject stringData)
                {
                    var data = obj["data"] as JsonObject ?? new JsonObject();
                    foreach (var (key, value) in stringData)
                        data[key] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value?.GetValue<string>() ?? ""));
                    obj["data"] = data;
                    obj.Remove("stringData");
                }
                obj["type"] ??= "Opaque";
                break;
            case "Namespace":
                obj["status"] ??= new JsonObject();
                obj["status"]!["phase"] ??= "Active";
                break;
            case "Service":
                var spec = obj["spec"] as JsonObject ?? new JsonObject();
                obj["spec"] = spec;
                spec["type"] ??= "ClusterIP";
                spec["sessionAffinity"] ??= "None";
                if (spec["clusterIP"] is null && spec["type"]!.GetValue<string>() != "ExternalName")
                {
                    // The cluster IP never changes once given.
                    spec["clusterIP"] = previous?["spec"]?["clusterIP"]?.DeepClone()
                        ?? $"10.96.{(_nextClusterIp / 250) % 256}.{_nextClusterIp++ % 250 + 1}";
                    spec["clusterIPs"] = new JsonArray(spec["clusterIP"]!.DeepClone());
                }
                if (spec["ports"] is JsonArray ports)
                    foreach (var port in ports.OfType<JsonObject>())
                    {
                        port["protocol"] ??= "TCP";
                        port["targetPort"] ??= port["port"]?.DeepClone();
                    }
                obj["status"] ??= new JsonObject { ["loadBalancer"] = new JsonObject() };
                break;
            case "Deployment":
                if (obj["spec"] is JsonObject deploymentSpec) deploymentSpec["replicas"] ??= 1;
                break;
        }
    }
}
