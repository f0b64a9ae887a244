using NginxHa.Core.Resources;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// The optional external-dns DNSEndpoint of a VirtualIpGroup (externaldns.k8s.io/v1alpha1): one A and one AAAA
/// record under the name the group's annotation gives, listing the VIPs that have a MASTER, so the public DNS
/// round-robin of seed 000 follows the VIPs. Pure: the reconciler writes what <see cref="Desired"/> returns.
/// </summary>
public static class DnsEndpoints
{
    public const string Group = "externaldns.k8s.io";
    public const string Version = "v1alpha1";
    public const string Plural = "dnsendpoints";
    public const string NameAnnotation = "nginx-ha.io/dns-name";
    public const string TtlAnnotation = "nginx-ha.io/dns-ttl";
    public const long DefaultTtl = 30;

    public sealed record Endpoint(string DnsName, string RecordType, long RecordTTL, List<string> Targets);

    /// <summary>The records for the group, or null when it asks for none (no annotation).</summary>
    public static IReadOnlyList<Endpoint>? Desired(VirtualIpGroupResource group, VirtualIpGroupStatus status)
    {
        if (group.Metadata.Annotations?.TryGetValue(NameAnnotation, out var name) != true || string.IsNullOrWhiteSpace(name)) return null;
        var ttl = group.Metadata.Annotations.TryGetValue(TtlAnnotation, out var text) && long.TryParse(text, out var parsed) && parsed > 0 ? parsed : DefaultTtl;
        var served = status.VirtualIPs.Where(v => v.MasterNode is not null).Select(v => v.Address).ToList();
        var records = new List<Endpoint>();
        foreach (var (type, v6) in new[] { ("A", false), ("AAAA", true) })
        {
            var targets = served.Where(a => a.Contains(':') == v6).Order(StringComparer.Ordinal).ToList();
            if (targets.Count > 0) records.Add(new Endpoint(name!.Trim(), type, ttl, targets));
        }
        return records;
    }
}
