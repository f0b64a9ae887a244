using System.Text.Json;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Observability;

/// <summary>
/// `--log-format json` of two real agents with different VRRPv2 passwords on one segment: one JSON object per line with the
/// instance fields, transitions with from/to/reason, the authentication failures counted in /metrics, and neither
/// password anywhere in either log.
/// </summary>
public sealed class StructuredLogTests
{
    const string PasswordA = "Sekr1tA";
    const string PasswordB = "0therPw";

    [Fact]
    public async Task Json_logs_carry_the_instance_fields_and_never_a_password()
    {
        using var lab = NetworkLab.Create("obslog", 2);
        var dir = Directory.CreateTempSubdirectory("obslog-").FullName;
        try
        {
            var agents = new List<AgentProcess>();
            try
            {
                for (int i = 0; i < 2; i++)
                {
                    var file = Path.Combine(dir, $"pass{i}");
                    File.WriteAllText(file, i == 0 ? PasswordA : PasswordB);
                    File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                    var node = lab.Nodes[i];
                    agents.Add(new AgentProcess(node.Namespace,
                    [
                        "vrrp", "--interface", node.InterfaceName, "--vrid", "51", "--priority", i == 0 ? "150" : "100",
                        "--vip", "198.18.0.100/24", "--version", "2", "--advert-interval", "1s", "--auth-pass-file", file,
                        "--log-format", "json", "--metrics-address", $"{node.IPv4}:9464",
                    ], $"agent{i}"));
                }
                // Neither accepts the other's adverts: both become MASTER, and each drops the other's as a wrong password.
                foreach (var a in agents) await a.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(20));
                await agents[0].Process.WaitForLineAsync(l => l.Contains("authentication data does not match", StringComparison.Ordinal),
                    TimeSpan.FromSeconds(10));
                var metrics = await Eventually.Until(() => lab.Nodes[0].TryExec("curl", "-s", "--max-time", "5", $"http://{lab.Nodes[0].IPv4}:9464/metrics").StandardOutput,
                    text => text.Contains("reason=\"password\"", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "metrics answer");
                Assert.Matches("nginx_ha_vrrp_auth_failures_total\\{[^}]*reason=\"password\"[^}]*\\} [1-9]", metrics);
                Assert.Matches("nginx_ha_vrrp_vrid_conflicts_total\\{[^}]*kind=\"auth\"[^}]*\\} [1-9]", metrics);
                foreach (var a in agents) Assert.Equal(0, await a.StopAsync());

                foreach (var a in agents)
                {
                    var output = a.Process.Output;
                    Assert.DoesNotContain(PasswordA, output);
                    Assert.DoesNotContain(PasswordB, output);
                    var lines = a.Process.Lines.Where(l => l.Length > 0).ToList();
                    Assert.NotEmpty(lines);
                    var objects = lines.Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList(); // each line is one JSON object
                    Assert.All(objects, o => Assert.True(o.TryGetProperty("time", out _) && o.TryGetProperty("msg", out _)));
                    var takeover = Assert.Single(objects, o => o.TryGetProperty("to", out var to) && to.GetString() == "master");
                    Assert.Equal("vrid 51", takeover.GetProperty("instance").GetString());
                    Assert.Equal(51, takeover.GetProperty("vrid").GetInt32());
                    Assert.Equal("198.18.0.100/24", takeover.GetProperty("vip").GetString());
                    Assert.Equal("backup", takeover.GetProperty("from").GetString());
                    Assert.Equal("master down timer expired", takeover.GetProperty("reason").GetString());
                    var drop = objects.First(o => o.GetProperty("msg").GetString()!.Contains("authentication data does not match", StringComparison.Ordinal));
                    Assert.Equal(51, drop.GetProperty("vrid").GetInt32());
                    Assert.False(drop.TryGetProperty("from", out _));
                }
            }
            finally
            {
                foreach (var a in agents) a.Dispose();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
