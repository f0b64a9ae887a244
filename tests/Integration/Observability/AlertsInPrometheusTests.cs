using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Observability;

/// <summary>
/// The shipped alert rules in a real Prometheus scraping two real agents in network namespaces: a forced flap fires
/// VipFlapping, a VRRP cut fires VipSplitBrain and healing resolves it (and a real Alertmanager delivers both, with
/// the alert's labels, to a webhook), a single clean failover fires nothing.
/// </summary>
public sealed class AlertsInPrometheusTests
{
    // An agent restart on a loaded 2-core machine (JIT build) can take several seconds before it speaks.
    static readonly TimeSpan StateTimeout = TimeSpan.FromSeconds(30);

    static readonly string[] VipAlerts = ["VipFlapping", "VipSplitBrain", "VipNoMaster"];

    [Fact]
    public async Task Master_killed_and_restored_three_times_fires_VipFlapping()
    {
        using var lab = await PrometheusLab.StartAsync("obsflap");
        try
        {
            Assert.DoesNotContain(lab.Alerts(), a => a.Name == "VipFlapping");
            for (int round = 0; round < 3; round++)
            {
                var killedAt = DateTimeOffset.UtcNow;
                lab.Agent(0).Crash();
                await lab.Agent(0).Process.WaitForExitAsync(StateTimeout);
                await lab.Agent(1).WaitForStateAsync("MASTER", StateTimeout, after: killedAt);
                var restoredAt = DateTimeOffset.UtcNow;
                lab.StartAgent(0);
                await lab.Agent(0).WaitForStateAsync("MASTER", StateTimeout);
                await lab.Agent(1).WaitForStateAsync("BACKUP", StateTimeout, after: restoredAt);
            }
            var firing = await lab.WaitForAlertAsync("VipFlapping", "firing", TimeSpan.FromSeconds(30));
            var flap = Assert.Single(firing, a => a.Name == "VipFlapping");
            Assert.Equal("51", flap.Labels["vrid"]);
            Assert.Equal("vrid 51", flap.Labels["vrrp_instance"]);
            Assert.Equal("warning", flap.Labels["severity"]);
        }
        catch (Exception ex) when (ex is TimeoutException or Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\n{lab.Diagnostics()}");
        }
    }

    [Fact]
    public async Task Cutting_VRRP_between_two_live_nodes_fires_VipSplitBrain_and_healing_resolves_it_through_Alertmanager()
    {
        using var lab = await PrometheusLab.StartAsync("obssplit", alertmanager: true);
        try
        {
            var cutAt = DateTimeOffset.UtcNow;
            lab.CutVrrp(0);
            lab.CutVrrp(1);
            await lab.Agent(1).WaitForStateAsync("MASTER", StateTimeout, after: cutAt);
            Assert.False(lab.Agent(0).Process.HasExited);

            var firing = await lab.WaitForAlertAsync("VipSplitBrain", "firing", TimeSpan.FromSeconds(45));
            var split = Assert.Single(firing, a => a.Name == "VipSplitBrain");
            Assert.Equal("51", split.Labels["vrid"]);
            Assert.Equal("critical", split.Labels["severity"]);
            Assert.Equal(2, lab.Query("nginx_ha_vrrp_state == 2").Count);
            var notified = await lab.WaitForNotificationAsync(a => a.Status == "firing" && a.Labels["alertname"] == "VipSplitBrain",
                TimeSpan.FromSeconds(30), "Alertmanager delivers VipSplitBrain to the webhook");
            Assert.Equal(("51", "vrid 51", "critical"), (notified.Labels["vrid"], notified.Labels["vrrp_instance"], notified.Labels["severity"]));
            Assert.Equal("docs/alerts.md#vipsplitbrain", notified.Annotations["runbook"]);
            Assert.Contains("VRID 51", notified.Annotations["summary"]);

            var healAt = DateTimeOffset.UtcNow;
            lab.HealVrrp(0);
            lab.HealVrrp(1);
            // The higher priority keeps the VIP; the lower steps down on its first advert.
            await lab.Agent(1).WaitForStateAsync("BACKUP", StateTimeout, after: healAt);
            await Eventually.Until(lab.Alerts, alerts => alerts.All(a => a.Name != "VipSplitBrain"), TimeSpan.FromSeconds(30),
                "VipSplitBrain resolves after the heal");
            var resolved = await lab.WaitForNotificationAsync(a => a.Status == "resolved" && a.Labels["alertname"] == "VipSplitBrain",
                TimeSpan.FromSeconds(30), "Alertmanager delivers the resolved VipSplitBrain");
            Assert.Equal("51", resolved.Labels["vrid"]);
            Assert.Equal(PrometheusLab.Priorities[0], (byte)lab.Query("nginx_ha_vrrp_priority and nginx_ha_vrrp_state == 2").Single().Value);
        }
        catch (Exception ex) when (ex is TimeoutException or Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\n{lab.Diagnostics()}");
        }
    }

    [Fact]
    public async Task A_single_clean_failover_fires_no_VIP_alert()
    {
        using var lab = await PrometheusLab.StartAsync("obsquiet");
        try
        {
            var stopAt = DateTimeOffset.UtcNow;
            Assert.Equal(0, await lab.Agent(0).StopAsync());
            await lab.Agent(1).WaitForStateAsync("MASTER", StateTimeout, after: stopAt);
            // Prometheus has seen the failover once agent 1's MASTER is in its data.
            await Eventually.Until(() => lab.Query("nginx_ha_vrrp_state == 2"), r => r.ContainsKey(lab.Target(1)),
                TimeSpan.FromSeconds(15), "prometheus sees agent 1 as MASTER");
            var seenAt = DateTimeOffset.UtcNow;
            // Until Prometheus scrapes agent 0 again and finds it gone (up == 0 ends its series), agent 0's last sample
            // still says MASTER next to agent 1's: VipSplitBrain may be pending then, and only then.
            var alerts = new List<Alert>();
            await Eventually.Until(() =>
            {
                alerts.AddRange(lab.Alerts());
                return lab.Query("up == 0");
            }, r => r.ContainsKey(lab.Target(0)), TimeSpan.FromSeconds(15), "prometheus sees agent 0 down");
            var staleGoneAt = DateTimeOffset.UtcNow;
            // Watch every rule evaluation until the longest VIP rule's `for` (VipNoMaster, 30 s) has passed since.
            var alertsAfter = new List<Alert>();
            await Eventually.Until(() =>
            {
                var now = lab.Alerts();
                alerts.AddRange(now);
                var evaluated = lab.LastRuleEvaluation();
                if (evaluated > staleGoneAt) alertsAfter.AddRange(now);
                return evaluated;
            }, last => last > seenAt + TimeSpan.FromSeconds(31), TimeSpan.FromSeconds(60), "rules evaluated past VipNoMaster's for");
            // Between the old master's last scrape and the first scrape of the new one no agent reports MASTER, so
            // VipNoMaster may be pending for a scrape or two: its `for` exists to absorb exactly that. Nothing may ever
            // fire, the flap rule must not even start, split brain must be over once agent 0's last sample is gone,
            // and no VIP alert is left at the end.
            Assert.DoesNotContain(alerts, a => a.State == "firing");
            Assert.DoesNotContain(alerts, a => a.Name == "VipFlapping");
            Assert.DoesNotContain(alertsAfter, a => a.Name == "VipSplitBrain");
            Assert.DoesNotContain(lab.Alerts(), a => VipAlerts.Contains(a.Name));
        }
        catch (Exception ex) when (ex is TimeoutException or Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\n{lab.Diagnostics()}");
        }
    }
}
