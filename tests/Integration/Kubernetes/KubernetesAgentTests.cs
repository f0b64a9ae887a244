using System.Text.Json;
using NginxHa.Core.Manifests;
using NginxHa.Core.Planning;
using NginxHa.Integration.Tests.Hardening;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Kubernetes;
using NginxHa.NodeAgent.Sources;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// <c>nginx-ha-agent kubernetes</c> end to end: a real agent in a network namespace, its NodeHaConfig created with
/// kubectl on the test cluster (reached through a loopback relay into the namespace), serving the VIP through nginx,
/// its status on the object, and a restart while the API server is unreachable coming back serving.
/// </summary>
[Collection(CrdClusterCollection.Name)]
public sealed class KubernetesAgentTests(CrdCluster cluster)
{
    readonly TestCluster _k = cluster.Server;

    internal static string NodeHaConfigJson()
    {
        // The operator's planner on the lab's site: the NodeHaConfig it would write for lb1.
        var set = ManifestLoader.LoadText("site.yaml", SingleNodeLab.Site());
        Assert.True(set.IsValid, string.Join("\n", set.Errors));
        var config = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes)).ConfigFor("lb1");
        var json = JsonSerializer.SerializeToNode(config, KubeJsonContext.Default.NodeHaConfig)!.AsObject();
        json.Remove("displayName"); // a computed property of Resource, not a field of the object
        return json.ToJsonString();
    }

    /// <summary>The fields, or kubectl's error (e.g. before the first instance is in the status).</summary>
    string Jsonpath(string path) => _k.Run("get", "nhc", "lb1", "-o", $"jsonpath={path}") is var (code, output, error) && code == 0
        ? output.Trim() : error.Trim();

    static string Kubeconfig(SingleNodeLab lab, LoopbackRelay relay) => relay.WriteKubeconfig(Path.Combine(lab.WorkDirectory, "agent.kubeconfig"));

    [Fact]
    public async Task Agent_WithARejectedFirstNodeHaConfig_KeepsRunningServingNothing_SaysWhyInStatusAndEvent_ThenServesTheCorrectedOne()
    {
        using var lab = new SingleNodeLab($"kr{Environment.ProcessId % 100:00}");
        // Valid for the API server, not for this node: a listener on the agent's own health port.
        var broken = System.Text.Json.Nodes.JsonNode.Parse(NodeHaConfigJson())!;
        broken["spec"]!["backendPools"]![0]!["spec"]!["listeners"]![0]!["port"] = 18080;
        _k.Ok("apply", "-f", _k.WriteManifest("lb1-nhc-broken.json", broken.ToJsonString()));
        using var relay = new LoopbackRelay(lab.Lb1, _k.Url.Port);
        var agent = lab.StartKubernetes(Kubeconfig(lab, relay));

        await Eventually.Until(() => Jsonpath("{.status.nginx.lastError}"), e => e.Contains("spec.listeners: port 18080 is the agent's health probe port", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the status says why, naming the field");
        Assert.False(agent.Process.HasExited, "the agent keeps running");
        Assert.False(lab.HoldsVip(), "a node with a rejected config holds no VIP");
        var events = _k.Ok("get", "events.v1.events.k8s.io", "-n", "default", "-o", "jsonpath={range .items[*]}{.regarding.name} {.reason} {.note}{\"\\n\"}{end}");
        Assert.Contains(events.Split('\n'), l => l.StartsWith("lb1 ConfigRejected ", StringComparison.Ordinal) && l.Contains("port 18080", StringComparison.Ordinal));

        // The corrected object: applied and served, the error gone.
        _k.Ok("apply", "-f", _k.WriteManifest("lb1-nhc.json", NodeHaConfigJson()));
        await lab.WaitUntilServingAsync(agent);
        await Eventually.Until(() => Jsonpath("{.status.nginx.lastError}|{.status.observedGeneration}|{.metadata.generation}"),
            s => s.Split('|') is ["", var observed, var generation] && observed == generation, TimeSpan.FromSeconds(10), "the status: no error, the corrected generation applied");
        Assert.Equal(0, await agent.StopAsync());
    }

    [Fact]
    public async Task Agent_ServesTheVipOfItsNodeHaConfig_WritesItsStatus_AndARestartDuringAnOutageComesBackServing()
    {
        using var lab = new SingleNodeLab($"k8{Environment.ProcessId % 100:00}");
        _k.Ok("apply", "-f", _k.WriteManifest("lb1-nhc.json", NodeHaConfigJson()));
        var relay = new LoopbackRelay(lab.Lb1, _k.Url.Port);
        try
        {
            var kubeconfig = Kubeconfig(lab, relay);

            var agent = lab.StartKubernetes(kubeconfig);
            await lab.WaitUntilServingAsync(agent);
            await Eventually.Until(() => Jsonpath("{.status.instances[0].state} {.status.nginx.state} {.status.observedGeneration}"),
                s => s == "Master Running 1", TimeSpan.FromSeconds(10), "the status shows lb1 MASTER, nginx running, generation 1");
            var saved = new LastConfigStore(lab.StateDirectory()).Path;
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(saved));

            // The API server away: the agent is restarted and must come back serving its last config from disk.
            relay.Dispose();
            Assert.Equal(0, await agent.StopAsync());
            Assert.False(lab.HoldsVip(), "SIGTERM released the VIP");
            var restarted = lab.StartKubernetes(kubeconfig);
            await lab.WaitUntilServingAsync(restarted);
            Assert.Contains(restarted.Process.Lines, l => l.Contains("last applied config", StringComparison.Ordinal));
            Assert.Equal(0, await restarted.StopAsync());
        }
        finally
        {
            relay.Dispose();
        }
    }
}
