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
/// The agent and nginx images (and the operator image, on first use), built by the project's own
/// <c>scripts/build-images.sh</c> once per test run, tagged with
/// a hash of what goes into them (the agent's sources, the build scripts, the host files copied in): when images with
/// that tag exist the build is skipped, so a second run costs nothing. Older test tags are removed. A missing buildah,
/// podman, runc or catatonit fails the tests (scripts/install-deps.sh installs them).
/// </summary>
public sealed class ContainerImages
{
    public const string TagPrefix = "test-";
    static readonly string[] Images = ["nginx-ha-agent", "nginx-ha-nginx"];
    const string OperatorImage = "nginx-ha-operator";

    public ContainerImages(IMessageSink sink)
    {
        _sink = sink;
        _operatorTag = new Lazy<string>(BuildOperator);
        foreach (var tool in new[] { "buildah", "podman", "runc", "catatonit" }) RequiredTool.Locate(tool, tool);
        var watch = Stopwatch.StartNew();
        // The host's files the script copies in (a Debian upgrade of nginx or OpenSSL means new images).
        string[] host = ["/usr/sbin/nginx", "/etc/nginx/mime.types", "/usr/bin/setsid", "/bin/dash", "/bin/grep", "/bin/sleep", "/bin/mkdir",
            "/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libssl.so.3", "/lib/x86_64-linux-gnu/libcrypto.so.3"];
        // A prebuilt agent (scripts/test.sh's NativeAOT publish) goes into the image as it is.
        string[] prebuilt = Environment.GetEnvironmentVariable("NGINX_HA_IMAGE_AGENT") is { Length: > 0 } agent ? [agent] : [];
        Tag = TagPrefix + InputsHash(["src/Core", "src/NodeAgent"], host, prebuilt)[..12];
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
        RemoveOtherTestTags(Images, Tag);
        sink.OnMessage(new DiagnosticMessage($"container images ready in {watch.Elapsed.TotalSeconds:F0} s: {Report}"));
    }

    readonly IMessageSink _sink;
    readonly Lazy<string> _operatorTag;

    /// <summary>
    /// test-HASH of the operator image (operator.image.tag), built on first use only, so the agent's pod tests never pay
    /// for it; its hash covers the operator's own sources, so an agent change does not rebuild it.
    /// </summary>
    public string OperatorTag => _operatorTag.Value;

    string BuildOperator()
    {
        var watch = Stopwatch.StartNew();
        var tag = TagPrefix + InputsHash(["src/Core", "src/Operator"], ["/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libssl.so.3",
            "/lib/x86_64-linux-gnu/libcrypto.so.3", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"], [])[..12];
        string report;
        if (Podman.TryRun("image", "exists", $"localhost/{OperatorImage}:{tag}").ExitCode == 0)
        {
            report = $"image {OperatorImage}:{tag} exists (inputs unchanged): not rebuilt";
        }
        else
        {
            var (exit, output, error) = RequiredTool.Run(KubeCluster.RepositoryPath("scripts/build-images.sh"), [tag, "operator"], TimeSpan.FromMinutes(20));
            Assert.True(exit == 0, $"scripts/build-images.sh exited {exit}:\n{error}\n{output}");
            report = output.Trim();
        }
        RemoveOtherTestTags([OperatorImage], tag);
        _sink.OnMessage(new DiagnosticMessage($"operator image ready in {watch.Elapsed.TotalSeconds:F0} s: {report}"));
        return tag;
    }

    /// <summary>test-HASH: the tag the chart is rendered with (agent.image.tag, agent.nginxImage.tag).</summary>
    public string Tag { get; }

    /// <summary>The build script's lines (name, seconds, bytes), or why nothing was built.</summary>
    public string Report { get; }

    /// <summary>Everything an image is made of; a change anywhere means a new tag and a build.</summary>
    static string InputsHash(string[] sourceDirectories, string[] host, string[] prebuilt)
    {
        var root = KubeCluster.RepositoryPath("");
        var sources = sourceDirectories
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Concat(new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", "scripts/build-images.sh", "scripts/publish-agent.sh" }
                .Select(f => Path.Combine(root, f)).Where(File.Exists))
            .Order(StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in sources.Concat(host.Where(File.Exists)).Concat(prebuilt))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(file));
            hash.AppendData(File.ReadAllBytes(file));
        }
        return Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
    }

    /// <summary>Images of earlier inputs are of no further use: removed so test runs do not fill the disk.</summary>
    static void RemoveOtherTestTags(string[] images, string keep)
    {
        var listed = Podman.TryRun("images", "--format", "{{.Repository}}:{{.Tag}}").StandardOutput;
        foreach (var image in listed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (repository, tag) = (image[..image.LastIndexOf(':')], image[(image.LastIndexOf(':') + 1)..]);
            if (images.Any(i => repository == $"localhost/{i}") && tag.StartsWith(TagPrefix, StringComparison.Ordinal) && tag != keep)
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
