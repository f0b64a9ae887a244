using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;
using System.Diagnostics;
using NginxHa.Integration.Tests.Kubernetes;
using NginxHa.Integration.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The agent, nginx and operator images, built by the project's own <c>scripts/build-images.sh</c> (buildah, from files
/// made on this machine) under the tag <see cref="Tag"/>, so the tests run what the script ships: once per test run,
/// and not at all when the inputs (sources, build scripts, the host binaries copied in) are those of the last build. A missing
/// buildah, podman or runc fails the tests (scripts/install-deps.sh installs them).
/// </summary>
public sealed class ContainerImages
{
    public const string Tag = "it";

    /// <summary>The inputs' hash of the last build under <see cref="Tag"/>: unchanged sources and images in place, no rebuild.</summary>
    static readonly string CacheFile = "/var/cache/nginx-ha-test-images/" + Tag + ".key";

    public ContainerImages(IMessageSink sink)
    {
        foreach (var tool in new[] { "buildah", "podman", "runc" }) RequiredTool.Locate(tool, tool);
        var watch = Stopwatch.StartNew();
        string key = InputsKey();
        string[] images = ["nginx-ha-agent", "nginx-ha-nginx", "nginx-ha-operator", "nginx-ha-test-pause"];
        bool cached = File.Exists(CacheFile) && File.ReadAllText(CacheFile) == key
            && images.All(i => Command.TryRun("podman", "image", "exists", $"localhost/{i}:{Tag}").ExitCode == 0);
        if (cached)
        {
            BuildReport = $"cached (inputs {key[..12]} unchanged)";
        }
        else
        {
            var (exit, output, error) = RequiredTool.Run(KubeCluster.RepositoryPath("scripts/build-images.sh"), [Tag, "agent", "nginx", "operator"],
                TimeSpan.FromMinutes(30));
            Assert.True(exit == 0, $"scripts/build-images.sh exited {exit}:\n{error}\n{output}");
            PodmanPod.BuildPauseImage();
            BuildReport = output.Trim();
            Directory.CreateDirectory(Path.GetDirectoryName(CacheFile)!);
            File.WriteAllText(CacheFile, key);
        }
        BuildSeconds = watch.Elapsed.TotalSeconds;
        sink.OnMessage(new DiagnosticMessage($"container images ready in {BuildSeconds:F0} s: {BuildReport}"));
    }

    /// <summary>What the images are made of: the sources, the build files and scripts, and the host binaries copied in.</summary>
    static string InputsKey()
    {
        var root = KubeCluster.RepositoryPath("");
        var files = new[] { "src" }.SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Concat(new[] { "Directory.Build.props", "Directory.Packages.props", "scripts/build-images.sh", "scripts/publish-agent.sh" }
                .Select(f => Path.Combine(root, f)))
            .Concat(new[] { "/usr/sbin/nginx", "/usr/bin/catatonit", "/usr/bin/setsid" })
            .Order(StringComparer.Ordinal);
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(file));
            hash.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    public double BuildSeconds { get; }

    /// <summary>The script's lines: image, seconds, size.</summary>
    public string BuildReport { get; }
}

/// <summary>The pods need the test cluster (their NodeHaConfig) and the images; one at a time (podman and namespaces).</summary>
[CollectionDefinition(Name)]
public sealed class ChartPodCollection : ICollectionFixture<CrdCluster>, ICollectionFixture<ContainerImages>
{
    public const string Name = "chart-pods";
}
