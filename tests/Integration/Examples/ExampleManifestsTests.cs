using System.Runtime.CompilerServices;
using NginxHa.Core.Manifests;
using NginxHa.Core.Nginx;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Integration.Tests.Nginx;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Examples;

/// <summary>
/// The examples/ manifests against the real tools: the preinstalled kubectl reads them as Kubernetes
/// objects, and the nginx.conf each node renders from them passes `nginx -t`.
///
/// kubectl offline: `kubectl apply --dry-run=client` always GETs the live object to compute its patch, so
/// it needs a server. `kubectl create --dry-run=client` only needs the REST mapping of each kind, which
/// kubectl takes from its discovery cache when the cache is fresh; so the test writes a cache for an
/// address nobody listens on. Any attempt to reach a server would fail the command.
/// Offline kubectl checks YAML syntax and each apiVersion/kind, not names or schemas; its YAML 1.1 reading
/// is what the API server would get (a bare `Off` becomes false), which the round-trip test catches.
/// </summary>
public sealed class ExampleManifestsTests : IDisposable
{
    private const string Kubectl = "/usr/bin/kubectl";
    private const string UnreachableServer = "http://127.0.0.1:9";
    private const string UnreachableServerCacheName = "127.0.0.1_9";

    /// <summary>The kinds the examples use, as the API server (core/v1 and the nginx-ha.io CRDs) lists them in discovery.</summary>
    private static readonly (string GroupVersion, string Kind, string Plural, bool Namespaced)[] ServedKinds =
    [
        ("v1", Node.KindName, "nodes", false),
        (ApiGroup.ApiVersion, VirtualIpGroup.KindName, "virtualipgroups", true),
        (ApiGroup.ApiVersion, "NginxBackendPool", "nginxbackendpools", true),
        (ApiGroup.ApiVersion, NodeHaConfig.KindName, "nodehaconfigs", false),
    ];

    private readonly DirectoryInfo _kubectlHome = Directory.CreateTempSubdirectory("nha-kubectl-");

    public ExampleManifestsTests() => WriteDiscoveryCache();

    public void Dispose() => _kubectlHome.Delete(recursive: true);

