using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using NginxHa.Integration.Tests.Kubernetes;
using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;
using NginxHa.Integration.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The agent and nginx images, built by the project's own <c>scripts/build-images.sh</c> once per test run, tagged with
/// a hash of what goes into them (the agent's sources, the build scripts, the host files copied in): when images with
/// that tag exist the build is skipped, so a second run costs nothing. Older test tags are removed. A missing buildah,
/// podman, runc or catatonit fails the tests (scripts/install-deps.sh installs them).
/// </summary>
public sealed class ContainerImages
{
    public const string TagPrefix = "test-";
    static readonly string[] Images = ["nginx-ha-agent", "nginx-ha-nginx"];

    public ContainerImages(IMessageSink sink)
    {
        foreach (var tool in new[] { "buildah", "podman", "runc", "catatonit" }) RequiredTool.Locate(tool, tool);
        var watch = Stopwatch.StartNew();
        Tag = TagPrefix + InputsHash()[..12];
        if (Images.All(i => Podman.TryRun("image", "exists", $"localhost/{i}:{Tag}").ExitCode == 0))
        {
            Report = $"images {Tag} exist (inputs unchanged): not rebuilt";
        }
        else
        {
            var (exit, output, error) = RequiredTool.Run(KubeCluster.RepositoryPath("scripts/build-images.sh"), [Tag, "agent", "nginx"],
                TimeSpan.FromMinutes(40));
            Assert.True(exit == 0, $"scripts/build-images.sh exited {exit}:\n{error}\n{output}");
            Report = output.Trim();
        }
        RemoveOtherTestTags();
        sink.OnMessage(new DiagnosticMessage($"container images ready in {watch.Elapsed.TotalSeconds:F0} s: {Report}"));
    }

    /// <summary>test-HASH: the tag the chart is rendered with (agent.image.tag, agent.nginxImage.tag).</summary>
    public string Tag { get; }

    /// <summary>The build script's lines (name, seconds, bytes), or why nothing was built.</summary>
    public string Report { get; }

    /// <summary>Everything the images are made of; a change anywhere means a new tag and a build.</summary>
    static string InputsHash()
    {
        var root = KubeCluster.RepositoryPath("");
        var sources = new[] { "src/Core", "src/NodeAgent" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Concat(new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", "scripts/build-images.sh", "scripts/publish-agent.sh" }
                .Select(f => Path.Combine(root, f)).Where(File.Exists))
            .Order(StringComparer.Ordinal);
        // The host's files the script copies in (a Debian upgrade of nginx or OpenSSL means new images).
        string[] host = ["/usr/sbin/nginx", "/etc/nginx/mime.types", "/usr/bin/setsid", "/bin/dash", "/bin/grep", "/bin/sleep", "/bin/mkdir",
            "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libcrypto.so.3"];
        // A prebuilt agent (scripts/test.sh's NativeAOT publish) goes into the image as it is.
        string[] prebuilt = Environment.GetEnvironmentVariable("NGINX_HA_IMAGE_AGENT") is { Length: > 0 } agent ? [agent] : [];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in sources.Concat(host.Where(File.Exists)).Concat(prebuilt))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(file));
            hash.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>Images of earlier inputs are of no further use: removed so test runs do not fill the disk.</summary>
    void RemoveOtherTestTags()
    {
        var listed = Podman.TryRun("images", "--format", "{{.Repository}}:{{.Tag}}").StandardOutput;
        foreach (var image in listed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (repository, tag) = (image[..image.LastIndexOf(':')], image[(image.LastIndexOf(':') + 1)..]);
            if (Images.Any(i => repository == $"localhost/{i}") && tag.StartsWith(TagPrefix, StringComparison.Ordinal) && tag != Tag)
                Podman.TryRun("rmi", image);
        }
    }
}

/// <summary>The pod tests need the test cluster and the images; they run one at a time (podman and namespaces).</summary>
[CollectionDefinition(Name)]
public sealed class ChartPodCollection : ICollectionFixture<CrdCluster>, ICollectionFixture<ContainerImages>
{
    public const string Name = "chart-pods";
}
