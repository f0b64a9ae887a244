using System.Diagnostics;
using System.Text;
using NginxHa.Core.Manifests;
using NginxHa.Core.Tests.Manifests;

namespace NginxHa.Core.Tests.Hardening;

/// <summary>
/// Issue 12, section 0, items 1 and 4: whatever a manifest file holds, the loader returns errors with "file:line" and
/// never throws; nesting depth and file size are capped before anything recursive or large happens.
/// </summary>
public class LoaderNeverThrowsTests
{
    static string RepoRoot => Path.GetFullPath(Path.Combine(TestData.PathOf(""), "..", "..", "..", ".."));

    static IEnumerable<(string Name, string Text)> Seeds() =>
        Directory.GetFiles(Path.Combine(RepoRoot, "examples"), "*.yaml")
            .Concat(Directory.GetFiles(TestData.PathOf(""), "*.yaml"))
            .Select(p => (Path.GetFileName(p), File.ReadAllText(p)));

    [Fact]
    public void An_unclosed_flow_sequence_is_a_file_line_error_not_an_exception()
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot, "examples", "master-backup.yaml"));
        Assert.Contains("mode: ActivePassive", text);
        var broken = text.Replace("mode: ActivePassive", "mode: [ActivePassive");
        var line = broken[..broken.IndexOf("mode: [ActivePassive", StringComparison.Ordinal)].Count(c => c == '\n') + 1;

        var set = ManifestLoader.LoadText("site.yaml", broken);

        var error = Assert.Single(set.Errors).ToString();
        Assert.Matches(@"^site\.yaml:\d+: ", error);
        var reported = int.Parse(error.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        // The parser notices the unclosed sequence where the flow ends; it must point into the broken document.
        Assert.InRange(reported, line, line + 30);
        Assert.Empty(set.Objects);
    }

    /// <summary>The property: over thousands of mutations of the examples, LoadText returns; every error is one line with a source.</summary>
    [Fact]
    public void Mutated_examples_never_make_the_loader_throw()
    {
        var random = new Random(12_0001);
        var seeds = Seeds().ToArray();
        Assert.True(seeds.Length >= 4, "the examples and test data are the fuzz seeds");
        const string Alphabet = "[]{}:-,&*!|>'\"#%@`?~ \n\t\\0123456789abcdefxyz\u202E\u0007\u0000\uFEFF";
        var rejected = 0;
        for (var i = 0; i < 4000; i++)
        {
            var (name, text) = seeds[random.Next(seeds.Length)];
            var mutated = Mutate(random, text, Alphabet);
            ManifestSet set;
            try
            {
                set = ManifestLoader.LoadText(name, mutated);
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i} of {name} threw {e.GetType().Name}: {e.Message}\n--- input ---\n{mutated}");
                throw;
            }
            foreach (var error in set.Errors.Concat(set.Warnings).Select(e => e.ToString()))
            {
                Assert.DoesNotContain('\n', error);
                Assert.DoesNotContain('\u202E', error);
                Assert.StartsWith(name, error);
            }
            if (!set.IsValid) rejected++;
        }
        // The mutations must mostly break the files, or the property proves little.
        Assert.True(rejected > 2000, $"only {rejected} of 4000 mutations were rejected");
    }

    [Fact]
    public void Random_bytes_never_make_the_loader_throw()
    {
        var random = new Random(12_0002);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(1, 400)];
            random.NextBytes(bytes);
            var text = Encoding.UTF8.GetString(bytes);
            var set = ManifestLoader.LoadText("noise.yaml", text);
            Assert.True(set.Objects.Count == 0 || set.IsValid);
            Assert.All(set.Errors, e => Assert.DoesNotContain('\n', e.ToString()));
        }
    }

    static string Mutate(Random random, string text, string alphabet)
    {
        var builder = new StringBuilder(text);
        var edits = random.Next(1, 4);
        for (var e = 0; e < edits && builder.Length > 0; e++)
        {
            var at = random.Next(builder.Length);
            switch (random.Next(6))
            {
                case 0: builder.Remove(at, Math.Min(random.Next(1, 20), builder.Length - at)); break;
                case 1: builder.Insert(at, alphabet[random.Next(alphabet.Length)]); break;
                case 2: builder.Insert(at, new string(alphabet[random.Next(alphabet.Length)], random.Next(1, 80))); break;
                case 3: builder.Length = at; break;
                case 4:
                    var lines = builder.ToString().Split('\n').ToList();
                    var line = random.Next(lines.Count);
                    lines.Insert(random.Next(lines.Count), lines[line]);
                    builder.Clear().Append(string.Join('\n', lines));
                    break;
                default: builder[at] = alphabet[random.Next(alphabet.Length)]; break;
            }
        }
        return builder.ToString();
    }

    [Theory]
    [InlineData("flow sequences")]
    [InlineData("flow mappings")]
    public void Nesting_deeper_than_the_cap_is_refused_quickly_with_file_line(string shape)
    {
        const int Levels = 100_000;
        var yaml = shape == "flow sequences"
            ? "apiVersion: v1\nkind: Node\nmetadata: {name: a}\nstatus: " + new string('[', Levels) + new string(']', Levels) + "\n"
            : "apiVersion: v1\nkind: Node\nmetadata: {name: a}\nstatus: " + string.Concat(Enumerable.Repeat("{a: ", Levels)) + "1" + new string('}', Levels) + "\n";
        var clock = Stopwatch.StartNew();

        var set = ManifestLoader.LoadText("deep.yaml", yaml);

        clock.Stop();
        var error = Assert.Single(set.Errors).ToString();
        Assert.Matches($@"^deep\.yaml:\d+: .*nests deeper than {ManifestLoader.MaxDepth} levels", error);
        // 10 s of pinned core before the cap; the cap stops at the 65th level.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Nesting_within_the_cap_still_loads()
    {
        var nested = new string('[', ManifestLoader.MaxDepth - 2) + new string(']', ManifestLoader.MaxDepth - 2);
        var set = ManifestLoader.LoadText("ok.yaml", $"apiVersion: v1\nkind: Node\nmetadata:\n  name: a\n  annotations: {{x: \"{nested}\"}}\n");
        Assert.DoesNotContain(set.Errors, e => e.Message.Contains("nests deeper"));
    }

    [Fact]
    public void A_file_over_the_size_cap_is_refused_before_it_is_read()
    {
        var path = Path.Combine(Path.GetTempPath(), $"nginx-ha-big-{Guid.NewGuid():N}.yaml");
        try
        {
            using (var file = File.Create(path)) file.SetLength(ManifestLoader.MaxFileBytes + 1);
            var set = ManifestLoader.LoadFiles([path]);
            var error = Assert.Single(set.Errors).ToString();
            Assert.Equal($"{path}: the file is {ManifestLoader.MaxFileBytes + 1} bytes, more than the {ManifestLoader.MaxFileBytes} a manifest file may have", error);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
