using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using NginxHa.Bench.OperatorScale;

// operator-scale: issue 9 section 5 against a running test cluster (bench/operator-scale.sh starts one).
// Creates the nodes, pools and groups, plays the agents, starts the operator as a process, measures, stops it.
const string Usage = "operator-scale --kubeconfig FILE --operator PATH [--nodes 200] [--groups 500] [--pools 500] [--rack-size 4]\n" +
                     "               [--changes 100] [--operator-log FILE] [--operator-arg ARG ...] [--cpu-pid NAME=PID ...] [--markdown FILE] [--json FILE]\n" +
                     "operator-scale --plan-cost ROUNDS [--nodes 200] [--groups 500] [--pools 500] [--rack-size 4]   (CPU per plan, no cluster)\n" +
                     "operator-scale --apply-cost ROUNDS --kubeconfig FILE [--nodes 200] ...   (the planned NodeHaConfigs applied, no operator)";
var planCostRounds = 0;
var applyCostRounds = 0;
string? kubeconfig = null, operatorPath = null, operatorLog = null, markdown = null, json = null;
var operatorArgs = new List<string>(); // more for `nginx-ha-operator run`, e.g. --metrics-address none to weigh /metrics
var cpuPids = new Dictionary<string, int>(StringComparer.Ordinal); // --cpu-pid NAME=PID: other processes whose CPU is reported
var options = new ScaleOptions();
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]}: a value is required");
        int Number()
        {
            var name = args[i];
            var text = Value();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new ArgumentException($"{name}: \"{text}\" is not a number");
        }
        switch (args[i])
        {
            case "--kubeconfig": kubeconfig = Value(); break;
            case "--operator": operatorPath = Value(); break;
            case "--operator-log": operatorLog = Value(); break;
            case "--operator-arg": operatorArgs.Add(Value()); break;
            case "--cpu-pid":
                var named = Value().Split('=', 2);
                cpuPids[named[0]] = named.Length == 2 && int.TryParse(named[1], NumberStyles.None, CultureInfo.InvariantCulture, out var cpuPid)
                    ? cpuPid : throw new ArgumentException($"--cpu-pid: \"{string.Join('=', named)}\" is not NAME=PID");
                break;
            case "--markdown": markdown = Value(); break;
            case "--json": json = Value(); break;
            case "--nodes": options = options with { Nodes = Number() }; break;
            case "--groups": options = options with { Groups = Number() }; break;
            case "--pools": options = options with { Pools = Number() }; break;
            case "--rack-size": options = options with { RackSize = Number() }; break;
            case "--changes": options = options with { Changes = Number() }; break;
            case "--plan-cost": planCostRounds = Number(); break;
            case "--apply-cost": applyCostRounds = Number(); break;
            default: throw new ArgumentException($"{args[i]}: unknown argument");
        }
    }
    if (planCostRounds > 0)
    {
        if (options.Problems().FirstOrDefault() is { } bad) throw new ArgumentException(bad);
        Console.WriteLine(PlanCost.Measure(options, planCostRounds));
        return 0;
    }
    if (kubeconfig is null) throw new ArgumentException("--kubeconfig is required");
    if (applyCostRounds > 0)
    {
        if (options.Problems().FirstOrDefault() is { } bad) throw new ArgumentException(bad);
    }
    else if (operatorPath is null) throw new ArgumentException("--operator is required (the nginx-ha-operator executable)");
    if (options.Problems().FirstOrDefault() is { } problem) throw new ArgumentException(problem);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"operator-scale: {e.Message}\nusage: {Usage}");
    return 2;
}

void Log(string message) => Console.Error.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {message}");

var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig);
config.DisableHttp2 = true;
using var client = new Kubernetes(config, new SimulatorUserAgent());
if (applyCostRounds > 0)
{
    Console.WriteLine(await ApplyCost.MeasureAsync(client, options, applyCostRounds, CancellationToken.None));
    return 0;
}
using var http = new HttpClient { BaseAddress = new Uri(config.Host) };
async Task<IReadOnlyDictionary<string, long>> RequestCounts(CancellationToken ct)
{
    var body = JsonNode.Parse(await http.GetStringAsync("/_testcluster/requests", ct))!.AsObject();
    return body.ToDictionary(p => p.Key, p => p.Value!.GetValue<long>(), StringComparer.Ordinal);
}

using var stop = new CancellationTokenSource();
Process? op = null;
IReadOnlyDictionary<string, double> ProcessCpu()
{
    var cpu = cpuPids.ToDictionary(p => p.Key, p => Cpu(p.Value).TotalMilliseconds);
    cpu["simulator"] = Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds;
    cpu["operator"] = op is null ? 0 : Cpu(op.Id).TotalMilliseconds;
    return cpu;
}
var run = new ScaleRun(client, options, Log, RequestCounts, () => op is null ? TimeSpan.Zero : Cpu(op.Id), ProcessCpu);
await run.CreateAsync(stop.Token);
var watching = await run.WatchAsync(stop.Token);

