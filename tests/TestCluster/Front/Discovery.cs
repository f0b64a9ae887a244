using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using NginxHa.TestCluster.StandIn;

namespace NginxHa.TestCluster.Front;

/// <summary>
/// Discovery for the one cluster URL: /api and apps/v1 from the stand-in's kinds, /apis merged from the real
/// server's groups and apps. Always the plain (unaggregated) documents: clients that ask for aggregated
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

    public static JsonObject AppsGroup() => new()
    {
        ["kind"] = "APIGroup",
        ["apiVersion"] = "v1",
        ["name"] = "apps",
        ["versions"] = new JsonArray(AppsVersion()),
        ["preferredVersion"] = AppsVersion(),
    };

    static JsonObject AppsVersion() => new() { ["groupVersion"] = "apps/v1", ["version"] = "v1" };

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

    public async Task<JsonObject> Groups(CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/apis");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await upstream.Send(request, token);
        response.EnsureSuccessStatusCode();
        var list = JsonNode.Parse(await response.Content.ReadAsStringAsync(token))!.AsObject();
        var groups = list["groups"] as JsonArray ?? [];
        groups.Insert(0, AppsGroup());
        list["groups"] = groups;
        return list;
    }
}
