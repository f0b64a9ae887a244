using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;
using NginxHa.Core.Text;
using NginxHa.NodeAgent.Platform;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Node;

public enum ReconcileOutcome
{
    /// <summary>The node matches the config.</summary>
    Applied,

    /// <summary>nginx and the other instances match; the instances named in the problems could not be set up.</summary>
    PartlyApplied,

    /// <summary>Nothing changed: the config is invalid for this host or nginx -t refused it. The last good config serves.</summary>
    Rejected,
}

/// <param name="Problems">Complete lines naming the instance, pool or field.</param>
public sealed record ReconcileResult(ReconcileOutcome Outcome, IReadOnlyList<string> Problems);

/// <summary>
/// Makes this node match a <see cref="NodeHaConfig"/>, whichever source it comes from: renders nginx.conf and has it
/// checked and reloaded, then starts, changes in place, restarts or stops VRRP instances, and keeps every instance in
/// FAULT while nginx cannot serve. Reports what runs as a <see cref="NodeHaConfigStatus"/> for a status writer.
/// Applies are serialized; nginx health changes may arrive on any thread at any time.
/// </summary>
public sealed class NodeReconciler : IAsyncDisposable
{
    readonly NginxRuntimeOptions _runtime;
    readonly IHostFacts _host;
    readonly IVrrpInstanceHost _instanceHost;
    readonly INginxConfigTarget _nginx;
    readonly TimeProvider _clock;
    readonly Action<string> _log;
    readonly ISecretFileStore? _secretFiles;
    readonly SemaphoreSlim _applyGate = new(1, 1);

    // Guards the instance table and the fault flag together: an instance is registered with the fault state of the
    // moment, and a health change reaches every registered instance. No health change falls between the two.
    readonly Lock _gate = new();
    readonly Dictionary<string, IVrrpInstance> _instances = new();
    readonly Dictionary<string, DateTimeOffset> _lastTransition = new();
    bool _nginxFault;
    bool _stopped;
    // Runs while nginx is not serving but may be back sooner than a hand-over would take (see OnNginxNotServing).
    ITimer? _handoverBudget;

    readonly AgentLiveness? _liveness;
    /// <summary>The apply loop's name in <see cref="AgentLiveness"/>; each instance's is "vrrp NAME".</summary>
    public const string ApplyLoop = "apply";

    readonly TaskCompletionSource<string> _instanceFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    DateTimeOffset? _lastReload;
    string? _lastNginxError;
    // Set with the status change that ends handling an event, never when it arrives: a status written meanwhile (a VRRP
    // transition) must not claim a generation whose config is not in force yet.
    long? _observedGeneration;
    string? _configHash;

    /// <param name="secretFiles">Where the TLS Secrets' files go before nginx -t; null: the config names none (tests).</param>
    /// <param name="liveness">Where the apply loop and the instances' loops show progress (the heartbeat's condition); null: nowhere.</param>
    public NodeReconciler(NginxRuntimeOptions runtime, IHostFacts host, IVrrpInstanceHost instanceHost, INginxConfigTarget nginx,
        TimeProvider clock, Action<string> log, ISecretFileStore? secretFiles = null, AgentLiveness? liveness = null)
    {
        _secretFiles = secretFiles;
        _liveness = liveness;
        if (liveness is not null)
        {
            liveness.Beat(ApplyLoop);
            liveness.ProbeRequested += ProbeLoops;
        }
        _runtime = runtime;
        _host = host;
        _instanceHost = instanceHost;
        _nginx = nginx;
        _clock = clock;
        _log = log;
        lock (_gate)
        {
            _nginx.HealthChanged += OnNginxHealth;
            _nginx.MasterExited += OnNginxNotServing;
            _nginxFault = _nginx.Current.RequiresVrrpFault();
        }
    }

    /// <summary>Raised after anything in <see cref="Status"/> changed (an apply, an nginx health change, a VRRP transition).</summary>
    public event Action? StatusChanged;

