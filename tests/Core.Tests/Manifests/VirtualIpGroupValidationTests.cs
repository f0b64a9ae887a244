using NginxHa.Core.Manifests;

namespace NginxHa.Core.Tests.Manifests;

/// <summary>Bad VirtualIpGroup manifests and the exact message each gets (through the loader, so with file:line).</summary>
public class VirtualIpGroupValidationTests
{
    private static string[] Load(string spec)
    {
        var yaml = "apiVersion: nginx-ha.io/v1alpha1\nkind: VirtualIpGroup\nmetadata: {name: web, namespace: edge}\nspec:\n" + spec;
        return ManifestLoader.LoadText("web.yaml", yaml).Errors.Select(e => e.ToString()).ToArray();
    }

    private const string At = "VirtualIpGroup edge/web: ";

    [Theory]
    [InlineData("  virtualIPs: [198.18.0.300]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"198.18.0.300\" is not an IP address")]
    [InlineData("  virtualIPs: [\"198.18.0\"]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"198.18.0\" is not an IP address")]
    [InlineData("  virtualIPs: [\"fe80::1%eth0\"]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"fe80::1%eth0\" is not an IP address")]
    [InlineData("  virtualIPs: [198.18.0.1/33]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"198.18.0.1/33\" has prefix length 33, which must be 1..32 for IPv4")]
    [InlineData("  virtualIPs: [\"fd00::1/0\"]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"fd00::1/0\" has prefix length 0, which must be 1..128 for IPv6")]
    [InlineData("  virtualIPs: [198.18.0.1/x]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"198.18.0.1/x\" has a prefix length that is not a number")]
    [InlineData("  virtualIPs: [224.0.0.18]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"224.0.0.18\" is a multicast address")]
    [InlineData("  virtualIPs: [0.0.0.0]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"0.0.0.0\" is the unspecified address")]
    [InlineData("  virtualIPs: [127.0.0.5]", "web.yaml:5: " + At + "spec.virtualIPs[0]: \"127.0.0.5\" is a loopback address")]
    [InlineData("  virtualIPs: []", "web.yaml:5: " + At + "spec.virtualIPs: at least one virtual IP is required")]
    [InlineData("  mode: ActiveActive", "web.yaml:5: " + At + "spec.virtualIPs: at least one virtual IP is required")]
    [InlineData("  virtualIPs: [198.18.0.1, 198.18.0.1/24]", "web.yaml:5: " + At + "spec.virtualIPs[1]: \"198.18.0.1/24\" is listed twice (also spec.virtualIPs[0])")]
    [InlineData("  virtualIPs: [198.18.0.1, \"fd00::1\"]",
        "web.yaml:5: " + At + "spec.virtualIPs[1]: \"fd00::1\" is IPv6 but spec.virtualIPs[0] is IPv4: an ActivePassive group is one VRRP instance and an instance carries one address family (use one group per family, or ActiveActive)")]
    [InlineData("  virtualIPs: [\"fd00::1\"]\n  vrrp: {version: 2}",
        "web.yaml:5: " + At + "spec.virtualIPs[0]: \"fd00::1\" is IPv6, which VRRP version 2 (RFC 3768) does not support; use version 3")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp: {version: 4}", "web.yaml:6: " + At + "spec.vrrp.version: 4 must be 2 or 3")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp: {version: 2, advertisementInterval: 1.5s}",
        "web.yaml:6: " + At + "spec.vrrp.advertisementInterval: \"1.5s\" must be whole seconds for VRRP version 2")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp: {version: 2, advertisementInterval: 300s}",
        "web.yaml:6: " + At + "spec.vrrp.advertisementInterval: \"300s\" must be 1s..255s for VRRP version 2")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp: {advertisementInterval: 15ms}",
        "web.yaml:6: " + At + "spec.vrrp.advertisementInterval: \"15ms\" must be a multiple of 10ms for VRRP version 3")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp: {advertisementInterval: 41s}",
        "web.yaml:6: " + At + "spec.vrrp.advertisementInterval: \"41s\" must be 10ms..40950ms for VRRP version 3")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp: {advertisementInterval: \"1\"}",
        "web.yaml:6: " + At + "spec.vrrp.advertisementInterval: \"1\" is not a duration: a number needs a unit (h, m, s or ms), e.g. 1s or 100ms")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp: {preemptDelay: 2h}", "web.yaml:6: " + At + "spec.vrrp.preemptDelay: \"2h\" must be at most 1000s")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp:\n    authSecretRef: {name: vrrp, key: password}",
        "web.yaml:7: " + At + "spec.vrrp.authSecretRef: authentication is only supported with VRRP version 2")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp:\n    authPasswordFile: /etc/nginx-ha/vrrp-pass",
        "web.yaml:7: " + At + "spec.vrrp.authPasswordFile: authentication is only supported with VRRP version 2")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp:\n    version: 2\n    authPasswordFile: vrrp-pass",
        "web.yaml:8: " + At + "spec.vrrp.authPasswordFile: \"vrrp-pass\" must be an absolute file path")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  vrrp:\n    version: 2\n    authSecretRef: {name: vrrp}",
        "web.yaml:8: " + At + "spec.vrrp.authSecretRef.key: is required")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  virtualRouterIds: [0]", "web.yaml:6: " + At + "spec.virtualRouterIds[0]: 0 is out of range 1..255")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  virtualRouterIds: [256]", "web.yaml:6: " + At + "spec.virtualRouterIds[0]: 256 is out of range 1..255")]
    [InlineData("  virtualIPs: [198.18.0.1, 198.18.0.2]\n  virtualRouterIds: [51, 52]",
        "web.yaml:6: " + At + "spec.virtualRouterIds: lists 2 IDs but an ActivePassive group is 1 VRRP instance: give exactly one")]
    [InlineData("  mode: ActiveActive\n  virtualIPs: [198.18.0.1, 198.18.0.2]\n  virtualRouterIds: [51]",
        "web.yaml:7: " + At + "spec.virtualRouterIds: lists 1 IDs but this ActiveActive group has 2 VRRP instances (one per virtual IP): give one ID per virtual IP")]
    [InlineData("  mode: ActiveActive\n  virtualIPs: [198.18.0.1, 198.18.0.2]\n  virtualRouterIds: [51, 51]",
        "web.yaml:7: " + At + "spec.virtualRouterIds[1]: 51 is listed twice (also spec.virtualRouterIds[0])")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  interface: eth0.100.extra-long", "web.yaml:6: " + At + "spec.interface: \"eth0.100.extra-long\" is not a valid interface name (1-15 characters, no '/', ':' or whitespace)")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  backendPoolRef: Web_Pool",
        "web.yaml:6: " + At + "spec.backendPoolRef: \"Web_Pool\" must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', starting and ending alphanumeric)")]
    [InlineData("  virtualIPs: [198.18.0.1]\n  nodeSelector:\n    matchLabels: {role: \"edge node\"}",
        "web.yaml:7: " + At + "spec.nodeSelector.matchLabels[\"role\"]: \"edge node\" is not a valid label value (at most 63 of A-Z, a-z, 0-9, '-', '_', '.', alphanumeric at both ends)")]
    public void EachBadFieldGetsItsPathValueAndReason(string spec, string expected)
    {
        Assert.Equal([expected], Load(spec));
    }

    [Fact]
    public void AllErrorsOfADocumentAreCollected()
    {
        const string spec = """
              mode: ActiveActive
              virtualIPs: [198.18.0.300, "fd00::1", 198.18.0.2/40]
              virtualRouterIds: [0, 300, 5]
              vrrp:
                version: 2
                advertisementInterval: 1.5s
            """;

        Assert.Equal(
        [
            "web.yaml:6: " + At + "spec.virtualIPs[0]: \"198.18.0.300\" is not an IP address",
            "web.yaml:6: " + At + "spec.virtualIPs[1]: \"fd00::1\" is IPv6, which VRRP version 2 (RFC 3768) does not support; use version 3",
            "web.yaml:6: " + At + "spec.virtualIPs[2]: \"198.18.0.2/40\" has prefix length 40, which must be 1..32 for IPv4",
            "web.yaml:7: " + At + "spec.virtualRouterIds[0]: 0 is out of range 1..255",
            "web.yaml:7: " + At + "spec.virtualRouterIds[1]: 300 is out of range 1..255",
            "web.yaml:10: " + At + "spec.vrrp.advertisementInterval: \"1.5s\" must be whole seconds for VRRP version 2",
        ], Load(spec));
    }

    [Fact]
    public void ActiveActiveMayMixFamiliesBecauseEachVipIsItsOwnInstance()
    {
        Assert.Empty(Load("  mode: ActiveActive\n  virtualIPs: [198.18.0.1, \"fd00::1/64\"]"));
    }

    [Fact]
    public void VersionTwoWithPasswordAndWholeSecondsIsValid()
    {
        Assert.Empty(Load("  virtualIPs: [198.18.0.1]\n  vrrp:\n    version: 2\n    advertisementInterval: 2s\n    authSecretRef: {name: vrrp, key: pass.word}"));
    }

    [Fact]
    public void BothPasswordSourcesAreRejected()
    {
        Assert.Equal(
            ["web.yaml:8: " + At + "spec.vrrp.authPasswordFile: set either authSecretRef or authPasswordFile, not both"],
            Load("  virtualIPs: [198.18.0.1]\n  vrrp:\n    version: 2\n    authPasswordFile: /run/pass\n    authSecretRef: {name: vrrp, key: password}"));
    }

    [Fact]
    public void BadMetadataIsReported()
    {
        var yaml = "apiVersion: nginx-ha.io/v1alpha1\nkind: VirtualIpGroup\nmetadata:\n  name: web\n  namespace: Edge_1\n  labels: {\"-bad\": x}\nspec: {virtualIPs: [198.18.0.1]}\n";

        Assert.Equal(
        [
            "web.yaml:5: VirtualIpGroup Edge_1/web: metadata.namespace: \"Edge_1\" must be a lowercase RFC 1123 label (a-z, 0-9 and '-', starting and ending alphanumeric)",
            "web.yaml:6: VirtualIpGroup Edge_1/web: metadata.labels: key \"-bad\" is not a valid label key (at most 63 of A-Z, a-z, 0-9, '-', '_', '.', alphanumeric at both ends, optional DNS prefix and '/')",
        ], ManifestLoader.LoadText("web.yaml", yaml).Errors.Select(e => e.ToString()));
    }
}
