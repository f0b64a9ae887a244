using static NginxHa.Core.Resources.Validation.FieldRules;

namespace NginxHa.Core.Resources.Validation;

/// <summary>The agent's check of the config it is handed (written by the operator or another tool).</summary>
public static class NodeHaConfigValidator
{
    public static IEnumerable<(string Path, string Message)> Validate(NodeHaConfig config)
    {
        var problems = new List<(string Path, string Message)>(MetadataValidator.Validate(config.Metadata, namespaced: false));
        var spec = config.Spec;
        if (spec.NodeName.Length == 0)
            problems.Add(("spec.nodeName", "is required"));
        else if (spec.NodeName != config.Metadata.Name)
            problems.Add(("spec.nodeName", $"{Quote(spec.NodeName)} must equal metadata.name {Quote(config.Metadata.Name)}"));

        var instanceNames = new Dictionary<string, int>();
        for (var i = 0; i < spec.VrrpInstances.Count; i++)
        {
            var path = $"spec.vrrpInstances[{i}]";
            var instance = spec.VrrpInstances[i];
            if (instance.Name.Length == 0) problems.Add(($"{path}.name", "is required"));
            else if (!instanceNames.TryAdd(instance.Name, i))
                problems.Add(($"{path}.name", $"{Quote(instance.Name)} is used twice (also spec.vrrpInstances[{instanceNames[instance.Name]}])"));
            CheckInstance(problems, path, instance);
        }
        CheckVirtualRouterIdsUnique(problems, spec.VrrpInstances);

        var poolNames = new Dictionary<string, int>();
        for (var i = 0; i < spec.BackendPools.Count; i++)
        {
            var path = $"spec.backendPools[{i}]";
            var pool = spec.BackendPools[i];
            if (!IsNamespacedName(pool.Name))
                problems.Add(($"{path}.name", $"{Quote(pool.Name)} must be \"namespace/name\""));
            else if (!poolNames.TryAdd(pool.Name, i))
                problems.Add(($"{path}.name", $"{Quote(pool.Name)} is listed twice (also spec.backendPools[{poolNames[pool.Name]}])"));
            // The pool spec's own paths start at "spec."; here that spec sits under backendPools[i].
            problems.AddRange(pool.Spec.Validate().Select(p => ($"{path}.{p.Path}", p.Message)));
        }
        return problems;
    }

