using System.Globalization;
using System.Text;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>An upstream server of the pool as the manifest lists it.</summary>
public sealed record PoolServer(string Address, int Port, int? Weight = null);

/// <summary>
/// Seed 000 (dual master) as the manifests a user writes for standalone mode, on the lab's addresses: two Nodes,
/// one NginxBackendPool "edge/web" listening on port 80, one ActiveActive VirtualIpGroup with two VIPs, VRRPv3 at
/// 100 ms. Only the pool's servers vary, which is what the reload tests change.
/// </summary>
public static class SeedManifest
{
    public const string Namespace = "edge";
    public const string Name = "web";
    public const int ListenPort = 80;
    public const string AdvertisementInterval = "100ms";
    public static readonly TimeSpan Advertisement = TimeSpan.FromMilliseconds(100);

    /// <summary>The seed's VRRP settings: v3 at 100 ms.</summary>
    public static readonly string DefaultVrrp = $"{{version: 3, advertisementInterval: {AdvertisementInterval}}}";

    /// <summary>The seed's VRRP settings without preemption (keepalived's nopreempt): a master keeps its VIP when a
    /// higher-priority router comes back.</summary>
    public static readonly string NoPreemptVrrp = $"{{version: 3, advertisementInterval: {AdvertisementInterval}, preempt: false}}";

    /// <summary>VRRPv2 with PASS authentication from <paramref name="passwordFile"/> (v2 intervals are whole seconds).</summary>
    public static string V2PassVrrp(string passwordFile) => $"{{version: 2, advertisementInterval: 1s, authPasswordFile: {passwordFile}}}";

    public static string Render(IReadOnlyList<(string Name, string Address)> nodes, IReadOnlyList<string> virtualIPs, IReadOnlyList<PoolServer> servers,
        string? vrrp = null)
    {
        var text = new StringBuilder();
        foreach (var (name, address) in nodes)
        {
            text.Append(CultureInfo.InvariantCulture, $"""
                apiVersion: v1
                kind: Node
                metadata:
                  name: {name}
                  labels:
                    role: edge
                status:
                  addresses:
                    - type: InternalIP
                      address: {address}
                ---

                """);
        }
        text.Append(CultureInfo.InvariantCulture, $"""
            apiVersion: nginx-ha.io/v1alpha1
            kind: NginxBackendPool
            metadata:
              name: {Name}
              namespace: {Namespace}
            spec:
              listeners:
                - port: {ListenPort}
              backends:
                servers:

            """);
        foreach (var server in servers)
        {
            text.Append(CultureInfo.InvariantCulture, $"      - address: \"{server.Address}\"\n        port: {server.Port}\n");
            if (server.Weight is { } weight) text.Append(CultureInfo.InvariantCulture, $"        weight: {weight}\n");
        }
        text.Append(CultureInfo.InvariantCulture, $"""
            ---
            apiVersion: nginx-ha.io/v1alpha1
            kind: VirtualIpGroup
            metadata:
              name: {Name}
              namespace: {Namespace}
            spec:
              mode: ActiveActive
              virtualIPs: [{string.Join(", ", virtualIPs)}]
              nodeSelector:
                matchLabels:
                  role: edge
              interface: eth0
              virtualRouterIds: [51, 52]
              vrrp: {vrrp ?? DefaultVrrp}
              backendPoolRef: {Name}

            """);
        return text.ToString();
    }

    /// <summary>Replaces the file by rename, as editors and config management do, so the agent never reads half a file.</summary>
    public static void WriteAtomically(string path, string content)
    {
        string temporary = path + ".new";
        File.WriteAllText(temporary, content);
        File.Move(temporary, path, overwrite: true);
    }
}
