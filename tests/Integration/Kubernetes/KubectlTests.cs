using System.ComponentModel;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using NginxHa.Core.Manifests;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// kubectl against the test cluster with crds/ applied, as a user would use it: apply, get, explain, status
/// through the status subresource, conflicts, finalizers. Each test works on objects of its own names.
/// </summary>
[Collection(CrdClusterCollection.Name)]
public sealed class KubectlTests(CrdCluster cluster)
{
    readonly TestCluster _k = cluster.Server;

    static readonly JsonSerializerOptions CSharpJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    [Fact]
    public void Examples_are_created_and_the_server_fills_in_the_defaults_standalone_mode_assumes()
    {
        var defaultsChecked = 0;
        foreach (var file in CrdCluster.ExampleFiles())
        {
            _k.Ok("apply", "-f", file);
            var set = ManifestLoader.LoadFiles([file]);
            Assert.True(set.IsValid, string.Join("\n", set.Errors));
            // The file as written (kubectl's own reading, no server): fields absent here were filled in by the server.
            var writtenItems = JsonValues(_k.Ok("create", "--dry-run=client", "-o", "json", "-f", file));

            foreach (Resource resource in set.VirtualIpGroups.Cast<Resource>().Concat(set.NginxBackendPools))
            {
                var stored = JsonNode.Parse(_k.Ok("get", resource.Kind, resource.Metadata.Name, "-n", resource.Metadata.Namespace!, "-o", "json"))!;
                var asWritten = writtenItems.Single(i => (string?)i["kind"] == resource.Kind && (string?)i["metadata"]!["name"] == resource.Metadata.Name);
                var spec = resource switch { VirtualIpGroup g => (object)g.Spec, NginxBackendPool p => p.Spec, _ => throw new InvalidOperationException() };
                var csharp = JsonSerializer.SerializeToNode(spec, spec.GetType(), CSharpJson)!;
                foreach (var (steps, value) in Leaves(stored["spec"]!, ["spec"]))
                {
                    if (At(asWritten, steps) is not null) continue;
                    var expected = At(new JsonObject { ["spec"] = csharp.DeepClone() }, steps);
                    var path = string.Join('.', steps);
                    Assert.True(JsonNode.DeepEquals(value, expected),
                        $"{Path.GetFileName(file)} {resource.Kind} {resource.DisplayName}: the server defaulted {path} to {value?.ToJsonString()} but standalone mode reads {expected?.ToJsonString() ?? "nothing"}");
                    defaultsChecked++;
                }
            }
        }
        Assert.True(defaultsChecked >= 10, $"only {defaultsChecked} server defaults seen");
        // One default, spelled out: dual-master.yaml gives no preemptDelay.
        Assert.Equal("0s", _k.Ok("get", "vipg", "web", "-n", "edge", "-o", "jsonpath={.spec.vrrp.preemptDelay}"));
    }

