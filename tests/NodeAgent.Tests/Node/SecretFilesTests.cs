using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Node;
using NginxHa.NodeAgent.Sources;

namespace NginxHa.NodeAgent.Tests.Node;

/// <summary>Self-signed certificates made in the test, PEM.</summary>
public static class TestCertificates
{
    public static (byte[] Certificate, byte[] Key) SelfSigned(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (Encoding.ASCII.GetBytes(certificate.ExportCertificatePem()), Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem()));
    }

    public static TlsKeyPair Pair(string commonName)
    {
        var (certificate, key) = SelfSigned(commonName);
        return TlsKeyPair.Check(certificate, key, out var problem) ?? throw new InvalidOperationException(problem);
    }
}

/// <summary>A TLS Secret's certificate and key: checked before use, written owner-only and whole, old versions removed.</summary>
public sealed class SecretFilesTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("nha-secrets-").FullName;
    string Secrets => Path.Combine(_root, "secrets");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_matching_pem_pair_is_accepted_with_a_version_from_its_content()
    {
        var (certificate, key) = TestCertificates.SelfSigned("www.example.org");

        var pair = TlsKeyPair.Check(certificate, key, out var problem);
        var again = TlsKeyPair.Check(certificate, key, out _);

        Assert.Null(problem);
        Assert.NotNull(pair);
        Assert.Matches("^[0-9a-f]{16}$", pair.Version);
        Assert.Equal(pair.Version, again!.Version);
        Assert.NotEqual(pair.Version, TestCertificates.Pair("www.example.org").Version);
    }

    [Fact]
    public void A_certificate_that_is_not_pem_is_rejected_naming_tls_crt()
    {
        var (_, key) = TestCertificates.SelfSigned("www.example.org");

        Assert.Null(TlsKeyPair.Check("not a certificate"u8, key, out var problem));
        Assert.StartsWith("tls.crt: no PEM certificate", problem);

        Assert.Null(TlsKeyPair.Check("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"u8, key, out problem));
        Assert.StartsWith("tls.crt: the certificate does not parse", problem);
    }

    [Fact]
    public void A_key_that_is_not_the_certificates_is_rejected_naming_tls_key_without_its_content()
    {
        var (certificate, _) = TestCertificates.SelfSigned("www.example.org");
        var (_, otherKey) = TestCertificates.SelfSigned("other");

        Assert.Null(TlsKeyPair.Check(certificate, otherKey, out var problem));

        Assert.StartsWith("tls.key: not the private key of the certificate in tls.crt (subject CN=www.example.org)", problem);
        var keyBody = Encoding.ASCII.GetString(otherKey).Split('\n')[1];
        Assert.DoesNotContain(keyBody, problem);
        Assert.Null(TlsKeyPair.Check(certificate, "no key here"u8, out problem));
        Assert.StartsWith("tls.key: no PEM private key", problem);
        Assert.Null(TlsKeyPair.Check(certificate, [0xff, 0xfe, 0x00], out problem));
        Assert.Equal("tls.crt or tls.key: not PEM text", problem);
    }

    [Fact]
    public void The_files_go_to_a_directory_per_secret_and_version_owner_only()
    {
        var pair = TestCertificates.Pair("www.example.org");
        var (directories, files) = SecretFiles.Plan(new Dictionary<string, TlsKeyPair> { ["edge/web-tls"] = pair }, Secrets);
        var store = new SecretFileStore(Secrets);

        store.Write(files);

        var directory = $"{Secrets}/edge/web-tls/{pair.Version}";
        Assert.Equal(directory, directories["edge/web-tls"]);
        Assert.Equal(pair.Certificate.ToArray(), File.ReadAllBytes($"{directory}/tls.crt"));
        Assert.Equal(pair.PrivateKey.ToArray(), File.ReadAllBytes($"{directory}/tls.key"));
        const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        Assert.Equal(File0600, File.GetUnixFileMode($"{directory}/tls.key"));
        Assert.Equal(File0600, File.GetUnixFileMode($"{directory}/tls.crt"));
        foreach (var level in new[] { Secrets, $"{Secrets}/edge", $"{Secrets}/edge/web-tls", directory })
            Assert.Equal(File0600 | UnixFileMode.UserExecute, File.GetUnixFileMode(level));
        Assert.Equal(["tls.crt", "tls.key"], Directory.GetFiles(directory).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_file_is_replaced_whole_by_rename_so_a_reader_of_the_old_one_keeps_it_whole()
    {
        var store = new SecretFileStore(Secrets);
        var path = $"{Secrets}/edge/web-tls/0123456789abcdef/tls.key";
        store.Write([new SecretFile(path, "old key"u8.ToArray())]);
        using var reader = File.OpenRead(path); // nginx reading while the agent writes

        store.Write([new SecretFile(path, "new key, longer than the old one"u8.ToArray())]);

        // The open file is still the old inode, whole: the new content arrived under the name by rename(2), not in place.
        var old = new byte[64];
        Assert.Equal("old key", Encoding.ASCII.GetString(old, 0, reader.Read(old)));
        Assert.Equal("new key, longer than the old one", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary file left
    }

    [Fact]
    public void A_file_outside_the_secrets_directory_is_refused()
    {
        var store = new SecretFileStore(Secrets);

        Assert.Throws<ArgumentException>(() => store.Write([new SecretFile($"{_root}/elsewhere/tls.key", "k"u8.ToArray())]));
        Assert.False(Directory.Exists($"{_root}/elsewhere"));
    }

    [Fact]
    public void Prune_removes_the_versions_no_config_names_and_leaves_files_put_there_by_hand()
    {
        var store = new SecretFileStore(Secrets);
        var oldPair = TestCertificates.Pair("old");
        var newPair = TestCertificates.Pair("new");
        var both = SecretFiles.Plan(new Dictionary<string, TlsKeyPair> { ["edge/web-tls"] = oldPair, ["other/api-tls"] = oldPair }, Secrets);
        store.Write(both.Files);
        var current = SecretFiles.Plan(new Dictionary<string, TlsKeyPair> { ["edge/web-tls"] = newPair }, Secrets);
        store.Write(current.Files);
        Directory.CreateDirectory($"{Secrets}/by-hand");
        File.WriteAllText($"{Secrets}/by-hand/tls.crt", "standalone");

        store.Prune(current.Directories.Values.ToArray());

        Assert.Equal([newPair.Version], Directory.GetDirectories($"{Secrets}/edge/web-tls").Select(Path.GetFileName));
        Assert.False(Directory.Exists($"{Secrets}/other"), "a namespace with no Secret left goes");
        Assert.True(File.Exists($"{Secrets}/by-hand/tls.crt"));
    }

    [Fact]
    public void The_secret_references_are_the_first_tls_listener_of_each_pool_in_the_pools_namespace()
    {
        var config = new NodeHaConfig
        {
            Spec =
            {
                BackendPools =
                [
                    new() { Name = "edge/plain", Spec = { Listeners = [new() { Port = 80 }] } },
                    new() { Name = "edge/web", Spec = { Listeners = [new() { Port = 80 }, new() { Port = 443, Tls = new() { SecretName = "web-tls" } }] } },
                    new() { Name = "shop/web", Spec = { Listeners = [new() { Port = 8443, Tls = new() { SecretName = "web-tls" } }] } },
                    new() { Name = "edge/files", Spec = { Listeners = [new() { Port = 9443, Tls = new() { CertificateFile = "a.crt", KeyFile = "a.key" } }] } },
                ],
            },
        };

        var references = TlsSecretReference.Of(config);

        Assert.Equal(["edge/web-tls spec.backendPools[1].spec.listeners[1].tls.secretName", "shop/web-tls spec.backendPools[2].spec.listeners[0].tls.secretName"],
            references.Select(r => $"{r.Key} {r.Field}"));
    }
}
