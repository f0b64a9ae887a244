using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using NginxHa.TestCluster.StandIn;

namespace NginxHa.TestCluster.Front;

/// <summary>
/// Discovery for the one cluster URL: /api, apps/v1 and batch/v1 from the stand-in's kinds, /apis merged from the real
/// server's groups and the stand-in's. Always the plain (unaggregated) documents: clients that ask for aggregated
/// discovery take these as the server's answer and fall back to per-group discovery, as with older servers.
/// </summary>
public sealed class Discovery(UpstreamProxy upstream, Func<string> serverAddress)
{
    public JsonObject CoreVersions() => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress() }),
    };

    /// <summary>One of the stand-in's groups (apps, batch), served at v1.</summary>
    public static JsonObject Group(string name) => new()
    {
        ["kind"] = "APIGroup",
        ["apiVersion"] = "v1",
        ["name"] = name,
        ["versions"] = new JsonArray(GroupVersion(name)),
        ["preferredVersion"] = GroupVersion(name),
    };

    static JsonObject GroupVersion(string name) => new() { ["groupVersion"] = $"{name}/v1", ["version"] = "v1" };

    public static JsonObject Resources(string group, string version)
    {
        var resources = new JsonArray();
        foreach (var k in ResourceKind.All.Where(k => k.Group == group && k.Version == version))
        {
            resources.Add(new JsonObject
            {
                ["name"] = k.Plural,
                ["singularName"] = k.Singular,
                ["namespaced"] = k.Namespaced,
                ["kind"] = k.Kind,
                ["verbs"] = new JsonArray("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
                ["shortNames"] = new JsonArray(k.ShortNames.Select(s => (JsonNode)s).ToArray()),
                ["categories"] = new JsonArray(k.Categories.Select(s => (JsonNode)s).ToArray()),
            });
            if (k.HasStatus)
                resources.Add(new JsonObject
                {
                    ["name"] = k.Plural + "/status",
                    ["singularName"] = "",
                    ["namespaced"] = k.Namespaced,
                    ["kind"] = k.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
        }
        return new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        };
    }

    /// <summary>
    /// The real server lists custom resource groups only in its aggregated discovery (kube-apiserver's aggregator
    /// adds them to the plain list), so the plain list is made from the aggregated one.
    /// </summary>
    public async Task<JsonObject> Groups(CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/apis");
        request.Headers.Accept.ParseAdd("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
        using var response = await upstream.Send(request, token);
        response.EnsureSuccessStatusCode();
        var aggregated = JsonNode.Parse(await response.Content.ReadAsStringAsync(token))!.AsObject();
        var groups = new JsonArray(ResourceKind.Groups.Select(g => (JsonNode)Group(g)).ToArray());
        foreach (var item in aggregated["items"]?.AsArray() ?? [])
        {
            var name = item?["metadata"]?["name"]?.GetValue<string>();
            var versions = (item?["versions"]?.AsArray() ?? [])
                .Select(v => v?["version"]?.GetValue<string>())
                .Where(v => v is not null)
                .Select(v => new JsonObject { ["groupVersion"] = $"{name}/{v}", ["version"] = v })
                .ToList();
            if (name is null || versions.Count == 0) continue;
            groups.Add(new JsonObject
            {
                ["name"] = name,
                ["versions"] = new JsonArray(versions.Select(v => (JsonNode)v).ToArray()),
                ["preferredVersion"] = versions[0].DeepClone(),
            });
        }
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups };
    }
}
