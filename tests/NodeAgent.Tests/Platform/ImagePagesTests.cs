using System.Globalization;
using NginxHa.NodeAgent.Platform;
using NginxHa.Observability.Memory;

namespace NginxHa.NodeAgent.Tests.Platform;

public sealed class ImagePagesTests
{
    const string Image = "/usr/bin/nginx-ha-agent";

    // The shape of a NativeAOT agent's smaps: read-only headers, code, read-only data, RELRO (relocated, then read-only),
    // writable data, a library, and the binary itself replaced on disk.
    static readonly string Smaps = string.Join('\n',
        Mapping("55d0c0a00000-55d0c0a1b000", "r--p", Image, rss: 108, anonymous: 0),
        Mapping("55d0c0a1c000-55d0c118f000", "r-xp", Image, rss: 7000, anonymous: 0),
        Mapping("55d0c118f000-55d0c185d000", "r--p", Image, rss: 6900, anonymous: 0),
        Mapping("55d0c185d000-55d0c185f000", "r--p", Image, rss: 8, anonymous: 8),
        Mapping("55d0c185f000-55d0c1897000", "rw-p", Image, rss: 220, anonymous: 200),
        Mapping("7f1e2a000000-7f1e2a026000", "r--p", "/usr/lib/x86_64-linux-gnu/libc.so.6", rss: 152, anonymous: 0),
        Mapping("7f1e2b000000-7f1e2b010000", "r--p", Image + " (deleted)", rss: 64, anonymous: 0),
        Mapping("7ffd1c000000-7ffd1c021000", "rw-p", "[stack]", rss: 40, anonymous: 40));

    [Fact]
    public void Only_the_binarys_clean_read_only_mappings_are_given_back_never_RELRO_code_writable_data_or_other_files()
    {
        var ranges = ImagePages.CleanReadOnly(Smaps.Split('\n'), Image);

        Assert.Equal(
            [new ImagePages.Range(0x55d0c0a00000, 0x1b000), new ImagePages.Range(0x55d0c118f000, 0x6ce000)],
            ranges);
    }

    // The shape of the operator's smaps (a JIT process): an IL-only assembly mapped shared, ReadyToRun code, a native
    // library's code and RELRO, the JIT's double mapping of its code (a memfd), the GC heap, and a replaced file.
    static readonly string OperatorSmaps = string.Join('\n',
        Mapping("7f10a0000000-7f10a0bb0000", "r--s", "/app/KubernetesClient.dll", rss: 9000, anonymous: 0),
        Mapping("7f10a1000000-7f10a1800000", "r-xp", "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Private.CoreLib.dll", rss: 7500, anonymous: 0),
        Mapping("7f10a1800000-7f10a1a00000", "rw-p", "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Private.CoreLib.dll", rss: 2200, anonymous: 2200),
        Mapping("7f10a2000000-7f10a2460000", "r-xp", "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so", rss: 4400, anonymous: 0),
        Mapping("7f10a2460000-7f10a2470000", "r--p", "/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/libcoreclr.so", rss: 64, anonymous: 64),
        Mapping("7f10a3000000-7f10a3400000", "rw-s", "/memfd:doublemapper (deleted)", rss: 4096, anonymous: 0),
        Mapping("7f10a3400000-7f10a3800000", "r-xs", "/memfd:doublemapper (deleted)", rss: 4096, anonymous: 0),
        Mapping("7f10a4000000-7f10a4100000", "r--s", "/app/Old.dll (deleted)", rss: 64, anonymous: 0),
        Mapping("7f10a5000000-7f10a5400000", "rw-p", "", rss: 4096, anonymous: 4096));

    [Fact]
    public void Every_clean_file_mapping_that_cannot_be_written_is_given_back_never_copies_JIT_code_heap_or_replaced_files()
    {
        var ranges = ImagePages.CleanFileMappings(OperatorSmaps.Split('\n'));

        Assert.Equal(
        [
            new ImagePages.Range(0x7f10a0000000, 0xbb0000), // the IL-only assembly
            new ImagePages.Range(0x7f10a1000000, 0x800000), // ReadyToRun code
            new ImagePages.Range(0x7f10a2000000, 0x460000), // a native library's code
        ], ranges);
    }

