using System.Runtime.InteropServices;

namespace NginxHa.Observability.Memory;

/// <summary>
/// glibc's malloc, which the runtime, the JIT and OpenSSL allocate from. By default glibc gives each thread that finds
/// an arena busy a new one (up to 8 per CPU), and memory freed in one arena serves only that arena: at 200 nodes the
/// operator's native heap sat in six arenas with much of it free (docs/benchmarks.md, "Operator memory").
/// </summary>
public static partial class NativeHeap
{
    const int M_ARENA_MAX = -8; // <malloc.h>

    /// <summary>
    /// Caps the number of malloc arenas from now on (threads that already have one keep it); false when the C library
    /// is not glibc or refuses. Call it first thing in Main.
    /// </summary>
    public static bool LimitArenas(int arenas)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(arenas, 1);
        try
        {
            return Mallopt(M_ARENA_MAX, arenas) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Returns the free memory of every arena to the kernel (whole free pages inside the heap, not only its top); true
    /// when some was returned. False without glibc.
    /// </summary>
    public static bool Trim()
    {
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
