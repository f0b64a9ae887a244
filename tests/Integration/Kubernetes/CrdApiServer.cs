using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// The real Kubernetes CRD API server (upstream k8s.io/apiextensions-apiserver with discovery and /openapi/v2
/// re-enabled, built by ../shared/tools/test-apiserver.sh) on its own etcd, both on 127.0.0.1 at free ports, with
/// a fresh PKI and kubeconfig in a temporary directory. Started the way that script starts it; stopped by PID.
/// Until scripts/cluster.sh (issue 8 section 2) lands, this is the tests' own way to start it.
/// </summary>
public sealed class CrdApiServer : IDisposable
{
    public const string BinaryVariable = "NGINX_HA_APIEXT";
    public const string EtcdVariable = "NGINX_HA_ETCD";
    const string DefaultBinary = "/tmp/k8sbuild/bin/apiext-standalone";
    const string DefaultEtcd = "/opt/k8sroot/usr/bin/etcd";

    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nha-apiserver-");
    readonly ChildProcess? _etcd;
    readonly ChildProcess? _server;

    public string Kubeconfig => Path.Combine(_dir.FullName, "kubeconfig");
    public string Kubectl { get; } = RequiredTool.Locate("kubectl", "kubectl");
    public int Port { get; }

    public CrdApiServer()
    {
        var binary = Environment.GetEnvironmentVariable(BinaryVariable) ?? DefaultBinary;
        var etcd = Environment.GetEnvironmentVariable(EtcdVariable) ?? DefaultEtcd;
        foreach (var (path, variable) in new[] { (binary, BinaryVariable), (etcd, EtcdVariable) })
            if (!File.Exists(path))
                throw new InvalidOperationException($"{path} is missing: build the CRD API server (../shared/tools/test-apiserver.sh all) or set {variable}");

        try
        {
            var pki = Directory.CreateDirectory(Path.Combine(_dir.FullName, "pki")).FullName;
            WritePki(pki);
            var (etcdPort, peerPort) = (FreePort(), FreePort());
            Port = FreePort();
            File.WriteAllText(Kubeconfig, $"""
                apiVersion: v1
                kind: Config
                clusters:
                - name: crd-apiserver
                  cluster: {"{"}server: "https://127.0.0.1:{Port}", certificate-authority: "{pki}/ca.crt"{"}"}
                users:
                - name: admin
                  user: {"{"}client-certificate: "{pki}/admin.crt", client-key: "{pki}/admin.key"{"}"}
                contexts:
                - name: crd-apiserver
                  context: {"{"}cluster: crd-apiserver, user: admin, namespace: default{"}"}
                current-context: crd-apiserver
                """);

            _etcd = new ChildProcess(etcd,
            [
                "--name", "default", "--data-dir", Path.Combine(_dir.FullName, "etcd"),
                "--listen-client-urls", $"http://127.0.0.1:{etcdPort}", "--advertise-client-urls", $"http://127.0.0.1:{etcdPort}",
                "--listen-peer-urls", $"http://127.0.0.1:{peerPort}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peerPort}",
                "--initial-cluster", $"default=http://127.0.0.1:{peerPort}", "--unsafe-no-fsync",
            ], "etcd");
            _etcd.WaitForLineAsync(l => l.Contains("serving client traffic insecurely") || l.Contains("ready to serve client requests"),
                TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();

            // The flags of test-apiserver.sh cmd_start; see ../shared/PLATFORM-NOTES.md for why each is there.
            _server = new ChildProcess(binary,
            [
                $"--etcd-servers=http://127.0.0.1:{etcdPort}", "--bind-address=127.0.0.1", $"--secure-port={Port}",
                $"--tls-cert-file={pki}/server.crt", $"--tls-private-key-file={pki}/server.key", $"--client-ca-file={pki}/ca.crt",
                $"--kubeconfig={Kubeconfig}", "--always-allow", "--authentication-skip-lookup", "--enable-priority-and-fairness=false",
                "--disable-admission-plugins=NamespaceLifecycle,MutatingAdmissionPolicy,MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook",
            ], "apiext-standalone");
            WaitHealthy();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Runs kubectl against this server; returns exit code and output.</summary>
    public (int ExitCode, string Output, string Error) Run(params string[] arguments) =>
        RequiredTool.Run(Kubectl, ["--kubeconfig", Kubeconfig, .. arguments], TimeSpan.FromSeconds(90));

    /// <summary>Runs kubectl and fails the test, showing stderr, unless it exits 0.</summary>
    public string Ok(params string[] arguments)
    {
        var (exit, output, error) = Run(arguments);
        Assert.True(exit == 0, $"kubectl {string.Join(' ', arguments)} exited {exit}:\n{error}\n{output}");
        return output;
    }

    /// <summary>Writes YAML to a file in the server's directory and returns its path, for `kubectl -f`.</summary>
    public string WriteManifest(string name, string yaml)
    {
        var path = Path.Combine(_dir.FullName, "manifests", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, yaml);
        return path;
    }

    void WaitHealthy()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            // /readyz stays 503 on this server (informers for APIs it does not serve never sync): /healthz it is.
            var (exit, output, _) = Run("get", "--raw", "/healthz");
            if (exit == 0 && output.Trim() == "ok") return;
            if (_server!.HasExited)
                throw new InvalidOperationException($"apiext-standalone exited {_server.ExitCode}:\n{_server.Output}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"apiext-standalone not healthy in 90 s:\n{_server.Output}");
            Thread.Sleep(200);
        }
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A CA, a serving certificate for 127.0.0.1 and an admin client certificate (group system:masters).</summary>
    static void WritePki(string dir)
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=nginx-ha-test-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var notBefore = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var ca = caRequest.CreateSelfSigned(notBefore, notBefore.AddDays(2));
        File.WriteAllText(Path.Combine(dir, "ca.crt"), ca.ExportCertificatePem());

        Issue(dir, "server", "CN=kube-apiserver", ca, notBefore, request =>
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        });
        Issue(dir, "admin", "CN=admin, O=system:masters", ca, notBefore, request =>
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false)));
    }

    static void Issue(string dir, string name, string subject, X509Certificate2 ca, DateTimeOffset notBefore, Action<CertificateRequest> extend)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        extend(request);
        using var certificate = request.Create(ca, notBefore, notBefore.AddDays(1), RandomNumberGenerator.GetBytes(16));
        File.WriteAllText(Path.Combine(dir, name + ".crt"), certificate.ExportCertificatePem());
        // Created 0600: a private key is never world-readable, not even for a moment.
        using var file = new FileStream(Path.Combine(dir, name + ".key"), new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        using var writer = new StreamWriter(file);
        writer.Write(key.ExportPkcs8PrivateKeyPem());
    }

    public void Dispose()
    {
        _server?.Dispose(); // by PID, server before its etcd
        _etcd?.Dispose();
        _dir.Delete(recursive: true);
    }
}
