using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using k8s;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>
/// A real Kubernetes CRD API server (upstream k8s.io/apiextensions-apiserver on etcd) for one test class, on
/// free ports and its own directory, started and stopped by PID through the lead's test-apiserver.sh.
/// </summary>
public sealed class ApiServer : IAsyncLifetime
{
    private const string Script = "/work/shared/tools/test-apiserver.sh";
    private readonly string _run = Path.Combine(Path.GetTempPath(), $"nha-optest-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
    private Dictionary<string, string> _env = new();

    public string KubeconfigPath => Path.Combine(_run, "kubeconfig");
    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(Script), $"{Script} is required (the test API server); it was not found");
        Port = FreePort();
        var etcd = FreePort(extra: 2); // etcd also listens on etcd+2 for metrics
        _env = new()
        {
            ["RUN"] = _run,
            ["API_PORT"] = Port.ToString(),
            ["ETCD_PORT"] = etcd.ToString(),
            ["ETCD_PEER_PORT"] = FreePort().ToString(),
        };
        await RunScript("start", "--always-allow");
    }

    public async Task DisposeAsync()
    {
        try { await RunScript("stop"); }
        finally { try { Directory.Delete(_run, recursive: true); } catch (IOException) { } }
    }

    /// <summary>Stops the API server (not etcd) and starts it again: its watch cache starts afresh at etcd's current revision.</summary>
    public async Task RestartApiServerAsync()
    {
        var pid = int.Parse(await File.ReadAllTextAsync(Path.Combine(_run, "apiext.pid")));
        using (var process = Process.GetProcessById(pid))
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        await RunScript("start", "--always-allow");
    }

    public KubernetesClientConfiguration Config(int? viaPort = null)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(KubeconfigPath);
        if (viaPort is { } port) config.Host = $"https://127.0.0.1:{port}";
        config.DisableHttp2 = true;
        return config;
    }

    public IKubernetes Client(int? viaPort = null) => new Kubernetes(Config(viaPort));

    public async Task KubectlAsync(params string[] args)
    {
        var (code, output) = await Exec("kubectl", ["--kubeconfig", KubeconfigPath, .. args], new());
        Assert.True(code == 0, $"kubectl {string.Join(' ', args)} failed: {output}");
    }

    /// <summary>Applies CRDs (YAML text) and waits until they are served.</summary>
    public async Task ApplyCrdsAsync(string yaml, params string[] names)
    {
        var file = Path.Combine(_run, $"crd-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        await KubectlAsync("apply", "-f", file);
        foreach (var name in names)
            await KubectlAsync("wait", "--for=condition=Established", "--timeout=30s", $"crd/{name}");
    }

    private async Task RunScript(params string[] args)
    {
        var (code, output) = await Exec("bash", [Script, .. args], _env);
        Assert.True(code == 0, $"test-apiserver.sh {string.Join(' ', args)} failed:\n{output}");
    }

    private static async Task<(int, string)> Exec(string file, string[] args, Dictionary<string, string> env)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in env) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>A TCP port free on 127.0.0.1 now (and, with <paramref name="extra"/>, port + extra too).</summary>
    public static int FreePort(int extra = 0)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (extra == 0) return port;
            try
            {
                using var second = new TcpListener(IPAddress.Loopback, port + extra);
                second.Start();
                return port;
            }
            catch (SocketException) { }
        }
        throw new InvalidOperationException("no free port pair found");
    }
}