    private static string ExamplesDirectory([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", "examples"));

    private static string[] ExampleFiles() => Directory.GetFiles(ExamplesDirectory(), "*.yaml").Order(StringComparer.Ordinal).ToArray();

    private string CacheDirectory => Path.Combine(_kubectlHome.FullName, "cache");

    private void WriteDiscoveryCache()
    {
        var root = Path.Combine(CacheDirectory, "discovery", UnreachableServerCacheName);
        var groupVersions = ServedKinds.Select(k => k.GroupVersion).Distinct().ToList();
        var groups = groupVersions.Select(gv =>
        {
            var (group, version) = gv.Contains('/') ? (gv.Split('/')[0], gv.Split('/')[1]) : ("", gv);
            var entry = $$"""{"groupVersion":"{{gv}}","version":"{{version}}"}""";
            return $$"""{"name":"{{group}}","versions":[{{entry}}],"preferredVersion":{{entry}}}""";
        });
        WriteFile(Path.Combine(root, "servergroups.json"), $$"""{"kind":"APIGroupList","apiVersion":"v1","groups":[{{string.Join(",", groups)}}]}""");
        foreach (var gv in groupVersions)
        {
            var resources = ServedKinds.Where(k => k.GroupVersion == gv).Select(k =>
                $$"""{"name":"{{k.Plural}}","singularName":"{{k.Kind.ToLowerInvariant()}}","namespaced":{{(k.Namespaced ? "true" : "false")}},"kind":"{{k.Kind}}","verbs":["create","delete","get","list","patch","update","watch"]}""");
            WriteFile(Path.Combine(root, Path.Combine(gv.Split('/')), "serverresources.json"),
                $$"""{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"{{gv}}","resources":[{{string.Join(",", resources)}}]}""");
        }
        WriteFile(Path.Combine(_kubectlHome.FullName, "kubeconfig"), "");
    }

    private static void WriteFile(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private CommandResult KubectlCreateDryRun(string output, params string[] files)
    {
        Assert.True(File.Exists(Kubectl), $"{Kubectl} is missing: the tests need the preinstalled kubectl");
        string[] arguments =
        [
            Kubectl, "create", "--dry-run=client", "--validate=false", "-o", output,
            "--server", UnreachableServer, "--cache-dir", CacheDirectory, "--kubeconfig", Path.Combine(_kubectlHome.FullName, "kubeconfig"),
            .. files.SelectMany(f => new[] { "-f", f }),
        ];
        return Command.TryRun(arguments);
    }

    [Fact]
    public void Kubectl_reads_every_example_offline_and_names_the_objects_the_loader_reads()
    {
        var result = KubectlCreateDryRun("name", ExamplesDirectory());

        Assert.True(result.ExitCode == 0, $"{result.CommandLine}\n{result.StandardError}");
        var expected = new List<string>();
        foreach (var file in ExampleFiles())
        {
            var set = ManifestLoader.LoadFiles([file]);
            Assert.Empty(set.Errors);
            expected.AddRange(set.Objects.Select(o => o.ApiVersion == "v1"
                ? $"{o.Kind.ToLowerInvariant()}/{o.Metadata.Name}"
                : $"{o.Kind.ToLowerInvariant()}.{ApiGroup.Group}/{o.Metadata.Name}"));
        }
        Assert.Equal(expected, result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Theory]
    [InlineData("dual-master.yaml")]
    [InlineData("master-backup.yaml")]
    public void What_kubectl_would_send_plans_exactly_like_the_file(string fileName)
    {
        var path = Path.Combine(ExamplesDirectory(), fileName);
        var result = KubectlCreateDryRun("yaml", path);
        Assert.True(result.ExitCode == 0, $"{result.CommandLine}\n{result.StandardError}");

        var fromFile = ManifestLoader.LoadFiles([path]);
        var fromKubectl = ManifestLoader.LoadText("kubectl output", result.StandardOutput);

        Assert.True(fromKubectl.IsValid, string.Join("\n", fromKubectl.Errors));
        Assert.Equal(fromFile.Objects.Select(o => $"{o.Kind} {o.DisplayName}"), fromKubectl.Objects.Select(o => $"{o.Kind} {o.DisplayName}"));
        Assert.Equal(PlanAsYaml(fromFile), PlanAsYaml(fromKubectl));
    }

    private static string PlanAsYaml(ManifestSet set)
    {
        var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));
        Assert.Empty(plan.Errors);
        return ManifestWriter.Write(plan.NodeConfigs);
    }

    [Fact]
    public void Kubectl_rejects_a_misspelled_kind()
    {
        // Client dry-run checks kinds (not names or schemas): an unknown kind sends kubectl to the (absent) server.
        var file = Path.Combine(_kubectlHome.FullName, "misspelled.yaml");
        File.WriteAllText(file, $"apiVersion: {ApiGroup.ApiVersion}\nkind: VirtualIPGroup\nmetadata: {{name: web, namespace: edge}}\nspec: {{virtualIPs: [198.18.0.201]}}\n");

        var result = KubectlCreateDryRun("name", file);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unable to recognize", result.StandardError);
    }

    public static TheoryData<string, string> ExampleNodes()
    {
        var rows = new TheoryData<string, string>();
        foreach (var file in ExampleFiles())
            foreach (var node in new[] { "lb1", "lb2" })
                rows.Add(Path.GetFileName(file), node);
        return rows;
    }

    [Theory]
    [MemberData(nameof(ExampleNodes))]
    public void Nginx_accepts_the_config_each_node_renders_from_the_example(string fileName, string node)
    {
        var set = ManifestLoader.LoadFiles([Path.Combine(ExamplesDirectory(), fileName)]);
        var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));
        using var sandbox = new NginxSandbox();
        var pools = plan.ConfigFor(node).Spec.BackendPools.Select(pool => (pool.Name, pool.Spec)).ToList();
        Assert.NotEmpty(pools);

        var text = sandbox.WriteConfig(new NginxRenderInput(pools, NginxRuntimeOptions.UnderDirectory(sandbox.Directory.FullName, 18080)));

        var (exitCode, output) = sandbox.TestConfig();
        Assert.True(exitCode == 0, $"nginx -t failed for {fileName} on {node}:\n{output}\n{text}");
        Assert.DoesNotContain("[warn]", output);
    }
}
