using Microsoft.Extensions.Time.Testing;
using NginxHa.Operator.Metrics;

namespace NginxHa.Operator.Tests.Metrics;

public sealed class StartupMemoryTrimsTests
{
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(10);

    [Fact]
    public void Each_step_trims_once_at_once_and_the_first_plan_once_more_when_the_settle_time_is_over()
    {
        var time = new FakeTimeProvider();
        var trims = new List<string>();
        using var memory = new StartupMemoryTrims(time, Settle, trims.Add);

        memory.Reached(StartupStep.CachesSynced);
        Assert.Equal(["caches synced"], trims);
        memory.Reached(StartupStep.CachesSynced); // a second replica's term, a re-list: no more
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(["caches synced"], trims);

        memory.Reached(StartupStep.FirstPlanWritten);
        Assert.Equal(["caches synced", "first plan written"], trims);
        memory.Reached(StartupStep.FirstPlanWritten);
        time.Advance(Settle - TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, trims.Count);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(["caches synced", "first plan written", "initial reconcile settled"], trims);
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(3, trims.Count);
    }

    [Fact]
    public void An_operator_that_stops_before_the_settle_time_never_trims_again()
    {
        var time = new FakeTimeProvider();
        var trims = new List<string>();
        var memory = new StartupMemoryTrims(time, Settle, trims.Add);
        memory.Reached(StartupStep.FirstPlanWritten);
        time.Advance(TimeSpan.FromSeconds(5));
        memory.Dispose();
        time.Advance(Settle);
        memory.Reached(StartupStep.CachesSynced);
        Assert.Equal(["first plan written"], trims);
    }

    [Fact]
    public void The_trim_gives_back_file_pages_and_says_what_it_did_in_one_line()
    {
        string line = StartupMemoryTrims.GiveBack("a test");

        Assert.Matches(@"^memory: start-up pages given back \(a test\): VmRSS \d+\.\d -> \d+\.\d MB \((?<advised>\d+) MB of clean file mappings advised; the compacting collection took \d+ ms\)$", line);
        // The test host maps tens of MB of assemblies and libraries.
        Assert.True(int.Parse(System.Text.RegularExpressions.Regex.Match(line, @"\((\d+) MB of clean").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture) > 10, line);
    }
}
