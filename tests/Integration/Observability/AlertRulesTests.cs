using NginxHa.Integration.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace NginxHa.Integration.Tests.Observability;

/// <summary>The shipped alert rules through promtool (Debian `prometheus`): syntax, and the unit tests beside them.</summary>
public sealed class AlertRulesTests
{
    static readonly string[] RequiredAlerts =
    [
        "VipFlapping", "VipSplitBrain", "VipNoMaster", "NginxDownOnMaster", "NginxConfigRejected", "NodeAgentDown",
        "VrrpAuthFailures", "VridConflict", "OperatorNotReconciling",
    ];

    static string RulesDirectory => Path.GetDirectoryName(PrometheusLab.RulesFile)!;
    static string TestsFile => Path.Combine(RulesDirectory, "nginx-ha-rules.test.yaml");

    static (int ExitCode, string Output) Promtool(params string[] arguments)
    {
        var promtool = RequiredTool.Locate("promtool", "prometheus");
        var (code, output, error) = RequiredTool.Run(promtool, arguments, TimeSpan.FromMinutes(2));
        return (code, output + error);
    }

    [Fact]
    public void Promtool_check_rules_accepts_the_rules_file()
    {
        var (code, output) = Promtool("check", "rules", PrometheusLab.RulesFile);
        Assert.True(code == 0, output);
        Assert.Contains($"SUCCESS: {RequiredAlerts.Length} rules found", output);
    }

    [Fact]
    public void Promtool_test_rules_passes_every_firing_and_quiet_case()
    {
        var (code, output) = Promtool("test", "rules", TestsFile);
        Assert.True(code == 0, output);
        Assert.Contains("SUCCESS", output);
    }

    [Fact]
    public void Every_alert_has_summary_description_runbook_and_is_tested_firing_and_quiet()
    {
        var rules = Load(PrometheusLab.RulesFile);
        var alerts = ((YamlSequenceNode)rules["groups"]).Cast<YamlMappingNode>()
            .SelectMany(g => ((YamlSequenceNode)g["rules"]).Cast<YamlMappingNode>())
            .ToDictionary(r => r["alert"].ToString(), r => (YamlMappingNode)r["annotations"]);
        Assert.Equal(RequiredAlerts.Order(), alerts.Keys.Order());

        var runbooks = File.ReadAllText(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(RulesDirectory))!, "docs", "alerts.md"));
        var cases = ((YamlSequenceNode)Load(TestsFile)["tests"]).Cast<YamlMappingNode>()
            .SelectMany(t => ((YamlSequenceNode)t["alert_rule_test"]).Cast<YamlMappingNode>())
            .Select(c => (Name: c["alertname"].ToString(), Fires: ((YamlSequenceNode)c["exp_alerts"]).Children.Count > 0)).ToList();
        foreach (var (name, annotations) in alerts)
        {
            foreach (var key in new[] { "summary", "description", "runbook" })
                Assert.True(annotations.Children.ContainsKey(key), $"{name}: no {key} annotation");
            Assert.Equal($"docs/alerts.md#{name.ToLowerInvariant()}", annotations["runbook"].ToString());
            Assert.Contains($"\n## {name}\n", runbooks);
            Assert.True(cases.Any(c => c.Name == name && c.Fires), $"{name}: no promtool case where it fires");
            Assert.True(cases.Any(c => c.Name == name && !c.Fires), $"{name}: no promtool case where it stays quiet");
        }
    }

    static YamlMappingNode Load(string path)
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(path);
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }
}
