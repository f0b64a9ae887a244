using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Tells the kernel that the agent's own binary is read at random (madvise MADV_RANDOM on its read-only mappings), so a
/// page fault there maps that one page, not the 16 around it that fault-around maps from the page cache. The NativeAOT
/// binary is 16 MB; fault-around left 14.7 MB of it counted in VmRSS while the agent's steady work touches about half
/// (docs/benchmarks.md, "Metrics cost"). Contents never change: only which already-cached pages get mapped. Best effort:
/// a failure leaves the default.
/// </summary>
internal static partial class ExecutablePages
{
    const int MADV_RANDOM = 1;

    /// <summary>Applies to the NativeAOT binary only (under the JIT the executable is the dotnet host).</summary>
    public static void MapOnlyTouchedPages()
    {
        if (RuntimeFeature.IsDynamicCodeSupported || Environment.ProcessPath is not { } path) return;
        try
        {
            foreach (var (start, length) in ReadOnlyMappings(File.ReadAllText("/proc/self/maps"), path))
                _ = MAdvise((nint)start, (nuint)length, MADV_RANDOM);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>The read-only mappings (code and constant data, never written) of <paramref name="path"/> in a /proc/PID/maps text.</summary>
    public static IEnumerable<(ulong Start, ulong Length)> ReadOnlyMappings(string maps, string path)
    {
        foreach (var line in maps.Split('\n'))
        {
            // start-end perms offset dev inode path
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[5].Trim() != path || fields[1] is not ("r-xp" or "r--p")) continue;
            var range = fields[0].Split('-');
            if (range.Length != 2
                || !ulong.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
                || !ulong.TryParse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end)
                || end <= start) continue;
            yield return (start, end - start);
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int MAdvise(nint address, nuint length, int advice);
}