    /// <summary>
    /// Raised when a config is rejected (invalid, a Secret missing or malformed, nginx -t refused it), with the message the
    /// status carries as nginx.lastError; the last good config keeps serving. Kubernetes mode makes an Event of it.
    /// </summary>
    public event Action<string>? ConfigRejected;

    /// <summary>Longest rejection message kept in the status (an Event's note holds 1 KiB).</summary>
    public const int MaxRejectionLength = 1000;

    /// <summary>
    /// Completes, with the reason, when a running VRRP instance dies. The agent then exits: a node must never look
    /// healthy while an instance is gone (its VIPs were released on the way out).
    /// </summary>
    public Task<string> InstanceFailed => _instanceFailed.Task;

    /// <summary>The plans of the running instances, by name.</summary>
    public IReadOnlyDictionary<string, InstancePlan> Running
    {
        get
        {
            lock (_gate) return _instances.ToDictionary(i => i.Key, i => i.Value.Plan);
        }
    }

    /// <summary>Pure: what the update means on this host (speaker plans and nginx.conf), or every problem.</summary>
    public NodeDesiredState? Prepare(NodeConfigUpdate update, out IReadOnlyList<string> problems) =>
        NodeDesiredState.From(update, _host.Addresses(), _runtime, out problems);

    /// <summary>Applies a source's event: an update is reconciled; a rejection and its problems are logged.</summary>
    public async Task<ReconcileResult> HandleAsync(NodeConfigEvent e, CancellationToken cancellationToken)
    {
        switch (e)
        {
            case NodeConfigUpdate update:
                return await ApplyAsync(update, cancellationToken);
            case NodeConfigRejected rejected:
                return Rejected(rejected.Reason, rejected.Problems, rejected.Generation);
            default:
                throw new ArgumentException($"unknown config event {e.GetType().Name}", nameof(e));
        }
    }

    public async Task<ReconcileResult> ApplyAsync(NodeConfigUpdate update, CancellationToken cancellationToken)
    {
        var desired = Prepare(update, out var problems);
        return desired is null ? Rejected(update.Reason, problems, update.Generation) : await ApplyAsync(desired, update.Reason, cancellationToken);
    }

    /// <summary>nginx first (a new VIP is only taken once nginx serves its config), then the VRRP instances.</summary>
    public async Task<ReconcileResult> ApplyAsync(NodeDesiredState desired, string reason, CancellationToken cancellationToken)
    {
        await _applyGate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            ConfigApplyResult nginx;
            try
            {
                // The files nginx.conf names, before nginx -t reads them; new versions go to new directories.
                if (desired.SecretFiles.Count > 0)
                {
                    if (_secretFiles is null) throw new InvalidOperationException("the config names secret files and no store was given");
                    _secretFiles.Write(desired.SecretFiles);
                }
                nginx = await _nginx.ApplyAsync(desired.NginxConfig, cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                nginx = new ConfigApplyResult(ConfigApplyOutcome.Rejected, $"{ex.GetType().Name}: {SafeText.Escape(ex.Message)}");
            }
            if (!nginx.Accepted)
            {
                var problem = $"{(nginx.Outcome == ConfigApplyOutcome.ReloadFailed ? "nginx reload" : "nginx -t")}: {nginx.Error}";
                _log($"config rejected ({reason}): {problem}; the last good config keeps serving");
                Report(Cut(nginx.Error ?? problem), desired.Generation);
                return new ReconcileResult(ReconcileOutcome.Rejected, [problem]);
            }
            PruneSecretFiles(desired);
            _lastNginxError = nginx.Outcome == ConfigApplyOutcome.StartFailed ? nginx.Error : null;
            if (nginx.Outcome is ConfigApplyOutcome.Reloaded or ConfigApplyOutcome.Started)
                _lastReload = _clock.GetUtcNow();
            if (nginx.Outcome == ConfigApplyOutcome.Reloaded) _log($"nginx: config reloaded ({reason})");

            var problems = await ApplyInstancesAsync(desired.Instances, reason);
            lock (_gate)
            {
                _observedGeneration = desired.Generation;
                _configHash = NginxConfigHash.Of(desired.NginxConfig);
            }
            RaiseStatusChanged();
            try
            {
                desired.Applied?.Invoke();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // What runs is unaffected; only a restart during an API outage would start from the previous config.
                _log($"warning: keeping the applied config on disk failed: {SafeText.Escape(ex.Message)}");
            }
            return new ReconcileResult(problems.Count == 0 ? ReconcileOutcome.Applied : ReconcileOutcome.PartlyApplied, problems);
        }
        finally
        {
            _applyGate.Release();
            _liveness?.Beat(ApplyLoop); // an apply that finishes, however it ends, is progress
        }
    }

