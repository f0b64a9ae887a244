using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.Tests.Support;

/// <summary>The one container of a Job's pod, as a kubelet would start it.</summary>
public sealed record JobContainer(string Name, string Image, IReadOnlyList<string> Command, IReadOnlyList<string> Args);

/// <summary>
/// The test cluster has no Job controller and no kubelet (its stand-in only stores batch/v1 Jobs): a test plays both for a
/// helm hook. It waits for the Job, reads its pod's container, runs it as a process of its own choosing, then writes the status a
/// Job controller would (Complete or Failed), which helm's hook wait reads. Link it with
/// <c>&lt;Compile Include="../TestCluster.Tests/Support/JobStandIn.cs" /&gt;</c>.
/// </summary>
public sealed class JobStandIn(Uri front) : IDisposable
{
    readonly HttpClient _http = new() { BaseAddress = front, Timeout = TimeSpan.FromSeconds(10) };

    static string JobPath(string ns, string name) => $"/apis/batch/v1/namespaces/{ns}/jobs/{name}";

    /// <summary>The Job once it exists (another than the one of uid <paramref name="notUid"/>: helm replaces an earlier run's Job);
    /// null when <paramref name="stop"/> says to give up first (e.g. helm exited) or at the timeout.</summary>
    public async Task<JsonObject?> WaitForAsync(string ns, string name, TimeSpan timeout, Func<bool> stop, string? notUid = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !stop())
        {
            using var response = await _http.GetAsync(JobPath(ns, name));
            if (response.StatusCode != HttpStatusCode.NotFound)
            {
                response.EnsureSuccessStatusCode();
                var job = (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                if (notUid is null || (string?)job["metadata"]?["uid"] != notUid) return job;
            }
            await Task.Delay(100); // polling an API with no watch here: the Job is created by another process
        }
        return null;
    }

    /// <summary>Whether the Job exists now.</summary>
    public async Task<bool> ExistsAsync(string ns, string name)
    {
        using var response = await _http.GetAsync(JobPath(ns, name));
        if (response.StatusCode == HttpStatusCode.NotFound) return false;
        response.EnsureSuccessStatusCode();
        return true;
    }

    /// <summary>The pod's one container; a pod with init containers or several containers is refused (this stand-in runs one).</summary>
    public static JobContainer Container(JsonObject job)
    {
        var pod = job["spec"]?["template"]?["spec"] as JsonObject ?? throw new InvalidOperationException("the Job has no spec.template.spec");
        if (pod["initContainers"] is JsonArray { Count: > 0 }) throw new InvalidOperationException("the Job stand-in runs no init containers");
        if (pod["containers"] is not JsonArray { Count: 1 } containers) throw new InvalidOperationException("the Job stand-in runs a pod of exactly one container");
        var c = containers[0]!.AsObject();
        static List<string> Strings(JsonNode? node) => (node as JsonArray ?? []).Select(n => n!.GetValue<string>()).ToList();
        return new((string?)c["name"] ?? "", (string?)c["image"] ?? "", Strings(c["command"]), Strings(c["args"]));
    }

    /// <summary>Writes the status the Job controller writes when its pod ended: Complete, or Failed (backoff limit reached).</summary>
    public async Task FinishAsync(string ns, string name, bool succeeded, DateTimeOffset started)
    {
        var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ");
        JsonObject Condition(string type, string? reason = null, string? message = null) => new()
        {
            ["type"] = type, ["status"] = "True", ["lastProbeTime"] = now, ["lastTransitionTime"] = now, ["reason"] = reason, ["message"] = message,
        };
        var status = new JsonObject
        {
            ["startTime"] = started.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            ["active"] = 0,
            [succeeded ? "succeeded" : "failed"] = 1,
            ["conditions"] = succeeded
                ? new JsonArray(Condition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                    Condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"))
                : new JsonArray(Condition("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                    Condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")),
        };
        if (succeeded) status["completionTime"] = now;
        using var request = new HttpRequestMessage(HttpMethod.Patch, JobPath(ns, name) + "/status")
        {
            Content = new StringContent(new JsonObject { ["status"] = status }.ToJsonString(), Encoding.UTF8, "application/merge-patch+json"),
        };
        using var response = await _http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"PATCH {JobPath(ns, name)}/status: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    public void Dispose() => _http.Dispose();
}
