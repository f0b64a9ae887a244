using NginxHa.Operator.Tests.Cluster;
using static NginxHa.Operator.Tests.Chart.PrivilegeCheck;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>The rendered chart against the test cluster (scripts/cluster.sh: the real CRD API server and the stand-in).</summary>
public sealed class ChartClusterTests(ApiServer cluster) : IClassFixture<ApiServer>
{
    [Theory]
    [MemberData(nameof(Helm.ValuesFiles), MemberType = typeof(Helm))]
    public async Task Rendered_chart_is_accepted_by_a_server_side_dry_run(string valuesFile)
    {
        var yaml = await Helm.TemplateAsync(["--include-crds", .. Helm.ValuesArgs(valuesFile)]);
        var docs = Helm.Documents(yaml);
        var file = Path.Combine(Path.GetTempPath(), $"nha-chart-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        try
        {
            var output = await cluster.KubectlOutputAsync("apply", "--server-side", "--dry-run=server", "-f", file);
            var accepted = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.EndsWith("(server dry run)", StringComparison.Ordinal)).ToList();
            Assert.Equal(docs.Count, accepted.Count);
            foreach (var doc in docs)
                Assert.Contains(accepted, l => l.Contains($"/{Scalar(doc, "metadata", "name")} ", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
        // A dry run persists nothing.
        Assert.DoesNotContain("nha-nginx-ha-operator-agent", await cluster.KubectlOutputAsync("get", "daemonsets", "-A", "-o", "name"));
    }

    [Fact]
    public async Task Server_dry_run_refuses_a_chart_object_with_a_wrong_field()
    {
        var yaml = (await Helm.TemplateAsync()).Replace("validationActions: [Deny]", "validationActions: [Block]", StringComparison.Ordinal);
        Assert.Contains("validationActions: [Block]", yaml);
        var file = Path.Combine(Path.GetTempPath(), $"nha-chart-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        try
        {
            var (code, output) = await cluster.KubectlResultAsync("apply", "--server-side", "--dry-run=server", "-f", file);
            Assert.NotEqual(0, code);
            Assert.Contains("validationActions", output);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
