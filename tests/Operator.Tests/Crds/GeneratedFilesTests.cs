using System.Runtime.CompilerServices;
using NginxHa.Operator.Crds;

namespace NginxHa.Operator.Tests.Crds;

/// <summary>crds/ and docs/resources.md are what the generator writes today: change a C# type, regenerate, commit both.</summary>
public sealed class GeneratedFilesTests
{
    const string Regenerate = "regenerate: dotnet run --project src/Operator -- generate crds --out crds && dotnet run --project src/Operator -- generate docs --out docs/resources.md";

    static string RepositoryPath(string relative, [CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", relative));

    [Fact]
    public void Crds_directory_is_exactly_what_the_generator_writes()
    {
        var expected = CrdGenerator.GenerateAll().ToDictionary(f => f.FileName, f => f.Yaml);
        var directory = RepositoryPath("crds");
        var actual = Directory.GetFiles(directory).ToDictionary(path => Path.GetFileName(path), File.ReadAllText);

        Assert.True(expected.Keys.Order().SequenceEqual(actual.Keys.Order()),
            $"crds/ holds [{string.Join(", ", actual.Keys.Order())}] but the generator writes [{string.Join(", ", expected.Keys.Order())}]; {Regenerate}");
        foreach (var (name, yaml) in expected)
            Assert.True(yaml == actual[name], $"crds/{name} differs from the generator's output; {Regenerate}");
    }

    [Fact]
    public void Resource_reference_is_exactly_what_the_generator_writes()
    {
        var actual = File.ReadAllText(RepositoryPath("docs/resources.md"));
        Assert.True(ResourceReference.Write() == actual, $"docs/resources.md differs from the generator's output; {Regenerate}");
    }

    [Fact]
    public void Generate_command_writes_the_same_files()
    {
        var dir = Directory.CreateTempSubdirectory("nha-crds-");
        try
        {
            var output = new StringWriter();
            var error = new StringWriter();
            Assert.Equal(0, Program.Run(["generate", "crds", "--out", dir.FullName], output, error));
            Assert.Equal(0, Program.Run(["generate", "docs", "--out", Path.Combine(dir.FullName, "resources.md")], output, error));
            foreach (var (name, yaml) in CrdGenerator.GenerateAll())
                Assert.Equal(yaml, File.ReadAllText(Path.Combine(dir.FullName, name)));
            Assert.Equal(ResourceReference.Write(), File.ReadAllText(Path.Combine(dir.FullName, "resources.md")));
            Assert.Equal(2, Program.Run(["generate", "crds"], output, error));
            Assert.Contains("usage: nginx-ha-operator generate crds --out DIR", error.ToString());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
