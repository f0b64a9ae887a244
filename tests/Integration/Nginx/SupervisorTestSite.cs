using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using NginxHa.NodeAgent.Nginx;

namespace NginxHa.Integration.Tests.Nginx;

/// <summary>
/// One real nginx site for a test: a private prefix under /tmp, a free port on 127.0.0.1, configs that serve a fixed
/// text, and cleanup of everything the test started (supervisor, nginx processes by PID / process group, temp dir).
/// </summary>
internal sealed partial class SupervisorTestSite : IAsyncDisposable
{
    public const string NginxBinary = "/usr/sbin/nginx";
    public const string SetsidBinary = "/usr/bin/setsid";

    private readonly List<Process> _startedProcesses = [];
    private readonly List<string> _log = [];
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero })
    {
        Timeout = TimeSpan.FromSeconds(2),
    };

    public SupervisorTestSite()
    {
        // A missing tool must fail the test, not skip it.
        Assert.True(File.Exists(NginxBinary), $"nginx is required for this test but {NginxBinary} does not exist");
        Assert.True(File.Exists(SetsidBinary), $"setsid is required for this test but {SetsidBinary} does not exist");
        Prefix = Directory.CreateTempSubdirectory("ngx-sup-").FullName;
        Directory.CreateDirectory(Path.Combine(Prefix, "logs"));
        Directory.CreateDirectory(Path.Combine(Prefix, "conf"));
        Directory.CreateDirectory(Path.Combine(Prefix, "tmp"));
        Port = FreeLoopbackPort();
        Paths = NginxSupervisorOptions.PathsUnder(Prefix, NginxBinary);
    }

    public string Prefix { get; }
    public int Port { get; }
    public NginxPaths Paths { get; }
    public NginxSupervisor? Supervisor { get; private set; }
    public HealthRecorder Health { get; } = new();

    public Uri Url(string path = "/") => new($"http://127.0.0.1:{Port}{path}");

    public IReadOnlyList<string> LogLines
    {
        get
        {
            lock (_log) return _log.ToArray();
        }
    }

    /// <summary>A complete nginx.conf serving <paramref name="body"/> on / and "ok" on /healthz.</summary>
    public string Config(string body, string extraHttpDirectives = "") => $$"""
        worker_processes 2;
        error_log {{Prefix}}/logs/error.log notice;
        events { worker_connections 64; }
        http {
            access_log off;
            client_body_temp_path {{Prefix}}/tmp/body;
            proxy_temp_path {{Prefix}}/tmp/proxy;
            fastcgi_temp_path {{Prefix}}/tmp/fastcgi;
            uwsgi_temp_path {{Prefix}}/tmp/uwsgi;
            scgi_temp_path {{Prefix}}/tmp/scgi;
            {{extraHttpDirectives}}
            server {
                listen 127.0.0.1:{{Port}};
                location = /healthz { return 200 "ok\n"; }
                location / { return 200 "{{body}}\n"; }
            }
        }
        """;

    /// <param name="binary">Another nginx binary (a wrapper script), else <see cref="NginxBinary"/>.</param>
    public NginxSupervisorOptions Options(NginxSupervisionMode mode, bool withProbe = true, string? binary = null) => new()
    {
        Mode = mode,
        Paths = binary is null ? Paths : Paths with { Binary = binary },
        Probe = withProbe ? new NginxHealthProbeOptions(Url("/healthz"), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(500), 2) : null,
        StartTimeout = TimeSpan.FromSeconds(3),
        MaxStartAttempts = 3,
        Backoff = new RestartBackoffOptions(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10)),
        StopTimeout = TimeSpan.FromSeconds(3),
        PidFilePollInterval = TimeSpan.FromMilliseconds(100),
        SetsidBinary = SetsidBinary,
    };

    public async Task<NginxSupervisor> StartSupervisorAsync(NginxSupervisorOptions options, TimeProvider? time = null)
    {
        Supervisor = new NginxSupervisor(options, time ?? TimeProvider.System, line => { lock (_log) _log.Add(line); });
        Supervisor.HealthChanged += Health.Record;
        await Supervisor.StartAsync(CancellationToken.None);
        return Supervisor;
    }

    /// <summary>Starts nginx as the test's own process (sidecar mode: someone else's nginx), in its own process group.</summary>
    public Process StartForeignNginx()
    {
        var startInfo = new ProcessStartInfo(SetsidBinary) { UseShellExecute = false };
        startInfo.ArgumentList.Add(NginxBinary);
        foreach (var argument in NginxCommandLine.Run(Paths)) startInfo.ArgumentList.Add(argument);
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("nginx did not start");
        lock (_startedProcesses) _startedProcesses.Add(process);
        return process;
    }

    public async Task<string> GetAsync(string path = "/") => await _http.GetStringAsync(Url(path));

    /// <summary>nginx applies a reload asynchronously: wait (bounded) until the new text is served.</summary>
    public async Task WaitForBodyAsync(string expected, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        while (clock.Elapsed < timeout)
        {
            try
            {
                last = (await GetAsync()).Trim();
                if (last == expected) return;
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }
            await Task.Delay(25);
        }
        Assert.Fail($"expected body '{expected}' within {timeout}, last answer: '{last}'");
    }

    /// <summary>Count of SIGHUPs nginx itself logged ("reconfiguring"): an external reload counter.</summary>
    public int ReloadsLoggedByNginx()
    {
        var log = Path.Combine(Prefix, "logs", "error.log");
        return File.Exists(log) ? ReconfiguringLine().Matches(File.ReadAllText(log)).Count : 0;
    }

    public static int[] ChildPids(int pid)
    {
        var path = $"/proc/{pid}/task/{pid}/children";
        if (!File.Exists(path)) return [];
        return File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).Order().ToArray();
    }

    /// <summary>Alive and not a zombie (an unreaped orphan still answers kill -0).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static void Signal(int pid, int signal) => Assert.Equal(0, kill(pid, signal));

    public async ValueTask DisposeAsync()
    {
        if (Supervisor is not null) await Supervisor.DisposeAsync();
        lock (_startedProcesses)
        {
            foreach (var process in _startedProcesses)
            {
                // By PID (and its own process group, created by setsid), never by name.
                kill(-process.Id, 9);
                kill(process.Id, 9);
                process.WaitForExit(2000);
                process.Dispose();
            }
        }
        _http.Dispose();
        // Anything left in our prefix (e.g. a master the supervisor did not get to) is ended through its pid file.
        if (File.Exists(Paths.PidFilePath) && int.TryParse(File.ReadAllText(Paths.PidFilePath).Trim(), out var pid)
            && IsRunning(pid) && File.ReadAllText($"/proc/{pid}/cmdline").Contains(Prefix, StringComparison.Ordinal))
        {
            kill(-pid, 9);
            kill(pid, 9);
        }
        Directory.Delete(Prefix, recursive: true);
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"signal 1 \(SIGHUP\) received.*reconfiguring")]
    private static partial Regex ReconfiguringLine();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}

