using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>
/// A listener bound to a specific VIP must start on a node that does not hold that VIP (the backup), which Linux
/// refuses unless non-local binds are allowed. So when a listener names one of the node's VIPs, the agent sets
/// net.ipv4.ip_nonlocal_bind (or net.ipv6.ip_nonlocal_bind) to 1 in its network namespace (nginx's too), and says so.
/// </summary>
public static class NonLocalBind
{
    public sealed record Need(string Family, string Listener);

    /// <summary>Pure: the listeners that bind one of this node's VIPs, with the family each needs.</summary>
    public static IReadOnlyList<Need> Needed(NodeHaConfig config)
    {
        var vips = config.Spec.VrrpInstances.SelectMany(i => i.VirtualIPs)
            .Select(v => VirtualIp.TryParse(v, out var vip, out _) ? vip.Address : null).OfType<System.Net.IPAddress>().ToHashSet();
        return config.Spec.BackendPools
            .SelectMany(p => p.Spec.Listeners.Select(l => (Pool: p.Name, Listener: l)))
            .Where(x => x.Listener.Address is { } a && VirtualIp.TryParseAddress(a, out var address) && vips.Contains(address))
            .Select(x =>
            {
                VirtualIp.TryParseAddress(x.Listener.Address!, out var address);
                var v6 = address!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
                return new Need(v6 ? "ipv6" : "ipv4", $"{x.Pool}: {(v6 ? $"[{address}]" : address)}:{x.Listener.Port}");
            })
            .ToList();
    }

    /// <summary>Sets the sysctl each needed family lacks; every change and failure is one log line.</summary>
    public static void Ensure(NodeHaConfig config, Action<string> log, string procSys = "/proc/sys")
    {
        foreach (var family in Needed(config).GroupBy(n => n.Family))
        {
            var path = Path.Combine(procSys, "net", family.Key, "ip_nonlocal_bind");
            var listeners = string.Join(", ", family.Select(n => n.Listener));
            try
            {
                if (File.ReadAllText(path).Trim() == "1") continue;
                File.WriteAllText(path, "1\n");
                log($"set net.{family.Key}.ip_nonlocal_bind=1 in this network namespace: listener {listeners} binds a VIP this node may not hold");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log($"warning: listener {listeners} binds a VIP, but net.{family.Key}.ip_nonlocal_bind could not be set ({e.Message}): " +
                    "nginx cannot start while this node does not hold the VIP; set it, or leave listeners[].address unset");
            }
        }
    }
}