    private static void CheckInstance(List<(string, string)> problems, string path, VrrpInstanceConfig instance)
    {
        var versionValid = instance.Version is 2 or 3;
        if (!versionValid) problems.Add(($"{path}.version", $"{instance.Version} must be 2 or 3"));
        if (instance.VirtualRouterId is < VirtualIpGroupValidator.MinVirtualRouterId or > VirtualIpGroupValidator.MaxVirtualRouterId)
            problems.Add(($"{path}.virtualRouterId", $"{instance.VirtualRouterId} is out of range 1..255"));
        if (instance.Priority is < 1 or > 255)
            problems.Add(($"{path}.priority", $"{instance.Priority} is out of range 1..255"));
        if (instance.Group.Length > 0 && !IsNamespacedName(instance.Group))
            problems.Add(($"{path}.group", $"{Quote(instance.Group)} must be \"namespace/name\""));
        if (instance.Interface is { } ifName && InterfaceName(ifName) is { } ifReason)
            problems.Add(($"{path}.interface", $"{Quote(ifName)} {ifReason}"));
        if (versionValid)
            VirtualIpGroupValidator.CheckAdvertisementInterval(problems, $"{path}.advertisementInterval", instance.AdvertisementInterval, instance.Version);
        VirtualIpGroupValidator.CheckPreemptDelay(problems, $"{path}.preemptDelay", instance.PreemptDelay);

        if (instance.VirtualIPs.Count == 0) problems.Add(($"{path}.virtualIPs", "at least one virtual IP is required"));
        bool? firstIsIPv6 = null;
        for (var j = 0; j < instance.VirtualIPs.Count; j++)
        {
            var text = instance.VirtualIPs[j] ?? "";
            if (!VirtualIp.TryParse(text, out var vip, out var reason))
                problems.Add(($"{path}.virtualIPs[{j}]", $"{Quote(text)} {reason}"));
            else if ((firstIsIPv6 ??= vip.IsIPv6) != vip.IsIPv6)
                problems.Add(($"{path}.virtualIPs[{j}]", $"{Quote(text)} is {vip.Family} but the instance's first virtual IP is not: an instance carries one address family"));
            else if (vip.IsIPv6 && instance.Version == 2)
                problems.Add(($"{path}.virtualIPs[{j}]", $"{Quote(text)} is IPv6, which VRRP version 2 (RFC 3768) does not support; use version 3"));
        }
        for (var j = 0; j < instance.UnicastPeers.Count; j++)
        {
            var text = instance.UnicastPeers[j] ?? "";
            if (!VirtualIp.TryParseAddress(text, out var peer))
                problems.Add(($"{path}.unicastPeers[{j}]", $"{Quote(text)} is not an IP address"));
            else if (firstIsIPv6 is { } ipv6 && (peer.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) != ipv6)
                problems.Add(($"{path}.unicastPeers[{j}]", $"{Quote(text)} is not of the virtual IPs' address family"));
        }

        if (instance.AuthSecretRef is not null || instance.AuthPasswordFile is not null)
        {
            if (instance.Version != 2)
                problems.Add(($"{path}.{(instance.AuthSecretRef is not null ? "authSecretRef" : "authPasswordFile")}",
                    "authentication is only supported with VRRP version 2"));
            if (instance.AuthSecretRef is not null && instance.AuthPasswordFile is not null)
                problems.Add(($"{path}.authPasswordFile", "set either authSecretRef or authPasswordFile, not both"));
        }
        if (instance.AuthSecretRef is { } secret)
        {
            if (NamespaceName(secret.Namespace) is { } r1) problems.Add(($"{path}.authSecretRef.namespace", $"{Quote(secret.Namespace)} {r1}"));
            if (ObjectName(secret.Name) is { } r2) problems.Add(($"{path}.authSecretRef.name", $"{Quote(secret.Name)} {r2}"));
            if (SecretKeyName(secret.Key) is { } r3) problems.Add(($"{path}.authSecretRef.key", $"{Quote(secret.Key)} {r3}"));
        }
        if (instance.AuthPasswordFile is { } file && AbsolutePath(file) is { } fileReason)
            problems.Add(($"{path}.authPasswordFile", $"{Quote(file)} {fileReason}"));
    }

    /// <summary>Two instances on one interface and family with one VRID would be one virtual router.</summary>
    private static void CheckVirtualRouterIdsUnique(List<(string, string)> problems, List<VrrpInstanceConfig> instances)
    {
        var seen = new Dictionary<(string, bool, int), int>();
        for (var i = 0; i < instances.Count; i++)
        {
            var instance = instances[i];
            var isIPv6 = instance.VirtualIPs.Count > 0 && VirtualIp.TryParse(instance.VirtualIPs[0], out var vip, out _) && vip.IsIPv6;
            var key = (instance.Interface ?? "", isIPv6, instance.VirtualRouterId);
            if (!seen.TryAdd(key, i))
                problems.Add(($"spec.vrrpInstances[{i}].virtualRouterId",
                    $"{instance.VirtualRouterId} is also used by spec.vrrpInstances[{seen[key]}] on the same interface and address family"));
        }
    }

    private static bool IsNamespacedName(string text)
    {
        var parts = text.Split('/');
        return parts.Length == 2 && NamespaceName(parts[0]) is null && ObjectName(parts[1]) is null;
    }

    internal static string JoinPath(string prefix, string path) =>
        path.Length == 0 ? prefix : path.StartsWith('[') ? prefix + path : prefix + "." + path;
}