    /// <summary>
    /// Asks each loop to show it still works: the apply loop beats when no apply is running (an apply in progress beats
    /// when it ends, so one that hangs stops beating); each instance beats when its event loop next reaches idle.
    /// </summary>
    void ProbeLoops()
    {
        if (_liveness is not { } liveness) return;
        if (_applyGate.CurrentCount > 0) liveness.Beat(ApplyLoop);
        List<(string Name, IVrrpInstance Instance)> running;
        lock (_gate) running = _instances.Select(i => (i.Key, i.Value)).ToList();
        foreach (var (name, instance) in running)
            _ = instance.IdleAsync().ContinueWith(t =>
            {
                if (!t.IsCompletedSuccessfully) return;
                lock (_gate)
                    if (_instances.TryGetValue(name, out var current) && current == instance) liveness.Beat(LoopName(name));
            }, TaskScheduler.Default);
    }

    public static string LoopName(string instance) => $"vrrp {instance}";

    ReconcileResult Rejected(string reason, IReadOnlyList<string> problems, long? generation)
    {
        _log($"config rejected ({reason}): {problems.Count} error(s); the last good config keeps serving");
        foreach (var p in problems) _log($"config rejected: {p}");
        Report(Cut($"config rejected, the last good config keeps serving: {string.Join("; ", problems)}"), generation);
        return new ReconcileResult(ReconcileOutcome.Rejected, problems);
    }

    /// <summary>The status says why (nginx.lastError) until a config is accepted; the Kubernetes mode also makes an Event.</summary>
    /// <summary>A rejected generation is observed too: the status reports it with the reason, and what runs stays.</summary>
    void Report(string message, long? generation)
    {
        _lastNginxError = message;
        lock (_gate) _observedGeneration = generation;
        RaiseStatusChanged();
        ConfigRejected?.Invoke(message);
    }

    static string Cut(string message) => SafeText.Escape(message, MaxRejectionLength);

    /// <summary>Versions of secret files the applied config no longer names go; a failure only costs disk space.</summary>
    void PruneSecretFiles(NodeDesiredState applied)
    {
        if (_secretFiles is null) return;
        try
        {
            _secretFiles.Prune(applied.SecretDirectories);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _log($"warning: old secret files not removed: {ex.GetType().Name}: {SafeText.Escape(ex.Message, 300)}");
        }
    }

