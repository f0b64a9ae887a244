using NginxHa.Core.Manifests;

namespace NginxHa.Core.Tests.Hardening;

/// <summary>Issue 12, section 0, items 3 and 7: VIPs a router cannot carry are refused with the field and the reason.</summary>
public class VipAddressRulesTests
{
    const string Nodes = """
        apiVersion: v1
        kind: Node
        metadata: {name: lb1, labels: {role: edge}}
        status: {addresses: [{type: InternalIP, address: 198.18.0.11}]}
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: lb2, labels: {role: edge}}
        status: {addresses: [{type: InternalIP, address: 198.18.0.12}, {type: ExternalIP, address: "fd00::12"}]}
        ---

        """;

    static string[] Load(string virtualIPs, string mode = "ActivePassive")
    {
        var yaml = Nodes + "apiVersion: nginx-ha.io/v1alpha1\nkind: VirtualIpGroup\nmetadata: {name: web, namespace: edge}\n" +
                   $"spec:\n  mode: {mode}\n  nodeSelector: {{matchLabels: {{role: edge}}}}\n  virtualIPs: [{virtualIPs}]\n";
        return ManifestLoader.LoadText("site.yaml", yaml).Errors.Select(e => e.ToString()).ToArray();
    }

    const string At = "site.yaml:17: VirtualIpGroup edge/web: ";

    [Theory]
    [InlineData("198.18.0.0/24", "spec.virtualIPs[0]: \"198.18.0.0/24\" is the network address of 198.18.0.0/24, not a host address")]
    [InlineData("198.18.0.255/24", "spec.virtualIPs[0]: \"198.18.0.255/24\" is the broadcast address of 198.18.0.0/24, not a host address")]
    [InlineData("198.18.3.255/22", "spec.virtualIPs[0]: \"198.18.3.255/22\" is the broadcast address of 198.18.0.0/22, not a host address")]
    [InlineData("\"fd00::/64\"", "spec.virtualIPs[0]: \"fd00::/64\" is the subnet-router anycast address of fd00::/64 (RFC 4291), not a host address")]
    [InlineData("198.18.0.11/24", "spec.virtualIPs[0]: \"198.18.0.11/24\" is the InternalIP address of Node \"lb1\": a virtual IP must be an address that no node has as its own")]
    [InlineData("198.18.0.12/16", "spec.virtualIPs[0]: \"198.18.0.12/16\" is the InternalIP address of Node \"lb2\": a virtual IP must be an address that no node has as its own")]
    [InlineData("\"fd00::12/8\"", "spec.virtualIPs[0]: \"fd00::12/8\" is the ExternalIP address of Node \"lb2\": a virtual IP must be an address that no node has as its own")]
    public void Addresses_no_router_may_carry_are_rejected(string vip, string expected) =>
        Assert.Equal([At + expected], Load(vip));

    [Theory]
    [InlineData("198.18.0.0/31")]
    [InlineData("198.18.0.1/31")]
    [InlineData("198.18.0.255/32")]
    [InlineData("198.18.0.100/24")]
    [InlineData("\"fd00::1/64\"")]
    [InlineData("\"fd00::/127\"")]
    public void Host_addresses_of_small_and_ordinary_subnets_are_accepted(string vip) =>
        Assert.Empty(Load(vip));

    [Fact]
    public void More_than_255_vips_in_one_active_passive_instance_are_rejected()
    {
        var vips = string.Join(", ", Enumerable.Range(0, 256).Select(i => $"198.18.{1 + i / 200}.{1 + i % 200}/16"));
        Assert.Equal([At + "spec.virtualIPs: lists 256 addresses but an ActivePassive group is one VRRP instance, whose advert carries at most 255 (its 8-bit address count, RFC 5798 section 5.2.6): split them over several groups"],
            Load(vips));
        var fits = string.Join(", ", Enumerable.Range(0, 255).Select(i => $"198.18.{1 + i / 200}.{1 + i % 200}/16"));
        Assert.Empty(Load(fits));
    }
}
