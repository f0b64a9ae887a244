using NginxHa.Operator.Metrics;

namespace NginxHa.Operator.Tests.Metrics;

/// <summary>The --memory-log line: /proc status parsed, written and read back by the benchmark.</summary>
public class MemoryReportTests
{
    [Fact]
    public void The_status_file_gives_its_kB_fields_and_skips_the_others()
    {
        var status = MemoryReport.ParseStatus("Name:\tnginx-ha-operator\nVmHWM:\t  204800 kB\nVmRSS:\t  153600 kB\nRssAnon:\t   61440 kB\n" +
                                              "RssFile:\t   61440 kB\nRssShmem:\t   30720 kB\nThreads:\t24\n");
        Assert.Equal(204800, status["VmHWM"]);
        Assert.Equal(153600, status["VmRSS"]);
        Assert.Equal(30720, status["RssShmem"]);
        Assert.False(status.ContainsKey("Threads"));
        Assert.False(status.ContainsKey("Name"));
    }

    [Fact]
    public void A_line_is_read_back_in_MB_and_other_lines_are_not_memory_lines()
    {
        var report = new MemoryReport(RssKb: 153600, HwmKb: 204800, AnonKb: 61440, FileKb: 61440, ShmemKb: 30720,
            GcHeapBytes: 40 << 20, GcCommittedBytes: 50 << 20, GcFragmentedBytes: 3 << 20, GcAllocatedBytes: 2L << 30,
            Gen0: 100, Gen1: 30, Gen2: 5, JitMethods: 12000, JitIlBytes: 1 << 20);
        var values = MemoryReport.Parse("2026-12-02T16:00:00.000Z info " + report.Format())!;
        Assert.Equal("150.0", values["rss"]);
        Assert.Equal("200.0", values["hwm"]);
        Assert.Equal("30.0", values["shmem"]);
        Assert.Equal("50.0", values["gc_committed"]);
        Assert.Equal("2048.0", values["gc_allocated"]);
        Assert.Equal("100/30/5", values["gc_counts"]);
        Assert.Null(MemoryReport.Parse("2026-12-02T16:00:00.000Z info operator: caches synced"));
    }

    [Fact]
    public void The_running_process_reports_a_resident_set_and_a_GC_heap()
    {
        GC.Collect(); // the GC's figures are those of its last collection: none yet in a fresh test process
        var report = MemoryReport.Read();
        Assert.True(report.RssKb > 0 && report.HwmKb >= report.RssKb, $"{report.RssKb} kB resident, {report.HwmKb} kB peak");
        Assert.True(report.AnonKb + report.FileKb + report.ShmemKb is var sum && Math.Abs(sum - report.RssKb) <= report.RssKb / 10,
            $"anon + file + shmem {report.AnonKb + report.FileKb + report.ShmemKb} kB against {report.RssKb} kB resident");
        Assert.True(report.GcCommittedBytes > 0 && report.GcAllocatedBytes > 0);
    }
}
