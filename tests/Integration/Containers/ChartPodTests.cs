using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;
using NginxHa.Integration.Tests.Hardening;
using NginxHa.Integration.Tests.Kubernetes;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Sources;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The chart as the source of how agents start (issue 11 §2-§3): the DaemonSet <c>helm template</c> renders is run
/// with podman on a lab node (a network namespace) in place of a kubelet, from the images scripts/build-images.sh
/// builds, with the spec's own args, env and security context. The one addition is the kubelet's: credentials for the
/// API server (a kubeconfig, since the test cluster speaks plain HTTP where in-cluster config needs TLS).
/// </summary>
[Collection(ChartPodCollection.Name)]
public sealed class ChartPodTests(CrdCluster cluster, ContainerImages images)
{
    const string KubeconfigInPod = "/var/run/secrets/nginx-ha-test/kubeconfig";
    readonly KubeCluster _k = cluster.Server;

    static RenderedPod Rendered() =>
        RenderedPod.Render("DaemonSet", $"agent.image.tag={ContainerImages.Tag}", $"agent.nginxImage.tag={ContainerImages.Tag}");

    /// <summary>The kubeconfig a pod's agent uses to reach the test cluster through the relay into its namespace.</summary>
    static Dictionary<string, string> Credentials(SingleNodeLab lab, LoopbackRelay relay)
    {
        var file = Path.Combine(lab.WorkDirectory, "pod.kubeconfig");
        File.WriteAllText(file, $$$"""
            apiVersion: v1
            kind: Config
            current-context: lab
            contexts: [{name: lab, context: {cluster: lab, user: agent}}]
            clusters: [{name: lab, cluster: {server: "http://127.0.0.1:{{{relay.Port}}}"}}]
            users: [{name: agent, user: {token: not-checked}}]
            """);
        return new() { [file] = KubeconfigInPod };
    }

