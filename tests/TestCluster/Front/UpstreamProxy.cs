using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace NginxHa.TestCluster.Front;

/// <summary>
/// Passes a request through to the real CRD API server over TLS (the cluster's CA, the admin client
/// certificate) and streams the answer back as it comes, so watches stay live.
/// </summary>
public sealed class UpstreamProxy : IDisposable
{
    static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "TE", "Trailer", "Upgrade", "Proxy-Authorization",
        "Proxy-Authenticate", "Proxy-Connection", "Host", "Authorization",
    };

    readonly HttpClient _client;

    public UpstreamProxy(Uri upstream, string caFile, string certFile, string keyFile)
    {
        Upstream = upstream;
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caFile));
        var clientCert = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseCookies = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [clientCert],
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    if (cert is null) return false;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(cert));
                },
            },
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan, BaseAddress = upstream };
    }

    public Uri Upstream { get; }

    public async Task<HttpResponseMessage> Send(HttpRequestMessage request, CancellationToken token) =>
        await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, token);

    public async Task Forward(HttpContext ctx)
    {
        var req = ctx.Request;
        using var message = new HttpRequestMessage(new HttpMethod(req.Method), req.Path + req.QueryString);
        if (await BuiltinTypeMeta.Complete(req) is { } completed) message.Content = new ByteArrayContent(completed);
        else if (req.ContentLength > 0 || req.Headers.TransferEncoding.Count > 0) message.Content = new StreamContent(req.Body);
        foreach (var (name, values) in req.Headers)
        {
            if (HopByHop.Contains(name) || (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && message.Content is ByteArrayContent)) continue;
            if (!message.Headers.TryAddWithoutValidation(name, values.ToArray()))
                message.Content?.Headers.TryAddWithoutValidation(name, values.ToArray());
        }
        HttpResponseMessage response;
        try
        {
            response = await Send(message, ctx.RequestAborted);
        }
        catch (HttpRequestException e)
        {
            ctx.Response.StatusCode = 503;
            await ctx.Response.WriteAsync($"test cluster front: the CRD API server at {Upstream} did not answer: {e.Message}");
            return;
        }
        using (response)
        {
            ctx.Response.StatusCode = (int)response.StatusCode;
            foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
                if (!HopByHop.Contains(name)) ctx.Response.Headers[name] = values.ToArray();
            // Headers go out now: a watch with nothing to report yet still answers at once, as the server does.
            await ctx.Response.StartAsync(ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            await using var body = await response.Content.ReadAsStreamAsync(ctx.RequestAborted);
            var buffer = new byte[16 * 1024];
            try
            {
                int n;
                while ((n = await body.ReadAsync(buffer, ctx.RequestAborted)) > 0)
                {
                    await ctx.Response.Body.WriteAsync(buffer.AsMemory(0, n), ctx.RequestAborted);
                    await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
            {
                // the client went away, or the server ended a watch
            }
        }
    }

    public void Dispose() => _client.Dispose();
}
