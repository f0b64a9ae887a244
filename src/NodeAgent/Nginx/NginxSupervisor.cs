using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>
/// Runs (child mode) or watches (sidecar mode) the local nginx, applies rendered configs safely (nginx -t on a
/// candidate, atomic rename, SIGHUP) and reports health. Decisions live in <see cref="NginxHealthState"/>; this class
/// only does the I/O. All mutations run under one gate, so config applies, exits, probes and restarts never interleave.
/// <see cref="HealthChanged"/> handlers run inside that gate: keep them quick (e.g. speaker.SetFault).
/// </summary>
public sealed class NginxSupervisor : IAsyncDisposable, Node.INginxConfigTarget
{
    private static readonly TimeSpan StartPollInterval = TimeSpan.FromMilliseconds(50);
    private const int MaxStderrLines = 20;

    private readonly NginxSupervisorOptions _options;
    private readonly NginxPaths _paths;
    private readonly TimeProvider _time;
    private readonly Action<string> _log;
    private readonly NginxHealthState _state;
    private readonly NginxHttpProbe? _probe;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _lifetime = new();

    private Process? _childProcess;
    private volatile int _childPid;
    private int? _sidecarPid;
    private int? _lastDeadSidecarPid;
    private string? _sidecarLookupProblem;
    private string? _runningConfig;
    private ITimer? _restartTimer;
    private long _restartGeneration;
    private long _masterGeneration;
    private Task _probeLoop = Task.CompletedTask;
    private Task _sidecarLoop = Task.CompletedTask;
    private bool _started;
    private volatile bool _stopping;
    private int _reloadCount;
    private volatile string? _lastError;
    private volatile NginxHealth _current = NginxHealth.Stopped;
    private volatile string _healthReason = "not started";

    public NginxSupervisor(NginxSupervisorOptions options, TimeProvider timeProvider, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _paths = options.Paths;
        _time = timeProvider;
        _log = log;
        _state = new NginxHealthState(options.Mode, options.HealthPolicy, timeProvider);
        _probe = options.Probe is { } probe ? new NginxHttpProbe(probe, timeProvider) : null;
    }

    /// <summary>Raised on every health change, in order. Map <see cref="NginxHealthExtensions.RequiresVrrpFault"/> to the speaker.</summary>
    public event Action<NginxHealth>? HealthChanged;

    public NginxHealth Current => _current;

    /// <summary>
    /// The master we run or watch exited: raised on the exit's own thread, before <see cref="HealthChanged"/> (which
    /// waits for the supervisor's gate, held through an apply's nginx -t). Nothing serves until a restart succeeds.
    /// </summary>
    public event Action? MasterExited;

    /// <summary>Why <see cref="Current"/> is what it is (start failures, exit codes, probe errors).</summary>
    public string HealthReason => _healthReason;

    /// <summary>nginx's message for the last rejected config; null once a config is accepted.</summary>
    public string? LastError => _lastError;

    /// <summary>PID of the master we run or watch, if one is known to be alive.</summary>
    public int? MasterPid => _options.Mode == NginxSupervisionMode.Child ? (_childPid is var pid and > 0 ? pid : null) : _sidecarPid;

    /// <summary>SIGHUPs sent for accepted config changes.</summary>
    public int ReloadCount => Volatile.Read(ref _reloadCount);

    /// <summary>nginx masters started (child mode) or newly found (sidecar mode) so far: the first one plus every restart.</summary>
    public long MasterStarts => Interlocked.Read(ref _masterGeneration);

    public NginxSupervisionMode Mode => _options.Mode;

    /// <summary>
    /// Begins supervision. Child mode: a leftover master from an earlier agent (found through the pid file) is killed,
    /// and the config already in place, if it validates, is started, so a restarted agent serves without waiting for
    /// its config source. Sidecar mode: starts looking for the master through the pid file.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_started) throw new InvalidOperationException("The supervisor was already started.");
            _started = true;
            Observe(s => { s.Begin(); return NginxDecision.None; });
            if (File.Exists(_paths.ConfigPath)) _runningConfig = await File.ReadAllTextAsync(_paths.ConfigPath, cancellationToken);

