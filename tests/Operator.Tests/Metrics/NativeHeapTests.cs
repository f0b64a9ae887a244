using System.Runtime.InteropServices;
using NginxHa.Observability.Memory;
using NginxHa.Operator.Metrics;

namespace NginxHa.Operator.Tests.Metrics;

public sealed class NativeHeapTests
{
    [Fact]
    public void The_arena_cap_is_taken_by_glibc_and_a_cap_under_one_is_refused()
    {
        Assert.True(NativeHeap.LimitArenas(8)); // for the test host, a cap that changes nothing that matters
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeHeap.LimitArenas(0));
    }

    [Fact]
    public void Trim_returns_the_free_pages_inside_the_heap_that_free_alone_keeps()
    {
        // 48 MB in small blocks, all freed but the last: the heap's top is in use, so free() cannot shrink it and the
        // freed pages stay resident until malloc_trim hands them back.
        const int Count = 192 * 1024, Size = 256;
        var blocks = new nint[Count];
        var ones = Enumerable.Repeat((byte)1, Size).ToArray();
        for (int i = 0; i < Count; i++)
        {
            blocks[i] = Marshal.AllocHGlobal(Size); // malloc
            Marshal.Copy(ones, 0, blocks[i], Size); // resident
        }
        for (int i = 0; i < Count - 1; i++) Marshal.FreeHGlobal(blocks[i]);
        try
        {
            long kept = AnonymousKb();
            Assert.True(NativeHeap.Trim(), "malloc_trim returned nothing");
            long after = AnonymousKb();
            Assert.True(after < kept - 32 * 1024, $"RssAnon {kept} kB after free(), {after} kB after the trim");
        }
        finally
        {
            Marshal.FreeHGlobal(blocks[^1]);
        }
    }

    static long AnonymousKb() => MemoryReport.ParseStatus(File.ReadAllText("/proc/self/status"))["RssAnon"];
}
