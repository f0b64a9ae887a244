namespace NginxHa.NodeAgent.Nginx;

/// <summary>One HTTP GET per probe, on a fresh connection, so a pooled connection to a live worker cannot hide a dead listener.</summary>
internal sealed class NginxHttpProbe : IDisposable
{
    private readonly NginxHealthProbeOptions _options;
    private readonly TimeProvider _time;
    private readonly HttpClient _client;

    public NginxHttpProbe(NginxHealthProbeOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
        // No proxy: the probe targets the local nginx, whatever HTTP_PROXY the environment sets.
        _client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.Zero })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <returns>null when healthy, else why not.</returns>
    public async Task<string?> CheckAsync(CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, _options.Url);
            request.Headers.ConnectionClose = true;
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token);
            return response.IsSuccessStatusCode ? null : $"GET {_options.Url} answered {(int)response.StatusCode}";
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return $"GET {_options.Url} timed out after {_options.Timeout.TotalSeconds:0.###} s";
        }
        catch (HttpRequestException ex)
        {
            return $"GET {_options.Url} failed: {ex.Message}";
        }
    }

    public void Dispose() => _client.Dispose();
}
