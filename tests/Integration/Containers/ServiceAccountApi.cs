using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The API server as a pod sees it: HTTPS at KUBERNETES_SERVICE_HOST:PORT (here 127.0.0.1 inside the node's network
/// namespace) with a certificate signed by the service account's ca.crt, and a bearer token in the mounted service
/// account directory. It terminates TLS and relays (a <see cref="LoopbackRelay"/>) to the test cluster's plain-HTTP front
/// on the host's loopback, so a pod runs with in-cluster config exactly as under a kubelet, and the agent's TLS (OpenSSL
/// in its image) is used for real. It records the Authorization header of each connection's first request. Dispose stops
/// it and deletes the files.
/// </summary>
public sealed class ServiceAccountApi : IDisposable
{
    readonly LoopbackRelay _relay;
    readonly X509Certificate2 _certificate;
    readonly List<string> _authorizations = [];

    public ServiceAccountApi(LabNode node, int clusterPort)
    {
        Token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        _certificate = SelfSigned();
        Directory = System.IO.Directory.CreateTempSubdirectory("nha-sa-").FullName;
        File.WriteAllText(Path.Combine(Directory, "ca.crt"), _certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(Directory, "token"), Token);
        File.WriteAllText(Path.Combine(Directory, "namespace"), "nginx-ha");
        // Readable inside the container by its user only (root here), like the kubelet's projected token (0600 by fsGroup).
        foreach (var f in System.IO.Directory.GetFiles(Directory)) File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _relay = new LoopbackRelay(node, clusterPort, TerminateTlsAsync);
    }

    /// <summary>The service account directory (token, ca.crt, namespace) to mount at the well-known path.</summary>
    public string Directory { get; }
    public string Token { get; }
    public int Port => _relay.Port;
    public ServiceAccountMount Mount => new(Directory, "127.0.0.1", Port);

    /// <summary>The Authorization header of each connection's first request, in arrival order ("" when it had none).</summary>
    public IReadOnlyList<string> Authorizations
    {
        get { lock (_authorizations) return [.. _authorizations]; }
    }

    static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=nginx-ha test API server", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12 so SslStream gets a key it can use on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>TLS ends here; the first request's Authorization header is recorded before it goes on upstream.</summary>
    async Task<Stream> TerminateTlsAsync(Stream inside, Stream upstream, CancellationToken cancellationToken)
    {
        var tls = new SslStream(inside);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate }, cancellationToken);
            var buffer = new byte[16 * 1024];
            int read = await tls.ReadAsync(buffer, cancellationToken);
            var head = Encoding.ASCII.GetString(buffer, 0, read);
            var authorization = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Authorization:", StringComparison.OrdinalIgnoreCase));
            lock (_authorizations) _authorizations.Add(authorization?["Authorization:".Length..].Trim() ?? "");
            await upstream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            return tls;
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    public void Dispose()
    {
        _relay.Dispose();
        _certificate.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
