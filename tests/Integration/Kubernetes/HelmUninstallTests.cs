using NginxHa.Integration.Tests.Support;
using NginxHa.TestCluster.Tests.Support;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// Issue 11 §4, uninstall: the real <c>helm uninstall</c> of the chart on the test cluster while the operator and two agents serve a
/// VirtualIpGroup's VIPs in network namespaces. The chart's pre-delete hook Job is run by this test as a Job controller and kubelet
/// would (<see cref="JobStandIn"/>): its container's arguments, as rendered, run by the operator binary with the cluster's kubeconfig.
/// </summary>
public sealed class HelmUninstallTests(CrdCluster cluster, ITestOutputHelper log) : IClassFixture<CrdCluster>
{
    const string Release = "nha";
    const string ReleaseNamespace = "nginx-ha";
    const string HookJob = "nha-nginx-ha-operator-uninstall";
    readonly TestCluster _k = cluster.Server;

    static string HelmBinary
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("HELM") ?? "/usr/local/lib/nginx-ha/helm/helm";
            Assert.True(File.Exists(path), $"helm is required at {path}: run scripts/install-deps.sh (scripts/install-helm.sh)");
            return path;
        }
    }

    /// <summary>helm as a process against the test cluster, with a private helm home (no repositories, cache or plugins of the machine).</summary>
    ChildProcess StartHelm(string home, string name, params string[] args) => new(HelmBinary, args, name, new Dictionary<string, string>
    {
        ["KUBECONFIG"] = _k.Kubeconfig,
        ["HELM_CACHE_HOME"] = Path.Combine(home, "cache"),
        ["HELM_CONFIG_HOME"] = Path.Combine(home, "config"),
        ["HELM_DATA_HOME"] = Path.Combine(home, "data"),
    });

    string Names(params string[] args) => _k.Ok(["get", .. args, "-o", "name"]).Trim();

    [Fact]
    public async Task HelmUninstall_RunsTheHook_TheVipsLeaveBothNodes_NoGroupOrNodeHaConfigIsLeft_TheCrdsStay_AndHelmReturnsOnlyAfterThat()
    {
        var vips = new[] { ClusterDualMasterLab.Vip1, ClusterDualMasterLab.Vip2 };
        var home = Directory.CreateTempSubdirectory("nha-helm-").FullName;
        using var lab = new ClusterDualMasterLab(_k, $"hu{Environment.ProcessId % 100:00}");
        try
        {
            await lab.WaitForBackendsAsync();
            _k.Ok("apply", "-f", _k.WriteManifest("hu-nodes.json", lab.NodesJson()));
            _k.Ok("create", "namespace", ReleaseNamespace);
            using (var install = StartHelm(home, "helm install", "install", Release, TestCluster.RepositoryPath("charts/nginx-ha-operator"), "--namespace", ReleaseNamespace))
                Assert.True(await install.WaitForExitAsync(TimeSpan.FromMinutes(2)) == 0, install.Output);
            // The chart's operator and agents, as processes (the test cluster runs no pods): one operator replica, lb1 and lb2.
            lab.StartOperator("op-a");
            lab.Lb1.Start();
            lab.Lb2.Start();
            var since = DateTimeOffset.UtcNow;
            _k.Ok("apply", "-f", _k.WriteManifest("hu-dual-master.yaml", ClusterDualMasterLab.ExampleOnLabAddresses()));
            await lab.WaitForPreferredMastersAsync(since, TimeSpan.FromSeconds(60));
            Assert.Equal("nodehaconfig.nginx-ha.io/lb1\nnodehaconfig.nginx-ha.io/lb2", Names("nhc"));

            using var helm = StartHelm(home, "helm uninstall", "uninstall", Release, "--namespace", ReleaseNamespace, "--timeout", "3m");
            using var jobs = new JobStandIn(_k.Url);
            var job = await jobs.WaitForAsync(ReleaseNamespace, HookJob, TimeSpan.FromSeconds(90), () => helm.HasExited);
            Assert.True(job is not null, $"helm uninstall ran no pre-delete hook Job {HookJob}; helm: {(helm.HasExited ? $"exited {helm.ExitCode}" : "still running")}\n{helm.Output}");
            // A pre-delete hook runs before helm deletes anything: the operator's Deployment is there, the VIPs still served.
            Assert.Contains($"deployment.apps/{Release}-nginx-ha-operator-operator", Names("deployments", "-n", ReleaseNamespace));
            Assert.True(lab.Lb1.Holds(ClusterDualMasterLab.Vip1) && lab.Lb2.Holds(ClusterDualMasterLab.Vip2), "both VIPs are held when the hook starts");

            // The kubelet's part: the pod's one container, the operator image (entrypoint nginx-ha-operator), its arguments as rendered.
            var container = JobStandIn.Container(job);
            Assert.StartsWith("localhost/nginx-ha-operator:", container.Image);
            Assert.Empty(container.Command);
            var started = DateTimeOffset.UtcNow;
            using var hook = new ChildProcess("dotnet", [ClusterDualMasterLab.OperatorDll, .. container.Args], "uninstall hook",
                new Dictionary<string, string> { ["KUBECONFIG"] = _k.Kubeconfig });
            var exit = await hook.WaitForExitAsync(TimeSpan.FromSeconds(150));
            log.WriteLine($"hook: {(DateTimeOffset.UtcNow - started).TotalSeconds:0.0} s from start to exit {exit}\n{hook.Output}");
            Assert.True(exit == 0, $"the hook exited {exit}:\n{hook.Output}\n{lab.Output}");

            // What the hook leaves: no VIP on either node (ip addr in their namespaces), no group, no NodeHaConfig.
            foreach (var node in lab.Balancers)
                foreach (var vip in vips)
                    Assert.False(node.Holds(vip), $"{node.Name} still holds {vip} after the hook");
            Assert.Equal("", Names("vipg", "-A"));
            Assert.Equal("", Names("nhc"));
            // And it said what it did.
            Assert.Contains("VirtualIpGroup edge/web: deleting", hook.Lines);
            Assert.Contains("VirtualIpGroup edge/web: gone, its virtual IPs released by every node", hook.Lines);
            Assert.Contains("done: no VirtualIpGroup and no NodeHaConfig left", hook.Lines);
            // helm is still waiting for the Job: it deletes the operator and the agents only after this.
            Assert.False(helm.HasExited, $"helm uninstall returned before its hook Job completed:\n{helm.Output}");
            Assert.Contains($"daemonset.apps/{Release}-nginx-ha-operator-agent", Names("daemonsets", "-n", ReleaseNamespace));

            var completed = DateTimeOffset.UtcNow;
            await jobs.FinishAsync(ReleaseNamespace, HookJob, succeeded: true, started);
            Assert.True(await helm.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0, helm.Output);
            log.WriteLine($"helm uninstall returned {(DateTimeOffset.UtcNow - completed).TotalSeconds:0.0} s after the Job was marked Complete");
            Assert.Contains($"release \"{Release}\" uninstalled", helm.Output);
            Assert.Equal("", Names("deployments,daemonsets,jobs,serviceaccounts,secrets", "-n", ReleaseNamespace));
            Assert.DoesNotContain($"{Release}-", Names("clusterroles,clusterrolebindings"));
            // helm never deletes the CRDs.
            foreach (var crd in CrdCluster.CrdNames) Assert.Contains($"customresourcedefinition.apiextensions.k8s.io/{crd}", Names("crds"));
            foreach (var node in lab.Balancers)
                foreach (var vip in vips)
                    Assert.False(node.Holds(vip), $"{node.Name} holds {vip} after helm uninstall");
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
