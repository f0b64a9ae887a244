using NginxHa.Core.Manifests;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Manifests;

public class NodeAndNodeHaConfigValidationTests
{
    [Fact]
    public void NodeAddressesAreChecked()
    {
        const string yaml = """
            apiVersion: v1
            kind: Node
            metadata: {name: lb1}
            status:
              addresses:
                - {type: InternalIP, address: 198.18.0.256}
                - {type: InternalIp, address: 198.18.0.1}
                - {type: Hostname, address: lb1.example}
            """;

        Assert.Equal(
        [
            "n.yaml:6: Node lb1: status.addresses[0].address: \"198.18.0.256\" is not an IP address",
            "n.yaml:7: Node lb1: status.addresses[1].type: \"InternalIp\" must be one of InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS",
        ], ManifestLoader.LoadText("n.yaml", yaml).Errors.Select(e => e.ToString()));
    }

    private static NodeHaConfig ValidConfig()
    {
        var config = new NodeHaConfig { Metadata = new ObjectMeta { Name = "lb1" } };
        config.Spec.NodeName = "lb1";
        config.Spec.VrrpInstances.Add(new VrrpInstanceConfig
        {
            Name = "edge/web/0", Group = "edge/web", VirtualRouterId = 51, Priority = 254, VirtualIPs = ["198.18.1.8/24"],
        });
        return config;
    }

    private static string[] Problems(NodeHaConfig config) =>
        ((IValidatable)config).Validate().Select(p => $"{p.Path}: {p.Message}").ToArray();

    [Fact]
    public void AValidConfigHasNoProblems() => Assert.Empty(Problems(ValidConfig()));

    [Fact]
    public void EveryInstanceFieldIsChecked()
    {
        var config = ValidConfig();
        config.Spec.NodeName = "lb2";
        config.Spec.VrrpInstances.Add(new VrrpInstanceConfig
        {
            Name = "edge/web/0", Group = "web", Version = 3, VirtualRouterId = 0, Priority = 0, AdvertisementInterval = "5ms",
            VirtualIPs = ["198.18.1.9", "fd00::9"], UnicastPeers = ["fd00::2", "nope"],
            AuthSecretRef = new NamespacedSecretKeySelector { Namespace = "edge", Name = "vrrp", Key = "password" },
        });
        config.Spec.BackendPools.Add(new BackendPoolConfig { Name = "web" });

        Assert.Equal(
        [
            "spec.nodeName: \"lb2\" must equal metadata.name \"lb1\"",
            "spec.vrrpInstances[1].name: \"edge/web/0\" is used twice (also spec.vrrpInstances[0])",
            "spec.vrrpInstances[1].virtualRouterId: 0 is out of range 1..255",
            "spec.vrrpInstances[1].priority: 0 is out of range 1..255",
            "spec.vrrpInstances[1].group: \"web\" must be \"namespace/name\"",
            "spec.vrrpInstances[1].advertisementInterval: \"5ms\" must be a multiple of 10ms for VRRP version 3",
            "spec.vrrpInstances[1].virtualIPs[1]: \"fd00::9\" is IPv6 but the instance's first virtual IP is not: an instance carries one address family",
            "spec.vrrpInstances[1].unicastPeers[0]: \"fd00::2\" is not of the virtual IPs' address family",
            "spec.vrrpInstances[1].unicastPeers[1]: \"nope\" is not an IP address",
            "spec.vrrpInstances[1].authSecretRef: authentication is only supported with VRRP version 2",
            "spec.backendPools[0].name: \"web\" must be \"namespace/name\"",
            "spec.backendPools[0].spec.backends: set servers or service",
        ], Problems(config));
    }

    [Fact]
    public void TwoInstancesWithOneVridOnOneInterfaceAreRejected()
    {
        var config = ValidConfig();
        config.Spec.VrrpInstances.Add(new VrrpInstanceConfig
        {
            Name = "edge/api/0", Group = "edge/api", VirtualRouterId = 51, Priority = 253, VirtualIPs = ["198.18.1.20"],
        });

        Assert.Equal(["spec.vrrpInstances[1].virtualRouterId: 51 is also used by spec.vrrpInstances[0] on the same interface and address family"],
            Problems(config));
    }
}
