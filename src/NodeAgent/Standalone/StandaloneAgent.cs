using System.Threading.Channels;
using NginxHa.Core.Nginx;
using NginxHa.NodeAgent.Cli;
using NginxHa.NodeAgent.Network;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Vrrp;
using NginxHa.NodeAgent.Watchdog;

namespace NginxHa.NodeAgent.Standalone;

/// <summary>
/// <c>nginx-ha-agent run</c>: one host's agent without a cluster. Plans from manifest files, supervises nginx
/// as a child process, runs a speaker per VRRP instance, faults every instance while nginx cannot serve, and
/// reloads when the files change (keeping the last good config when they are invalid).
/// </summary>
public sealed class StandaloneAgent
{
    static readonly TimeSpan ReloadSettle = TimeSpan.FromMilliseconds(200);

    readonly RunCommandOptions _options;
    readonly Action<string> _log;
    readonly TextWriter _error;
    readonly NginxRuntimeOptions _runtime;
    readonly Dictionary<string, RunningSpeaker> _speakers = new();
    readonly Channel<string> _reloads = Channel.CreateUnbounded<string>();
    volatile bool _nginxFault = true;
    readonly HeardRouters _heard = new(MonotonicTimeProvider.Instance);

    readonly ShutdownLatch? _shutdown;

    /// <summary><paramref name="shutdown"/>: set by SIGTERM/SIGINT, it makes every speaker hand over at once.</summary>
    public StandaloneAgent(RunCommandOptions options, Action<string> log, TextWriter error, ShutdownLatch? shutdown = null)
    {
        _shutdown = shutdown;
        _options = options;
        _log = log;
        _error = error;
        // The supervisor puts `pid` on nginx's command line, so the rendered config leaves it out.
        _runtime = NginxRuntimeOptions.UnderDirectory(NginxDirectory, options.HealthPort) with { PidFile = null };
    }

    string NginxDirectory => Path.Combine(_options.StateDirectory, "nginx");

    /// <summary>Triggers a reload of the manifest files (SIGHUP, or a file watcher).</summary>
    public void RequestReload(string why) => _reloads.Writer.TryWrite(why);

    public async Task<int> RunAsync(CancellationToken stop)
    {
        var (desired, problems, warnings) = await GuardedConfigLoader.LoadAsync(_options.Files, _options.Node, _runtime,
            InterfaceSelector.CurrentAddresses, stop, VridMemory.Load(_options.StateDirectory));
        foreach (var w in warnings) _log($"warning: {w}");
        if (desired is null)
        {
            foreach (var p in problems) _error.WriteLine(p);
            _error.WriteLine($"nginx-ha-agent: {problems.Count} error(s) in the manifests; nothing was started");
            return 1;
        }
        var preflight = RunPreflight.Check(desired, _options, RunPreflight.NginxAlive(Path.Combine(NginxDirectory, "logs", "nginx.pid")));
        foreach (var w in preflight.Warnings) _log($"warning: {w}");
        if (preflight.Failures.Count > 0)
        {
            foreach (var f in preflight.Failures) _error.WriteLine($"nginx-ha-agent: {f}");
            return 1;
        }

        PrepareStateDirectory();
        Warn(HandoverRecord.Write(_options.StateDirectory, desired.Instances));
        using var watchdog = AgentWatchdog.Spawn(_options.StateDirectory, _log);
        AddressSweep.AtStart(desired.Instances, _log);
        Warn(VridMemory.Save(_options.StateDirectory, desired.Allocations ?? []));
        await using var nginx = new NginxSupervisor(new NginxSupervisorOptions
        {
            Mode = NginxSupervisionMode.Child,
            Paths = NginxSupervisorOptions.PathsUnder(NginxDirectory, _options.NginxBinary),
            Probe = new NginxHealthProbeOptions(new Uri($"http://127.0.0.1:{_options.HealthPort}/healthz"),
                TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 3),
        }, TimeProvider.System, _log);
        nginx.HealthChanged += OnNginxHealth;
        using var watcher = WatchFiles();

        try
        {
            await nginx.StartAsync(stop);
            NonLocalBind.Ensure(desired.Config, _log);
            var first = await nginx.ApplyAsync(desired.NginxConfig, stop);
            if (!first.Accepted) _log($"config rejected: {first.Error}");
            ApplyInstances(desired.Instances);
            // A speaker that dies ends the agent: a node must never look healthy while an instance is gone.
            var died = await Task.WhenAny(ReloadLoopAsync(nginx, stop), _speakerDied.Task);
            if (died == _speakerDied.Task)
            {
                _error.WriteLine($"nginx-ha-agent: {_speakerDied.Task.Result}; stopping the agent (exit 1) so it is restarted and seen");
                await StopAllAsync(nginx);
                return 1;
            }
            await died;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // SIGTERM: hand over below.
        }
        catch (SpeakerSetupException ex)
        {
            _error.WriteLine($"nginx-ha-agent: {ex.Message}");
            await StopAllAsync(nginx);
            return 1;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException)
        {
            _error.WriteLine($"nginx-ha-agent: {StartupPreflight.Describe(ex, "starting the VRRP instances")}");
            await StopAllAsync(nginx);
            return 1;
        }

        _log("stopping: priority 0 on every instance, VIPs removed, nginx stopped");
        await StopAllAsync(nginx);
        _log("stopped");
        return 0;
    }