    async Task<List<string>> ApplyInstancesAsync(IReadOnlyList<InstancePlan> plans, string reason)
    {
        var wanted = plans.ToDictionary(p => p.Name);
        var retire = new List<(IVrrpInstance Instance, string Why)>();
        var inPlace = new List<(IVrrpInstance Instance, InstancePlan Plan)>();
        lock (_gate)
        {
            foreach (var (name, instance) in _instances)
            {
                if (!wanted.TryGetValue(name, out var plan))
                    retire.Add((instance, "removed; stopping"));
                else if (InstanceChanges.Classify(instance.Plan, plan) is var change && change == InstanceChange.Restart)
                    retire.Add((instance, "changed; restarting"));
                else if (change == InstanceChange.InPlace)
                    inPlace.Add((instance, plan));
            }
            foreach (var (instance, _) in retire) Unregister(instance);
        }

        foreach (var (instance, why) in retire)
        {
            _log($"{instance.Plan.Name}: {why}");
            await StopQuietlyAsync(instance);
        }
        foreach (var (instance, plan) in inPlace)
            instance.Update(plan);

        var problems = new List<string>();
        foreach (var plan in plans)
        {
            try
            {
                lock (_gate)
                {
                    if (_instances.ContainsKey(plan.Name)) continue;
                    var instance = _instanceHost.Start(plan, _nginxFault);
                    _instances[plan.Name] = instance;
                    _liveness?.Beat(LoopName(plan.Name));
                    instance.StateChanged += (_, _) => OnTransition(plan.Name);
                    _ = instance.Completion.ContinueWith(t => OnInstanceEnded(instance, t), TaskScheduler.Default);
                }
            }
            catch (SpeakerSetupException ex)
            {
                problems.Add(ex.Message);
                _log($"config rejected ({reason}): {ex.Message}; the other instances keep running");
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or Network.NetlinkException)
            {
                var problem = StartupPreflight.Describe(ex, plan.Name);
                problems.Add(problem);
                _log($"config rejected ({reason}): {problem}; the other instances keep running");
            }
        }
        return problems;
    }

    void Unregister(IVrrpInstance instance)
    {
        _instances.Remove(instance.Plan.Name);
        _liveness?.Forget(LoopName(instance.Plan.Name));
        _lastTransition.Remove(instance.Plan.Name);
    }

    void OnTransition(string name)
    {
        lock (_gate) _lastTransition[name] = _clock.GetUtcNow();
        RaiseStatusChanged();
    }

    void OnInstanceEnded(IVrrpInstance instance, Task completion)
    {
        bool current;
        lock (_gate) current = _instances.TryGetValue(instance.Plan.Name, out var registered) && registered == instance;
        if (!current) return;
        var why = completion.IsFaulted
            ? $"{instance.Plan.Name}: the VRRP speaker failed and stopped ({completion.Exception!.GetBaseException().GetType().Name}: " +
              $"{SafeText.Escape(completion.Exception.GetBaseException().Message)})"
            : $"{instance.Plan.Name}: the VRRP speaker stopped on its own";
        _log(why);
        _instanceFailed.TrySetResult(why);
        RaiseStatusChanged();
    }

    void OnNginxHealth(NginxHealth health)
    {
        // Runs on the supervisor's loop thread: only flip the flag and post to the instances' queues.
        if (health == NginxHealth.Restarting)
        {
            _log($"nginx: {health}");
            OnNginxNotServing();
            RaiseStatusChanged();
            return;
        }
        bool fault = health.RequiresVrrpFault();
        lock (_gate)
        {
            bool withinBudget = CancelHandoverBudget() && !fault;
            _log($"nginx: {health}{(fault ? " (VRRP instances in FAULT: the peer takes the VIPs)" : withinBudget ? " (back within the hand-over time: the VIPs stayed)" : "")}");
            SetFault(fault);
        }
        RaiseStatusChanged();
    }

    /// <summary>
    /// nginx stopped serving (its master exited, or a restart is under way). The node may keep its VIPs only as long as
    /// handing them over would take: the shortest Skew_Time of its instances (a backup, of lower priority, waits at
    /// least that long after our priority-0 advert). Back by then, nothing moved; otherwise every instance faults.
    /// </summary>
    void OnNginxNotServing()
    {
        lock (_gate)
        {
            if (_stopped || _nginxFault || _handoverBudget is not null) return;
            var budget = HandoverTime();
            if (budget is not { } time) return;
            _handoverBudget = _clock.CreateTimer(_ => OnHandoverBudgetSpent(), null, time, Timeout.InfiniteTimeSpan);
        }
    }

    void OnHandoverBudgetSpent()
    {
        lock (_gate)
        {
            if (_handoverBudget is null) return;
            CancelHandoverBudget();
            _log("nginx: not serving for longer than a hand-over takes (VRRP instances in FAULT: the peer takes the VIPs)");
            SetFault(true);
        }
        RaiseStatusChanged();
    }

