using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;
using System.Diagnostics;
using NginxHa.Integration.Tests.Kubernetes;
using NginxHa.Integration.Tests.Support;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The agent, nginx and operator images, built once per test run by the project's own <c>scripts/build-images.sh</c> (buildah,
/// from files made on this machine) under the tag <see cref="Tag"/>, so the tests run what the script ships. A missing
/// buildah, podman or runc fails the tests (scripts/install-deps.sh installs them).
/// </summary>
public sealed class ContainerImages
{
    public const string Tag = "it";

    public ContainerImages(IMessageSink sink)
    {
        foreach (var tool in new[] { "buildah", "podman", "runc" }) RequiredTool.Locate(tool, tool);
        var watch = Stopwatch.StartNew();
        var (exit, output, error) = RequiredTool.Run(KubeCluster.RepositoryPath("scripts/build-images.sh"), [Tag, "agent", "nginx", "operator"],
            TimeSpan.FromMinutes(15));
        Assert.True(exit == 0, $"scripts/build-images.sh exited {exit}:\n{error}\n{output}");
        PodmanPod.BuildPauseImage();
        BuildSeconds = watch.Elapsed.TotalSeconds;
        BuildReport = output.Trim();
        sink.OnMessage(new DiagnosticMessage($"container images built in {BuildSeconds:F0} s:\n{BuildReport}"));
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