    readonly TaskCompletionSource<string> _speakerDied = new(TaskCreationOptions.RunContinuationsAsynchronously);

    async Task StopAllAsync(NginxSupervisor nginx)
    {
        nginx.HealthChanged -= OnNginxHealth;
        try
        {
            await StopSpeakersAsync();
        }
        catch (Exception ex)
        {
            // A dead speaker's fault resurfaces here; the others were still stopped.
            _log($"stopping: {ex.GetType().Name}: {Core.Text.SafeText.Escape(ex.Message)}");
        }
        await nginx.StopAsync(CancellationToken.None);
    }

    void OnNginxHealth(NginxHealth health)
    {
        // Runs inside the supervisor's lock: only flip flags and post to the speakers' queues.
        bool fault = health.RequiresVrrpFault();
        _log($"nginx: {health}{(fault ? " (VRRP instances in FAULT: the peer takes the VIPs)" : "")}");
        _nginxFault = fault;
        lock (_speakers)
            foreach (var s in _speakers.Values) s.Speaker.SetFault(fault);
    }

    async Task ReloadLoopAsync(NginxSupervisor nginx, CancellationToken stop)
    {
        while (true)
        {
            string why = await _reloads.Reader.ReadAsync(stop);
            // Editors write files in several steps: let them settle, then take every queued trigger at once.
            await Task.Delay(ReloadSettle, stop);
            while (_reloads.Reader.TryRead(out _)) { }

            var (desired, problems, warnings) = await GuardedConfigLoader.LoadAsync(_options.Files, _options.Node, _runtime,
                InterfaceSelector.CurrentAddresses, stop, VridMemory.Load(_options.StateDirectory), _heard.Snapshot());
            foreach (var w in warnings) _log($"warning: {w}");
            if (desired is null)
            {
                _log($"config rejected ({why}): {problems.Count} error(s); the last good config keeps serving");
                foreach (var p in problems) _log($"config rejected: {p}");
                continue;
            }
            ConfigApplyResult result;
            try
            {
                NonLocalBind.Ensure(desired.Config, _log);
                result = await nginx.ApplyAsync(desired.NginxConfig, stop);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                result = new ConfigApplyResult(ConfigApplyOutcome.Rejected, $"{ex.GetType().Name}: {Core.Text.SafeText.Escape(ex.Message)}");
            }
            if (!result.Accepted)
            {
                _log($"config rejected ({why}): {result.Error}; the last good config keeps serving");
                continue;
            }
            if (result.Outcome == ConfigApplyOutcome.Reloaded) _log($"nginx: config reloaded ({why})");
            Warn(VridMemory.Save(_options.StateDirectory, desired.Allocations ?? []));
            try
            {
                ApplyInstances(desired.Instances);
            }
            catch (SpeakerSetupException ex)
            {
                _log($"config rejected ({why}): {ex.Message}; the other instances keep running");
            }
        }
    }

