using static NginxHa.Core.Resources.Validation.FieldRules;

namespace NginxHa.Core.Resources.Validation;

/// <summary>Checks one VirtualIpGroup on its own; references to other objects are checked by the loader and planner.</summary>
public static class VirtualIpGroupValidator
{
    public const int MinVirtualRouterId = 1;
    public const int MaxVirtualRouterId = 255;

    /// <summary>The advert's Count IPvX Addr field is one byte.</summary>
    public const int MaxAddressesPerInstance = 255;

    public static IEnumerable<(string Path, string Message)> Validate(VirtualIpGroup group)
    {
        var problems = new List<(string Path, string Message)>(MetadataValidator.Validate(group.Metadata, namespaced: true));
        var spec = group.Spec;
        var vrrp = spec.Vrrp;
        var versionValid = vrrp.Version is 2 or 3;
        if (!versionValid)
            problems.Add(("spec.vrrp.version", $"{vrrp.Version} must be 2 or 3"));

        var addresses = CheckVirtualIps(problems, spec, vrrp.Version);
        CheckVirtualRouterIds(problems, spec, addresses);

        if (spec.Interface is { } ifName && InterfaceName(ifName) is { } ifReason)
            problems.Add(("spec.interface", $"{Quote(ifName)} {ifReason}"));

        CheckLabels(problems, "spec.nodeSelector.matchLabels", spec.NodeSelector.MatchLabels);

        if (spec.BackendPoolRef is { } poolName && ObjectName(poolName) is { } poolReason)
            problems.Add(("spec.backendPoolRef", $"{Quote(poolName)} {poolReason}"));

        if (versionValid)
            CheckAdvertisementInterval(problems, "spec.vrrp.advertisementInterval", vrrp.AdvertisementInterval, vrrp.Version);
        CheckPreemptDelay(problems, "spec.vrrp.preemptDelay", vrrp.PreemptDelay);
        CheckAuthentication(problems, vrrp);
        return problems;
    }

    /// <summary>Returns the parsed addresses by index (null where invalid) for the checks that follow.</summary>
    private static VirtualIp?[] CheckVirtualIps(List<(string, string)> problems, VirtualIpGroupSpec spec, int version)
    {
        var parsed = new VirtualIp?[spec.VirtualIPs.Count];
        if (spec.VirtualIPs.Count == 0)
        {
            problems.Add(("spec.virtualIPs", "at least one virtual IP is required"));
            return parsed;
        }

        var firstIndexByAddress = new Dictionary<System.Net.IPAddress, int>();
        for (var i = 0; i < spec.VirtualIPs.Count; i++)
        {
            var path = $"spec.virtualIPs[{i}]";
            var text = spec.VirtualIPs[i] ?? "";
            if (!VirtualIp.TryParse(text, out var vip, out var reason))
            {
                problems.Add((path, $"{Quote(text)} {reason}"));
                continue;
            }
            if (!firstIndexByAddress.TryAdd(vip.Address, i))
            {
                problems.Add((path, $"{Quote(text)} is listed twice (also spec.virtualIPs[{firstIndexByAddress[vip.Address]}])"));
                continue;
            }
            if (vip.IsIPv6 && version == 2)
            {
                problems.Add((path, $"{Quote(text)} is IPv6, which VRRP version 2 (RFC 3768) does not support; use version 3"));
                continue;
            }
            parsed[i] = vip;
        }

        if (spec.Mode == VirtualIpGroupMode.ActivePassive && spec.VirtualIPs.Count > MaxAddressesPerInstance)
            problems.Add(("spec.virtualIPs", $"lists {spec.VirtualIPs.Count} addresses but an ActivePassive group is one VRRP instance, " +
                $"whose advert carries at most {MaxAddressesPerInstance} (its 8-bit address count, RFC 5798 section 5.2.6): " +
                "split them over several groups"));

        if (spec.Mode == VirtualIpGroupMode.ActivePassive)
        {
            // One instance carries every VIP, and a VRRP instance is either IPv4 or IPv6 (RFC 5798 section 5.2.9).
            var firstIndex = Array.FindIndex(parsed, v => v is not null);
            for (var i = firstIndex + 1; firstIndex >= 0 && i < parsed.Length; i++)
            {
                if (parsed[i] is { } vip && vip.IsIPv6 != parsed[firstIndex]!.Value.IsIPv6)
                    problems.Add(($"spec.virtualIPs[{i}]",
                        $"{Quote(spec.VirtualIPs[i])} is {vip.Family} but spec.virtualIPs[{firstIndex}] is {parsed[firstIndex]!.Value.Family}: " +
                        "an ActivePassive group is one VRRP instance and an instance carries one address family " +
                        "(use one group per family, or ActiveActive)"));
            }
        }
        return parsed;
    }

