using NginxHa.Operator.Tests.Cluster;
using NginxHa.TestCluster.Tests.Support;
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

        // helm uninstall runs the pre-delete hook first and waits for its Job: this test is the Job controller and the kubelet.
        var uninstall = Chart.Helm.RunAsync(["uninstall", "life", "--namespace", ns], cluster.KubeconfigPath);
        var (exit, hookOutput, _) = await RunUninstallHookAsync(ns, "life-nginx-ha-operator-uninstall", uninstall);
        Assert.True(exit == 0, hookOutput);
        Assert.Contains("done: no VirtualIpGroup and no NodeHaConfig left", hookOutput);
        var (code, output, error) = await uninstall;
        Assert.True(code == 0, $"helm uninstall failed ({code}):\n{output}\n{error}");
        // The hook's objects go once it succeeded (hook-delete-policy hook-succeeded).
        Assert.DoesNotContain("life-", await Names("jobs"));
        Assert.DoesNotContain("life-", await Names("clusterroles,clusterrolebindings", namespaced: false));
        Assert.Equal("", (await Names("deployments,daemonsets,serviceaccounts,roles,rolebindings,podmonitors,secrets")).Trim());
        Assert.DoesNotContain("life-", await Names("clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings", namespaced: false));
        // helm never deletes the CRDs of crds/ (and with them every VirtualIpGroup): they stay.
        foreach (var crd in new[] { "virtualipgroups", "nginxbackendpools", "nodehaconfigs" })
            Assert.Contains($"customresourcedefinition.apiextensions.k8s.io/{crd}.nginx-ha.io", await Names("crds", namespaced: false));
    }

    /// <summary>
    /// Plays the Job controller and kubelet for the chart's pre-delete hook while <paramref name="helm"/> (helm uninstall) runs: waits
    /// for the Job, checks that helm has deleted nothing of the release yet and still waits, runs the Job's container (the operator
    /// image's entrypoint is nginx-ha-operator) in this process with the cluster's kubeconfig, and writes the Job's status from the
    /// exit code. Returns the exit code, the output and the Job's uid.
    /// </summary>
    private async Task<(int Exit, string Output, string Uid)> RunUninstallHookAsync(string ns, string jobName, Task<(int, string, string)> helm,
        string? previousUid = null)
    {
        using var jobs = new JobStandIn(new Uri($"http://127.0.0.1:{cluster.Port}"));
        var job = await jobs.WaitForAsync(ns, jobName, TimeSpan.FromSeconds(60), () => helm.IsCompleted, previousUid);
        Assert.True(job is not null, helm.IsCompleted ? $"helm uninstall ran no pre-delete hook Job {jobName}: {await helm}" : $"no Job {jobName} within 60 s");
        Assert.Contains("/life-nginx-ha-operator-operator", await cluster.KubectlOutputAsync("get", "deployments", "-n", ns, "-o", "name"));
        var container = JobStandIn.Container(job);
        Assert.StartsWith("localhost/nginx-ha-operator:", container.Image);
        Assert.Empty(container.Command);
        Assert.Equal("uninstall", container.Args[0]);
        var started = DateTimeOffset.UtcNow;
        var output = new StringWriter();
        var exit = await Task.Run(() => Program.Run([.. container.Args, "--kubeconfig", cluster.KubeconfigPath], output, output));
        Assert.False(helm.IsCompleted, $"helm uninstall returned before its hook finished: {(helm.IsCompleted ? await helm : default)}");
        await jobs.FinishAsync(ns, jobName, exit == 0, started);
        return (exit, output.ToString(), (string)job["metadata"]!["uid"]!);
    }

    [Fact]
    public async Task Helm_uninstall_fails_when_the_hook_times_out_with_a_group_left_and_a_second_uninstall_completes_once_it_is_released()
    {
        const string ns = "nha-stuck";
        await cluster.KubectlAsync("create", "namespace", ns);
        var (installed, installOutput, installError) = await Chart.Helm.RunAsync(["install", "life", Chart.Helm.ChartPath, "--namespace", ns,
            "--set", "uninstallHook.timeout=2s"], cluster.KubeconfigPath);
        Assert.True(installed == 0, $"{installOutput}\n{installError}");
        // A group whose finalizer no operator removes (none runs here): the hook deletes it and waits in vain.
        var group = Path.Combine(Path.GetTempPath(), $"nha-stuck-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(group, $$"""
            apiVersion: nginx-ha.io/v1alpha1
            kind: VirtualIpGroup
            metadata: {name: stuck, namespace: {{ns}}, finalizers: [nginx-ha.io/vips]}
            spec:
              mode: ActivePassive
              virtualIPs: [198.18.0.250/24]
              nodeSelector:
                matchLabels: {nginx-ha.io/role: edge}
              vrrp: {version: 3, advertisementInterval: 1s}
              backendPoolRef: web
            """);
        try { await cluster.KubectlAsync("apply", "-f", group); }
        finally { File.Delete(group); }

        var first = Chart.Helm.RunAsync(["uninstall", "life", "--namespace", ns], cluster.KubeconfigPath);
        var (exit, hookOutput, failedUid) = await RunUninstallHookAsync(ns, "life-nginx-ha-operator-uninstall", first);
        Assert.Equal(1, exit);
        Assert.Contains("VirtualIpGroup nha-stuck/stuck: deleting", hookOutput);
        Assert.Contains("nginx-ha-operator uninstall: timed out after 2 s: VirtualIpGroup nha-stuck/stuck: the operator has not removed its finalizer yet", hookOutput);
        var (code, output, error) = await first;
        Assert.NotEqual(0, code);
        // helm names the failed hook Job (its wait reads the Failed condition the Job controller wrote).
        Assert.Contains("resource Job/nha-stuck/life-nginx-ha-operator-uninstall not ready. status: Failed, message: Job Failed. failed: 1/1", error);
        // Nothing of the release was deleted, and the failed Job stays for its logs.
        Assert.Contains("/life-nginx-ha-operator-operator", await cluster.KubectlOutputAsync("get", "deployments", "-n", ns, "-o", "name"));
        Assert.True(await new JobStandIn(new Uri($"http://127.0.0.1:{cluster.Port}")).ExistsAsync(ns, "life-nginx-ha-operator-uninstall"));

        // The operator would let it go once released; here the finalizer is removed by hand. helm uninstall again: the hook runs anew.
        await cluster.KubectlAsync("patch", "vipg", "stuck", "-n", ns, "--type", "merge", "-p", """{"metadata":{"finalizers":null}}""");
        var second = Chart.Helm.RunAsync(["uninstall", "life", "--namespace", ns], cluster.KubeconfigPath);
        // helm deletes the failed Job first (before-hook-creation) and creates a new one: that one is run.
        var (again, againOutput, _) = await RunUninstallHookAsync(ns, "life-nginx-ha-operator-uninstall", second, previousUid: failedUid);
        Assert.True(again == 0, againOutput);
        (code, output, error) = await second;
        Assert.True(code == 0, $"{output}\n{error}");
        Assert.Equal("", (await cluster.KubectlOutputAsync("get", "deployments,daemonsets,jobs", "-n", ns, "-o", "name")).Trim());
        Assert.Equal("", (await cluster.KubectlOutputAsync("get", "vipg", "-n", ns, "-o", "name")).Trim());
    }
}