    /// <summary>Starts new instances, restarts changed ones (handing over first), stops removed ones.</summary>
    void ApplyInstances(IReadOnlyList<InstancePlan> instances)
    {
        // Before any speaker of the new set can bind a VIP, so the watchdog knows every instance that may hold one.
        lock (_speakers)
            Warn(HandoverRecord.Write(_options.StateDirectory, _speakers.Values.Select(s => s.Plan).Concat(instances).DistinctBy(p => p.Name).ToList()));
        var wanted = instances.ToDictionary(i => i.Name);
        List<RunningSpeaker> retire;
        lock (_speakers)
        {
            retire = _speakers.Values.Where(s => !wanted.TryGetValue(s.Plan.Name, out var plan) || !SamePlan(plan, s.Plan)).ToList();
            foreach (var r in retire) _speakers.Remove(r.Plan.Name);
        }
        foreach (var r in retire)
        {
            _log($"{r.Plan.Name}: {(wanted.ContainsKey(r.Plan.Name) ? "changed; restarting" : "removed; stopping")}");
            r.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        foreach (var plan in instances)
        {
            lock (_speakers)
                if (_speakers.ContainsKey(plan.Name)) continue;
            var running = SpeakerFactory.Start(plan, _nginxFault, MonotonicTimeProvider.Instance, _log, _shutdown, _heard);
            lock (_speakers) _speakers[plan.Name] = running;
            _ = running.Completion.ContinueWith(t => _speakerDied.TrySetResult(
                    $"{plan.Name}: the VRRP speaker failed and stopped ({t.Exception!.InnerException!.GetType().Name}: " +
                    $"{Core.Text.SafeText.Escape(t.Exception.InnerException.Message)})"),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
        }
        Warn(HandoverRecord.Write(_options.StateDirectory, instances));
    }

    void Warn(string? problem)
    {
        if (problem is not null) _log($"warning: {problem}");
    }

    static bool SamePlan(InstancePlan a, InstancePlan b) =>
        a with { VirtualAddresses = b.VirtualAddresses, UnicastPeers = b.UnicastPeers } == b
        && a.VirtualAddresses.SequenceEqual(b.VirtualAddresses) && a.UnicastPeers.SequenceEqual(b.UnicastPeers);

    async Task StopSpeakersAsync()
    {
        RunningSpeaker[] all;
        lock (_speakers)
        {
            all = _speakers.Values.ToArray();
            _speakers.Clear();
        }
        await Task.WhenAll(all.Select(s => s.DisposeAsync().AsTask()));
    }

    void PrepareStateDirectory()
    {
        // Holds nginx.conf (it may name secret files) and logs: owner and group only.
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                     UnixFileMode.GroupRead | UnixFileMode.GroupExecute;
        foreach (var dir in new[] { _options.StateDirectory, NginxDirectory, _runtime.ConfigDirectory, _runtime.TempDirectory,
                     _runtime.AccessLogDirectory, Path.Combine(NginxDirectory, "conf"), Path.Combine(NginxDirectory, "logs") })
            Directory.CreateDirectory(dir, Private);
    }

    IDisposable WatchFiles()
    {
        var watchers = new List<FileSystemWatcher>();
        foreach (var group in _options.Files.GroupBy(f => Path.GetDirectoryName(f)!))
        {
            var names = group.Select(Path.GetFileName).ToHashSet();
            var watcher = new FileSystemWatcher(group.Key) { NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size };
            void OnChange(object? _, FileSystemEventArgs e)
            {
                if (names.Contains(e.Name)) RequestReload($"{e.Name} changed");
            }
            watcher.Changed += OnChange;
            watcher.Created += OnChange;
            watcher.Renamed += (s, e) => OnChange(s, e);
            watcher.EnableRaisingEvents = true;
            watchers.Add(watcher);
        }
        return new Disposables(watchers);
    }

    sealed class Disposables(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var i in items) i.Dispose();
        }
    }
}
