using System.Text;
using System.Text.Json.Nodes;
using NginxHa.TestCluster.Tests.Support;

namespace NginxHa.TestCluster.Tests.Contract;

/// <summary>What a contract case runs on: one namespaced kind of one half of the test cluster.</summary>
public abstract class ClusterSide(ClusterFixture cluster)
{
    public ClusterFixture Cluster { get; } = cluster;
    public abstract string Kind { get; }
    public abstract string ApiVersion { get; }
    protected abstract string GroupVersionPath { get; }
    protected abstract string Plural { get; }

    public string Collection(string ns) => $"{GroupVersionPath}/namespaces/{ns}/{Plural}";
    public string AllNamespaces => $"{GroupVersionPath}/{Plural}";
    public string Item(string ns, string name) => $"{Collection(ns)}/{name}";

    public JsonObject New(string ns, string name, IReadOnlyDictionary<string, string> labels, int value, params string[] finalizers)
    {
        var meta = new JsonObject
        {
            ["name"] = name,
            ["namespace"] = ns,
            ["labels"] = new JsonObject(labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))),
        };
        if (finalizers.Length > 0) meta["finalizers"] = new JsonArray(finalizers.Select(f => (JsonNode)f).ToArray());
        var obj = new JsonObject { ["apiVersion"] = ApiVersion, ["kind"] = Kind, ["metadata"] = meta };
        SetValue(obj, value);
        return obj;
    }

    public abstract void SetValue(JsonObject obj, int value);
    public abstract int ValueOf(JsonObject obj);

    /// <summary>A merge patch that sets the value.</summary>
    public JsonObject ValuePatch(int value)
    {
        var patch = new JsonObject();
        SetValue(patch, value);
        return patch;
    }

    /// <summary>A resourceVersion of this kind that the server no longer has, after a real compaction.</summary>
    public abstract Task<string> CompactedResourceVersion(KubeHttp http, string ns);
}

/// <summary>The real CRD API server, on a custom resource (Widget, Contract/widgets-crd.yaml).</summary>
public sealed class RealServerSide : ClusterSide
{
    static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClusterFixture, RealServerSide> Sides = new();
    readonly string _crdResourceVersion;

    /// <summary>One per cluster: the CRD is applied once.</summary>
    public static RealServerSide For(ClusterFixture cluster) => Sides.GetValue(cluster, c => new RealServerSide(c));

    RealServerSide(ClusterFixture cluster) : base(cluster)
    {
        var crd = Path.Combine(AppContext.BaseDirectory, "Contract", "widgets-crd.yaml");
        var create = cluster.Kubectl("create", "-f", crd, "-o", "jsonpath={.metadata.resourceVersion}");
        Assert.True(create.Code == 0, create.Error);
        _crdResourceVersion = create.Output.Trim();
        var wait = cluster.Kubectl("wait", "--for", "condition=Established", "--timeout=60s", "-f", crd);
        Assert.True(wait.Code == 0, wait.Error);
    }

    public override string Kind => "Widget";
    public override string ApiVersion => "contract.nginx-ha.io/v1";
    protected override string GroupVersionPath => "/apis/contract.nginx-ha.io/v1";
    protected override string Plural => "widgets";

    public override void SetValue(JsonObject obj, int value) => obj["spec"] = new JsonObject { ["value"] = value };
    public override int ValueOf(JsonObject obj) => obj["spec"]!["value"]!.GetValue<int>();

    /// <summary>
    /// The real server answers watches from its watch cache, whose window starts when the Widget storage
    /// started (once the CRD was established): the version the CRD was created at is older than anything it
    /// keeps, and etcd is compacted past it as well. (An etcd compaction alone does not reach watches or exact
    /// lists: the watch cache and its snapshots answer them until the server's own compactor runs.)
    /// </summary>
    public override Task<string> CompactedResourceVersion(KubeHttp http, string ns)
    {
        Cluster.Compact();
        return Task.FromResult(_crdResourceVersion);
    }
}

/// <summary>The stand-in, on a core/v1 Secret.</summary>
public sealed class StandInSide(ClusterFixture cluster) : ClusterSide(cluster)
{
    public override string Kind => "Secret";
    public override string ApiVersion => "v1";
    protected override string GroupVersionPath => "/api/v1";
    protected override string Plural => "secrets";

    public override void SetValue(JsonObject obj, int value) =>
        obj["data"] = new JsonObject { ["value"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(value.ToString())) };

    public override int ValueOf(JsonObject obj) =>
        int.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(obj["data"]!["value"]!.GetValue<string>())));

    /// <summary>A version written, then overwritten, then compacted away.</summary>
    public override async Task<string> CompactedResourceVersion(KubeHttp http, string ns)
    {
        var name = "compacted-" + Guid.NewGuid().ToString("N")[..8];
        var created = await http.Post(Collection(ns), New(ns, name, new Dictionary<string, string>(), 1));
        Assert.Equal(201, created.Code);
        Assert.Equal(200, (await http.MergePatch(Item(ns, name), ValuePatch(2))).Code);
        Cluster.Compact();
        return created.ResourceVersion;
    }
}