            if (_options.Mode == NginxSupervisionMode.Sidecar)
            {
                _sidecarLoop = Task.Run(() => SidecarLoopAsync(_lifetime.Token));
            }
            else
            {
                KillLeftoverMaster();
                if (_runningConfig is null)
                {
                    _log($"nginx: no config at {_paths.ConfigPath} yet; waiting for the first one");
                }
                else
                {
                    var validation = await ValidateAsync(_paths.ConfigPath, cancellationToken);
                    if (validation is null) await StartChildLoopAsync();
                    else
                    {
                        _runningConfig = null;
                        _lastError = validation;
                        _log($"nginx: config in place is rejected by nginx -t: {validation}");
                        Observe(s => { s.NoUsableConfig(validation); return NginxDecision.None; });
                    }
                }
            }
            if (_probe is not null) _probeLoop = Task.Run(() => ProbeLoopAsync(_lifetime.Token));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Applies a rendered config: unchanged text does nothing; otherwise the text is written to a 0640 candidate next
    /// to the live config, validated with nginx -t, renamed into place and the master reloaded (child mode: started
    /// when not running). A rejected config leaves the running one untouched and is reported with nginx's message.
    /// </summary>
    public async Task<ConfigApplyResult> ApplyAsync(string renderedConfig, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(renderedConfig);
        if (string.IsNullOrWhiteSpace(renderedConfig))
            return new ConfigApplyResult(ConfigApplyOutcome.Rejected, "rendered config is empty");

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (!_started || _stopping) throw new InvalidOperationException("ApplyAsync needs a started, not stopped, supervisor.");
            if (string.Equals(_runningConfig, renderedConfig, StringComparison.Ordinal))
                return new ConfigApplyResult(ConfigApplyOutcome.Unchanged);

            try
            {
                await WriteCandidateAsync(renderedConfig, cancellationToken);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full or read-only state dir: the running config is untouched, so it keeps serving.
                TryDeleteFile(_paths.CandidatePath);
                var reason = $"cannot write {_paths.CandidatePath}: {e.Message}";
                _lastError = reason;
                return new ConfigApplyResult(ConfigApplyOutcome.Rejected, reason);
            }
            var rejection = await ValidateAsync(_paths.CandidatePath, cancellationToken);
            if (rejection is not null)
            {
                File.Delete(_paths.CandidatePath);
                _lastError = rejection;
                _log($"nginx: config rejected by nginx -t, keeping the running config: {rejection}");
                if (_options.Mode == NginxSupervisionMode.Child && _runningConfig is null)
                    Observe(s => { s.NoUsableConfig(rejection); return NginxDecision.None; });
                return new ConfigApplyResult(ConfigApplyOutcome.Rejected, rejection);
            }

            // rename(2) within one directory: nginx never reads a half-written file.
            var previous = _runningConfig;
            File.Move(_paths.CandidatePath, _paths.ConfigPath, overwrite: true);
            _runningConfig = renderedConfig;
            _lastError = null;

            var master = MasterPid;
            if (master is { } pid)
            {
                var workersBefore = LinuxProcessApi.ChildPids(pid);
                long errorLogLength = FileLength(_paths.ErrorLogPath);
                if (LinuxProcessApi.TrySignal(pid, LinuxProcessApi.SIGHUP, out var errno))
                {
                    Interlocked.Increment(ref _reloadCount);
                    var failure = await ConfirmReloadAsync(pid, workersBefore, errorLogLength, cancellationToken);
                    if (failure is null)
                    {
                        _log($"nginx: config accepted, reload confirmed by new workers of master pid {pid}");
                        return new ConfigApplyResult(ConfigApplyOutcome.Reloaded);
                    }
                    _lastError = failure;
                    _log($"nginx: reload failed at runtime, the old config keeps serving: {failure}");
                    if (previous is not null)
                    {
                        // Put the running config back, so a restart starts what serves and the same change can be retried.
                        await WriteCandidateAsync(previous, CancellationToken.None);
                        File.Move(_paths.CandidatePath, _paths.ConfigPath, overwrite: true);
                    }
                    _runningConfig = previous;
                    return new ConfigApplyResult(ConfigApplyOutcome.ReloadFailed, failure);
                }
                _log($"nginx: config accepted but SIGHUP to master pid {pid} failed (errno {errno}); its exit will be handled");
            }

            if (_options.Mode == NginxSupervisionMode.Sidecar)
            {
                _log("nginx: config accepted; no live sidecar master, it takes effect when nginx starts");
                return new ConfigApplyResult(ConfigApplyOutcome.WrittenNotRunning);
            }

            // Child not running (first config, backoff pending, or failed): a new config is worth an immediate start.
            CancelScheduledStart();
            await StartChildLoopAsync();
            return _child is not null
                ? new ConfigApplyResult(ConfigApplyOutcome.Started)
                : new ConfigApplyResult(ConfigApplyOutcome.StartFailed, _healthReason);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops supervision; in child mode nginx is asked to quit gracefully, then its process group is killed.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        Process? child;
        try
        {
            if (_stopping) return;
            _stopping = true;
            _lifetime.Cancel();
            CancelScheduledStart();
            child = _child;
            _child = null;
            _sidecarPid = null;
        }
        finally
        {
            _gate.Release();
        }

        await AwaitQuietly(_probeLoop);
        await AwaitQuietly(_sidecarLoop);

        if (child is not null)
        {
            LinuxProcessApi.TrySignal(child.Id, LinuxProcessApi.SIGQUIT, out _);
            using var grace = new CancellationTokenSource(_options.StopTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(grace.Token, cancellationToken);
            try
            {
                await child.WaitForExitAsync(linked.Token);
            }
            catch (OperationCanceledException)
            {
                _log($"nginx: master pid {child.Id} did not quit within {_options.StopTimeout.TotalSeconds:0.###} s; killing its process group");
            }
            KillProcessGroup(child.Id);
            child.Dispose();
        }

        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            Observe(s => { s.Stopped(); return NginxDecision.None; });
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_started) await StopAsync(CancellationToken.None);
        _probe?.Dispose();
        _lifetime.Dispose();
    }

