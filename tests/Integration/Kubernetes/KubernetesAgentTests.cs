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

    /// <summary>The status line nginx answers for <paramref name="path"/> on the VIP from the client, with basic credentials or none.</summary>
    static string StatusLine(SingleNodeLab lab, string path, string? credentials) => lab.Client.Run(() =>
    {
        try
        {
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream,
                System.Net.Sockets.ProtocolType.Tcp) { ReceiveTimeout = 2000, SendTimeout = 2000 };
            socket.Connect(new System.Net.IPEndPoint(SingleNodeLab.Vip, SingleNodeLab.ListenPort));
            var authorization = credentials is null ? "" : $"Authorization: Basic {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(credentials))}\r\n";
            socket.Send(System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.0\r\nHost: test\r\n{authorization}\r\n"));
            var buffer = new byte[256];
            return System.Text.Encoding.ASCII.GetString(buffer, 0, socket.Receive(buffer)).Split("\r\n")[0];
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return $"error: {e.SocketErrorCode}";
        }
    });

    /// <summary>An htpasswd line in nginx's {SHA} scheme (base64 of SHA-1), so the test needs no htpasswd tool.</summary>
    static string HtpasswdLine(string user, string password) =>
        $"{user}:{{SHA}}{Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(System.Text.Encoding.UTF8.GetBytes(password)))}\n";

    void ApplySecret(string name, string key, string value) => _k.Ok("apply", "-f", _k.WriteManifest($"{name}-{Guid.NewGuid():N}.json",
        new System.Text.Json.Nodes.JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = name, ["namespace"] = "edge" },
            ["data"] = new System.Text.Json.Nodes.JsonObject { [key] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(value)) },
        }.ToJsonString()));

    [Fact]
    public async Task Agent_ServesABasicAuthStatusEndpointFromASecret_ToTheWorkers_FollowsANewPassword_AndKeepsServingOnABadSecret()
    {
        using var lab = new SingleNodeLab($"ka{Environment.ProcessId % 100:00}");
        if (_k.Run("get", "namespace", "edge").ExitCode != 0) _k.Ok("create", "namespace", "edge");
        ApplySecret("ops-auth", "auth", "# operators\n" + HtpasswdLine("ops", "first-pass"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(NodeHaConfigJson())!;
        config["spec"]!["backendPools"]![0]!["spec"]!["status"] = System.Text.Json.Nodes.JsonNode.Parse("""{"basicAuth": {"secretName": "ops-auth"}}""");
        _k.Ok("apply", "-f", _k.WriteManifest("lb1-nhc-auth.json", config.ToJsonString()));
        using var relay = new LoopbackRelay(lab.Lb1, _k.Url.Port);
        var agent = lab.StartKubernetes(Kubeconfig(lab, relay));
        await lab.WaitUntilServingAsync(agent);

        // nginx's workers (nobody:nogroup) open the file per request: a file they cannot read would answer 500 here.
        Assert.Equal("HTTP/1.1 401 Unauthorized", StatusLine(lab, "/nginx_status", null));
        Assert.Equal("HTTP/1.1 401 Unauthorized", StatusLine(lab, "/nginx_status", "ops:wrong"));
        Assert.Equal("HTTP/1.1 200 OK", StatusLine(lab, "/nginx_status", "ops:first-pass"));
        var file = Assert.Single(Directory.GetFiles(Path.Combine(lab.StateDirectory(), "nginx", "secrets", "edge", "ops-auth"), "auth", SearchOption.AllDirectories));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(file));

        // A new password in the Secret: nginx reloads with the new file, the old password stops working.
        ApplySecret("ops-auth", "auth", HtpasswdLine("ops", "second-pass"));
        await Eventually.Until(() => StatusLine(lab, "/nginx_status", "ops:second-pass"), s => s == "HTTP/1.1 200 OK", TimeSpan.FromSeconds(20),
            "the new password accepted after the reload");
        await Eventually.Until(() => StatusLine(lab, "/nginx_status", "ops:first-pass"), s => s == "HTTP/1.1 401 Unauthorized", TimeSpan.FromSeconds(10),
            "the old password refused (old workers gone)");

        // The htpasswd under another key: rejected, said in the status and an Event, and the last good config keeps serving.
        _k.Ok("delete", "secret", "ops-auth", "-n", "edge");
        ApplySecret("ops-auth", "htpasswd", HtpasswdLine("ops", "third-pass"));
        await Eventually.Until(() => Jsonpath("{.status.nginx.lastError}"),
            e => e.Contains("spec.backendPools[0].spec.status.basicAuth.secretName: Secret edge/ops-auth has no key \"auth\"", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the status names the field and the key");
        var events = _k.Ok("get", "events.v1.events.k8s.io", "-n", "default", "-o", "jsonpath={range .items[*]}{.regarding.name} {.reason} {.note}{\"\\n\"}{end}");
        Assert.Contains(events.Split('\n'), l => l.StartsWith("lb1 ConfigRejected ", StringComparison.Ordinal) && l.Contains("basicAuth.secretName", StringComparison.Ordinal));
        Assert.Equal("HTTP/1.1 200 OK", StatusLine(lab, "/nginx_status", "ops:second-pass"));
        Assert.True(lab.HoldsVip(), "the VIP stays");
        Assert.DoesNotContain(agent.Process.Lines, l => l.Contains("pass", StringComparison.Ordinal) && l.Contains("{SHA}", StringComparison.Ordinal));
        Assert.Equal(0, await agent.StopAsync());
        // The other tests of this class start from NodeHaConfig lb1 at generation 1.
        _k.Ok("delete", "nhc", "lb1");
        _k.Ok("delete", "secret", "ops-auth", "-n", "edge");
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
