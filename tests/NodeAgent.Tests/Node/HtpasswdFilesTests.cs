using System.Diagnostics;
using System.Text;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Node;
using NginxHa.NodeAgent.Sources;

namespace NginxHa.NodeAgent.Tests.Node;

/// <summary>A basic-auth Secret's htpasswd: checked before use, written for nginx's workers (group, 0640), never for everyone.</summary>
public sealed class HtpasswdFilesTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("nha-htpasswd-").FullName;
    string Secrets => Path.Combine(_root, "secrets");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    static HtpasswdFile Htpasswd(string text) => HtpasswdFile.Check(Encoding.UTF8.GetBytes(text), out var problem) ?? throw new InvalidOperationException(problem);

    /// <summary>"GID MODE" of a path as stat(1) reads it.</summary>
    static string Stat(string path)
    {
        var info = new ProcessStartInfo("stat", ["-c", "%g %a", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var stat = Process.Start(info)!;
        var output = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        Assert.Equal(0, stat.ExitCode);
        return output;
    }

    [Fact]
    public void An_htpasswd_with_user_and_hash_lines_is_accepted_with_a_version_from_its_content()
    {
        var file = HtpasswdFile.Check("# ops\nops:$apr1$abc$def\r\n\nadmin:{SHA}xyz=\n"u8, out var problem);

        Assert.Null(problem);
        Assert.Matches("^[0-9a-f]{16}$", file!.Version);
        Assert.Equal(file.Version, Htpasswd("# ops\nops:$apr1$abc$def\r\n\nadmin:{SHA}xyz=\n").Version);
        Assert.NotEqual(file.Version, Htpasswd("ops:$apr1$abc$other\n").Version);
    }

    [Theory]
    [InlineData("", "auth: no \"user:password-hash\" line (nobody could log in)")]
    [InlineData("# only a comment\n\n", "auth: no \"user:password-hash\" line (nobody could log in)")]
    [InlineData("ops:hash\njust-a-secret-word\n", "auth: line 2: not \"user:password-hash\" (no user name before a ':')")]
    [InlineData(":hash\n", "auth: line 1: not \"user:password-hash\" (no user name before a ':')")]
    [InlineData("ops:\n", "auth: line 1: no password hash after the user name")]
    [InlineData("ops:ha\0sh\n", "auth: line 1: a NUL byte")]
    public void A_malformed_htpasswd_is_rejected_naming_the_key_and_line_never_the_content(string text, string expected)
    {
        Assert.Null(HtpasswdFile.Check(Encoding.UTF8.GetBytes(text), out var problem));
        Assert.Equal(expected, problem);
        Assert.DoesNotContain("secret-word", problem);
    }

    [Fact]
    public void Binary_or_oversized_content_is_rejected()
    {
        Assert.Null(HtpasswdFile.Check([0xff, 0xfe, 0x3a, 0x41], out var problem));
        Assert.Equal("auth: not UTF-8 text", problem);
        Assert.Null(HtpasswdFile.Check(new byte[HtpasswdFile.MaxLength + 1], out problem));
        Assert.StartsWith($"auth: {HtpasswdFile.MaxLength + 1} bytes, more than", problem);
    }

    [Fact]
    public void The_htpasswd_is_planned_for_the_workers_and_a_secret_used_for_tls_too_is_one_directory()
    {
        var auth = Htpasswd("ops:{PLAIN}pw\n");
        var pair = TestCertificates.Pair("www.example.org");

        var (directories, files) = SecretFiles.Plan(
            new Dictionary<string, TlsKeyPair> { ["edge/both"] = pair },
            new Dictionary<string, HtpasswdFile> { ["edge/both"] = auth, ["edge/ops"] = auth }, Secrets);

        Assert.Equal($"{Secrets}/edge/ops/{auth.Version}", directories["edge/ops"]);
        var both = directories["edge/both"];
        Assert.Matches("/edge/both/[0-9a-f]{16}$", both);
        Assert.NotEqual($"{Secrets}/edge/both/{pair.Version}", both); // the version covers both contents
        Assert.Equal([$"{both}/tls.crt False", $"{both}/tls.key False", $"{both}/auth True", $"{directories["edge/ops"]}/auth True"],
            files.Select(f => $"{f.Path} {f.ForWorkers}"));
        var other = SecretFiles.Plan(new Dictionary<string, TlsKeyPair> { ["edge/both"] = pair },
            new Dictionary<string, HtpasswdFile> { ["edge/both"] = Htpasswd("ops:{PLAIN}new\n") }, Secrets);
        Assert.NotEqual(both, other.Directories["edge/both"]); // a new password is a new directory, so nginx.conf changes
    }

    [Fact]
    public void The_htpasswd_is_0640_in_the_workers_group_on_a_path_the_group_may_search_and_tls_keys_stay_owner_only()
    {
        const uint workers = 65534;
        var auth = Htpasswd("ops:{PLAIN}pw\n");
        var pair = TestCertificates.Pair("www.example.org");
        var (directories, files) = SecretFiles.Plan(new Dictionary<string, TlsKeyPair> { ["edge/web-tls"] = pair },
            new Dictionary<string, HtpasswdFile> { ["edge/ops"] = auth }, Secrets);
        var store = new SecretFileStore(Secrets, workers);

        store.Write(files);

        var authDirectory = directories["edge/ops"];
        Assert.Equal("ops:{PLAIN}pw\n", File.ReadAllText($"{authDirectory}/auth"));
        Assert.Equal("65534 640", Stat($"{authDirectory}/auth"));
        foreach (var level in new[] { Secrets, $"{Secrets}/edge", $"{Secrets}/edge/ops", authDirectory })
            Assert.Equal("65534 710", Stat(level));
        // The TLS Secret beside it: its own directories and files stay owner-only, whatever the workers may reach.
        var tlsDirectory = directories["edge/web-tls"];
        Assert.Equal("0 600", Stat($"{tlsDirectory}/tls.key"));
        Assert.Equal("0 700", Stat(tlsDirectory));
        Assert.Equal("0 700", Stat($"{Secrets}/edge/web-tls"));
        Assert.Single(Directory.GetFiles(authDirectory)); // no temporary file left
    }

    [Fact]
    public void The_references_are_the_enabled_status_endpoints_with_a_basic_auth_secret_in_the_pools_namespace()
    {
        var config = new NodeHaConfig
        {
            Spec =
            {
                BackendPools =
                [
                    new() { Name = "edge/plain", Spec = { Status = new() { Allow = ["127.0.0.1"] } } },
                    new() { Name = "edge/web", Spec = { Status = new() { BasicAuth = new() { SecretName = "ops" } } } },
                    new() { Name = "shop/web", Spec = { Status = new() { BasicAuth = new() { SecretName = "ops" } } } },
                    new() { Name = "edge/off", Spec = { Status = new() { Enabled = false, BasicAuth = new() { SecretName = "unused" } } } },
                    new() { Name = "edge/file", Spec = { Status = new() { BasicAuth = new() { HtpasswdFile = "ops.htpasswd" } } } },
                ],
            },
        };

        Assert.Equal(["edge/ops spec.backendPools[1].spec.status.basicAuth.secretName", "shop/ops spec.backendPools[2].spec.status.basicAuth.secretName"],
            HtpasswdSecretReference.Of(config).Select(r => $"{r.Key} {r.Field}"));
    }
}
