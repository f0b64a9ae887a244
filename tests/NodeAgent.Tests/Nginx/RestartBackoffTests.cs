using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Tests.Nginx;

public class RestartBackoffTests
{
    private static readonly RestartBackoffOptions Options = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10));

    [Fact]
    public void First_restart_is_immediate_then_doubles_up_to_the_ceiling()
    {
        var backoff = new RestartBackoff(Options, new FakeTimeProvider());

        var delays = Enumerable.Range(0, 10).Select(_ => backoff.NextDelay().TotalMilliseconds).ToArray();

        Assert.Equal([0, 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000], delays);
    }

    [Fact]
    public void A_run_that_stays_up_for_the_stable_period_resets_the_ladder()
    {
        var time = new FakeTimeProvider();
        var backoff = new RestartBackoff(Options, time);
        backoff.NextDelay();
        backoff.NextDelay();
        backoff.NextDelay();

        backoff.MarkUp();
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.Zero, backoff.NextDelay());
        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.NextDelay());
    }

    [Fact]
    public void A_short_run_keeps_climbing_the_ladder()
    {
        var time = new FakeTimeProvider();
        var backoff = new RestartBackoff(Options, time);
        backoff.NextDelay();
        backoff.NextDelay();

        backoff.MarkUp();
        time.Advance(TimeSpan.FromSeconds(9.9));

        Assert.Equal(TimeSpan.FromMilliseconds(200), backoff.NextDelay());
    }

    [Fact]
    public void Up_mark_is_consumed_by_one_delay()
    {
        var time = new FakeTimeProvider();
        var backoff = new RestartBackoff(Options, time);
        backoff.MarkUp();
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.Zero, backoff.NextDelay());

        // No new MarkUp: the old stable run must not reset the ladder again.
        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.NextDelay());
        Assert.Equal(2, backoff.Attempt);
    }

    [Theory]
    [InlineData(0, 5000, 10000, "Backoff.Initial")]
    [InlineData(100, 50, 10000, "Backoff.Max")]
    [InlineData(100, 5000, 0, "Backoff.StableRun")]
    public void Invalid_options_name_the_field(int initialMs, int maxMs, int stableMs, string field)
    {
        var options = new RestartBackoffOptions(TimeSpan.FromMilliseconds(initialMs), TimeSpan.FromMilliseconds(maxMs), TimeSpan.FromMilliseconds(stableMs));

        var error = Assert.Throws<ArgumentException>(() => new RestartBackoff(options, new FakeTimeProvider()));

        Assert.StartsWith(field, error.Message);
    }
}
