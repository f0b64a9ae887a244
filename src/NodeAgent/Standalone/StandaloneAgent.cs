using NginxHa.Core.Nginx;
using NginxHa.NodeAgent.Cli;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Node;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Vrrp;
using NginxHa.NodeAgent.Watchdog;
using NginxHa.NodeAgent.Network;

namespace NginxHa.NodeAgent.Standalone;

/// <summary>
/// <c>nginx-ha-agent run</c>: one host's agent without a cluster. The file source plans from manifest files, the node
/// reconciler applies each plan (nginx as a child process, a speaker per VRRP instance, every instance in FAULT while
/// nginx cannot serve). An invalid first config stops it before anything starts (standalone: the files are fixed and
/// run again), or (Kubernetes mode) leaves it serving nothing until a valid version arrives; an invalid change keeps the
/// last good config serving.
/// </summary>
public sealed class StandaloneAgent
{
    readonly RunCommandOptions _options;
    readonly Action<string> _log;
    readonly TextWriter _error;
    readonly NginxRuntimeOptions _runtime;
    readonly SecretFileStore _secretFiles;
    readonly AgentLiveness? _liveness;
    readonly ShutdownLatch? _shutdown;
    readonly INodeConfigSource _source;
    readonly INodeStatusWriter? _statusWriter;
    readonly INodeEventWriter? _eventWriter;
    readonly bool _waitForValidConfig;
    readonly AgentMetrics _metrics;
    readonly LineLog _lineLog;
    volatile bool _configApplied;
    readonly HeardRouters _heard = new(TimeProvider.System);
    readonly HandoverBook _handover;
    readonly Func<CancellationToken, Task>? _heartbeat;

    /// <summary>
    /// <paramref name="lineLog"/>: the command's log; speakers' lines carry their instance, VRID and VIPs (in JSON, as fields).
    /// <paramref name="shutdown"/>: set by SIGTERM/SIGINT, it makes every speaker hand over at once.
    /// <paramref name="metrics"/>: what /metrics and /status report (instances, nginx, rejected configs).
    /// <paramref name="source"/>: where the config comes from; the manifest files of the options when null (Kubernetes
    /// mode gives its NodeHaConfig source). <paramref name="statusWriter"/>: where the status goes (Kubernetes mode).
    /// <paramref name="heartbeat"/>: runs for the agent's whole life, from start until after the final status (Kubernetes
    /// mode: the Lease that tells the operator this node's status is current).
    /// <paramref name="eventWriter"/>: where rejected configs are announced (Kubernetes mode: Events).
    /// <paramref name="waitForValidConfig"/>: a rejected first config leaves the agent running, serving nothing, until a
    /// valid one arrives (Kubernetes mode: exiting would only make a crash loop of a config that a kubectl edit fixes).
    /// <paramref name="liveness"/>: where the apply loop and the speakers show progress (Kubernetes mode: the heartbeat's
    /// condition).
    /// </summary>
    public StandaloneAgent(RunCommandOptions options, LineLog lineLog, TextWriter error, ShutdownLatch? shutdown = null,
        AgentMetrics? metrics = null, INodeConfigSource? source = null, INodeStatusWriter? statusWriter = null,
        Func<CancellationToken, Task>? heartbeat = null, INodeEventWriter? eventWriter = null, bool waitForValidConfig = false,
        AgentLiveness? liveness = null)
    {
        _liveness = liveness;
        _heartbeat = heartbeat;
        _eventWriter = eventWriter;
        _waitForValidConfig = waitForValidConfig;
        Action<string> log = lineLog.Write;
        _lineLog = lineLog;
        _statusWriter = statusWriter;
        _metrics = metrics ?? new AgentMetrics();
        _shutdown = shutdown;
        _options = options;
        _log = log;
        _error = error;
        // The supervisor puts `pid` on nginx's command line, so the rendered config leaves it out.
        _runtime = NginxRuntimeOptions.UnderDirectory(NginxDirectory, options.HealthPort) with { PidFile = null };
        if (options.NginxTempDirectory is { } temp) _runtime = _runtime with { TempDirectory = temp };
        _secretFiles = new SecretFileStore(_runtime.SecretsDirectory, options.NginxWorkerGroupId);
        _source = source ?? new FileConfigSource(options.Files, options.Node, TimeProvider.System, log, options.StateDirectory, _heard);
        _handover = new HandoverBook(options.StateDirectory, log);
    }

    string NginxDirectory => _options.NginxDirectory;

    /// <summary>Ready once the first config is applied and every instance has started (/readyz).</summary>
    public Readiness Readiness => Readiness.Of(_metrics, _configApplied);

    /// <summary>Triggers a reload of the manifest files (SIGHUP, or a file watcher).</summary>
    public void RequestReload(string why) => (_source as FileConfigSource)?.RequestReload(why);