    [Fact]
    public void Only_a_mapping_seen_clean_in_both_reads_is_given_back()
    {
        var kept = new ImagePages.Range(0x7f10a0000000, 0xbb0000);
        var loading = new ImagePages.Range(0x7f10a2000000, 0x460000); // clean at the first read, relocated by the second
        var mapped = new ImagePages.Range(0x7f10a4000000, 0x100000);  // mapped after the first read: may be loading now
        var grown = new ImagePages.Range(0x7f10a1000000, 0x900000);   // the same start, another length: not the same mapping

        var ranges = ImagePages.SeenTwice([kept, loading, grown with { Length = 0x800000 }], [kept, mapped, grown]);

        Assert.Equal([kept], ranges);
    }

    [Fact]
    public void Unreadable_smaps_give_nothing_back()
    {
        Assert.Empty(ImagePages.CleanReadOnly([""], Image));
        Assert.Empty(ImagePages.CleanReadOnly(["garbage", "Anonymous: 0 kB"], Image));
        // A mapping whose Anonymous line cannot be read is not known to be clean.
        var unreadable = Mapping("55d0c0a00000-55d0c0a1b000", "r--p", Image, rss: 108, anonymous: 0).Split('\n')
            .Select(l => l.StartsWith("Anonymous:", StringComparison.Ordinal) ? "Anonymous: ? kB" : l);
        Assert.Empty(ImagePages.CleanReadOnly(unreadable, Image));
    }

    [Fact]
    public void On_this_process_the_binarys_clean_read_only_pages_leave_the_RSS_and_its_RELRO_mapping_stays()
    {
        string image = Environment.ProcessPath!;
        var before = ReadOnlyMappings(File.ReadAllText("/proc/self/smaps"), image);
        Assert.Contains(before, m => m.Anonymous > 0); // RELRO: private copies, never given back
        long cleanBefore = before.Where(m => m.Anonymous == 0).Sum(m => m.Rss);
        Assert.True(cleanBefore > 0, $"{image}: no resident clean read-only page to give back");

        long released = ImagePages.Release();

        var after = ReadOnlyMappings(File.ReadAllText("/proc/self/smaps"), image);
        long cleanAfter = after.Where(m => m.Anonymous == 0).Sum(m => m.Rss);
        Assert.True(released > 0 && cleanAfter < cleanBefore,
            $"{image}: released {released} bytes; clean read-only resident {cleanBefore} kB before, {cleanAfter} kB after");
        Assert.Equal(before.Where(m => m.Anonymous > 0).Sum(m => m.Rss), after.Where(m => m.Anonymous > 0).Sum(m => m.Rss));
    }

    static string Mapping(string range, string permissions, string path, long rss, long anonymous) => $"""
        {range} {permissions} 00000000 fe:01 1234                       {path}
        Size:               {rss,6} kB
        Rss:                {rss,6} kB
        Pss:                {rss,6} kB
        Anonymous:          {anonymous,6} kB
        VmFlags: rd mr mw me sd
        """;

    /// <summary>The test's own reading of smaps (independent of the code under test): r--p mappings of the image with their Rss and Anonymous kB.</summary>
    static List<(long Rss, long Anonymous)> ReadOnlyMappings(string smaps, string image)
    {
        var mappings = new List<(long Rss, long Anonymous)>();
        bool inside = false;
        long rss = 0;
        foreach (var line in smaps.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0].Contains('-', StringComparison.Ordinal) && fields[1].Length == 4)
            {
                inside = fields[1] == "r--p" && fields.Length == 6 && fields[5] == image;
                continue;
            }
            if (!inside || fields.Length < 2) continue;
            if (fields[0] == "Rss:") rss = long.Parse(fields[1], CultureInfo.InvariantCulture);
            if (fields[0] == "Anonymous:") mappings.Add((rss, long.Parse(fields[1], CultureInfo.InvariantCulture)));
        }
        return mappings;
    }
}