/// <summary>Records HealthChanged in order and lets a test wait for a state with a deadline.</summary>
internal sealed class HealthRecorder
{
    private readonly List<(NginxHealth Health, TimeSpan At)> _events = [];
    private readonly SemaphoreSlim _changed = new(0);
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public void Record(NginxHealth health)
    {
        lock (_events) _events.Add((health, _clock.Elapsed));
        _changed.Release();
    }

    public int Count
    {
        get
        {
            lock (_events) return _events.Count;
        }
    }

    public IReadOnlyList<NginxHealth> Since(int index)
    {
        lock (_events) return _events.Skip(index).Select(e => e.Health).ToArray();
    }

    public TimeSpan Now => _clock.Elapsed;

    /// <summary>Waits until <paramref name="health"/> is recorded at or after <paramref name="fromIndex"/>; returns when it was recorded.</summary>
    public async Task<TimeSpan> WaitForAsync(NginxHealth health, int fromIndex, TimeSpan timeout)
    {
        var deadline = _clock.Elapsed + timeout;
        while (true)
        {
            lock (_events)
            {
                for (var i = fromIndex; i < _events.Count; i++)
                    if (_events[i].Health == health) return _events[i].At;
            }
            var remaining = deadline - _clock.Elapsed;
            if (remaining <= TimeSpan.Zero || !await _changed.WaitAsync(remaining))
                Assert.Fail($"health {health} not reported within {timeout}; saw [{string.Join(", ", Since(fromIndex))}]");
        }
    }
}

/// <summary>
/// The system clock until <see cref="Freeze"/>; timers created while frozen do not run until <see cref="Thaw"/>, so a
/// test can prove that something happens on an event rather than on a timer (and still clean up after a failure).
/// </summary>
internal sealed class FreezableClock : TimeProvider
{
    private readonly List<DeferredTimer> _deferred = [];
    private bool _frozen;

    public void Freeze()
    {
        lock (_deferred) _frozen = true;
    }

    public void Thaw()
    {
        DeferredTimer[] held;
        lock (_deferred)
        {
            _frozen = false;
            held = _deferred.ToArray();
            _deferred.Clear();
        }
        foreach (var timer in held) timer.Start();
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        lock (_deferred)
        {
            if (!_frozen) return System.CreateTimer(callback, state, dueTime, period);
            var timer = new DeferredTimer(callback, state, dueTime, period);
            _deferred.Add(timer);
            return timer;
        }
    }

    /// <summary>Holds its schedule until the clock thaws, then runs on the system clock.</summary>
    private sealed class DeferredTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) : ITimer
    {
        private readonly Lock _gate = new();
        private ITimer? _running;
        private bool _disposed;
        private (TimeSpan Due, TimeSpan Period) _schedule = (dueTime, period);

        public void Start()
        {
            lock (_gate)
                if (!_disposed) _running = System.CreateTimer(callback, state, _schedule.Due, _schedule.Period);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (_gate)
            {
                if (_disposed) return false;
                _schedule = (dueTime, period);
                return _running?.Change(dueTime, period) ?? true;
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                _running?.Dispose();
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
