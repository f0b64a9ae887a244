using System.Diagnostics;
using k8s;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>The operator as a process (`nginx-ha-operator run`) and the Event recorder, on the test cluster.</summary>
public sealed class RunCommandTests(RunCommandTests.Server fixture) : IClassFixture<RunCommandTests.Server>
{
    public sealed class Server : IAsyncLifetime
    {
        public ApiServer ApiServer { get; } = new();

        public async Task InitializeAsync()
        {
            await ApiServer.InitializeAsync();
            await ApiServer.KubectlAsync("apply", "-f", ApiServer.RepositoryPath("crds"));
            await ApiServer.ApplyCrdsAsync("", "/apis/nginx-ha.io/v1alpha1/virtualipgroups", "/apis/nginx-ha.io/v1alpha1/nodehaconfigs",
                "/apis/nginx-ha.io/v1alpha1/nginxbackendpools");
        }

        public Task DisposeAsync() => ApiServer.DisposeAsync();
    }

    private readonly ApiServer _server = fixture.ApiServer;

    private static string OperatorDll => Path.Combine(AppContext.BaseDirectory, "nginx-ha-operator.dll");

    [Fact]
    public async Task Run_leads_on_its_Lease_serves_metrics_health_and_readiness_and_on_SIGTERM_stops_gives_the_Lease_up_and_exits_0()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { OperatorDll, "run", "--kubeconfig", _server.KubeconfigPath, "--identity", "op-a", "--lease-name", "run-test", "--lease-duration", "30s",
                     "--metrics-address", "127.0.0.1:0" })
            info.ArgumentList.Add(a);
        info.Environment.Remove("KUBECONFIG");
        using var process = Process.Start(info)!;
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Enqueue(e.Data); };
        process.BeginErrorReadLine();
        try
        {
            using var client = _server.Client();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!lines.Any(l => l.Contains("op-a leads")))
            {
                Assert.True(DateTime.UtcNow < deadline && !process.HasExited, $"no leadership within 60 s:\n{string.Join("\n", lines)}");
                await Task.Delay(50);
            }
            Assert.Equal("op-a", (await client.CoordinationV1.ReadNamespacedLeaseAsync("run-test", "default")).Spec.HolderIdentity);

            // A real scrape with curl: health, readiness (the caches synced before it led) and the leader's metrics.
            var served = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"serving /metrics /healthz /readyz on (http://127\.0\.0\.1:\d+)"))
                .FirstOrDefault(m => m.Success) ?? throw new Xunit.Sdk.XunitException($"no metrics address logged:\n{string.Join("\n", lines)}");
            var url = served.Groups[1].Value;
            Assert.Equal("200 ok", await Curl($"{url}/healthz"));
            Assert.Equal("200 ready", await Curl($"{url}/readyz"));
            var metrics = "";
            while (!metrics.Contains("nginx_ha_operator_reconciles_total{kind=\"plan\",result=\"success\"", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, $"no plan reconcile counted:\n{metrics}");
                // Without the otel_scope_name label OpenTelemetry's exporter adds to every series.
                metrics = System.Text.RegularExpressions.Regex.Replace(await Curl($"{url}/metrics"), @"otel_scope_name=""[^""]*"",?", "").Replace("{}", "");
            }
            Assert.Contains("nginx_ha_operator_is_leader 1", metrics);
            Assert.Matches(@"nginx_ha_operator_reconcile_duration_seconds_count\{kind=""plan""[^}]*\} [1-9]", metrics);
            Assert.Contains("nginx_ha_operator_queue_depth{kind=\"virtualipgroup\"", metrics);
            Assert.Contains("nginx_ha_operator_vips{state=\"no_master\"", metrics);
            Assert.Contains("nginx_ha_operator_nodehaconfigs_out_of_date", metrics);
            Assert.Equal("404 not found: /metrics /healthz /readyz", await Curl($"{url}/other"));

            // Start-up memory given back (StartupMemoryTrims) at both steps this run has reached, in order. The first trim
            // drops tens of MB (the mapped assemblies, start-up's garbage): here 37 to 39 MB. The second's fall depends on
            // what came back since the first: 20 MB when they were 100 ms apart, 2.6 MB in one CI run where they came
            // back to back; so only its release is checked.
            var trims = new List<(int Line, System.Text.RegularExpressions.Match Match)>();
            foreach (var step in new[] { "caches synced", "first plan written" })
            {
                var pattern = $@"memory: start-up pages given back \({step}\): VmRSS (\d+\.\d) -> (\d+\.\d) MB \((\d+) MB of clean file mappings advised";
                int index;
                while ((index = lines.ToList().FindIndex(l => System.Text.RegularExpressions.Regex.IsMatch(l, pattern))) < 0)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"no trim at {step}:\n{string.Join("\n", lines)}");
                    await Task.Delay(50);
                }
                // The queue only grows, so a line's index stays its place in the log.
                var trim = System.Text.RegularExpressions.Regex.Match(lines.ElementAt(index), pattern);
                Assert.True(int.Parse(trim.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, trim.Value);
                trims.Add((index, trim));
            }
            Assert.True(trims[0].Line < trims[1].Line, string.Join("\n", lines));
            double Mb(int group) => double.Parse(trims[0].Match.Groups[group].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Mb(2) < Mb(1) - 5, trims[0].Match.Value);

            Assert.Equal(0, Kill(process.Id, 15)); // SIGTERM
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await process.WaitForExitAsync(cts.Token);
            Assert.True(process.ExitCode == 0, string.Join("\n", lines));
            Assert.Contains(lines, l => l.Contains("released Lease default/run-test"));
            Assert.Equal(1, (await client.CoordinationV1.ReadNamespacedLeaseAsync("run-test", "default")).Spec.LeaseDurationSeconds);
        }
        finally
        {
            if (!process.HasExited) process.Kill();
        }
    }

    /// <summary>"CODE BODY" (body trimmed) as curl fetched it; curl is what an engineer on call would run.</summary>
    private static async Task<string> Curl(string url)
    {
        var info = new ProcessStartInfo("curl", ["-s", "-m", "5", "-w", "%{http_code} ", "-o", "-", url])
            { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var curl = Process.Start(info)!;
        var output = await curl.StandardOutput.ReadToEndAsync();
        await curl.WaitForExitAsync();
        Assert.True(curl.ExitCode == 0, $"curl {url} exited {curl.ExitCode}: {await curl.StandardError.ReadToEndAsync()}");
        // -w prints the code after the body: move it to the front.
        var trimmed = output.TrimEnd();
        return $"{trimmed[^3..]} {trimmed[..^3].Trim()}";
    }

    [Theory]
    [InlineData("--metrics-address", "8080", "--metrics-address: \"8080\" is not ADDRESS:PORT")]
    [InlineData("--workers", "0", "--workers: \"0\" is not a number from 1 to 64")]
    [InlineData("--lease-duration", "soon", "--lease-duration: \"soon\"")]
    [InlineData("--apply-grace", "11m", "--apply-grace: \"11m\" is not a duration from 0s to 600s")]
    [InlineData("--apply-grace", "later", "--apply-grace: \"later\"")]
    [InlineData("--release-timeout", "0s", "--release-timeout: \"0s\" is not a duration from 1s to 3600s")]
    [InlineData("--frobnicate", null, "--frobnicate: unknown argument")]
    public void A_bad_argument_is_named_and_exits_2(string flag, string? value, string message)
    {
        var error = new StringWriter();
        var args = value is null ? new[] { "run", flag } : new[] { "run", flag, value };
        Assert.Equal(2, Program.Run(args, TextWriter.Null, error));
        Assert.Contains(message, error.ToString());
    }

    [Fact]
    public void A_kubeconfig_that_cannot_be_read_is_named_and_exits_1()
    {
        var error = new StringWriter();
        Assert.Equal(1, Program.Run(["run", "--kubeconfig", "/nonexistent/kubeconfig"], TextWriter.Null, error));
        Assert.Contains("/nonexistent/kubeconfig", error.ToString());
    }

    [Fact]
    public async Task Repeated_Events_are_counted_in_one_events_k8s_io_Event_series()
    {
        using var client = _server.Client();
        var recorder = new EventRecorder(client, "nginx-ha-operator", "test", new OperatorLog(TextWriter.Null, TimeProvider.System));
        var subject = new EventSubject("nginx-ha.io/v1alpha1", "VirtualIpGroup", "events-test", "web", "uid-1");
        for (var i = 0; i < 3; i++)
            await recorder.RecordAsync(subject, EventTypes.Warning, "NoMaster", "Reconcile", "no node reports MASTER", CancellationToken.None);
        await recorder.RecordAsync(subject, EventTypes.Warning, "PoolMissing", "Reconcile", "pool missing", CancellationToken.None);

        var events = (await client.EventsV1.ListNamespacedEventAsync("events-test")).Items;
        Assert.Equal(2, events.Count);
        var noMaster = Assert.Single(events, e => e.Reason == "NoMaster");
        Assert.Equal(3, noMaster.Series.Count);
        Assert.Equal(("VirtualIpGroup", "web", "nginx-ha-operator", "test"),
            (noMaster.Regarding.Kind, noMaster.Regarding.Name, noMaster.ReportingController, noMaster.ReportingInstance));
        Assert.Null(Assert.Single(events, e => e.Reason == "PoolMissing").Series);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
