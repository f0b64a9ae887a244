using System.Runtime.CompilerServices;
using NginxHa.Core.Manifests;
using NginxHa.Core.Nginx;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Examples;

/// <summary>
/// The manifests under examples/ are what users copy first and what scripts/demo.sh runs:
/// each must load without a problem, plan every node and render nginx.conf for it.
/// </summary>
public class ExampleManifestTests
{
    private const string StateDirectory = "/run/nginx-ha/example";
    private const int HealthPort = 18080;

    public static string ExamplesDirectory([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", "examples"));

    private static IReadOnlyList<string> ExampleFileNames() =>
        Directory.GetFiles(ExamplesDirectory(), "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;

    public static TheoryData<string> ExampleFiles() => new(ExampleFileNames());

    private static (ManifestSet Set, PlanResult Plan) LoadAndPlan(string fileName)
    {
        var set = ManifestLoader.LoadFiles([Path.Combine(ExamplesDirectory(), fileName)]);
        Assert.True(set.IsValid, string.Join("\n", set.Errors));
        Assert.True(set.Warnings.Count == 0, string.Join("\n", set.Warnings));
        var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));
        Assert.True(plan.Errors.Count == 0, string.Join("\n", plan.Errors));
        Assert.True(plan.Warnings.Count == 0, string.Join("\n", plan.Warnings));
        return (set, plan);
    }

    private static string RenderFor(PlanResult plan, string node)
    {
        var pools = plan.ConfigFor(node).Spec.BackendPools.Select(pool => (pool.Name, pool.Spec)).ToList();
        var input = new NginxRenderInput(pools, NginxRuntimeOptions.UnderDirectory($"{StateDirectory}/{node}", HealthPort));
        Assert.Empty(NginxConfigRenderer.Validate(input));
        return NginxConfigRenderer.Render(input);
    }

    private static string Roles(PlanResult plan, string node) =>
        string.Join(" ", plan.ConfigFor(node).Spec.VrrpInstances.Select(i => $"{i.Name}:{i.VirtualRouterId}:{i.Priority}:{string.Join(",", i.VirtualIPs)}"));

    [Fact]
    public void TheExamplesDirectoryHoldsTheDocumentedExamples()
    {
        Assert.Equal(["dual-master.yaml", "master-backup.yaml"], ExampleFileNames());
    }

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void EveryExampleLoadsPlansBothNodesAndRendersNginxForEach(string fileName)
    {
        var (set, plan) = LoadAndPlan(fileName);

        Assert.Equal(["lb1", "lb2"], set.Nodes.Select(n => n.Metadata.Name));
        var group = Assert.Single(plan.Groups);
        Assert.Equal(ConditionStatus.True, group.Condition(ConditionTypes.Ready).Status);
        Assert.Equal(ConditionStatus.False, group.Condition(ConditionTypes.Degraded).Status);
        Assert.Equal(ConditionStatus.False, group.Condition(ConditionTypes.Conflict).Status);
        foreach (var node in new[] { "lb1", "lb2" })
        {
            var config = plan.ConfigFor(node);
            Assert.Empty(config.Validate());
            Assert.NotEmpty(config.Spec.VrrpInstances);
            var text = RenderFor(plan, node);
            Assert.Contains("server 198.18.0.21:8080", text);
            Assert.Contains("server 198.18.0.22:8080", text);
            Assert.Contains($"pid {StateDirectory}/{node}/nginx.pid;", text);
        }
    }

    [Fact]
    public void BothExamplesCanRunSideBySideWithoutVipOrVridConflicts()
    {
        // kubectl apply -f examples/ puts both groups in one namespace; the Node documents are repeated, so plan from one copy.
        var dual = ManifestLoader.LoadFiles([Path.Combine(ExamplesDirectory(), "dual-master.yaml")]);
        var standby = ManifestLoader.LoadFiles([Path.Combine(ExamplesDirectory(), "master-backup.yaml")]);

        var plan = Planner.Plan(new PlanInput(
            [.. dual.VirtualIpGroups, .. standby.VirtualIpGroups],
            [.. dual.NginxBackendPools, .. standby.NginxBackendPools],
            dual.Nodes));

        Assert.Empty(plan.Errors);
        Assert.All(plan.Groups, g => Assert.Equal(ConditionStatus.False, g.Condition(ConditionTypes.Conflict).Status));
        Assert.Equal([50, 51, 52], plan.ConfigFor("lb1").Spec.VrrpInstances.Select(i => i.VirtualRouterId).Order());
    }

    [Fact]
    public void DualMasterMakesEachNodePreferredMasterOfOneVipAndBackupOfTheOther()
    {
        var (_, plan) = LoadAndPlan("dual-master.yaml");

        Assert.Equal("edge/web/0:51:254:198.18.0.201/24 edge/web/1:52:253:198.18.0.202/24", Roles(plan, "lb1"));
        Assert.Equal("edge/web/0:51:253:198.18.0.201/24 edge/web/1:52:254:198.18.0.202/24", Roles(plan, "lb2"));
        Assert.Equal(["lb1", "lb2"], plan.GroupFor("edge/web").Instances.Select(i => i.PreferredMaster));
        foreach (var instance in plan.ConfigFor("lb2").Spec.VrrpInstances)
        {
            // Fast failover for the demo: VRRPv3 at 100 ms, and no interface so each node finds the VIP's subnet.
            Assert.Equal((3, "100ms", true, "0s"), (instance.Version, instance.AdvertisementInterval, instance.Preempt, instance.PreemptDelay));
            Assert.Null(instance.Interface);
            Assert.Null(instance.AuthPasswordFile);
            Assert.Empty(instance.UnicastPeers);
        }
    }

    [Fact]
    public void DualMasterRendersTheSeed000SiteFeatures()
    {
        var (_, plan) = LoadAndPlan("dual-master.yaml");

        var text = RenderFor(plan, "lb1");

        Assert.Equal(text.Replace("/lb1/", "/lb2/", StringComparison.Ordinal), RenderFor(plan, "lb2"));
        Assert.Contains("ip_hash;", text);
        Assert.Contains("server 198.18.0.21:8080 max_fails=2 fail_timeout=10s;", text);
        Assert.Contains("listen 80 default_server;", text);
        Assert.Contains("gzip on;", text);
        Assert.Contains("client_max_body_size 8m;", text);
        Assert.Contains("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", text);
        Assert.Contains("log_format edge_web \"$remote_addr - $remote_user", text);
        Assert.Contains($"auth_basic_user_file {StateDirectory}/lb1/conf/htpasswd;", text);
        Assert.Contains("location = /nginx_status {", text);
        Assert.Contains("stub_status;", text);
    }

    [Fact]
    public void MasterBackupIsOneAuthenticatedVrrpV2InstancePreferringLb1()
    {
        var (_, plan) = LoadAndPlan("master-backup.yaml");

        Assert.Equal("edge/web-standby/0:50:254:198.18.0.200/24", Roles(plan, "lb1"));
        Assert.Equal("edge/web-standby/0:50:253:198.18.0.200/24", Roles(plan, "lb2"));
        var instance = plan.ConfigFor("lb2").Spec.VrrpInstances[0];
        Assert.Equal((2, "1s", true, "5s"), (instance.Version, instance.AdvertisementInterval, instance.Preempt, instance.PreemptDelay));
        Assert.Equal("/etc/nginx-ha/vrrp-password", instance.AuthPasswordFile);

        var text = RenderFor(plan, "lb1");
        Assert.Contains("upstream edge_web-standby {", text);
        Assert.DoesNotContain("ip_hash", text);
        Assert.DoesNotContain("stub_status", text);
    }
}