    // ---- child mode -------------------------------------------------------------------------------------------

    /// <summary>The running child; its pid is mirrored for lock-free readers of <see cref="MasterPid"/>.</summary>
    private Process? _child
    {
        get => _childProcess;
        set
        {
            _childProcess = value;
            _childPid = value?.Id ?? 0;
        }
    }

    /// <summary>Starts until a start succeeds, or schedules the next attempt. Caller holds the gate.</summary>
    private async Task StartChildLoopAsync()
    {
        while (!_stopping)
        {
            var failure = await TryStartChildAsync();
            if (failure is null) return;
            var decision = Observe(s => s.StartFailed(failure));
            if (decision.Action == SupervisorAction.StartNow) continue;
            if (decision.Action == SupervisorAction.StartAfterDelay) ScheduleStart(decision.Delay);
            return;
        }
    }

    /// <returns>null when nginx is up, else why not.</returns>
    private async Task<string?> TryStartChildAsync()
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

        // A start that fails (exit, [emerg]) wakes the wait below at once: a failed restart must fault the VRRP
        // instances in milliseconds, not at the next poll.
        var startFailed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { Length: > 0 } line) return;
            stderr.Add(line);
            if (stderr.SawEmergency) startFailed.TrySetResult();
        };
        process.Exited += (_, _) =>
        {
            startFailed.TrySetResult();
            // Before the gate: an apply may hold it for the length of nginx -t, and VRRP must hear of the death first.
            if (ReferenceEquals(process, _childProcess) && !_stopping) MasterExited?.Invoke();
            _ = OnChildExitedAsync(process);
        };
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            process.Dispose();
            return $"cannot run {_options.SetsidBinary} {_paths.Binary}: {ex.Message}";
        }
        process.BeginErrorReadLine();
        _child = process;
        _masterGeneration++;
        var pid = process.Id;
        _log($"nginx: started master pid {pid}");

        var deadline = _time.GetUtcNow() + _options.StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                _child = null;
                KillProcessGroup(pid);
                await WaitForStderrAsync(process);
                var message = NginxErrorOutput.FirstError(stderr.Text) ?? "no message on stderr";
                var exitCode = process.ExitCode;
                process.Dispose();
                return $"nginx exited with code {exitCode} while starting: {message}";
            }
            if (stderr.SawEmergency)
            {
                _child = null;
                KillProcessGroup(pid);
                await WaitForStderrAsync(process);
                process.Dispose();
                return $"nginx failed while starting: {NginxErrorOutput.FirstError(stderr.Text)}";
            }
            if (ReadPidFile(_paths.PidFilePath) == pid)
            {
                var probeFailure = _probe is null ? null : await _probe.CheckAsync(_lifetime.Token);
                if (probeFailure is null)
                {
                    var detail = $"master pid {pid} up";
                    _log($"nginx: {detail}");
                    Observe(s => { s.StartSucceeded(detail); return NginxDecision.None; });
                    return null;
                }
            }
            if (_time.GetUtcNow() >= deadline)
            {
                _child = null;
                KillProcessGroup(pid);
                await WaitForStderrAsync(process);
                process.Dispose();
                return $"master pid {pid} not up within {_options.StartTimeout.TotalSeconds:0.###} s (pid file or health probe)";
            }
            // The pid file and the probe are polled; an exit or an [emerg] line ends the wait early.
            await Task.WhenAny(startFailed.Task, Task.Delay(StartPollInterval, _time, _lifetime.Token));
            if (_lifetime.IsCancellationRequested) return "supervisor stopping";
        }
    }

    /// <summary>
    /// null once the master has new workers after a SIGHUP; else why the reload did not take: an [emerg] line in the
    /// error log since the signal (nginx keeps the old workers), the master's exit, or no new workers in time.
    /// </summary>
    private async Task<string?> ConfirmReloadAsync(int pid, int[] workersBefore, long errorLogOffset, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + _options.ReloadTimeout;
        while (true)
        {
            if (LinuxProcessApi.ChildPids(pid).Except(workersBefore).Any()) return null;
            var logged = ReadFrom(_paths.ErrorLogPath, errorLogOffset);
            var emergency = logged.Split('\n').FirstOrDefault(NginxErrorOutput.IsEmergency);
            if (emergency is not null) return NginxErrorOutput.FirstError(emergency);
            if (!IsNginxMaster(pid)) return $"master pid {pid} exited during the reload";
            if (_time.GetUtcNow() >= deadline)
                return $"no new workers within {_options.ReloadTimeout.TotalSeconds:0.###} s of the reload signal to master pid {pid}";
            await Task.Delay(ReloadPollInterval, _time, cancellationToken);
        }
    }

    private static readonly TimeSpan ReloadPollInterval = TimeSpan.FromMilliseconds(10);

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

    private async Task OnChildExitedAsync(Process process)
    {
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            // Exits we caused (failed start, stop) are already handled where we caused them.
            if (!ReferenceEquals(process, _child) || _stopping) return;
            _child = null;
            var pid = process.Id;
            // Orphaned workers keep the listening sockets: clear the whole group before restarting.
            KillProcessGroup(pid);
            var reason = $"master pid {pid} exited ({DescribeExit(process.ExitCode)})";
            _log($"nginx: {reason}");
            var decision = Observe(s => s.MasterExited(reason));
            process.Dispose();
            if (decision.Action == SupervisorAction.StartNow) await StartChildLoopAsync();
            else if (decision.Action == SupervisorAction.StartAfterDelay) ScheduleStart(decision.Delay);
        }
        catch (Exception ex)
        {
            _log($"nginx: handling the exit of nginx failed: {ex.Message}");
        }
        finally
        {
            _gate.Release();
        }
    }

    private void ScheduleStart(TimeSpan delay)
    {
        CancelScheduledStart();
        var generation = ++_restartGeneration;
        _log($"nginx: next start attempt in {delay.TotalSeconds:0.###} s");
        _restartTimer = _time.CreateTimer(_ => _ = RunScheduledStartAsync(generation), null, delay, Timeout.InfiniteTimeSpan);
    }

    private void CancelScheduledStart()
    {
        _restartGeneration++;
        _restartTimer?.Dispose();
        _restartTimer = null;
    }

    private async Task RunScheduledStartAsync(long generation)
    {
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            if (generation != _restartGeneration || _stopping || _child is not null) return;
            _restartTimer?.Dispose();
            _restartTimer = null;
            await StartChildLoopAsync();
        }
        catch (Exception ex)
        {
            _log($"nginx: scheduled start failed: {ex.Message}");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A master left by an earlier agent (its own session, so it outlived it) would hold our ports.</summary>
    private void KillLeftoverMaster()
    {
        if (ReadPidFile(_paths.PidFilePath) is not { } pid || !IsNginxMaster(pid)) return;
        _log($"nginx: killing leftover master pid {pid} from an earlier run (pid file {_paths.PidFilePath})");
        KillProcessGroup(pid);
        LinuxProcessApi.TrySignal(pid, LinuxProcessApi.SIGKILL, out _);
    }

    private static void KillProcessGroup(int groupLeaderPid)
    {
        // Our children run through setsid: the master leads a group that holds its workers. While any member lives
        // the group id cannot be reused, so this never hits an unrelated process.
        LinuxProcessApi.TrySignal(-groupLeaderPid, LinuxProcessApi.SIGKILL, out _);
    }

    // ---- sidecar mode -----------------------------------------------------------------------------------------

    private async Task SidecarLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await WatchSidecarOnceAsync(cancellationToken);
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

    /// <summary>Finds a master and waits for its exit, or waits one poll interval when there is none.</summary>
    private async Task WatchSidecarOnceAsync(CancellationToken cancellationToken)
    {
        using var watch = FindSidecarMaster();
        if (watch is null)
        {
            await Task.Delay(_options.PidFilePollInterval, _time, cancellationToken);
            return;
        }

        await UnderGateAsync(() =>
        {
            if (_stopping) return;
            _sidecarPid = watch.Pid;
            _masterGeneration++;
            _log($"nginx: watching sidecar master pid {watch.Pid}");
            Observe(s => { s.SidecarMasterFound(watch.Pid); return NginxDecision.None; });
        });
        await watch.Exited.WaitAsync(cancellationToken);
        if (!_stopping) MasterExited?.Invoke();
        await UnderGateAsync(() =>
        {
            if (_stopping) return;
            _sidecarPid = null;
            _lastDeadSidecarPid = watch.Pid;
            var reason = $"sidecar master pid {watch.Pid} exited";
            _log($"nginx: {reason}");
            Observe(s => s.MasterExited(reason));
        });
    }

    private PidExitWatch? FindSidecarMaster()
    {
        var pid = ReadPidFile(_paths.PidFilePath);
        string? problem = null;
        PidExitWatch? watch = null;
        if (pid is null) problem = $"no readable pid in {_paths.PidFilePath}";
        else if (pid == _lastDeadSidecarPid) problem = $"pid file still names the exited master {pid}";
        else if (!PidExitWatch.TryOpen(pid.Value, out watch, out var openFailure)) problem = openFailure;
        // A zombie or a reused pid must not count as a live master.
        else if (!IsNginxMaster(pid.Value) || watch!.Exited.IsCompleted)
        {
            watch!.Dispose();
            watch = null;
            problem = $"pid {pid} is not a live nginx master";
        }

        if (problem != _sidecarLookupProblem && problem is not null) _log($"nginx: sidecar master not found: {problem}");
        _sidecarLookupProblem = problem;
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
                if (!_state.WantsProbe) continue;
                var generation = Volatile.Read(ref _masterGeneration);
                var failure = await _probe!.CheckAsync(cancellationToken);
                await UnderGateAsync(() =>
                {
                    // A result about a master that has since been replaced says nothing about the new one.
                    if (generation != _masterGeneration || _stopping) return;
                    var decision = Observe(s => failure is null ? s.ProbeSucceeded() : s.ProbeFailed(failure));
                    if (decision.Action == SupervisorAction.KillMaster && _child is { } child)
                    {
                        _log($"nginx: killing unresponsive master pid {child.Id}; its exit triggers the restart");
                        KillProcessGroup(child.Id);
                    }
                });
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

    private async Task WriteCandidateAsync(string text, CancellationToken cancellationToken)
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
        await using var stream = new FileStream(_paths.CandidatePath, options);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
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

    private NginxDecision Observe(Func<NginxHealthState, NginxDecision> input)
    {
        var before = _state.Current;
        var decision = input(_state);
        _healthReason = _state.Reason;
        _current = _state.Current;
        if (before != _state.Current)
        {
            _log($"nginx: health {before} -> {_state.Current}: {_state.Reason}");
            try
            {
                HealthChanged?.Invoke(_state.Current);
            }
            catch (Exception ex)
            {
                _log($"nginx: a HealthChanged handler threw: {ex.Message}");
            }
        }
        return decision;
    }

    private async Task UnderGateAsync(Action action)
    {
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            action();
        }
        finally
        {
            _gate.Release();
        }
    }

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
