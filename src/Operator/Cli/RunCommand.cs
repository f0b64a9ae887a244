using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using k8s;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Metrics;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Cli;

/// <summary><c>nginx-ha-operator run</c>: the controllers, against the cluster of the pod, of --kubeconfig or of KUBECONFIG.</summary>
public static class RunCommand
{
    public const string Usage =
        "nginx-ha-operator run [--kubeconfig FILE] [--no-leader-election] [--lease-namespace NS] [--lease-name NAME]\n" +
        "                          [--identity NAME] [--lease-duration 15s] [--workers 2] [--release-timeout 60s] [--dns-endpoints]\n" +
        "                          [--apply-grace 10s] [--metrics-address ADDR:PORT|none] [--debug]";

    /// <summary>Where /metrics, /healthz and /readyz are served by default: every address of the pod, port 8080.</summary>
    public static readonly IPEndPoint DefaultMetricsAddress = new(IPAddress.Any, 8080);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken stop = default)
    {
        string? kubeconfig = null;
        var leaderElection = true;
        var leaseNamespace = Environment.GetEnvironmentVariable("POD_NAMESPACE") ?? "default";
        var leaseName = "nginx-ha-operator";
        var identity = Environment.GetEnvironmentVariable("POD_NAME") ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        var leaseDuration = TimeSpan.FromSeconds(15);
        var releaseTimeout = TimeSpan.FromSeconds(60);
        var applyGrace = TimeSpan.FromSeconds(10);
        var workers = 2;
        var debug = false;
        var dnsEndpoints = false;
        IPEndPoint? metricsAddress = DefaultMetricsAddress;
        TimeSpan? memoryLog = null; // hidden (bench/operator-scale.sh): where the memory goes, every so often

        for (var i = 0; i < args.Count; i++)
        {
            string Value()
            {
                if (i + 1 >= args.Count) throw new ArgumentException($"{args[i]}: a value is required");
                return args[++i];
            }
            TimeSpan DurationValue()
            {
                var name = args[i];
                var text = Value();
                return Duration.TryParse(text, out var value, out var reason) && value > TimeSpan.Zero
                    ? value : throw new ArgumentException($"{name}: \"{text}\" {reason ?? "is not a positive duration"}");
            }
            TimeSpan BoundedDuration(TimeSpan min, TimeSpan max)
            {
                var name = args[i];
                var text = Value();
                return Duration.TryParse(text, out var value, out var reason) && value >= min && value <= max
                    ? value : throw new ArgumentException($"{name}: \"{text}\" {reason ?? $"is not a duration from {Duration.Format(min)} to {Duration.Format(max)}"}");
            }
            try
            {
                switch (args[i])
                {
                    case "--kubeconfig": kubeconfig = Value(); break;
                    case "--no-leader-election": leaderElection = false; break;
                    case "--lease-namespace": leaseNamespace = Value(); break;
                    case "--lease-name": leaseName = Value(); break;
                    case "--identity": identity = Value(); break;
                    case "--lease-duration": leaseDuration = DurationValue(); break;
                    // Past an hour a deleted group would just hang; under a second no agent could answer.
                    case "--release-timeout": releaseTimeout = BoundedDuration(TimeSpan.FromSeconds(1), TimeSpan.FromHours(1)); break;
                    // 0 counts a node that has not yet reported its new config as not reporting at once; past 10 minutes a
                    // node that never applies it would hide for too long.
                    case "--apply-grace": applyGrace = BoundedDuration(TimeSpan.Zero, TimeSpan.FromMinutes(10)); break;
                    case "--workers":
                        var text = Value();
                        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out workers) || workers is < 1 or > 64)
                            throw new ArgumentException($"--workers: \"{text}\" is not a number from 1 to 64");
                        break;
                    case "--debug": debug = true; break;
                    case "--memory-log": memoryLog = DurationValue(); break;
                    case "--dns-endpoints": dnsEndpoints = true; break;
                    case "--metrics-address":
                        var address = Value();
                        metricsAddress = address is "none" ? null
                            : IPEndPoint.TryParse(address, out var parsed) && address.Contains(':', StringComparison.Ordinal) && !address.EndsWith(']') ? parsed
                            : throw new ArgumentException($"--metrics-address: \"{address}\" is not ADDRESS:PORT (like 0.0.0.0:8080 or [::]:8080) or none");
                        break;
                    default: throw new ArgumentException($"{args[i]}: unknown argument");
                }
            }
            catch (ArgumentException e)
            {
                error.WriteLine($"nginx-ha-operator run: {e.Message}\nusage: {Usage}");
                return 2;
            }
        }

        KubernetesClientConfiguration config;
        try
        {
            config = LoadConfig(kubeconfig);
        }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or FileNotFoundException or IOException)
        {
            error.WriteLine($"nginx-ha-operator run: {e.Message}");
            return 1;
        }
        // HTTP/1.1: a watch the watchdog gives up on must be re-opened on a new connection. Over HTTP/2 every request
        // shares one connection, and a stalled one would take the re-opened watch (and every write) down with it.
        config.DisableHttp2 = true;

        var log = new OperatorLog(error, TimeProvider.System, debug);
        using var trims = new StartupMemoryTrims(TimeProvider.System, StartupMemoryTrims.DefaultSettle, reason => log.Info(StartupMemoryTrims.GiveBack(reason)));
        using var client = new Kubernetes(config); // one client for the whole process
        using var metrics = new OperatorMetrics();
        // Leases default to a renew deadline of 2/3 and a retry period of 2/15 of the lease duration, as client-go's defaults do.
        var options = new OperatorOptions
        {
            Workers = workers,
            ReleaseTimeout = releaseTimeout,
            ApplyGrace = applyGrace,
            DnsEndpoints = dnsEndpoints,
            Instance = identity,
            HeartbeatNamespace = leaseNamespace, // the agents' heartbeat Leases live beside ours
            Metrics = metrics,
            // Off the caller's thread: the plan worker does not wait for /proc to be read.
            StartupStepReached = step => _ = Task.Run(() => trims.Reached(step)),
            LeaderElection = leaderElection
                ? new LeaderElectionOptions(leaseNamespace, leaseName, identity)
                {
                    LeaseDuration = leaseDuration,
                    RenewDeadline = leaseDuration * 2 / 3,
                    RetryPeriod = leaseDuration * 2 / 15,
                }
                : null,
        };
        var controller = new OperatorController(client, options, log);

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true; // shut down cleanly: stop the workers, give the Lease up
            log.Info($"operator: {context.Signal}; stopping");
            cts.Cancel();
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

        log.Info($"operator: starting against {config.Host} as {identity}" + (leaderElection ? $" (Lease {leaseNamespace}/{leaseName})" : " (no leader election)"));
        await using var server = await StartServerAsync(metricsAddress, metrics, controller, log).ConfigureAwait(false);
        using var memoryTimer = memoryLog is { } every ? TimeProvider.System.CreateTimer(_ => LogMemory(log), null, TimeSpan.Zero, every) : null;
        await controller.RunAsync(cts.Token).ConfigureAwait(false);
        if (memoryLog is not null) LogMemory(log);
        log.Info("operator: stopped");
        return 0;
    }

    /// <summary>A diagnostic must never take the operator down: a /proc that cannot be read is logged.</summary>
    private static void LogMemory(OperatorLog log)
    {
        try { log.Info(MemoryReport.Read().Format()); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { log.Warn($"memory: {e.Message}"); }
    }

    /// <summary>Monitoring never stops the operator: a port that cannot be bound is logged and the controllers run without it.</summary>
    private static async Task<OperatorHttpServer?> StartServerAsync(IPEndPoint? address, OperatorMetrics metrics, OperatorController controller, OperatorLog log)
    {
        if (address is null) return null;
        try
        {
            var server = await OperatorHttpServer.StartAsync(address, metrics, controller.Readiness, CancellationToken.None).ConfigureAwait(false);
            log.Info($"operator: serving /metrics /healthz /readyz on http://{server.EndPoint}");
            return server;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            log.Warn($"operator: cannot listen on {address}: {e.Message}; running without /metrics, /healthz and /readyz");
            return null;
        }
    }

    /// <summary>--kubeconfig, else KUBECONFIG, else the pod's service account.</summary>
    internal static KubernetesClientConfiguration LoadConfig(string? kubeconfig)
    {
        if (kubeconfig is not null) return KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
        var fromEnvironment = Environment.GetEnvironmentVariable("KUBECONFIG");
        if (!string.IsNullOrEmpty(fromEnvironment)) return KubernetesClientConfiguration.BuildConfigFromConfigFile(fromEnvironment.Split(':')[0]);
        if (KubernetesClientConfiguration.IsInCluster()) return KubernetesClientConfiguration.InClusterConfig();
        throw new k8s.Exceptions.KubeConfigException("no cluster to talk to: give --kubeconfig FILE, set KUBECONFIG, or run in a pod");
    }
}
