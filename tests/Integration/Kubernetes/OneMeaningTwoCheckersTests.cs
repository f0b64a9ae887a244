using NginxHa.Core.Manifests;
using NginxHa.Core.Planning;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// One meaning, two checkers: every manifest of <see cref="InvalidManifests"/> is refused by the C# validators
/// (what standalone mode runs) and by the real API server with the generated CRDs (what cluster mode runs), and
/// both messages name the same field; the examples, and the NodeHaConfigs planned from them, pass both.
/// </summary>
[Collection(CrdClusterCollection.Name)]
public sealed class OneMeaningTwoCheckersTests(CrdCluster cluster)
{
    public static TheoryData<string> InvalidCases() => new(InvalidManifests.All.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Both_checkers_refuse_the_manifest_naming_the_same_field(string name)
    {
        var row = InvalidManifests.All.Single(c => c.Name == name);

        var set = ManifestLoader.LoadText($"{name}.yaml", row.Yaml);
        Assert.False(set.IsValid, $"the C# validators accepted {name}:\n{row.Yaml}");
        var csharp = set.Errors.Where(e => NamesField(e.Path, row.Field)).ToList();
        Assert.True(csharp.Count > 0,
            $"no C# error names {row.Field}; the errors were:\n{string.Join("\n", set.Errors)}");

        var (exit, output, error) = cluster.Server.Run("apply", "-f", cluster.Server.WriteManifest($"{name}.yaml", row.Yaml));
        Assert.True(exit != 0, $"the API server accepted {name}: {output}");
        var server = ServerErrors(error).Where(e => NamesField(e.Field, row.Field)).ToList();
        Assert.True(server.Count > 0, $"no API server error names {row.Field}; kubectl said:\n{error}");
        Assert.Contains(server, e => e.Text.Contains(row.ServerSays, StringComparison.Ordinal));

        if (row.Both is { } phrase)
        {
            Assert.Contains(csharp, e => e.Message.Contains(phrase, StringComparison.Ordinal));
            Assert.Contains(server, e => e.Text.Contains(phrase, StringComparison.Ordinal));
        }
    }

    public static TheoryData<string> AgentOnlyCases() => new(InvalidManifests.AgentOnly.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(AgentOnlyCases))]
    public void A_NodeHaConfig_breaking_a_rule_of_its_instances_or_pools_is_accepted_by_the_server_and_refused_by_the_agents_validators(string name)
    {
        var row = InvalidManifests.AgentOnly.Single(c => c.Name == name);

        var set = ManifestLoader.LoadText($"{name}.yaml", row.Yaml);
        var csharp = set.Errors.Where(e => NamesField(e.Path, row.Field)).ToList();
        Assert.True(csharp.Count > 0, $"no C# error names {row.Field}; the errors were:\n{string.Join("\n", set.Errors)}");
        Assert.Contains(csharp, e => e.Message.Contains(row.Both!, StringComparison.Ordinal));

        cluster.Server.Ok("apply", "--dry-run=server", "-f", cluster.Server.WriteManifest($"{name}.yaml", row.Yaml));
    }

    [Fact]
    public void The_examples_and_the_NodeHaConfigs_planned_from_them_pass_both_checkers()
    {
        foreach (var file in CrdCluster.ExampleFiles())
        {
            var set = ManifestLoader.LoadFiles([file]);
            Assert.True(set.IsValid, $"{file}:\n{string.Join("\n", set.Errors)}");
            // Whole, Node documents too (the stand-in serves core/v1): what a user applies.
            cluster.Server.Ok("apply", "--dry-run=server", "-f", file);

            var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));
            Assert.Empty(plan.Errors);
            var planned = ManifestWriter.Write(plan.NodeConfigs);
            Assert.True(ManifestLoader.LoadText("planned.yaml", planned).IsValid);
            cluster.Server.Ok("apply", "--dry-run=server", "-f", cluster.Server.WriteManifest("planned-" + Path.GetFileName(file), planned));
        }
    }

    /// <summary>The same field, or an item or child of it (a CEL rule on a list names the list, C# the item).</summary>
    static bool NamesField(string path, string field) =>
        path == field || path.StartsWith(field + "[", StringComparison.Ordinal) || path.StartsWith(field + ".", StringComparison.Ordinal)
        || field.StartsWith(path + "[", StringComparison.Ordinal);

    /// <summary>
    /// The causes of a kubectl "is invalid" error as (field path, text). kubectl prints one cause as
    /// `The X "t" is invalid: path: Invalid value: ...` and several as lines `* path: ...`.
    /// </summary>
    internal static IEnumerable<(string Field, string Text)> ServerErrors(string kubectlError)
    {
        var start = kubectlError.IndexOf(" is invalid: ", StringComparison.Ordinal);
        Assert.True(start >= 0, $"not an \"is invalid\" error:\n{kubectlError}");
        var causes = kubectlError[(start + " is invalid: ".Length)..].Trim();
        var lines = causes.StartsWith("* ", StringComparison.Ordinal)
            ? causes.Split('\n').Where(l => l.StartsWith("* ", StringComparison.Ordinal)).Select(l => l[2..].Trim())
            : [causes];
        foreach (var cause in lines)
        {
            var colon = cause.IndexOf(": ", StringComparison.Ordinal);
            if (colon > 0) yield return (cause[..colon], cause);
        }
    }
}
