using System.Diagnostics;
using System.Text;

namespace NginxHa.TestCluster.Tests.Support;

/// <summary>
/// One test cluster (scripts/cluster.sh up in a directory of its own) for a test class or collection: the real
/// CRD API server, etcd and the stand-in behind one front URL. Dispose stops every process by the PIDs the
/// script recorded (scripts/cluster.sh down) and removes the directory. Other test projects can link this file.
/// </summary>
public sealed class ClusterFixture : IDisposable
{
    public ClusterFixture()
    {
        RepoRoot = FindRepoRoot();
        Directory = Path.Combine(Path.GetTempPath(), $"nha-test-cluster-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        var started = Stopwatch.StartNew();
        var (code, output, error) = Script("up", TimeSpan.FromMinutes(2));
        if (code != 0)
        {
            Script("down", TimeSpan.FromMinutes(1));
            throw new InvalidOperationException($"scripts/cluster.sh up failed ({code}); run scripts/cluster.sh build first if the server is not built:\n{error}\n{output}");
        }
        StartTime = started.Elapsed;
        var export = output.Split('\n').FirstOrDefault(l => l.StartsWith("export KUBECONFIG=", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"scripts/cluster.sh up printed no export KUBECONFIG line:\n{output}");
        Kubeconfig = export["export KUBECONFIG=".Length..].Trim();
        var env = File.ReadAllLines(Path.Combine(Directory, "cluster.env"))
            .Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        Url = new Uri(env["FRONT_URL"]);
        ServerUrl = new Uri(env["SERVER_URL"]);
        EtcdEndpoint = env["ETCD_ENDPOINT"];
    }

    public string RepoRoot { get; }
    public string Directory { get; }
    public string Kubeconfig { get; }
    public Uri Url { get; }
    /// <summary>The real server itself (TLS, the cluster's CA), not the front: where test service account tokens work.</summary>
    public Uri ServerUrl { get; }
    public string EtcdEndpoint { get; }
    public TimeSpan StartTime { get; }

    /// <summary>Compacts etcd and the stand-in's history at their current revisions (scripts/cluster.sh compact).</summary>
    public void Compact()
    {
        var (code, output, error) = Script("compact", TimeSpan.FromSeconds(30));
        if (code != 0) throw new InvalidOperationException($"scripts/cluster.sh compact failed: {error}{output}");
    }

    /// <summary>Stops the real API server only (scripts/cluster.sh stop-server): etcd and the front keep running.</summary>
    public void StopApiServer() => ScriptOk("stop-server", TimeSpan.FromSeconds(30));

    /// <summary>Starts the real API server again on its port (scripts/cluster.sh start-server) and waits until it is healthy.</summary>
    public void StartApiServer() => ScriptOk("start-server", TimeSpan.FromMinutes(1));

    void ScriptOk(string command, TimeSpan timeout)
    {
        var (code, output, error) = Script(command, timeout);
        if (code != 0) throw new InvalidOperationException($"scripts/cluster.sh {command} failed ({code}): {error}{output}");
    }

    /// <summary>VmRSS in kB of each process the cluster runs (etcd, apiserver, front).</summary>
    public IReadOnlyDictionary<string, long> ResidentKilobytes() =>
        new[] { "etcd", "apiserver", "front" }.ToDictionary(p => p, p =>
        {
            var pid = File.ReadAllText(Path.Combine(Directory, p + ".pid")).Trim();
            var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
        });

    public (int Code, string Output, string Error) Kubectl(params string[] args) =>
        Run("kubectl", ["--kubeconfig", Kubeconfig, .. args], TimeSpan.FromMinutes(1));

    /// <summary>
    /// kubectl against the real server as a service account: a test token nha-test-sa:NAMESPACE:NAME[:NODE]
    /// (tests/TestCluster/RealServer/tokens.go; unsigned names, nothing secret).
    /// </summary>
    public (int Code, string Output, string Error) KubectlWithToken(string token, params string[] args) =>
        Run("kubectl", ["--kubeconfig", "/dev/null", "--server", ServerUrl.ToString(), "--certificate-authority",
            Path.Combine(Directory, "pki", "ca.crt"), "--token", token, .. args], TimeSpan.FromMinutes(1));

    (int, string, string) Script(string command, TimeSpan timeout) =>
        Run(Path.Combine(RepoRoot, "scripts", "cluster.sh"), [command, Directory], timeout);

    public static (int Code, string Output, string Error) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (error) error.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        process.WaitForExit();
        return (process.ExitCode, output.ToString(), error.ToString());
    }

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NginxHaOperator.sln"))) return dir.FullName;
        throw new InvalidOperationException("NginxHaOperator.sln not found above " + AppContext.BaseDirectory);
    }

    public void Dispose()
    {
        Script("down", TimeSpan.FromMinutes(1));
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
