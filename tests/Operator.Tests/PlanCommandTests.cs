using NginxHa.Core.Manifests;
using NginxHa.Core.Resources;

namespace NginxHa.Operator.Tests;

public sealed class PlanCommandTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nginx-ha-plan-");

    static string Seed(string name) => Path.Combine(AppContext.BaseDirectory, "testdata", name);

    (int Exit, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Program.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public void Plan_of_the_dual_master_seed_writes_one_NodeHaConfig_per_node_that_the_loader_reads_back()
    {
        var (exit, output, error) = Run("plan", "-f", Seed("seed-000-dual-master.yaml"));
        Assert.True(exit == 0, error);

        var set = ManifestLoader.LoadText("plan-output.yaml", output);
        Assert.True(set.IsValid, string.Join("\n", set.Errors));
        var configs = set.NodeHaConfigs.OrderBy(c => c.Metadata.Name).ToArray();
        Assert.Equal(["lb1", "lb2"], configs.Select(c => c.Spec.NodeName));

        // Dual master: each node is preferred master (254) of one VIP and backup (253) of the other.
        foreach (var config in configs)
        {
            Assert.Equal(2, config.Spec.VrrpInstances.Count);
            Assert.Equal([253, 254], config.Spec.VrrpInstances.Select(i => i.Priority).Order());
            Assert.Equal(["edge/web"], config.Spec.BackendPools.Select(p => p.Name));
            Assert.NotEmpty(config.Spec.BackendPools[0].Spec.Backends.Servers);
        }
        var masterOf = configs.ToDictionary(c => c.Spec.NodeName,
            c => c.Spec.VrrpInstances.Single(i => i.Priority == 254).VirtualIPs.Single());
        Assert.NotEqual(masterOf["lb1"], masterOf["lb2"]);
    }

    [Fact]
    public void An_invalid_manifest_lists_every_error_and_exits_1()
    {
        var file = Path.Combine(_dir.FullName, "bad.yaml");
        File.WriteAllText(file, """
            apiVersion: nginx-ha.io/v1alpha1
            kind: VirtualIpGroup
            metadata: {name: web, namespace: edge}
            spec:
              virtualIPs: [198.18.0.8, 198.18.0.300]
              vrrp: {version: 4}
            """);
        var (exit, output, error) = Run("plan", "-f", file);
        Assert.Equal(1, exit);
        Assert.Empty(output);
        Assert.Contains("bad.yaml:5: VirtualIpGroup edge/web: spec.virtualIPs[1]: \"198.18.0.300\" is not an IP address", error);
        Assert.Contains("spec.vrrp.version", error);
    }

    [Theory]
    [InlineData(new string[0], "usage: nginx-ha-operator plan")]
    [InlineData(new[] { "apply" }, "\"apply\": unknown command")]
    [InlineData(new[] { "plan" }, "-f: at least one manifest file is required")]
    [InlineData(new[] { "plan", "--frobnicate" }, "--frobnicate: unknown argument")]
    public void Bad_arguments_exit_2_naming_them(string[] args, string message)
    {
        var (exit, _, error) = Run(args);
        Assert.Equal(2, exit);
        Assert.Contains(message, error);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
