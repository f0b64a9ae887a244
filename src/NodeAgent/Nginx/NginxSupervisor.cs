using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using NginxHa.NodeAgent.Platform;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>
/// Runs (child mode) or watches (sidecar mode) the local nginx, applies rendered configs safely (nginx -t on a
/// candidate, atomic rename, SIGHUP confirmed by new workers) and reports health. One loop thread takes events from
/// one queue and hands each to <see cref="NginxSupervisorMachine"/>, which decides; this class is the edges: it
/// spawns, signals, checks, probes and watches, off the loop, and posts what happened back as events. Nothing slow
/// runs on the loop, so a master's death is handled while nginx -t still runs. <see cref="HealthChanged"/> and
/// <see cref="MasterExited"/> handlers run on the loop thread: keep them quick (e.g. speaker.SetFault).
/// </summary>
public sealed class NginxSupervisor : IAsyncDisposable, Node.INginxConfigTarget
{
    private static readonly TimeSpan StartPollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan ReloadPollInterval = TimeSpan.FromMilliseconds(10);
    private const int MaxStderrLines = 20;

    private readonly NginxSupervisorOptions _options;
    private readonly NginxPaths _paths;
    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly NginxSupervisorMachine _machine;
    private readonly NginxHttpProbe? _probe;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly EventQueue<SupervisorEvent> _events = new(); // no spinning wait (Platform/EventQueue)
    private readonly TaskCompletionSource _loopEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<ConfigApplyResult>> _applies = new();
    // Child processes by generation: the loop spawns, the start wait, the exit handler and the stop use them.
    private readonly ConcurrentDictionary<long, Process> _children = new();
    private readonly ConcurrentDictionary<long, PidExitWatch> _exitWatches = new();

    private long _nextApplyId = NginxSupervisorMachine.StartupApply;
    private int _startRequested;
    private int _stopRequested;
    private Task _probeLoop = Task.CompletedTask;
    private Task _sidecarLoop = Task.CompletedTask;
    private ITimer? _restartTimer; // loop thread only

    // Published after every event, for readers on any thread.
    private volatile NginxHealth _current = NginxHealth.Stopped;
    private volatile string _healthReason = "not started";
    private volatile string? _lastError;
    private volatile int _masterPid;
    private long _masterStarts;
    private int _reloadCount;
    private long _probeGeneration;

    public NginxSupervisor(NginxSupervisorOptions options, TimeProvider timeProvider, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _paths = options.Paths;
        _time = timeProvider;
        _log = log;
        _machine = new NginxSupervisorMachine(options.Mode, options.HealthPolicy, timeProvider);
        _probe = options.Probe is { } probe ? new NginxHttpProbe(probe, timeProvider) : null;
    }

    /// <summary>Raised on every health change, in order, on the supervisor's loop thread. Map
    /// <see cref="NginxHealthExtensions.RequiresVrrpFault"/> to the speaker.</summary>
    public event Action<NginxHealth>? HealthChanged;

    public NginxHealth Current => _current;

    /// <summary>
    /// The master we run or watch exited: raised on the loop thread as the first thing done about the exit, before
    /// the <see cref="HealthChanged"/> it causes, and never delayed by an apply (nginx -t runs off the loop).
    /// </summary>
    public event Action? MasterExited;

    /// <summary>Why <see cref="Current"/> is what it is (start failures, exit codes, probe errors).</summary>
    public string HealthReason => _healthReason;

    /// <summary>nginx's message for the last rejected config; null once a config is accepted.</summary>
    public string? LastError => _lastError;

    /// <summary>PID of the master we run or watch, if one is known.</summary>
    public int? MasterPid => _masterPid is var pid and > 0 ? pid : null;

    /// <summary>SIGHUPs sent for accepted config changes.</summary>
    public int ReloadCount => Volatile.Read(ref _reloadCount);

    /// <summary>nginx masters started (child mode) or newly found (sidecar mode) so far: the first one plus every restart.</summary>
    public long MasterStarts => Interlocked.Read(ref _masterStarts);

    public NginxSupervisionMode Mode => _options.Mode;

