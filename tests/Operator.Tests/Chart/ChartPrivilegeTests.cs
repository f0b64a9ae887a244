using YamlDotNet.RepresentationModel;
using static NginxHa.Operator.Tests.Chart.PrivilegeCheck;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>The rendered chart asks for no more privilege than issue 11 allows (PrivilegeCheck), with each values file.</summary>
public sealed class ChartPrivilegeTests
{
    [Theory]
    [MemberData(nameof(Helm.ValuesFiles), MemberType = typeof(Helm))]
    public async Task Rendered_chart_asks_for_no_more_privilege_than_allowed(string valuesFile)
    {
        var docs = Helm.Documents(await Helm.TemplateAsync(Helm.ValuesArgs(valuesFile)));
        Assert.Contains(docs, d => Scalar(d, "kind") == "DaemonSet");
        Assert.Contains(docs, d => Scalar(d, "kind") == "ClusterRole");
        Assert.Empty(Violations(docs));
    }

    /// <summary>The check itself: each way of asking for more is caught (so the test above fails when the chart does).</summary>
    [Theory]
    [InlineData("privileged agent", "container agent: privileged")]
    [InlineData("hostPID", "hostPID: true")]
    [InlineData("SYS_ADMIN for the agent", "capability SYS_ADMIN beyond NET_ADMIN/NET_RAW")]
    [InlineData("NET_ADMIN for nginx", "container nginx: capability NET_ADMIN beyond")]
    [InlineData("wildcard verb", "verb *")]
    [InlineData("privilege escalation", "allowPrivilegeEscalation is not false")]
    [InlineData("writable root", "root filesystem is not read-only")]
    [InlineData("operator as root", "container operator: may run as root")]
    [InlineData("secret writes", "writes secrets")]
    [InlineData("another hostPath", "hostPath volume root")]
    [InlineData("nginx on the state hostPath", "container nginx: mounts the agent's hostPath state")]
    [InlineData("hook deletes deployments", "ClusterRole/nha-nginx-ha-operator-uninstall: deletes deployments")]
    [InlineData("hook job as root", "Job/nha-nginx-ha-operator-uninstall container uninstall: may run as root")]
    [InlineData("hook job writable root", "Job/nha-nginx-ha-operator-uninstall container uninstall: root filesystem is not read-only")]
    public async Task Privilege_check_catches_a_manifest_asking_for_more(string change, string expected)
    {
        var docs = Helm.Documents(await Helm.TemplateAsync());
        Assert.Empty(Violations(docs));
        var ds = docs.Single(d => Scalar(d, "kind") == "DaemonSet");
        var agent = Container(ds, "agent");
        var nginx = Container(ds, "nginx");
        var op = Container(docs.Single(d => Scalar(d, "kind") == "Deployment"), "operator");
        var role = docs.First(d => Scalar(d, "kind") == "ClusterRole");
        var job = docs.Single(d => Scalar(d, "kind") == "Job");
        var hook = Container(job, "uninstall");
        var hookRole = docs.Single(d => Scalar(d, "kind") == "ClusterRole" && Scalar(d, "metadata", "name")!.EndsWith("-uninstall", StringComparison.Ordinal));
        var firstRule = (YamlMappingNode)Seq(role, "rules")![0];
        switch (change)
        {
            case "privileged agent": Map(agent, "securityContext")!.Children[new YamlScalarNode("privileged")] = new YamlScalarNode("true"); break;
            case "hostPID": Map(ds, "spec", "template", "spec")!.Children[new YamlScalarNode("hostPID")] = new YamlScalarNode("true"); break;
            case "SYS_ADMIN for the agent": Seq(agent, "securityContext", "capabilities", "add")!.Add(new YamlScalarNode("SYS_ADMIN")); break;
            case "NET_ADMIN for nginx": Seq(nginx, "securityContext", "capabilities", "add")!.Add(new YamlScalarNode("NET_ADMIN")); break;
            case "wildcard verb": Seq(firstRule, "verbs")!.Add(new YamlScalarNode("*")); break;
            case "privilege escalation": Map(agent, "securityContext")!.Children[new YamlScalarNode("allowPrivilegeEscalation")] = new YamlScalarNode("true"); break;
            case "writable root": Map(nginx, "securityContext")!.Children.Remove(new YamlScalarNode("readOnlyRootFilesystem")); break;
            case "operator as root": Map(op, "securityContext")!.Children[new YamlScalarNode("runAsUser")] = new YamlScalarNode("0"); break;
            case "another hostPath":
                Seq(ds, "spec", "template", "spec", "volumes")!.Add(new YamlMappingNode(
                    "name", "root", "hostPath", new YamlMappingNode("path", "/")));
                break;
            case "nginx on the state hostPath":
                Seq(nginx, "volumeMounts")!.Add(new YamlMappingNode("name", PrivilegeCheck.AgentStateVolume, "mountPath", "/state"));
                break;
            case "hook deletes deployments":
                Seq(hookRole, "rules")!.Add(new YamlMappingNode("apiGroups", new YamlSequenceNode(new YamlScalarNode("apps")),
                    "resources", new YamlSequenceNode(new YamlScalarNode("deployments")), "verbs", new YamlSequenceNode(new YamlScalarNode("delete"))));
                break;
            case "hook job as root": Map(hook, "securityContext")!.Children[new YamlScalarNode("runAsUser")] = new YamlScalarNode("0"); break;
            case "hook job writable root": Map(hook, "securityContext")!.Children.Remove(new YamlScalarNode("readOnlyRootFilesystem")); break;
            case "secret writes":
                role.Children[new YamlScalarNode("rules")] = new YamlSequenceNode(new YamlMappingNode(
                    "apiGroups", new YamlSequenceNode(new YamlScalarNode("")), "resources", new YamlSequenceNode(new YamlScalarNode("secrets")),
                    "verbs", new YamlSequenceNode(new YamlScalarNode("get"), new YamlScalarNode("update"))));
                break;
        }
        Assert.Contains(Violations(docs), v => v.Contains(expected, StringComparison.Ordinal));
    }

    internal static YamlMappingNode Container(YamlMappingNode workload, string name) =>
        Seq(workload, "spec", "template", "spec", "containers")!.OfType<YamlMappingNode>().Single(c => Scalar(c, "name") == name);
}