    /// <summary>Waits until nginx answers through the VIP; on timeout the containers' output as it is then.</summary>
    static async Task Served(SingleNodeLab lab, TimeSpan timeout, string what, params ChildProcess[] containers)
    {
        try
        {
            await Eventually.Until(lab.HttpStatusThroughVip, s => s.StartsWith("HTTP/1.1 ", StringComparison.Ordinal), timeout, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n" + string.Join("\n", containers.Select(c => $"=== {c.Name} ===\n{c.Output}")), e);
        }
    }

    static string PodName(string what) => $"nha-{what}-{Guid.NewGuid().ToString("N")[..6]}";

    [Fact]
    public async Task ChartPod_AgentAndItsNginxSidecar_UnderTheChartsSecurityContext_HoldAndServeTheVip_AndHandItBackOnStop()
    {
        Assert.True(images.BuildSeconds > 0);
        var spec = Rendered();
        // What this test runs is what the chart asks for: nothing more than issue 11 allows.
        Assert.True(spec.ShareProcessNamespace);
        Assert.Equal(["NET_ADMIN", "NET_RAW"], spec.Container("agent").Security.Add);
        Assert.All(spec.Containers, c => Assert.True(c.Security.ReadOnlyRootFilesystem && !c.Security.AllowPrivilegeEscalation
            && c.Security.Drop.SequenceEqual(["ALL"]), $"{c.Name}: {c.Security}"));

        using var lab = new SingleNodeLab($"cp{Environment.ProcessId % 100:00}");
        _k.Ok("apply", "-f", _k.WriteManifest("lb1-nhc.json", KubernetesAgentTests.NodeHaConfigJson()));
        using var relay = new LoopbackRelay(lab.Lb1, _k.Url.Port);
        using var pod = new PodmanPod(spec, lab.Lb1, "lb1", lab.WorkDirectory, PodName("serve"));
        var agent = pod.Start("agent", extraArgs: ["--kubeconfig", KubeconfigInPod], extraMounts: Credentials(lab, relay));
        var nginx = pod.Start("nginx");

        await Served(lab, TimeSpan.FromSeconds(60), "the client reaches the sidecar's nginx through the VIP", agent, nginx);
        Assert.True(lab.HoldsVip());
        // The agent runs no nginx of its own: it watches the sidecar's master through the pid file on the shared volume.
        Assert.Contains(agent.Lines, l => l.Contains("watching sidecar master pid", StringComparison.Ordinal));
        await Eventually.Until(() => _k.Run("get", "nhc", "lb1", "-o", "jsonpath={.status.instances[0].state} {.status.nginx.state}").Output.Trim(),
            s => s == "Master Running", TimeSpan.FromSeconds(15), "the agent's status on its NodeHaConfig");
        // The last applied config is kept on the node (the hostPath), private to root, for a pod recreated during an outage.
        var state = pod.VolumeDirectory("state");
        var saved = new LastConfigStore(state).Path;
        Assert.True(File.Exists(saved), $"{saved} on the hostPath stand-in");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(saved));

        // A kubelet's stop: preStops run (nginx's waits for the agent), SIGTERM. The agent hands the VIP over (priority 0,
        // address removed) and exits 0; nginx's preStop then returns at once.
        var preStop = Task.Run(() => pod.RunPreStop("nginx"));
        pod.Stop("agent", graceSeconds: 30);
        Assert.Equal(0, await agent.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(lab.HoldsVip(), "SIGTERM released the VIP");
        var waited = await preStop.WaitAsync(TimeSpan.FromSeconds(25));
        Assert.True(waited.ExitCode == 0, $"nginx preStop: {waited.StandardError}");
        // nginx kept serving through the handover (here on the node's own address; the VIP is a peer's now).
        Assert.StartsWith("HTTP/1.1 ", lab.HttpStatusAt(lab.Lb1.IPv4));
        pod.Stop("nginx", graceSeconds: 10);
        await nginx.WaitForExitAsync(TimeSpan.FromSeconds(15));
        Assert.DoesNotContain(agent.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ChartPod_WithoutNetRaw_TheAgentExitsWithAMessageNamingTheCapability_NotAStackTrace()
    {
        var spec = Rendered();
        using var lab = new SingleNodeLab($"cq{Environment.ProcessId % 100:00}");
        _k.Ok("apply", "-f", _k.WriteManifest("lb1-nhc.json", KubernetesAgentTests.NodeHaConfigJson()));
        using var relay = new LoopbackRelay(lab.Lb1, _k.Url.Port);
        using var pod = new PodmanPod(spec, lab.Lb1, "lb1", lab.WorkDirectory, PodName("noraw"));
        var agent = pod.Start("agent", security: sc => sc with { Add = sc.Add.Where(c => c != "NET_RAW").ToList() },
            extraArgs: ["--kubeconfig", KubeconfigInPod], extraMounts: Credentials(lab, relay));

        var exit = await agent.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, exit);
        Assert.Contains(agent.Lines, l => l.Contains("missing capability CAP_NET_RAW", StringComparison.Ordinal));
        Assert.DoesNotContain(agent.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Unhandled exception"));
        Assert.False(lab.HoldsVip());
    }

    /// <summary>
    /// The operator image run from the rendered Deployment (non-root, no capability, read-only root) next to the agent pod:
    /// the operator plans lb1's NodeHaConfig from a VirtualIpGroup and the agent serves its VIP. Then the uninstall
    /// order docs/helm.md gives (VirtualIpGroups first, while the operator runs): the group's finalizer waits until the
    /// agent has released the VIP, the group goes, and the operator deletes the NodeHaConfig: nothing is left behind.
    /// </summary>
    [Fact]
    public async Task ChartOperatorAndAgentPods_ServeAGroupsVip_AndDeletingTheGroupRemovesTheVipAndLeavesNoNodeHaConfig()
    {
        var agentSpec = Rendered();
        var operatorSpec = RenderedPod.Render("Deployment", $"operator.image.tag={ContainerImages.Tag}");
        var op = operatorSpec.Container("operator").Security;
        Assert.True(op.RunAsNonRoot && op.Add.Count == 0 && op.ReadOnlyRootFilesystem, $"operator: {op}");

        using var lab = new SingleNodeLab($"co{Environment.ProcessId % 100:00}");
        _k.Run("delete", "nhc", "lb1", "--ignore-not-found"); // an earlier test's hand-made one
        using var relay = new LoopbackRelay(lab.Lb1, _k.Url.Port);
        var credentials = Credentials(lab, relay);
        File.SetUnixFileMode(credentials.Keys.Single(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using var operatorPod = new PodmanPod(operatorSpec, lab.Lb1, "lb1", lab.WorkDirectory, PodName("operator"));
        using var agentPod = new PodmanPod(agentSpec, lab.Lb1, "lb1", lab.WorkDirectory, PodName("agent"));
        var operatorProcess = operatorPod.Start("operator", extraArgs: ["--kubeconfig", KubeconfigInPod], extraMounts: credentials);
        var agent = agentPod.Start("agent", extraArgs: ["--kubeconfig", KubeconfigInPod], extraMounts: credentials);
        var nginx = agentPod.Start("nginx");
        try
        {
            _k.Ok("apply", "-f", _k.WriteManifest("operator-site.yaml", SingleNodeLab.Site()));
            await Served(lab, TimeSpan.FromSeconds(90), "the group's VIP is served", operatorProcess, agent, nginx);

            _k.Ok("delete", "vipg", "web", "-n", "edge", "--wait=false");
            await Eventually.Until(() => _k.Run("get", "vipg", "-A", "-o", "name").Output.Trim(), s => s.Length == 0, TimeSpan.FromSeconds(60),
                $"the group is gone once its VIP is released\noperator:\n{operatorProcess.Output}");
            Assert.False(lab.HoldsVip(), "the finalizer let the group go only after the agent removed its VIP");
            await Eventually.Until(() => _k.Run("get", "nhc", "-o", "name").Output.Trim(), s => s.Length == 0, TimeSpan.FromSeconds(30),
                $"no NodeHaConfig is left\noperator:\n{operatorProcess.Output}");
            Assert.False(operatorProcess.HasExited, $"the operator kept running\n{operatorProcess.Output}");
        }
        finally
        {
            _k.Run("delete", "vipg", "web", "-n", "edge", "--ignore-not-found", "--wait=false");
            _k.Run("delete", "nginxbackendpool", "web", "-n", "edge", "--ignore-not-found");
            _k.Run("delete", "node", "lb1", "--ignore-not-found");
        }
    }
}