    /// <summary>
    /// Begins supervision. Child mode: a leftover master from an earlier agent (found through the pid file) is killed,
    /// and the config already in place, if it validates, is started, so a restarted agent serves without waiting for
    /// its config source. Sidecar mode: starts looking for the master through the pid file.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _startRequested, 1) == 1) throw new InvalidOperationException("The supervisor was already started.");
        var inPlace = File.Exists(_paths.ConfigPath) ? await File.ReadAllTextAsync(_paths.ConfigPath, cancellationToken) : null;
        new Thread(RunLoop) { IsBackground = true, Name = "nginx-supervisor" }.Start();
        if (_probe is not null) _probeLoop = Task.Run(() => ProbeLoopAsync(_lifetime.Token));
        var started = Register(NginxSupervisorMachine.StartupApply);
        Post(new SupervisionStarted(inPlace));
        await started.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Applies a rendered config: unchanged text does nothing; otherwise the text is written to a 0640 candidate next
    /// to the live config, validated with nginx -t, renamed into place and the master reloaded (child mode: started
    /// when not running). A rejected config leaves the running one untouched and is reported with nginx's message.
    /// Applies run one after the other; a master's death while one runs is handled at once, and the apply's result
    /// then says what the new master runs.
    /// </summary>
    public async Task<ConfigApplyResult> ApplyAsync(string renderedConfig, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(renderedConfig);
        if (string.IsNullOrWhiteSpace(renderedConfig))
            return new ConfigApplyResult(ConfigApplyOutcome.Rejected, "rendered config is empty");
        if (Volatile.Read(ref _startRequested) == 0 || Volatile.Read(ref _stopRequested) == 1)
            throw new InvalidOperationException("ApplyAsync needs a started, not stopped, supervisor.");
        var id = Interlocked.Increment(ref _nextApplyId);
        var result = Register(id);
        Post(new ApplyRequested(id, renderedConfig));
        return await result.WaitAsync(cancellationToken);
    }

