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

    [Fact]
    public async Task Agent_ServesTheVipOfItsNodeHaConfig_WritesItsStatus_AndARestartDuringAnOutageComesBackServing()
    {
        using var lab = new SingleNodeLab($"k8{Environment.ProcessId % 100:00}");
        _k.Ok("apply", "-f", _k.WriteManifest("lb1-nhc.json", NodeHaConfigJson()));
        var relay = new LoopbackRelay(lab.Lb1, _k.Url.Port);
        try
        {
            var kubeconfig = Path.Combine(lab.WorkDirectory, "agent.kubeconfig");
            File.WriteAllText(kubeconfig, $$$"""
                apiVersion: v1
                kind: Config
                current-context: lab
                contexts: [{name: lab, context: {cluster: lab, user: agent}}]
                clusters: [{name: lab, cluster: {server: "http://127.0.0.1:{{{relay.Port}}}"}}]
                users: [{name: agent, user: {token: not-checked}}]
                """);

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
