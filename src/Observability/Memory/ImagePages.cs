using System.Globalization;
using System.Runtime.InteropServices;

namespace NginxHa.Observability.Memory;

/// <summary>
/// Gives the kernel back the resident pages of clean file mappings once start-up is over: pages that start-up read once
/// would otherwise stay counted in the process's VmRSS for its whole life (docs/benchmarks.md, "Agent cost" and
/// "Operator memory"). The agent gives back its NativeAOT binary's read-only data (the compressed type data it
/// rehydrates at start); the operator the IL, ReadyToRun code and native libraries that loading its types touched.
/// MADV_DONTNEED on a clean file mapping only unmaps: the pages stay in the page cache, and one used again is mapped back
/// by a minor fault, as the kernel's own reclaim could have made it at any time. A mapping that holds private copies
/// (RELRO: relocated, then made read-only; any written page) is left alone: dropping those would bring back the file's
/// bytes in place of the process's own.
/// </summary>
public static partial class ImagePages
{
    const int MADV_DONTNEED = 4;

    /// <summary>One mapping: its start address and length in bytes.</summary>
    public readonly record struct Range(ulong Start, ulong Length);

    /// <summary>
    /// Pure: the mappings of the file <paramref name="image"/> in the lines of /proc/self/smaps that are read-only and
    /// private ("r--p") and hold no anonymous (copied) page.
    /// </summary>
    public static IReadOnlyList<Range> CleanReadOnly(IEnumerable<string> smaps, string image) =>
        Clean(smaps, (permissions, path) => permissions == "r--p" && path == image);

    /// <summary>
    /// Pure: the file mappings that cannot be written ("r--p", "r-xp", "r--s", "r-xs") and hold no anonymous (copied)
    /// page, of any file still on disk. Anonymous memory, the JIT's double mapping (a memfd) and writable mappings are
    /// never chosen: their pages are the process's data, not copies of a file.
    /// </summary>
    public static IReadOnlyList<Range> CleanFileMappings(IEnumerable<string> smaps) =>
        Clean(smaps, (permissions, path) => permissions[0] == 'r' && permissions[1] == '-'
            && path.StartsWith('/') && !path.StartsWith("/memfd:", StringComparison.Ordinal) && !path.EndsWith(" (deleted)", StringComparison.Ordinal));

    /// <summary>Pure: the mappings <paramref name="select"/> (permissions, path) takes that hold no anonymous page.</summary>
    static List<Range> Clean(IEnumerable<string> smaps, Func<string, string, bool> select)
    {
        var ranges = new List<Range>();
        Range? candidate = null; // the current mapping, while it may qualify
        foreach (var line in smaps)
        {
            if (TryHeader(line, out var range, out var permissions, out var path))
            {
                candidate = select(permissions, path) ? range : null;
                continue;
            }
            // "Anonymous:" comes once per mapping, after its header: the verdict on the mapping is made there.
            if (candidate is { } mapping && line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                if (KiloBytes(line) == 0) ranges.Add(mapping);
                candidate = null;
            }
        }
        return ranges;
    }

    /// <summary>
    /// Drops the resident pages of this process's binary's clean read-only mappings; the bytes advised, 0 when /proc
    /// cannot be read or the kernel refuses (nothing depends on it: the pages simply stay).
    /// </summary>
    public static long Release() =>
        Environment.ProcessPath is { } image && Read(smaps => CleanReadOnly(smaps, image)) is { } ranges ? Advise(ranges) : 0;

    /// <summary>
    /// Drops the resident pages of every clean file mapping of this process (<see cref="CleanFileMappings"/>) that was
    /// seen clean twice, <paramref name="apart"/> apart. A loader writes an image's relocations right after mapping it,
    /// through a brief unprotect (CoreCLR's PEImageLayout::ApplyBaseRelocations keeps a section writable while it
    /// relocates it): a mapping caught between the two would be read clean and then hold private copies when advised.
    /// Seen clean twice, it is not being loaded. Blocks for <paramref name="apart"/>.
    /// </summary>
    public static long ReleaseFileMappings(TimeSpan apart)
    {
        if (Read(CleanFileMappings) is not { } first) return 0;
        Thread.Sleep(apart);
        return Read(CleanFileMappings) is { } second ? Advise(SeenTwice(first, second)) : 0;
    }

    /// <summary>Pure: the ranges of <paramref name="second"/> that <paramref name="first"/> holds too, same start and length.</summary>
    public static IReadOnlyList<Range> SeenTwice(IReadOnlyList<Range> first, IReadOnlyList<Range> second)
    {
        var earlier = first.ToHashSet();
        return second.Where(earlier.Contains).ToList();
    }

    /// <summary>The chosen mappings of this process; null when /proc cannot be read.</summary>
    static IReadOnlyList<Range>? Read(Func<IEnumerable<string>, IReadOnlyList<Range>> choose)
    {
        try
        {
            // Line by line: the whole text is hundreds of kB, garbage the process would keep committed until a gen2 collection.
            return choose(File.ReadLines("/proc/self/smaps"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    static long Advise(IReadOnlyList<Range> ranges)
    {
        long released = 0;
        foreach (var range in ranges)
            if (Madvise((nint)range.Start, (nuint)range.Length, MADV_DONTNEED) == 0) released += (long)range.Length;
        return released;
    }

    // "55d0c0a00000-55d0c0a1b000 r--p 00000000 fe:01 1234    /usr/bin/nginx-ha-agent"
    static bool TryHeader(string line, out Range range, out string permissions, out string path)
    {
        range = default;
        permissions = path = "";
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5 || fields[1].Length != 4) return false;
        int dash = fields[0].IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0
            || !ulong.TryParse(fields[0].AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
            || !ulong.TryParse(fields[0].AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end)
            || end <= start)
            return false;
        range = new Range(start, end - start);
        permissions = fields[1];
        path = fields.Length == 6 ? fields[5].Trim() : "";
        return true;
    }

    // "Anonymous:             0 kB"
    static long KiloBytes(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 2 && long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : -1;
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
