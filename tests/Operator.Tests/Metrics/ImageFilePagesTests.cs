using System.Globalization;
using NginxHa.Observability.Memory;

namespace NginxHa.Operator.Tests.Metrics;

/// <summary>
/// The operator's start-up trim gives back every clean file mapping (<see cref="ImagePages.ReleaseFileMappings"/>).
/// Here, not beside the agent's ImagePages tests: it drops the test host's pages, which those tests measure.
/// </summary>
public sealed class ImageFilePagesTests
{
    [Fact]
    public void On_this_process_clean_file_pages_leave_the_RSS_and_read_only_private_copies_stay()
    {
        var before = Mappings(File.ReadAllText("/proc/self/smaps"));
        var copiesBefore = before.Where(m => m.Permissions == "r--p" && m.Anonymous > 0).ToList();
        Assert.True(copiesBefore.Sum(m => m.Rss) > 0, "no RELRO mapping in the test host"); // libraries' relocated tables

        long released = ImagePages.ReleaseFileMappings(TimeSpan.FromMilliseconds(50));

        var after = Mappings(File.ReadAllText("/proc/self/smaps"));
        long fileBefore = before.Where(m => m.File && m.Anonymous == 0).Sum(m => m.Rss);
        long fileAfter = after.Where(m => m.File && m.Anonymous == 0).Sum(m => m.Rss);
        // What this test itself runs comes back at once; the test host's assemblies mapped but idle do not.
        Assert.True(released > 0 && fileAfter < fileBefore - 4096, $"released {released} bytes; clean file pages {fileBefore} kB before, {fileAfter} kB after");
        // Mapping by mapping: a library that a test running beside this one loads meanwhile adds copies, never removes one.
        foreach (var copy in copiesBefore)
            Assert.Equal(copy.Rss, after.Single(m => m.Range == copy.Range).Rss);
    }

    /// <summary>The test's own reading of every mapping: address range, permissions, whether it maps a file on disk, Rss and Anonymous kB.</summary>
    static List<(string Range, string Permissions, bool File, long Rss, long Anonymous)> Mappings(string smaps)
    {
        var mappings = new List<(string, string, bool, long, long)>();
        string range = "", permissions = "";
        bool file = false;
        long rss = 0;
        foreach (var line in smaps.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && fields[1].Length == 4)
            {
                range = fields[0];
                permissions = fields[1];
                file = fields.Length >= 6 && fields[5].StartsWith('/') && !fields[5].StartsWith("/memfd:", StringComparison.Ordinal) && !line.EndsWith(" (deleted)", StringComparison.Ordinal);
                continue;
            }
            if (fields.Length < 2) continue;
            if (fields[0] == "Rss:") rss = long.Parse(fields[1], CultureInfo.InvariantCulture);
            if (fields[0] == "Anonymous:") mappings.Add((range, permissions, file, rss, long.Parse(fields[1], CultureInfo.InvariantCulture)));
        }
        return mappings;
    }
}
