using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.Tests.Support;

/// <summary>Raw HTTP to the cluster's one URL, as a client library would send it: the wire is what the contract is about.</summary>
public sealed class KubeHttp(Uri url) : IDisposable
{
    readonly HttpClient _http = new() { BaseAddress = url, Timeout = Timeout.InfiniteTimeSpan };

    public sealed record Reply(int Code, JsonObject Body)
    {
        public string Reason => Body["reason"]?.GetValue<string>() ?? "";
        public string ResourceVersion => Body["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "";
        public JsonArray Items => Body["items"]!.AsArray();
        public IReadOnlyList<string> Names => Items.Select(i => i!["metadata"]!["name"]!.GetValue<string>()).Order().ToList();
        public override string ToString() => $"{Code} {Body.ToJsonString()}";
    }

    public Task<Reply> Get(string path) => Send(HttpMethod.Get, path, null);
    public Task<Reply> Post(string path, JsonNode body) => Send(HttpMethod.Post, path, body);
    public Task<Reply> Put(string path, JsonNode body) => Send(HttpMethod.Put, path, body);
    public Task<Reply> MergePatch(string path, JsonNode body) => Send(HttpMethod.Patch, path, body, "application/merge-patch+json");
    public Task<Reply> Delete(string path, JsonNode? options = null) => Send(HttpMethod.Delete, path, options);

    public async Task<Reply> Send(HttpMethod method, string path, JsonNode? body, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, MediaTypeHeaderValue.Parse(contentType));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await _http.SendAsync(request, cts.Token);
        var text = await response.Content.ReadAsStringAsync(cts.Token);
        var parsed = text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject { ["raw"] = text };
        return new((int)response.StatusCode, parsed);
    }

    /// <summary>The events of one watch request, as they arrive, until the server ends it or <paramref name="token"/> fires;
    /// <paramref name="onStarted"/> runs once the server has answered with its headers: the watch is registered.</summary>
    public async IAsyncEnumerable<(string Type, JsonObject Object)> Watch(string pathAndQuery, [EnumeratorCancellation] CancellationToken token,
        Func<Task>? onStarted = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);
        if ((int)response.StatusCode != 200)
            throw new InvalidOperationException($"watch {pathAndQuery}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(token)}");
        if (onStarted is not null) await onStarted();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(token));
        while (await reader.ReadLineAsync(token) is { } line)
        {
            if (line.Length == 0) continue;
            var e = JsonNode.Parse(line)!.AsObject();
            yield return (e["type"]!.GetValue<string>(), e["object"]!.AsObject());
        }
    }

    public void Dispose() => _http.Dispose();
}