    /// <summary>At most one status write per this interval: a flapping VIP must not flood the API server.</summary>
    public static readonly TimeSpan StatusInterval = TimeSpan.FromSeconds(1);
    /// <summary>How long a clean stop waits to report that it holds nothing (the VIPs are already handed over).</summary>
    public static readonly TimeSpan FinalStatusTimeout = TimeSpan.FromSeconds(2);

    public async Task<int> RunAsync(CancellationToken stop)
    {
        if (_heartbeat is null) return await RunAgentAsync(stop);
        using var beating = new CancellationTokenSource();
        var heartbeat = Task.Run(() => _heartbeat(beating.Token), CancellationToken.None);
        try
        {
            return await RunAgentAsync(stop);
        }
        finally
        {
            await beating.CancelAsync();
            await heartbeat.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    async Task<int> RunAgentAsync(CancellationToken stop)
    {
        using var heard = _heard; // its sweep timer ends with the run
        await using var nginx = new NginxSupervisor(new NginxSupervisorOptions
        {
            Mode = _options.NginxMode,
            Paths = NginxSupervisorOptions.PathsUnder(NginxDirectory, _options.NginxBinary),
            Probe = new NginxHealthProbeOptions(new Uri($"http://127.0.0.1:{_options.HealthPort}/healthz"),
                TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 3),
        }, TimeProvider.System, _log);
        _metrics.Nginx.Attach(nginx);
        await using var reconciler = new NodeReconciler(_runtime, SystemHostFacts.Instance,
            new SpeakerInstanceHost(TimeProvider.System, _log, _shutdown, _metrics, _heard, _handover, _lineLog),
            new MeasuredNginxTarget(nginx, _metrics.Nginx), TimeProvider.System, _log, _secretFiles, _liveness);
        if (_eventWriter is not null) reconciler.ConfigRejected += _eventWriter.ConfigRejected;
        await using var publisher = _statusWriter is null ? null
            : new NodeStatusPublisher(reconciler, _statusWriter, TimeProvider.System, StatusInterval, _log, _heard);

        // Cancelled by SIGTERM, or when a speaker dies: the watch then ends before the agent stops.
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var events = _source.WatchAsync(watching.Token).GetAsyncEnumerator(watching.Token);
        try
        {
            // The first config: any problem stops the agent before nginx or a speaker starts.
            if (!await events.MoveNextAsync()) return 1;
            var first = events.Current;
            IReadOnlyList<string> problems = first is NodeConfigRejected rejected ? rejected.Problems : [];
            var desired = first is NodeConfigUpdate update ? reconciler.Prepare(update, out problems) : null;
            NodeConfigEvent? rejectedFirst = null;
            if (desired is null && _waitForValidConfig)
            {
                // Nothing to serve (no VIPs, nginx with only its health server) until a valid version arrives; the
                // rejection is reported once the node runs (status nginx.lastError, an Event).
                _log($"the first config ({first.Reason}) is rejected: serving nothing until a valid one arrives");
                rejectedFirst = first;
                var none = new Core.Resources.NodeHaConfig { Metadata = { Name = _options.Node }, Spec = { NodeName = _options.Node } };
                desired = reconciler.Prepare(new NodeConfigUpdate(none, NodeSecrets.None, "nothing to serve"), out problems);
            }
            if (desired is null)
            {
                foreach (var p in problems) _error.WriteLine(p);
                _error.WriteLine($"nginx-ha-agent: {problems.Count} error(s) in the manifests; nothing was started");
                return 1;
            }
            // The host, before nginx or a socket starts: interfaces, the nginx binary, free ports.
            var preflight = RunPreflight.Check(desired, _options, RunPreflight.NginxAlive(Path.Combine(NginxDirectory, "logs", "nginx.pid")));
            foreach (var w in preflight.Warnings) _log($"warning: {w}");
            if (preflight.Failures.Count > 0)
            {
                foreach (var f in preflight.Failures) _error.WriteLine($"nginx-ha-agent: {f}");
                return 1;
            }

            PrepareStateDirectory(_secretFiles);
            // The VRIDs in force from now on (the first load ran before the state dir existed): docs/vrid-allocation.md.
            (_source as FileConfigSource)?.Load("remember the VRIDs");
            // Section 3 of issue 12 (docs/agent-faults.md): a watchdog releases the VIPs if this process dies, and
            // our marked leftovers that the plan does not contain go now; unmarked planned VIPs are reported.
            using var watchdog = AgentWatchdog.Spawn(_options.StateDirectory, _log);
            AddressSweep.AtStart(desired.Instances, _log);
            NonLocalBind.Ensure(desired.Config, _log);
            await nginx.StartAsync(stop);
            var result = await reconciler.ApplyAsync(desired, first.Reason, stop);
            if (result.Outcome == ReconcileOutcome.PartlyApplied)
            {
                foreach (var p in result.Problems) _error.WriteLine($"nginx-ha-agent: {p}");
                await StopAllAsync(reconciler, nginx);
                return 1;
            }

            if (rejectedFirst is null) _configApplied = true;
            else await HandleAsync(rejectedFirst, reconciler, _metrics.Nginx, stop);
            // Start-up is over: what it committed on the heap goes back once things have settled.
            using var trim = new StartupMemoryTrim(TimeProvider.System, StartupMemoryTrim.DefaultSettle, StartupMemoryTrim.GiveBack);
            // A speaker that dies ends the agent (exit 1, so it is restarted and seen), its VIPs already released.
            var reloads = FollowAsync(events, reconciler, _metrics.Nginx, watching.Token);
            // A SIGTERM stops the speakers straight from the signal handler, which can end them before `stop` is
            // cancelled: that is the ordinary stop, not a speaker dying.
            if (await Task.WhenAny(reloads, reconciler.InstanceFailed) == reconciler.InstanceFailed && _shutdown?.IsSet != true)
            {
                await watching.CancelAsync();
                await reloads.ContinueWith(_ => { }, TaskScheduler.Default);
                _error.WriteLine($"nginx-ha-agent: {reconciler.InstanceFailed.Result}; stopping the agent (exit 1) so it is restarted and seen");
                await StopAllAsync(reconciler, nginx);
                return 1;
            }
            await reloads;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // SIGTERM: hand over below.
        }
        finally
        {
            await events.DisposeAsync();
        }

        _log("stopping: priority 0 on every instance, VIPs removed, nginx stopped");
        await StopAllAsync(reconciler, nginx);
        // The VIPs are handed over already; now say so, or the stopped node would still read MASTER to the operator.
        if (publisher is not null) await publisher.WriteFinalAsync(FinalStatusTimeout);
        _log("stopped");
        return 0;
    }

    async Task FollowAsync(IAsyncEnumerator<NodeConfigEvent> events, NodeReconciler reconciler, NginxMetrics metrics,
        CancellationToken stop)
    {
        while (await events.MoveNextAsync())
            await HandleAsync(events.Current, reconciler, metrics, stop);
    }

    async Task HandleAsync(NodeConfigEvent e, NodeReconciler reconciler, NginxMetrics metrics, CancellationToken stop)
    {
        long nginxRejections = metrics.Rejected(ConfigRejectionStage.NginxTest);
        var result = await reconciler.HandleAsync(e, stop);
        // nginx's own rejections were counted as they happened (MeasuredNginxTarget); the rest is the manifests' or VRRP's.
        if (result.Outcome == ReconcileOutcome.Rejected && metrics.Rejected(ConfigRejectionStage.NginxTest) == nginxRejections)
            metrics.Reject(ConfigRejectionStage.Manifest);
        else if (result.Outcome == ReconcileOutcome.PartlyApplied)
            metrics.Reject(ConfigRejectionStage.Vrrp);
        // A first config that was rejected: ready once a valid one is applied.
        if (result.Outcome != ReconcileOutcome.Rejected) _configApplied = true;
    }

    async Task StopAllAsync(NodeReconciler reconciler, NginxSupervisor nginx)
    {
        try
        {
            await reconciler.StopAsync();
        }
        catch (Exception ex)
        {
            // A dead speaker's fault resurfaces here; the others were still stopped.
            _log($"stopping: {ex.GetType().Name}: {Core.Text.SafeText.Escape(ex.Message)}");
        }
        await nginx.StopAsync(CancellationToken.None);
    }

    void PrepareStateDirectory(SecretFileStore secretFiles)
    {
        // Holds nginx.conf (it may name secret files) and logs: owner and group only.
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                     UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        foreach (var dir in new[] { _options.StateDirectory, NginxDirectory, _runtime.ConfigDirectory, _runtime.TempDirectory,
                     _runtime.AccessLogDirectory, Path.Combine(NginxDirectory, "conf"), Path.Combine(NginxDirectory, "logs") })
            Directory.CreateDirectory(dir, Private);
        // nginx's workers open htpasswd files under the secrets directory per request, as their own user: the directories
        // above it let the workers' group through (the files themselves stay owner and group only).
        var above = new List<string> { NginxDirectory };
        if (NginxDirectory.StartsWith(_options.StateDirectory.TrimEnd('/') + "/", StringComparison.Ordinal)) above.Add(_options.StateDirectory);
        try
        {
            secretFiles.LetWorkersThrough(above);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _log($"warning: {ex.Message}; basic-auth Secrets would not be readable by nginx's workers");
        }
    }
}
