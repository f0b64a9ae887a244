namespace NginxHa.Operator.Tests.Chart;

/// <summary><c>helm lint --strict</c> and the values schema, with the real helm.</summary>
public sealed class HelmLintTests
{
    [Theory]
    [MemberData(nameof(Helm.ValuesFiles), MemberType = typeof(Helm))]
    public async Task Chart_passes_helm_lint_strict(string valuesFile)
    {
        var (code, output, error) = await Helm.RunAsync(["lint", "--strict", Helm.ChartPath, .. Helm.ValuesArgs(valuesFile)]);
        Assert.True(code == 0, $"helm lint --strict {valuesFile} failed:\n{output}\n{error}");
        Assert.Contains("1 chart(s) linted, 0 chart(s) failed", output);
    }

    [Theory]
    [InlineData("agent.metricsPort=0", "/agent/metricsPort")]
    [InlineData("operator.metricsPort=80", "/operator/metricsPort")]
    [InlineData("agent.nginxCapabilities[0]=NET_RAW", "/agent/nginxCapabilities/0")]
    [InlineData("operator.leaderElection.leaseDuration=fifteen", "/operator/leaderElection/leaseDuration")]
    [InlineData("operator.replicas=0", "/operator/replicas")]
    [InlineData("agent.logFormat=xml", "/agent/logFormat")]
    [InlineData("agent.heartbeatDuration=1s", "/agent/heartbeatDuration")]
    [InlineData("agent.heartbeatDuration=2h", "/agent/heartbeatDuration")]
    [InlineData("agent.hostPID=true", "additional properties 'hostPID' not allowed")]
    public async Task Schema_refuses_a_bad_value_naming_the_field(string set, string expected)
    {
        var (code, _, error) = await Helm.RunAsync(["template", "nha", Helm.ChartPath, "--set", set]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, error);
    }

    [Fact]
    public async Task Handover_timeout_not_below_the_grace_period_is_refused_with_a_reason()
    {
        var (code, _, error) = await Helm.RunAsync(["template", "nha", Helm.ChartPath,
            "--set", "agent.handoverTimeoutSeconds=30", "--set", "agent.terminationGracePeriodSeconds=30"]);
        Assert.NotEqual(0, code);
        Assert.Contains("agent.handoverTimeoutSeconds (30) must be less than agent.terminationGracePeriodSeconds (30)", error);
    }
}