    private static void CheckVirtualRouterIds(List<(string, string)> problems, VirtualIpGroupSpec spec, VirtualIp?[] addresses)
    {
        if (spec.VirtualRouterIds is not { Count: > 0 } ids) return;

        var instances = InstanceCount(spec);
        if (ids.Count != instances)
            problems.Add(("spec.virtualRouterIds", spec.Mode == VirtualIpGroupMode.ActivePassive
                ? $"lists {ids.Count} IDs but an ActivePassive group is 1 VRRP instance: give exactly one"
                : $"lists {ids.Count} IDs but this ActiveActive group has {instances} VRRP instances (one per virtual IP): give one ID per virtual IP"));

        var firstIndexById = new Dictionary<int, int>();
        for (var i = 0; i < ids.Count; i++)
        {
            var path = $"spec.virtualRouterIds[{i}]";
            if (ids[i] is < MinVirtualRouterId or > MaxVirtualRouterId)
                problems.Add((path, $"{ids[i]} is out of range {MinVirtualRouterId}..{MaxVirtualRouterId}"));
            else if (!firstIndexById.TryAdd(ids[i], i))
                problems.Add((path, $"{ids[i]} is listed twice (also spec.virtualRouterIds[{firstIndexById[ids[i]]}])"));
        }
    }

    public static int InstanceCount(VirtualIpGroupSpec spec) =>
        spec.Mode == VirtualIpGroupMode.ActivePassive ? 1 : spec.VirtualIPs.Count;

    internal static void CheckAdvertisementInterval(ICollection<(string, string)> problems, string path, string text, int version)
    {
        if (!Duration.TryParse(text, out var interval, out var reason))
        {
            problems.Add((path, $"{Quote(text)} {reason}"));
            return;
        }
        var milliseconds = (long)interval.TotalMilliseconds;
        if (version == 2)
        {
            // RFC 3768 section 5.3.7: Adver Int is an 8-bit count of seconds.
            if (milliseconds % 1000 != 0)
                problems.Add((path, $"{Quote(text)} must be whole seconds for VRRP version 2"));
            else if (milliseconds is < 1000 or > 255_000)
                problems.Add((path, $"{Quote(text)} must be 1s..255s for VRRP version 2"));
        }
        else
        {
            // RFC 5798 section 5.2.7: Max Adver Int is a 12-bit count of centiseconds.
            if (milliseconds % 10 != 0)
                problems.Add((path, $"{Quote(text)} must be a multiple of 10ms for VRRP version 3"));
            else if (milliseconds is < 10 or > 40_950)
                problems.Add((path, $"{Quote(text)} must be 10ms..40950ms for VRRP version 3"));
        }
    }

    /// <summary>keepalived accepts preempt_delay up to 1000 s; we keep the same bound so configs port both ways.</summary>
    internal static void CheckPreemptDelay(ICollection<(string, string)> problems, string path, string text)
    {
        if (!Duration.TryParse(text, out var delay, out var reason))
            problems.Add((path, $"{Quote(text)} {reason}"));
        else if (delay > TimeSpan.FromSeconds(1000))
            problems.Add((path, $"{Quote(text)} must be at most 1000s"));
    }

    private static void CheckAuthentication(List<(string, string)> problems, VrrpSettings vrrp)
    {
        if (vrrp.AuthSecretRef is null && vrrp.AuthPasswordFile is null) return;
        if (vrrp.Version != 2)
        {
            // RFC 5798 removed authentication; only RFC 3768 simple-text (keepalived auth_type PASS) exists.
            var field = vrrp.AuthSecretRef is not null ? "spec.vrrp.authSecretRef" : "spec.vrrp.authPasswordFile";
            problems.Add((field, "authentication is only supported with VRRP version 2"));
        }
        if (vrrp.AuthSecretRef is not null && vrrp.AuthPasswordFile is not null)
            problems.Add(("spec.vrrp.authPasswordFile", "set either authSecretRef or authPasswordFile, not both"));

        if (vrrp.AuthSecretRef is { } secret)
        {
            if (secret.Name.Length == 0) problems.Add(("spec.vrrp.authSecretRef.name", "is required"));
            else if (ObjectName(secret.Name) is { } reason) problems.Add(("spec.vrrp.authSecretRef.name", $"{Quote(secret.Name)} {reason}"));
            if (secret.Key.Length == 0) problems.Add(("spec.vrrp.authSecretRef.key", "is required"));
            else if (SecretKeyName(secret.Key) is { } reason) problems.Add(("spec.vrrp.authSecretRef.key", $"{Quote(secret.Key)} {reason}"));
        }
        if (vrrp.AuthPasswordFile is { } file && AbsolutePath(file) is { } fileReason)
            problems.Add(("spec.vrrp.authPasswordFile", $"{Quote(file)} {fileReason}"));
    }
}
