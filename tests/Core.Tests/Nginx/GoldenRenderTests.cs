using NginxHa.Core.Nginx;

namespace NginxHa.Core.Tests.Nginx;

/// <summary>
/// Renders every testdata/*.yaml case and compares it with testdata/*.golden.
/// Run with UPDATE_GOLDEN=1 to rewrite the golden files after an intended change, then review the diff.
/// </summary>
public sealed class GoldenRenderTests
{
    private static readonly bool UpdateGolden = Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1";

    public static TheoryData<string> CaseNames()
    {
        var names = new TheoryData<string>();
        foreach (var renderCase in NginxRenderCase.LoadAll()) names.Add(renderCase.Name);
        return names;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Rendered_config_matches_golden_file(string caseName)
    {
        var renderCase = NginxRenderCase.Load(Path.Combine(NginxRenderCase.TestDataDirectory(), caseName + ".yaml"));
        var rendered = NginxConfigRenderer.Render(
            renderCase.Input(NginxRenderCase.PlaceholderDirectory, NginxRenderCase.PlaceholderHealthPort));

        if (UpdateGolden) File.WriteAllText(renderCase.GoldenPath, rendered);

        Assert.True(File.Exists(renderCase.GoldenPath), $"{renderCase.GoldenPath} is missing; run the tests with UPDATE_GOLDEN=1");
        Assert.Equal(File.ReadAllText(renderCase.GoldenPath), rendered);
    }

    [Fact]
    public void The_required_cases_exist_and_every_golden_file_has_a_case()
    {
        var caseNames = NginxRenderCase.LoadAll().Select(renderCase => renderCase.Name).ToHashSet();
        string[] required = ["seed000", "seed001", "tls", "least-conn", "hash", "keepalive"];
        Assert.All(required, name => Assert.Contains(name, caseNames));

        var goldenNames = Directory.GetFiles(NginxRenderCase.TestDataDirectory(), "*.golden").Select(Path.GetFileNameWithoutExtension);
        Assert.All(goldenNames, name => Assert.Contains(name!, caseNames));
    }
}
