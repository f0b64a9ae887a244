using NginxHa.Integration.Tests.Support;
using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>The chart rendered by the real helm (scripts/install-helm.sh), nothing copied by hand.</summary>
public static class ChartRender
{
    public static string Chart => KubeCluster.RepositoryPath("charts/nginx-ha-operator");

    public static string HelmBinary
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("HELM") ?? "/usr/local/lib/nginx-ha/helm/helm";
            Assert.True(File.Exists(path), $"helm is required at {path}: run scripts/install-deps.sh (scripts/install-helm.sh)");
            return path;
        }
    }

    /// <summary>The --set arguments that point the agent and nginx images at the tag the tests built.</summary>
    public static string[] ImageTags(string tag) => [$"agent.image.tag={tag}", $"agent.nginxImage.tag={tag}"];

    /// <summary>The --set argument that points the operator image at the tag the tests built.</summary>
    public static string[] OperatorImageTag(string tag) => [$"operator.image.tag={tag}"];

    /// <summary>`helm template` of the chart with <paramref name="valuesFiles"/> (relative to the chart) and --set values.</summary>
    public static string Template(IEnumerable<string> sets, params string[] valuesFiles)
    {
        string[] args = ["template", "nha", Chart, "--namespace", "nginx-ha",
            .. valuesFiles.SelectMany(f => new[] { "--values", Path.Combine(Chart, f) }), .. sets.SelectMany(s => new[] { "--set", s })];
        var (exit, output, error) = RequiredTool.Run(HelmBinary, args, TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"helm template exited {exit}: {error}");
        return output;
    }

    /// <summary>The agent DaemonSet's pod as rendered.</summary>
    public static PodSpec DaemonSetPod(IEnumerable<string> sets, params string[] valuesFiles) =>
        PodSpecReader.FromManifests(Template(sets, valuesFiles), "DaemonSet");

    /// <summary>The operator Deployment's pod as rendered.</summary>
    public static PodSpec DeploymentPod(IEnumerable<string> sets, params string[] valuesFiles) =>
        PodSpecReader.FromManifests(Template(sets, valuesFiles), "Deployment");
}
