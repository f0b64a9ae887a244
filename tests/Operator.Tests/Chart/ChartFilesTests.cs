using System.Text.RegularExpressions;
using NginxHa.Operator.Tests.Cluster;
using YamlDotNet.RepresentationModel;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>The chart's copies of generated files, and its README against values.yaml.</summary>
public sealed class ChartFilesTests
{
    [Fact]
    public void Chart_crds_are_identical_to_the_generated_crds()
    {
        var generated = ApiServer.RepositoryPath("crds");
        var chart = Path.Combine(Helm.ChartPath, "crds");
        var names = Directory.GetFiles(generated, "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names, Directory.GetFiles(chart, "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        foreach (var name in names)
            Assert.True(File.ReadAllText(Path.Combine(generated, name!)) == File.ReadAllText(Path.Combine(chart, name!)),
                $"charts/nginx-ha-operator/crds/{name} differs from crds/{name}: cp crds/*.yaml charts/nginx-ha-operator/crds/");
    }

    [Fact]
    public void Chart_alert_rules_are_identical_to_deploy_prometheus_rules()
    {
        Assert.True(File.ReadAllText(ApiServer.RepositoryPath("deploy/prometheus/nginx-ha-rules.yaml"))
                == File.ReadAllText(Path.Combine(Helm.ChartPath, "files", "nginx-ha-rules.yaml")),
            "charts/nginx-ha-operator/files/nginx-ha-rules.yaml differs from deploy/prometheus/nginx-ha-rules.yaml");
    }

    [Fact]
    public void Readme_documents_every_value_and_no_value_that_does_not_exist()
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(Path.Combine(Helm.ChartPath, "values.yaml"))));
        var values = new List<string>();
        Collect((YamlMappingNode)stream.Documents[0].RootNode, "", values);
        var readme = File.ReadAllText(Path.Combine(Helm.ChartPath, "README.md"));
        var documented = Regex.Matches(readme, @"^\| `([A-Za-z0-9_.]+)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();

        Assert.Empty(values.Except(documented)); // a value nobody explained
        Assert.Empty(documented.Except(values)); // a row for a value that is gone
    }

    /// <summary>Leaf paths; a map of maps that reads as one setting (resources, nodeSelector) is one value.</summary>
    private static void Collect(YamlMappingNode node, string prefix, List<string> paths)
    {
        foreach (var (key, value) in node.Children)
        {
            var path = prefix + ((YamlScalarNode)key).Value;
            if (value is YamlMappingNode map && map.Children.Count > 0 && !IsOpaque(path))
                Collect(map, path + ".", paths);
            else
                paths.Add(path);
        }
    }

    private static bool IsOpaque(string path) =>
        path.EndsWith(".resources", StringComparison.Ordinal) || path.EndsWith("Resources", StringComparison.Ordinal)
        || path.EndsWith("nodeSelector", StringComparison.Ordinal) || path.EndsWith("Probe", StringComparison.Ordinal)
        || path.EndsWith("labels", StringComparison.Ordinal) || path.EndsWith("affinity", StringComparison.Ordinal);
}