    /// <summary>Stops supervision; in child mode nginx is asked to quit gracefully, then its process group is killed.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _startRequested) == 0) return;
        if (Interlocked.Exchange(ref _stopRequested, 1) == 0) Post(new StopRequested());
        await _loopEnded.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _startRequested) == 1) await StopAsync(CancellationToken.None);
        _probe?.Dispose();
        _lifetime.Dispose();
    }

    // ---- the loop ---------------------------------------------------------------------------------------------

    private Task<ConfigApplyResult> Register(long id)
    {
        var completion = new TaskCompletionSource<ConfigApplyResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _applies[id] = completion;
        return completion.Task;
    }

    /// <summary>From any thread. Events after the loop ended are dropped: nothing is supervised any more.</summary>
    private void Post(SupervisorEvent e)
    {
        _events.Add(e);
    }

    private void RunLoop()
    {
        try
        {
            foreach (var e in _events.GetConsumingEnumerable())
            {
                IReadOnlyList<SupervisorEffect> effects;
                try
                {
                    effects = _machine.Handle(e);
                }
                catch (Exception ex)
                {
                    _log($"nginx: handling {e.GetType().Name} failed: {ex.Message}");
                    continue;
                }
                Publish();
                foreach (var effect in effects)
                {
                    try
                    {
                        Execute(effect);
                    }
                    catch (Exception ex)
                    {
                        _log($"nginx: {effect.GetType().Name} failed: {ex.Message}");
                    }
                }
            }
        }
        finally
        {
            _restartTimer?.Dispose();
            foreach (var pending in _applies.Values) pending.TrySetException(new InvalidOperationException("The supervisor stopped."));
            _loopEnded.TrySetResult();
        }
    }

    private void Publish()
    {
        _healthReason = _machine.Reason;
        _current = _machine.Current;
        _lastError = _machine.LastError;
        _masterPid = _machine.MasterPid ?? 0;
        Interlocked.Exchange(ref _masterStarts, _machine.MasterStarts);
        Volatile.Write(ref _reloadCount, _machine.ReloadCount);
        Interlocked.Exchange(ref _probeGeneration, _machine.ProbeGeneration ?? 0);
    }

    /// <summary>Runs on the loop thread; anything that can take long is started here and runs off the loop.</summary>
    private void Execute(SupervisorEffect effect)
    {
        switch (effect)
        {
            case LogLine line:
                _log(line.Text);
                break;
            case RaiseHealthChanged health:
                Raise(() => HealthChanged?.Invoke(health.Health), "HealthChanged");
                break;
            case RaiseMasterExited:
                Raise(() => MasterExited?.Invoke(), "MasterExited");
                break;
            case KillLeftoverMaster:
                KillLeftover();
                break;
            case WatchSidecar:
                _sidecarLoop = Task.Run(() => SidecarLoopAsync(_lifetime.Token));
                break;
            case CheckCandidate check:
                _ = Task.Run(() => CheckCandidateAsync(check));
                break;
            case InstallCandidate:
                File.Move(_paths.CandidatePath, _paths.ConfigPath, overwrite: true);
                break;
            case DiscardCandidate:
                TryDeleteFile(_paths.CandidatePath);
                break;
            case RestoreConfig restore:
                WriteCandidate(restore.Text);
                File.Move(_paths.CandidatePath, _paths.ConfigPath, overwrite: true);
                break;
            case SpawnChild spawn:
                Spawn(spawn.Generation);
                break;
            case KillProcessGroup kill:
                KillGroup(kill.Pid);
                break;
            case ScheduleStart schedule:
                _restartTimer?.Dispose();
                _restartTimer = _time.CreateTimer(_ => Post(new RestartTimerFired(schedule.Timer)), null, schedule.Delay, Timeout.InfiniteTimeSpan);
                break;
            case CancelStartTimer:
                _restartTimer?.Dispose();
                _restartTimer = null;
                break;
            case ReloadMaster reload:
                _ = Task.Run(() => ReloadAsync(reload));
                break;
            case CompleteApply complete:
                if (_applies.TryRemove(complete.Id, out var waiter)) waiter.TrySetResult(complete.Result);
                break;
            case CancelEdges:
                _lifetime.Cancel();
                break;
            case StopMaster stop:
                _ = Task.Run(() => StopMasterAsync(stop.ChildGeneration));
                break;
            case EndLoop:
                _events.CompleteAdding();
                break;
            default:
                throw new ArgumentException($"unknown supervisor effect {effect.GetType().Name}");
        }
    }

    private void Raise(Action raise, string name)
    {
        try
        {
            raise();
        }
        catch (Exception ex)
        {
            _log($"nginx: a {name} handler threw: {ex.Message}");
        }
    }

    // ---- child mode -------------------------------------------------------------------------------------------

    /// <summary>Starts nginx through setsid; the start's confirmation runs off the loop and posts its result.</summary>
    private void Spawn(long generation)
    {
        TryDeleteFile(_paths.PidFilePath); // a stale pid file must not confirm a start
        var stderr = new StderrTail();
        var startInfo = new ProcessStartInfo(_options.SetsidBinary)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = false,
            RedirectStandardInput = false,
        };
        startInfo.ArgumentList.Add(_paths.Binary);
        foreach (var argument in NginxCommandLine.Run(_paths)) startInfo.ArgumentList.Add(argument);

        // A start that fails (exit, [emerg]) wakes the start's wait at once: a failed restart must fault the VRRP
        // instances in milliseconds, not at the next poll.
        var startFailed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        int pid = 0;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { Length: > 0 } line) return;
            stderr.Add(line);
            if (stderr.SawEmergency) startFailed.TrySetResult();
        };
        process.Exited += (_, _) =>
        {
            startFailed.TrySetResult();
            if (_exitWatches.TryRemove(generation, out var exitWatch)) exitWatch.Dispose();
            try
            {
                Post(new ChildExited(generation, $"master pid {process.Id} exited ({DescribeExit(process.ExitCode)})"));
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
                // Disposed by a failed start's wait, which reports that exit itself.
                Post(new ChildExited(generation, $"master pid {Volatile.Read(ref pid)} exited"));
            }
        };
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            Post(new StartFailed(generation, $"cannot run {_options.SetsidBinary} {_paths.Binary}: {ex.Message}"));
            return;
        }
        Volatile.Write(ref pid, process.Id);
        _children[generation] = process;
        // The exit reaches the loop from the pidfd's own thread, whatever the thread pool (which raises Process.Exited,
        // the fallback, second) is busy with.
        if (PidExitWatch.TryOpen(pid, out var watch, out var watchProblem,
                w => Post(new ChildExited(generation, $"master pid {w.Pid} exited ({w.PeekExit() ?? "status unknown"})"))))
            _exitWatches[generation] = watch!;
        else
            _log($"nginx: no pidfd for master pid {pid} ({watchProblem}); its exit is seen through Process.Exited");
        process.BeginErrorReadLine();
        _log($"nginx: started master pid {pid}");
        Post(new ChildSpawned(generation, pid));
        var token = _lifetime.Token;
        _ = Task.Run(async () =>
        {
            Func<StderrTail, string>? failure;
            try
            {
                failure = await WaitForStartAsync(process, pid, stderr, startFailed.Task, token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return; // stopping: the stop ends this child
            }
            catch (Exception ex)
            {
                failure = _ => $"waiting for master pid {pid} failed: {ex.Message}";
            }
            if (failure is null)
            {
                Post(new StartConfirmed(generation, $"master pid {pid} up"));
                return;
            }
            KillGroup(pid);
            await WaitForStderrAsync(process);
            if (_children.TryRemove(generation, out _)) process.Dispose();
            Post(new StartFailed(generation, failure(stderr)));
        });
    }

    /// <returns>null when nginx is up (our pid in the pid file, the probe passes), else how to word the failure.</returns>
    private async Task<Func<StderrTail, string>?> WaitForStartAsync(Process process, int pid, StderrTail stderr, Task startFailed,
        CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + _options.StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                var exitCode = process.ExitCode;
                return tail => $"nginx exited with code {exitCode} while starting: {NginxErrorOutput.FirstError(tail.Text) ?? "no message on stderr"}";
            }
            if (stderr.SawEmergency) return tail => $"nginx failed while starting: {NginxErrorOutput.FirstError(tail.Text)}";
            if (ReadPidFile(_paths.PidFilePath) == pid)
            {
                var probeFailure = _probe is null ? null : await _probe.CheckAsync(cancellationToken);
                if (probeFailure is null) return null;
            }
            if (_time.GetUtcNow() >= deadline)
                return _ => $"master pid {pid} not up within {_options.StartTimeout.TotalSeconds:0.###} s (pid file or health probe)";
            // The pid file and the probe are polled; an exit or an [emerg] line ends the wait early.
            await Task.WhenAny(startFailed, Task.Delay(StartPollInterval, _time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>SIGQUIT, a grace time, then the whole group; the loop ends once this posts StopFinished.</summary>
    private async Task StopMasterAsync(long? generation)
    {
        try
        {
            await AwaitQuietly(_probeLoop);
            await AwaitQuietly(_sidecarLoop);
            if (generation is { } g && _children.TryRemove(g, out var child))
            {
                var pid = child.Id;
                LinuxProcessApi.TrySignal(pid, LinuxProcessApi.SIGQUIT, out _);
                using var grace = new CancellationTokenSource(_options.StopTimeout, _time);
                try
                {
                    await child.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    _log($"nginx: master pid {pid} did not quit within {_options.StopTimeout.TotalSeconds:0.###} s; killing its process group");
                }
                KillGroup(pid);
                child.Dispose();
            }
            foreach (var g2 in _exitWatches.Keys)
                if (_exitWatches.TryRemove(g2, out var watch)) watch.Dispose();
        }
        catch (Exception ex)
        {
            _log($"nginx: stopping nginx failed: {ex.Message}");
        }
        finally
        {
            Post(new StopFinished());
        }
    }

    /// <summary>SIGHUP, then wait for new workers; the result is posted, judged on the loop against what runs then.</summary>
    private async Task ReloadAsync(ReloadMaster reload)
    {
        var pid = reload.Pid;
        try
        {
            var workersBefore = LinuxProcessApi.ChildPids(pid);
            long errorLogLength = FileLength(_paths.ErrorLogPath);
            if (!LinuxProcessApi.TrySignal(pid, LinuxProcessApi.SIGHUP, out var errno))
            {
                Post(new ReloadCompleted(reload.Id, reload.Generation, $"SIGHUP to master pid {pid} failed (errno {errno})", Signalled: false,
                    MasterGone: errno == LinuxProcessApi.ESRCH));
                return;
            }
            var (failure, gone) = await ConfirmReloadAsync(pid, workersBefore, errorLogLength, _lifetime.Token);
            Post(new ReloadCompleted(reload.Id, reload.Generation, failure, Signalled: true, MasterGone: gone));
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Post(new ReloadCompleted(reload.Id, reload.Generation, $"confirming the reload of master pid {pid} failed: {ex.Message}", Signalled: true, MasterGone: false));
        }
    }

    /// <summary>
    /// null once the master has new workers after a SIGHUP; else why the reload did not take: an [emerg] line in the
    /// error log since the signal (nginx keeps the old workers), the master's exit, or no new workers in time.
    /// </summary>
    private async Task<(string? Failure, bool MasterGone)> ConfirmReloadAsync(int pid, int[] workersBefore, long errorLogOffset,
        CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + _options.ReloadTimeout;
        while (true)
        {
            if (LinuxProcessApi.ChildPids(pid).Except(workersBefore).Any()) return (null, false);
            var logged = ReadFrom(_paths.ErrorLogPath, errorLogOffset);
            var emergency = logged.Split('\n').FirstOrDefault(NginxErrorOutput.IsEmergency);
            if (emergency is not null) return (NginxErrorOutput.FirstError(emergency), false);
            if (!IsNginxMaster(pid)) return ($"master pid {pid} exited during the reload", true);
            if (_time.GetUtcNow() >= deadline)
                return ($"no new workers within {_options.ReloadTimeout.TotalSeconds:0.###} s of the reload signal to master pid {pid}", false);
            await Task.Delay(ReloadPollInterval, _time, cancellationToken);
        }
    }

    /// <summary>Off the loop: write the candidate (if any) and run nginx -t on it, then post the verdict.</summary>
    private async Task CheckCandidateAsync(CheckCandidate check)
    {
        string? rejection;
        try
        {
            if (check.Text is null) rejection = await ValidateAsync(_paths.ConfigPath, _lifetime.Token);
            else
            {
                try
                {
                    WriteCandidate(check.Text);
                    rejection = await ValidateAsync(_paths.CandidatePath, _lifetime.Token);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // A full or read-only state dir: the running config is untouched, so it keeps serving.
                    TryDeleteFile(_paths.CandidatePath);
                    rejection = $"cannot write {_paths.CandidatePath}: {e.Message}";
                }
            }
        }
        catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            rejection = $"checking the config failed: {ex.Message}";
        }
        Post(new CandidateChecked(check.Id, rejection));
    }

    /// <summary>A master left by an earlier agent (its own session, so it outlived it) would hold our ports.</summary>
    private void KillLeftover()
    {
        if (ReadPidFile(_paths.PidFilePath) is not { } pid || !IsNginxMaster(pid)) return;
        _log($"nginx: killing leftover master pid {pid} from an earlier run (pid file {_paths.PidFilePath})");
        KillGroup(pid);
        LinuxProcessApi.TrySignal(pid, LinuxProcessApi.SIGKILL, out _);
    }

    private static void KillGroup(int groupLeaderPid)
    {
        // Our children run through setsid: the master leads a group that holds its workers. While any member lives
        // the group id cannot be reused, so this never hits an unrelated process.
        LinuxProcessApi.TrySignal(-groupLeaderPid, LinuxProcessApi.SIGKILL, out _);
    }

    // ---- sidecar mode -----------------------------------------------------------------------------------------

    private async Task SidecarLoopAsync(CancellationToken cancellationToken)
    {
        int? lastDead = null;
        string? lookupProblem = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var watch = FindSidecarMaster(lastDead, ref lookupProblem);
                if (watch is null)
                {
                    await Task.Delay(_options.PidFilePollInterval, _time, cancellationToken);
                    continue;
                }
                Post(new SidecarMasterFound(watch.Pid));
                await watch.Exited.WaitAsync(cancellationToken);
                lastDead = watch.Pid;
                Post(new SidecarMasterExited(watch.Pid));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                _log($"nginx: sidecar watch error: {ex.Message}");
                await AwaitQuietly(Task.Delay(_options.PidFilePollInterval, _time, cancellationToken));
            }
        }
    }

    private PidExitWatch? FindSidecarMaster(int? lastDead, ref string? lookupProblem)
    {
        var pid = ReadPidFile(_paths.PidFilePath);
        string? problem = null;
        PidExitWatch? watch = null;
        if (pid is null) problem = $"no readable pid in {_paths.PidFilePath}";
        else if (pid == lastDead) problem = $"pid file still names the exited master {pid}";
        else if (!PidExitWatch.TryOpen(pid.Value, out watch, out var openFailure)) problem = openFailure;
        // A zombie or a reused pid must not count as a live master.
        else if (!IsNginxMaster(pid.Value) || watch!.Exited.IsCompleted)
        {
            watch!.Dispose();
            watch = null;
            problem = $"pid {pid} is not a live nginx master";
        }

        if (problem != lookupProblem && problem is not null) _log($"nginx: sidecar master not found: {problem}");
        lookupProblem = problem;
        return watch;
    }

    // ---- health probe -----------------------------------------------------------------------------------------

    private async Task ProbeLoopAsync(CancellationToken cancellationToken)
    {
        var interval = _options.Probe!.Interval;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(interval, _time, cancellationToken);
                var generation = Interlocked.Read(ref _probeGeneration);
                if (generation == 0) continue;
                var failure = await _probe!.CheckAsync(cancellationToken);
                Post(new ProbeCompleted(generation, failure));
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception ex)
            {
                _log($"nginx: health probe loop error: {ex.Message}");
            }
        }
    }

    // ---- config files and validation --------------------------------------------------------------------------

    private static long FileLength(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string ReadFrom(string path, long offset)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length <= offset) return "";
            stream.Position = offset;
            // The lines nginx wrote since the signal; a reload logs a handful.
            var buffer = new byte[Math.Min(stream.Length - offset, 64 * 1024)];
            int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            return Encoding.UTF8.GetString(buffer, 0, read);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private void WriteCandidate(string text)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("nginx supervision needs Linux (pidfd, signals, file modes).");
        var directory = Path.GetDirectoryName(_paths.ConfigPath)!;
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        TryDeleteFile(_paths.CandidatePath); // CreateNew below: a leftover must not keep looser permissions
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            // Never world-readable: the config may name secret files (TLS keys, htpasswd).
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
        };
        using var stream = new FileStream(_paths.CandidatePath, options);
        stream.Write(Encoding.UTF8.GetBytes(text));
        stream.Flush(flushToDisk: true);
    }

    /// <returns>null when nginx -t accepts the file, else nginx's first error line.</returns>
    private async Task<string?> ValidateAsync(string configPath, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(_paths.Binary)
        {
            UseShellExecute = false,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var argument in NginxCommandLine.Test(_paths, configPath)) startInfo.ArgumentList.Add(argument);
        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"cannot run {_paths.Binary}: {ex.Message}";
        }
        using var timeout = new CancellationTokenSource(_options.ValidateTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        var stderrTask = process.StandardError.ReadToEndAsync(linked.Token);
        var stdoutTask = process.StandardOutput.ReadToEndAsync(linked.Token);
        try
        {
            await process.WaitForExitAsync(linked.Token);
            var stderr = await stderrTask;
            await stdoutTask;
            if (process.ExitCode == 0) return null;
            // The sidecar binds the listeners; this container has no NET_BIND_SERVICE, by design (docs/helm.md).
            if (_options.Mode == NginxSupervisionMode.Sidecar && NginxErrorOutput.OnlyListenPermissionDenied(stderr)) return null;
            return NginxErrorOutput.FirstError(stderr) ?? $"nginx -t exited with code {process.ExitCode} and no message";
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            if (cancellationToken.IsCancellationRequested) throw;
            return $"nginx -t did not finish within {_options.ValidateTimeout.TotalSeconds:0.###} s";
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static async Task WaitForStderrAsync(Process process)
    {
        // WaitForExitAsync also waits for the redirected stderr to reach end of file.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            // Keep whatever arrived; the message is best effort.
        }
    }

    private static async Task AwaitQuietly(Task task)
    {
        try
        {
            await task;
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal static int? ReadPidFile(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>nginx titles its master "nginx: master process ..."; a zombie has an empty cmdline.</summary>
    internal static bool IsNginxMaster(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("nginx: master process", StringComparison.Ordinal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string DescribeExit(int exitCode) =>
        exitCode > 128 ? $"killed by signal {exitCode - 128}" : $"exit code {exitCode}";

    private static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Last lines nginx wrote to stderr, for the start-failure message.</summary>
    private sealed class StderrTail
    {
        private readonly Queue<string> _lines = new();
        private volatile bool _sawEmergency;

        public bool SawEmergency => _sawEmergency;

        public void Add(string line)
        {
            if (NginxErrorOutput.IsEmergency(line)) _sawEmergency = true;
            lock (_lines)
            {
                _lines.Enqueue(line);
                if (_lines.Count > MaxStderrLines) _lines.Dequeue();
            }
        }

        public string Text
        {
            get
            {
                lock (_lines) return string.Join('\n', _lines);
            }
        }
    }
}
