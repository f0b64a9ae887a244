using NginxHa.Operator.Tests.Cluster;
using static NginxHa.Operator.Tests.Chart.PrivilegeCheck;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>The rendered chart against the test cluster (scripts/cluster.sh: the real CRD API server and the stand-in).</summary>
public sealed class ChartClusterTests(ApiServer cluster) : IClassFixture<ApiServer>
{
    [Theory]
    [MemberData(nameof(Helm.ValuesFiles), MemberType = typeof(Helm))]
    public async Task Rendered_chart_is_accepted_by_a_server_side_dry_run(string valuesFile)
    {
        var yaml = await Helm.TemplateAsync(["--include-crds", .. Helm.ValuesArgs(valuesFile)]);
        var docs = Helm.Documents(yaml);
        var file = Path.Combine(Path.GetTempPath(), $"nha-chart-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        try
        {
            var output = await cluster.KubectlOutputAsync("apply", "--server-side", "--dry-run=server", "-f", file);
            var accepted = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.EndsWith("(server dry run)", StringComparison.Ordinal)).ToList();
            Assert.Equal(docs.Count, accepted.Count);
            foreach (var doc in docs)
                Assert.Contains(accepted, l => l.Contains($"/{Scalar(doc, "metadata", "name")} ", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
        // A dry run persists nothing.
        Assert.DoesNotContain("nha-nginx-ha-operator-agent", await cluster.KubectlOutputAsync("get", "daemonsets", "-A", "-o", "name"));
    }

    [Fact]
    public async Task Server_dry_run_refuses_a_chart_object_with_a_wrong_field()
    {
        var yaml = (await Helm.TemplateAsync()).Replace("validationActions: [Deny]", "validationActions: [Block]", StringComparison.Ordinal);
        Assert.Contains("validationActions: [Block]", yaml);
        var file = Path.Combine(Path.GetTempPath(), $"nha-chart-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        try
        {
            var (code, output) = await cluster.KubectlResultAsync("apply", "--server-side", "--dry-run=server", "-f", file);
            Assert.NotEqual(0, code);
            Assert.Contains("validationActions", output);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Helm_install_upgrade_and_uninstall_create_change_and_remove_the_objects_but_keep_the_crds()
    {
        const string ns = "nha-lifecycle";
        await cluster.KubectlAsync("create", "namespace", ns);
        async Task<string> Names(string kinds, bool namespaced = true) =>
            await cluster.KubectlOutputAsync(namespaced ? ["get", kinds, "-n", ns, "-o", "name"] : ["get", kinds, "-o", "name"]);
        async Task Helm(params string[] args)
        {
            var (code, output, error) = await Chart.Helm.RunAsync([.. args, "--namespace", ns], cluster.KubeconfigPath);
            Assert.True(code == 0, $"helm {string.Join(' ', args)} failed ({code}):\n{output}\n{error}");
        }

        await Helm("install", "life", Chart.Helm.ChartPath);
        Assert.Equal("2", await cluster.KubectlOutputAsync("get", "deployment", "life-nginx-ha-operator-operator", "-n", ns, "-o", "jsonpath={.spec.replicas}"));
        Assert.Contains("daemonset.apps/life-nginx-ha-operator-agent", await Names("daemonsets"));
        Assert.Contains("serviceaccount/life-nginx-ha-operator-agent", await Names("serviceaccounts"));
        Assert.Contains("role.rbac.authorization.k8s.io/life-nginx-ha-operator-operator-leader-election", await Names("roles"));
        Assert.Contains("clusterrole.rbac.authorization.k8s.io/life-nginx-ha-operator-agent", await Names("clusterroles", namespaced: false));
        Assert.Contains("life-nginx-ha-operator-agent-own-node", await Names("validatingadmissionpolicies", namespaced: false));
        Assert.DoesNotContain("podmonitor", await Names("podmonitors"));
        Assert.Contains("secret/sh.helm.release.v1.life.v1", await Names("secrets")); // helm's own record, in the cluster
        foreach (var crd in new[] { "virtualipgroups", "nginxbackendpools", "nodehaconfigs" })
            Assert.Contains($"customresourcedefinition.apiextensions.k8s.io/{crd}.nginx-ha.io", await Names("crds", namespaced: false));

        await Helm("upgrade", "life", Chart.Helm.ChartPath, "--set", "operator.replicas=3", "--set", "monitoring.podMonitor.enabled=true",
            "--set", "admissionPolicy.enabled=false", "--set", "agent.terminationGracePeriodSeconds=60");
        Assert.Equal("3", await cluster.KubectlOutputAsync("get", "deployment", "life-nginx-ha-operator-operator", "-n", ns, "-o", "jsonpath={.spec.replicas}"));
        Assert.Equal("60", await cluster.KubectlOutputAsync("get", "daemonset", "life-nginx-ha-operator-agent", "-n", ns, "-o", "jsonpath={.spec.template.spec.terminationGracePeriodSeconds}"));
        Assert.Contains("podmonitor.monitoring.coreos.com/life-nginx-ha-operator-agent", await Names("podmonitors"));
        Assert.DoesNotContain("life-nginx-ha-operator-agent-own-node", await Names("validatingadmissionpolicies", namespaced: false));

        await Helm("uninstall", "life");
        Assert.Equal("", (await Names("deployments,daemonsets,serviceaccounts,roles,rolebindings,podmonitors,secrets")).Trim());
        Assert.DoesNotContain("life-", await Names("clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings", namespaced: false));
        // helm never deletes the CRDs of crds/ (and with them every VirtualIpGroup): they stay.
        foreach (var crd in new[] { "virtualipgroups", "nginxbackendpools", "nodehaconfigs" })
            Assert.Contains($"customresourcedefinition.apiextensions.k8s.io/{crd}.nginx-ha.io", await Names("crds", namespaced: false));
    }
}
