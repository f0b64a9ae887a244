using NginxHa.Core.Planning;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// Issue 10 §4 and issue 9 VridConflict on the test cluster: a real keepalived in the client's namespace, on the agents'
/// segment, speaks a VRID with an address that is none of ours. The agents report it in their NodeHaConfig status; the
/// operator gives a new group whose hashed home is that VRID another one, and a group that asks for it explicitly gets
/// Conflict/VridConflict and an Event. All read back with kubectl, as a user would.
/// </summary>
public sealed class HeardRoutersClusterTests(CrdCluster cluster) : IClassFixture<CrdCluster>
{
    const string ForeignVip = "198.18.0.250";
    readonly TestCluster _k = cluster.Server;

    /// <summary>A group name whose automatic VRID would be <c>Vrid</c> (its FNV home), clear of the example's 51 and 52.</summary>
    static (string Name, int Vrid) NameWithFreeHome()
    {
        for (var i = 0; ; i++)
        {
            var name = $"extra{i}";
            var home = Planner.HomeVirtualRouterId($"{ClusterDualMasterLab.Namespace}/{name}");
            if (home is not (51 or 52) && home % 255 + 1 is not (51 or 52)) return (name, home);
        }
    }

    static string GroupYaml(string name, string vip, int? vrid = null) => $"""
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata:
          name: {name}
          namespace: {ClusterDualMasterLab.Namespace}
        spec:
          mode: ActivePassive
          virtualIPs: [{vip}/24]
          nodeSelector:
            matchLabels:
              nginx-ha.io/role: edge
        {(vrid is { } id ? $"  virtualRouterIds: [{id}]\n" : "")}  vrrp:
            version: 3
            advertisementInterval: 1s
        """;

    string Get(string kind, string name, string jsonpath, bool namespaced = true)
    {
        string[] args = namespaced
            ? ["get", kind, name, "-n", ClusterDualMasterLab.Namespace, "-o", $"jsonpath={jsonpath}"]
            : ["get", kind, name, "-o", $"jsonpath={jsonpath}"];
        var (code, output, error) = _k.Run(args);
        return code == 0 ? output.Trim() : $"(kubectl: {error.Trim()})";
    }

    [Fact]
    public async Task A_foreign_keepalived_is_reported_by_the_agents_avoided_by_automatic_VRIDs_and_an_explicit_VRID_on_it_is_a_VridConflict()
    {
        var (automatic, vrid) = NameWithFreeHome();
        using var lab = new ClusterDualMasterLab(_k, $"hr{Environment.ProcessId % 100:00}");
        await lab.WaitForBackendsAsync();
        _k.Ok("apply", "-f", _k.WriteManifest("hr-nodes.json", lab.NodesJson()));
        lab.StartOperator("op-a");
        lab.Lb1.Start();
        lab.Lb2.Start();
        var since = DateTimeOffset.UtcNow;
        _k.Ok("apply", "-f", _k.WriteManifest("hr-dual-master.yaml", ClusterDualMasterLab.ExampleOnLabAddresses()));
        await lab.WaitForPreferredMastersAsync(since, TimeSpan.FromSeconds(60));

        // The foreign router: keepalived on the client's namespace (same bridge), VRID = the home of the group applied below.
        using var keepalived = new KeepalivedProcess(lab.Client.Namespace,
            new KeepalivedInstance(NetworkLab.InterfaceName, vrid, 100, [$"{ForeignVip}/24"]), "keepalived foreign");
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(15));

        // Both agents report it in their NodeHaConfig status, and lb1 reports lb2's adverts too (VRID 52: its own peer).
        foreach (var node in lab.Balancers)
            await Eventually.Until(() => Get("nhc", node.Name, $"{{.status.heardRouters[?(@.virtualRouterId=={vrid})].addresses[*]}}", namespaced: false),
                heard => heard == ForeignVip, TimeSpan.FromSeconds(15), $"{node.Name} reports VRID {vrid} with {ForeignVip}");
        Assert.Equal($"3 None IPv4 {lab.Client.IPv4}", Get("nhc", "lb1",
            $"{{range .status.heardRouters[?(@.virtualRouterId=={vrid})]}}{{.version}} {{.authType}} {{.family}} {{.source}}{{end}}", namespaced: false));
        Assert.Equal("198.18.0.202", Get("nhc", "lb1", "{.status.heardRouters[?(@.virtualRouterId==52)].addresses[*]}", namespaced: false));
        // Our own instances heard by their backups are no conflict.
        Assert.Equal("False", Get("vipg", ClusterDualMasterLab.Name, "{.status.conditions[?(@.type==\"Conflict\")].status}"));

        // (a) A new group whose hashed home is the foreign VRID gets another one, and no conflict.
        _k.Ok("apply", "-f", _k.WriteManifest("hr-automatic.yaml", GroupYaml(automatic, "198.18.0.210")));
        var allocated = await Eventually.Until(() => Get("vipg", automatic, "{.status.virtualIPs[0].vrid}"),
            v => int.TryParse(v, out _), TimeSpan.FromSeconds(20), $"{automatic} gets a VRID");
        Assert.NotEqual(vrid.ToString(), allocated);
        Assert.Equal("False", Get("vipg", automatic, "{.status.conditions[?(@.type==\"Conflict\")].status}"));

        // (b) A group asking for the foreign VRID keeps it (explicit wins) and shows Conflict/VridConflict naming the VRID,
        // the VIP heard and a node that heard it, and an Event says so.
        _k.Ok("apply", "-f", _k.WriteManifest("hr-pinned.yaml", GroupYaml("pinned", "198.18.0.211", vrid)));
        await Eventually.Until(
            () => Get("vipg", "pinned", "{range .status.conditions[?(@.type==\"Conflict\")]}{.status} {.reason}{end}"),
            c => c == "True VridConflict", TimeSpan.FromSeconds(20), "pinned shows Conflict=True VridConflict");
        var message = Get("vipg", "pinned", "{.status.conditions[?(@.type==\"Conflict\")].message}");
        Assert.Contains($"VRID {vrid} of edge/pinned/0", message);
        Assert.Contains($"addresses {ForeignVip}, from {lab.Client.IPv4}, heard by node lb1, lb2", message);
        Assert.Equal(vrid.ToString(), Get("vipg", "pinned", "{.status.virtualIPs[0].vrid}"));
        var events = await Eventually.Until(
            () => _k.Run("get", "events.events.k8s.io", "-n", ClusterDualMasterLab.Namespace, "-o",
                "jsonpath={range .items[*]}{.type} {.reason} {.regarding.name}: {.note}{\"\\n\"}{end}").Output,
            e => e.Contains("Warning VridConflict pinned:", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "a VridConflict Event on pinned");
        Assert.Contains($"Conflict=True: VRID {vrid} of edge/pinned/0", events);
        Assert.DoesNotContain($"VridConflict {automatic}:", events);
        // The operator counts the instance heard on its VRID from a router that is not its own.
        await Eventually.UntilAsync(() => lab.ScrapeAsync(lab.Operators.Single()),
            m => m.Contains("nginx_ha_operator_vrid_heard_conflicts 1", StringComparison.Ordinal), TimeSpan.FromSeconds(10),
            "the operator's metric counts one instance in conflict");
    }
}