    [Fact]
    public void Get_shows_the_printer_columns_and_wide_adds_the_wider_ones()
    {
        _k.Ok("apply", "-f", _k.WriteManifest("columns.yaml", """
            apiVersion: nginx-ha.io/v1alpha1
            kind: VirtualIpGroup
            metadata: {name: columns, namespace: cols}
            spec: {mode: ActiveActive, virtualIPs: [198.18.7.1/24, 198.18.7.2/24], backendPoolRef: columns}
            ---
            apiVersion: nginx-ha.io/v1alpha1
            kind: NginxBackendPool
            metadata: {name: columns, namespace: cols}
            spec:
              listeners: [{port: 8443, tls: {secretName: columns-tls}}]
              backends: {servers: [{address: 198.18.7.21, port: 8080}]}
            ---
            apiVersion: nginx-ha.io/v1alpha1
            kind: NodeHaConfig
            metadata: {name: cols-lb1}
            spec:
              nodeName: cols-lb1
              vrrpInstances: [{name: cols/columns/0, group: cols/columns, virtualRouterId: 71, priority: 254, virtualIPs: [198.18.7.1/24]}]
            """));
        _k.Ok("patch", "vipg", "columns", "-n", "cols", "--subresource=status", "--type=merge", "-p",
            """{"status":{"virtualIPs":[{"address":"198.18.7.1/24","masterNode":"cols-lb1"}],"masters":"cols-lb1","conditions":[{"type":"Ready","status":"True","reason":"Planned","message":""}]}}""");
        _k.Ok("patch", "nhc", "cols-lb1", "--subresource=status", "--type=merge", "-p",
            """{"status":{"instances":[{"name":"cols/columns/0","state":"Master"}],"nginx":{"state":"Running","configHash":"26e35ca55ab0"}}}""");

        var groups = Table(_k.Ok("get", "vipg", "-n", "cols"));
        Assert.Equal(["NAME", "MODE", "VIPS", "MASTERS", "READY", "AGE"], groups.Header);
        Assert.Equal(["columns", "ActiveActive", "[\"198.18.7.1/24\",\"198.18.7.2/24\"]", "cols-lb1", "True"], groups.Rows.Single()[..5]);

        var pools = Table(_k.Ok("get", "nbp", "-n", "cols", "-o", "wide"));
        Assert.Equal(["NAME", "LISTENERS", "BACKENDS", "SERVICE", "READY", "AGE"], pools.Header);
        Assert.Equal(["columns", "8443", "198.18.7.21"], pools.Rows.Single()[..3]);
        Assert.Equal(["NAME", "LISTENERS", "READY", "AGE"], Table(_k.Ok("get", "nbp", "-n", "cols")).Header);

        var nodes = Table(_k.Ok("get", "nhc", "cols-lb1"));
        Assert.Equal(["NAME", "MASTERS", "NGINX", "AGE"], nodes.Header);
        Assert.Equal(["cols-lb1", "cols/columns/0", "Running"], nodes.Rows.Single()[..3]);
        var wideNodes = Table(_k.Ok("get", "nhc", "cols-lb1", "-o", "wide"));
        Assert.Equal(["NAME", "INSTANCES", "MASTERS", "NGINX", "CONFIG", "AGE"], wideNodes.Header);
        Assert.Equal(["cols-lb1", "cols/columns/0", "cols/columns/0", "Running", "26e35ca55ab0"], wideNodes.Rows.Single()[..5]);

        // The short names together, and the category: one command lists all three kinds.
        var all = _k.Ok("get", "vipg,nbp,nhc", "-A");
        Assert.Contains("virtualipgroup.nginx-ha.io/columns", all);
        Assert.Contains("nginxbackendpool.nginx-ha.io/columns", all);
        Assert.Contains("nodehaconfig.nginx-ha.io/cols-lb1", all);
        var category = _k.Ok("get", "nginx-ha", "-n", "cols");
        Assert.Contains("virtualipgroup.nginx-ha.io/columns", category);
        Assert.Contains("nginxbackendpool.nginx-ha.io/columns", category);
        Assert.Contains("nodehaconfig.nginx-ha.io/cols-lb1", _k.Ok("get", "nginx-ha", "-A"));
    }

    [Fact]
    public void Explain_shows_the_descriptions_of_the_CSharp_types()
    {
        var explain = _k.Ok("explain", "virtualipgroup.spec.vrrp");
        Assert.Contains("VRRP protocol settings, the same on every node of the group.", Flatten(explain));
        foreach (var property in typeof(VrrpSettings).GetProperties())
        {
            var description = property.GetCustomAttribute<DescriptionAttribute>()!.Description;
            Assert.Contains(description, Flatten(explain));
        }
        Assert.Contains("whole seconds for version 2", Flatten(_k.Ok("explain", "vipg.spec.vrrp.advertisementInterval")));
        Assert.Contains(NodeHaConfigDescription(), Flatten(_k.Ok("explain", "nodehaconfig")));
    }

    [Fact]
    public void Status_is_written_through_the_status_subresource_only()
    {
        _k.Ok("apply", "-f", _k.WriteManifest("status.yaml", Group("status-only", "198.18.8.1")));

        _k.Ok("patch", "vipg", "status-only", "--subresource=status", "--type=merge", "-p",
            """{"status":{"observedGeneration":1,"virtualIPs":[{"address":"198.18.8.1/32","vrid":81,"masterNode":"lb1","backupNodes":["lb2"]}]}}""");
        Assert.Equal("lb1", _k.Ok("get", "vipg", "status-only", "-o", "jsonpath={.status.virtualIPs[0].masterNode}"));

        // The main resource ignores status; the status subresource ignores spec.
        _k.Ok("patch", "vipg", "status-only", "--type=merge", "-p", """{"status":{"virtualIPs":[{"address":"198.18.8.1/32","masterNode":"intruder"}]}}""");
        Assert.Equal("lb1", _k.Ok("get", "vipg", "status-only", "-o", "jsonpath={.status.virtualIPs[0].masterNode}"));
        _k.Ok("patch", "vipg", "status-only", "--subresource=status", "--type=merge", "-p", """{"spec":{"mode":"ActiveActive"}}""");
        Assert.Equal("ActivePassive", _k.Ok("get", "vipg", "status-only", "-o", "jsonpath={.spec.mode}"));
        // A status write does not bump the generation; a spec write does.
        Assert.Equal("1", _k.Ok("get", "vipg", "status-only", "-o", "jsonpath={.metadata.generation}"));
    }