    /// <summary>True when a budget was running. Caller holds the gate.</summary>
    bool CancelHandoverBudget()
    {
        if (_handoverBudget is null) return false;
        _handoverBudget.Dispose();
        _handoverBudget = null;
        return true;
    }

    /// <summary>Caller holds the gate.</summary>
    void SetFault(bool fault)
    {
        _nginxFault = fault;
        foreach (var instance in _instances.Values) instance.SetFault(fault);
    }

    /// <summary>The shortest Skew_Time of the running instances (RFC 5798 section 6.1, computed for our own priority), or null.</summary>
    TimeSpan? HandoverTime() => _instances.Count == 0 ? null : _instances.Values.Min(i => SkewTime(i.Plan));

    internal static TimeSpan SkewTime(InstancePlan plan) => plan.Version == VrrpVersion.V2
        ? TimeSpan.FromTicks((256 - plan.Priority) * TimeSpan.TicksPerSecond / 256)
        : TimeSpan.FromTicks((256 - plan.Priority) * plan.AdvertInterval.Ticks / 256);

    void RaiseStatusChanged() => StatusChanged?.Invoke();

    /// <summary>What runs now, in the shape a status writer publishes.</summary>
    public NodeHaConfigStatus Status
    {
        get
        {
            lock (_gate)
            {
                return new NodeHaConfigStatus
                {
                    Instances = _instances.Values.OrderBy(i => i.Plan.Name, StringComparer.Ordinal).Select(i => new VrrpInstanceStatus
                    {
                        Name = i.Plan.Name,
                        State = i.Completion.IsCompleted ? VrrpInstanceState.Fault : i.State.ToStatus(),
                        Master = i.CurrentMaster?.ToString(),
                        Transitions = i.Transitions,
                        LastTransitionTime = _lastTransition.TryGetValue(i.Plan.Name, out var at) ? at : null,
                    }).ToList(),
                    Nginx = new NginxStatus
                    {
                        State = ToStatus(_nginx.Current),
                        LastReload = _lastReload,
                        LastError = _lastNginxError,
                        ConfigHash = _configHash,
                    },
                    ObservedGeneration = _observedGeneration,
                };
            }
        }
    }

    static NginxState ToStatus(NginxHealth health) => health switch
    {
        NginxHealth.Healthy => NginxState.Running,
        NginxHealth.Starting or NginxHealth.Restarting => NginxState.Starting,
        NginxHealth.Down or NginxHealth.Failed => NginxState.Failed,
        NginxHealth.Stopped => NginxState.Stopped,
        _ => NginxState.Unknown,
    };

    /// <summary>Stops every instance (priority 0 from a master, VIPs removed), all at once.</summary>
    public async Task StopAsync()
    {
        await _applyGate.WaitAsync();
        IVrrpInstance[] all;
        try
        {
            lock (_gate)
            {
                if (_stopped) return;
                _stopped = true;
                _nginx.HealthChanged -= OnNginxHealth;
                _nginx.MasterExited -= OnNginxNotServing;
                CancelHandoverBudget();
                all = _instances.Values.ToArray();
                if (_liveness is not null)
                {
                    // A stopped agent's loops ended as intended: they no longer hold the heartbeat back.
                    _liveness.ProbeRequested -= ProbeLoops;
                    foreach (var name in _instances.Keys) _liveness.Forget(LoopName(name));
                    _liveness.Forget(ApplyLoop);
                }
                _instances.Clear();
                _lastTransition.Clear();
            }
        }
        finally
        {
            _applyGate.Release();
        }
        await Task.WhenAll(all.Select(StopQuietlyAsync));
    }

    /// <summary>Stops an instance; one that already died has said why (InstanceFailed), so its fault is not rethrown.</summary>
    async Task StopQuietlyAsync(IVrrpInstance instance)
    {
        try
        {
            await instance.DisposeAsync();
        }
        catch (Exception) when (instance.Completion.IsFaulted)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _applyGate.Dispose();
    }
}
