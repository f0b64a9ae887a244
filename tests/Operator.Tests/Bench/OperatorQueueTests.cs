using NginxHa.Bench.OperatorScale;

namespace NginxHa.Operator.Tests.Bench;

/// <summary>bench/operator-scale.sh starts each change once the operator is idle, read from its /metrics text.</summary>
public class OperatorQueueTests
{
    private const string Scrape = """
        # TYPE nginx_ha_operator_queue_depth gauge
        nginx_ha_operator_queue_depth{otel_scope_name="NginxHa.Operator",kind="plan"} 0
        nginx_ha_operator_queue_depth{otel_scope_name="NginxHa.Operator",kind="virtualipgroup"} 12
        nginx_ha_operator_queue_depth{otel_scope_name="NginxHa.Operator",kind="nginxbackendpool"} 0
        # TYPE nginx_ha_operator_queue_in_process gauge
        nginx_ha_operator_queue_in_process{otel_scope_name="NginxHa.Operator",kind="plan"} 1
        nginx_ha_operator_queue_in_process{otel_scope_name="NginxHa.Operator",kind="virtualipgroup"} 2 1764698400000
        nginx_ha_operator_queue_in_process{otel_scope_name="NginxHa.Operator",kind="nginxbackendpool"} 0
        """;

    [Fact]
    public void The_queue_is_read_by_kind_from_the_scrape_and_is_idle_only_with_nothing_waiting_and_nothing_in_process()
    {
        var queue = OperatorQueue.Parse(Scrape);
        Assert.Equal(12, queue.WaitingCount);
        Assert.Equal(3, queue.InProcessCount);
        Assert.False(queue.Idle);
        Assert.Equal("waiting 12 (virtualipgroup 12), in process 3 (plan 1 virtualipgroup 2)", queue.ToString());

        Assert.False(OperatorQueue.Parse(Scrape.Replace("} 12", "} 0")).Idle); // still in process
        Assert.True(OperatorQueue.Parse(Scrape.Replace("} 12", "} 0").Replace("} 1\n", "} 0\n").Replace("} 2 ", "} 0 ")).Idle);
    }

    [Fact]
    public void A_scrape_without_the_in_process_gauge_is_refused_not_taken_for_idle()
    {
        var old = string.Join('\n', Scrape.Split('\n').Where(l => !l.Contains("in_process", StringComparison.Ordinal)));
        var e = Assert.Throws<InvalidOperationException>(() => OperatorQueue.Parse(old));
        Assert.Contains("nginx_ha_operator_queue_in_process", e.Message);
    }
}