var metricsPort = FreePort();
StreamWriter? opLog = operatorLog is null ? null : new StreamWriter(operatorLog) { AutoFlush = true };
var rss = new List<(double Seconds, long RssKb)>();
var clock = Stopwatch.StartNew();
Task? sampler = null;
long hwm = 0;
var memory = new MemoryLines();
try
{
    var initial = await run.InitialAsync(_ =>
    {
        var info = new ProcessStartInfo(operatorPath!) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "run", "--kubeconfig", kubeconfig, "--no-leader-election", "--metrics-address", $"127.0.0.1:{metricsPort}", "--memory-log", "1s" }.Concat(operatorArgs))
            info.ArgumentList.Add(a);
        op = Process.Start(info) ?? throw new InvalidOperationException($"{operatorPath} did not start");
        op.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            memory.Add(e.Data);
            lock (rss) opLog?.WriteLine(e.Data);
        };
        op.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (rss) opLog?.WriteLine(e.Data); };
        op.BeginErrorReadLine();
        op.BeginOutputReadLine();
        clock.Restart();
        sampler = SampleAsync(op.Id, stop.Token);
        Log($"operator started, PID {op.Id}, metrics on 127.0.0.1:{metricsPort}");
        return Task.CompletedTask;
    }, stop.Token);
    var rssAfterInitial = Status(op!.Id, "VmRSS");
    memory.MarkInitial();
    Log($"initial reconcile: all {initial.Nodes} NodeHaConfigs in {initial.AllWritten.TotalMilliseconds:F0} ms, last write at {initial.LastWrite.TotalMilliseconds:F0} ms, {initial.Writes} writes; VmRSS {rssAfterInitial / 1024.0:F1} MB");
    var tail = await run.SettleAsync(stop.Token);
    var changes = await run.ChangesAsync(stop.Token);
    var rssEnd = Status(op.Id, "VmRSS");
    var metrics = await PlanMetricsAsync(metricsPort);
    // After the scrape: serving /metrics is part of the operator's steady state (Prometheus scrapes it), and its code
    // comes back into memory after the start-up trims gave it back.
    hwm = Status(op.Id, "VmHWM");
    var report = Report.Build(options, initial, tail, changes, rssAfterInitial, rssEnd, hwm, rss.Count == 0 ? 0 : rss.Max(r => r.RssKb), run.Agents, metrics,
        memory.Breakdown());
    Console.WriteLine(report.Text);
    if (markdown is not null) await File.WriteAllTextAsync(markdown, report.Markdown);
    if (json is not null) await File.WriteAllTextAsync(json, report.Json);
    return report.Failures.Count == 0 ? 0 : 1;
}
finally
{
    if (op is { HasExited: false })
    {
        _ = Signal.Kill(op.Id, 15); // SIGTERM: the operator stops its workers and exits
        if (!op.WaitForExit(10_000)) op.Kill();
        op.WaitForExit();
    }
    op?.Dispose();
    await stop.CancelAsync();
    try { await watching.WaitAsync(TimeSpan.FromSeconds(10)); } catch (Exception e) when (e is OperationCanceledException or TimeoutException) { }
    if (sampler is not null) try { await sampler; } catch (OperationCanceledException) { }
    opLog?.Dispose();
}

async Task SampleAsync(int pid, CancellationToken ct)
{
    while (!ct.IsCancellationRequested)
    {
        var kb = Status(pid, "VmRSS");
        if (kb > 0) lock (rss) rss.Add((clock.Elapsed.TotalSeconds, kb));
        await Task.Delay(200, ct);
    }
}

static long Status(int pid, string field)
{
    try
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
    catch (IOException) { return 0; }
}

// utime + stime of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks of 100 Hz on Linux).
static TimeSpan Cpu(int pid)
{
    try
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }
    catch (IOException) { return TimeSpan.Zero; }
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

async Task<string> PlanMetricsAsync(int port)
{
    try
    {
        using var metricsClient = new HttpClient();
        var text = await metricsClient.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        var lines = text.Split('\n').Where(l => l.StartsWith("nginx_ha_operator_reconcile_duration_", StringComparison.Ordinal)
            && (l.Contains("_sum", StringComparison.Ordinal) || l.Contains("_count", StringComparison.Ordinal)));
        return string.Join('\n', lines);
    }
    catch (HttpRequestException e) { return $"(no /metrics: {e.Message})"; }
}

static class Signal
{
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static extern int Kill(int pid, int signal);
}
