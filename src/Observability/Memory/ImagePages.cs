using System.Globalization;
using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Gives the kernel back the resident pages of the agent binary's read-only mappings once start-up is over. NativeAOT
/// start-up reads about 3 MB of them once (the compressed type data it rehydrates, tables only start-up uses), and they
/// would stay counted in the agent's VmRSS for its whole life (docs/benchmarks.md, "Agent cost").
/// MADV_DONTNEED on a clean read-only file mapping only unmaps: the pages stay in the page cache, and one used again is
/// mapped back by a minor fault, as the kernel's own reclaim could have made it at any time. A mapping that holds private
/// copies (RELRO: relocated, then made read-only) is left alone: dropping those would bring back the file's
/// unrelocated bytes.
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
    public static IReadOnlyList<Range> CleanReadOnly(IEnumerable<string> smaps, string image)
    {
        var ranges = new List<Range>();
        Range? candidate = null; // the current mapping, while it may qualify
        foreach (var line in smaps)
        {
            if (TryHeader(line, out var range, out var permissions, out var path))
            {
                candidate = permissions == "r--p" && path == image ? range : null;
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
    public static long Release()
    {
        if (Environment.ProcessPath is not { } image) return 0;
        IReadOnlyList<Range> ranges;
        try
        {
            // Line by line: the whole text is hundreds of kB, garbage the agent would keep committed until a gen2 collection.
            ranges = CleanReadOnly(File.ReadLines("/proc/self/smaps"), image);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
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