    [Fact]
    public void An_update_with_a_stale_resourceVersion_is_refused_with_a_conflict()
    {
        _k.Ok("apply", "-f", _k.WriteManifest("conflict.yaml", Group("conflict", "198.18.9.1")));
        var stale = JsonNode.Parse(_k.Ok("get", "vipg", "conflict", "-o", "json"))!;
        _k.Ok("patch", "vipg", "conflict", "--type=merge", "-p", """{"spec":{"vrrp":{"preempt":false}}}""");

        stale["spec"]!["vrrp"]!["advertisementInterval"] = "2s";
        var (exit, _, error) = _k.Run("replace", "-f", _k.WriteManifest("conflict-stale.json", stale.ToJsonString()));
        Assert.NotEqual(0, exit);
        Assert.Contains("Operation cannot be fulfilled on virtualipgroups.nginx-ha.io \"conflict\": the object has been modified; " +
                        "please apply your changes to the latest version and try again", error);
        Assert.Equal("1s", _k.Ok("get", "vipg", "conflict", "-o", "jsonpath={.spec.vrrp.advertisementInterval}"));
    }

    [Fact]
    public async Task A_finalizer_holds_a_deletion_until_it_is_removed()
    {
        _k.Ok("apply", "-f", _k.WriteManifest("held.yaml", Group("held", "198.18.10.1")));
        _k.Ok("patch", "vipg", "held", "--type=merge", "-p", """{"metadata":{"finalizers":["nginx-ha.io/test-hold"]}}""");

        _k.Ok("delete", "vipg", "held", "--wait=false");
        Assert.NotEqual("", _k.Ok("get", "vipg", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"));
        Assert.Equal("nginx-ha.io/test-hold", _k.Ok("get", "vipg", "held", "-o", "jsonpath={.metadata.finalizers[0]}"));

        _k.Ok("patch", "vipg", "held", "--type=merge", "-p", """{"metadata":{"finalizers":null}}""");
        await Eventually.Until(() => _k.Run("get", "vipg", "held"), r => r.ExitCode != 0, TimeSpan.FromSeconds(30), "the object is gone");
        Assert.Contains("virtualipgroups.nginx-ha.io \"held\" not found", _k.Run("get", "vipg", "held").Error);
    }

    [Fact]
    public void The_planned_NodeHaConfigs_of_an_example_are_accepted_and_read_back_by_the_loader()
    {
        var file = CrdCluster.ExampleFiles().Single(f => f.EndsWith("dual-master.yaml", StringComparison.Ordinal));
        var set = ManifestLoader.LoadFiles([file]);
        var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));
        _k.Ok("apply", "-f", _k.WriteManifest("planned.yaml", ManifestWriter.Write(plan.NodeConfigs)));

        // What the server stores (with its defaults) is a NodeHaConfig the agent's loader accepts.
        var stored = _k.Ok("get", "nhc", "lb1", "-o", "yaml");
        var loaded = ManifestLoader.LoadText("lb1.yaml", stored);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Errors));
        Assert.Equal(plan.NodeConfigs.Single(c => c.Metadata.Name == "lb1").Spec.VrrpInstances.Select(i => i.Priority),
            loaded.NodeHaConfigs.Single().Spec.VrrpInstances.Select(i => i.Priority));
    }

    static string Group(string name, string vip) => $"""
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {"{"}name: {name}, namespace: default{"}"}
        spec: {"{"}virtualIPs: [{vip}]{"}"}
        """;

    static string NodeHaConfigDescription() => typeof(NodeHaConfig).GetCustomAttribute<DescriptionAttribute>()!.Description;

    /// <summary>kubectl explain wraps descriptions at 80 columns: compare with the whitespace folded.</summary>
    static string Flatten(string text) => string.Join(' ', text.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries));

    static (string[] Header, List<string[]> Rows) Table(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        static string[] Cells(string line) => System.Text.RegularExpressions.Regex.Split(line.Trim(), @"\s{2,}");
        return (Cells(lines[0]), lines.Skip(1).Select(Cells).ToList());
    }

    /// <summary>kubectl -o json of several objects prints one JSON value after another.</summary>
    static List<JsonNode> JsonValues(string text)
    {
        var values = new List<JsonNode>();
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(text), new JsonReaderOptions { AllowMultipleValues = true });
        while (reader.Read()) values.Add(JsonNode.Parse(ref reader)!);
        return values;
    }

    /// <summary>Every scalar under a node, with its path as steps (a key, or "[i]" for a list item).</summary>
    static IEnumerable<(string[] Steps, JsonNode? Value)> Leaves(JsonNode node, string[] steps) => node switch
    {
        JsonObject o => o.SelectMany(p => Leaves(p.Value!, [.. steps, p.Key])),
        JsonArray a => a.SelectMany((item, i) => Leaves(item!, [.. steps, $"[{i}]"])),
        _ => [(steps, node)],
    };

    static JsonNode? At(JsonNode root, string[] steps)
    {
        JsonNode? node = root;
        foreach (var step in steps)
        {
            node = step.StartsWith('[')
                ? node is JsonArray a && int.Parse(step[1..^1]) is var i && i < a.Count ? a[i] : null
                : node is JsonObject o && o.TryGetPropertyValue(step, out var child) ? child : null;
            if (node is null) return null;
        }
        return node;
    }
}
