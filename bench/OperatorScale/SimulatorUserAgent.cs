namespace NginxHa.Bench.OperatorScale;

/// <summary>Marks the simulator's own requests (agents' status writes, the benchmark's changes) apart from the operator's
/// in the test cluster front's counts (GET /_testcluster/requests counts by the User-Agent's first word).</summary>
public sealed class SimulatorUserAgent : DelegatingHandler
{
    public const string Product = "operator-scale-sim";

    /// <summary>Keys of the front's counts ("CLIENT VERB RESOURCE") that are the simulator's.</summary>
    public static bool IsSimulator(string countKey) => countKey.StartsWith(Product + " ", StringComparison.Ordinal);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.UserAgent.Clear();
        request.Headers.UserAgent.ParseAdd(Product + "/1");
        return base.SendAsync(request, cancellationToken);
    }
}
