using System.Diagnostics;
using System.Runtime.CompilerServices;
using k8s;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>
/// The project's test cluster (scripts/cluster.sh: the real CRD API server on etcd, the core/v1 stand-in, one
/// front URL) for one test class, in its own directory on free ports; stopped with <c>cluster.sh down</c> (by PID).
/// </summary>
public sealed class ApiServer : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nha-optest-").FullName;

    public static string RepositoryPath(string relative, [CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", relative));

    private static string Script => RepositoryPath("scripts/cluster.sh");

    public string KubeconfigPath => Path.Combine(_dir, "kubeconfig");

    /// <summary>The front's port on 127.0.0.1 (plain HTTP): what every client talks to.</summary>
    public int Port { get; private set; }

    public async Task InitializeAsync()
    {
        await Run("bash", [Script, "build"], TimeSpan.FromMinutes(10)); // a no-op when the cached build is current
        await Run("bash", [Script, "up", _dir], TimeSpan.FromMinutes(2));
        Port = new Uri(Env("FRONT_URL")).Port;
    }

    public async Task DisposeAsync()
    {
        try { await Run("bash", [Script, "down", _dir], TimeSpan.FromMinutes(1)); }
        finally { try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } }
    }

    private string Env(string name) =>
        File.ReadLines(Path.Combine(_dir, "cluster.env")).Last(l => l.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];

    /// <summary>
    /// Stops the real API server (not etcd, not the front) and starts it again with the same command line, so
    /// its watch cache starts afresh at etcd's current revision: older resourceVersions are now 410 Gone.
    /// </summary>
    public async Task RestartApiServerAsync()
    {
        var pidFile = Path.Combine(_dir, "apiserver.pid");
        var pid = int.Parse((await File.ReadAllTextAsync(pidFile)).Trim());
        var argv = (await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).TrimEnd('\0').Split('\0');
        using (var process = Process.GetProcessById(pid))
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        var (_, output) = await Run("bash",
            ["-c", "exec \"$@\" >>\"$LOG\" 2>&1 </dev/null & echo $!", "restart", .. argv],
            TimeSpan.FromSeconds(10), new() { ["LOG"] = Path.Combine(_dir, "apiserver.log") });
        await File.WriteAllTextAsync(pidFile, output.Trim() + "\n"); // `down` stops the new process
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var (code, _) = await Run("kubectl", ["--kubeconfig", Path.Combine(_dir, "server.kubeconfig"), "get", "--raw", "/healthz"],
                TimeSpan.FromSeconds(10), check: false);
            if (code == 0) return;
            Assert.True(DateTime.UtcNow < deadline, "the API server did not come back within 60 s");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// A kubeconfig (mode 0600) that talks to the real server directly (TLS, not the front) as a service account,
    /// with a test token (tests/TestCluster/RealServer/tokens.go): the server authenticates it as kube-apiserver
    /// authenticates a pod-bound token, with the node claim (user extra authentication.kubernetes.io/node-name)
    /// when <paramref name="node"/> is given. The ValidatingAdmissionPolicy plugin sees that user.
    /// </summary>
    public async Task<string> ServiceAccountKubeconfigAsync(string serviceAccountNamespace, string serviceAccount, string? node)
    {
        var token = $"nha-test-sa:{serviceAccountNamespace}:{serviceAccount}" + (node is null ? "" : ":" + node);
        var path = Path.Combine(_dir, $"sa-{serviceAccount}-{node ?? "no-node"}.kubeconfig");
        var yaml = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: real-server
              cluster:
                server: "{Env("SERVER_URL")}"
                certificate-authority: "{Path.Combine(_dir, "pki", "ca.crt")}"
            users:
            - name: sa
              user:
                token: "{token}"
            contexts:
            - name: sa
              context:
                cluster: real-server
                user: sa
            current-context: sa

            """;
        await File.WriteAllTextAsync(path, "", CancellationToken.None);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllTextAsync(path, yaml);
        return path;
    }

    /// <summary>kubectl with another kubeconfig: its exit code and stdout + stderr, whatever the exit code.</summary>
    public async Task<(int ExitCode, string Output)> KubectlAsAsync(string kubeconfig, params string[] args) =>
        await Run("kubectl", ["--kubeconfig", kubeconfig, .. args], TimeSpan.FromSeconds(60), check: false, withErrors: true);

    public KubernetesClientConfiguration Config(int? viaPort = null)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(KubeconfigPath);
        if (viaPort is { } port) config.Host = $"http://127.0.0.1:{port}";
        config.DisableHttp2 = true;
        return config;
    }

    public IKubernetes Client(int? viaPort = null) => new Kubernetes(Config(viaPort));

    public Task KubectlAsync(params string[] args) => Run("kubectl", ["--kubeconfig", KubeconfigPath, .. args], TimeSpan.FromSeconds(60));

    /// <summary>kubectl's stdout; fails the test on a non-zero exit.</summary>
    public async Task<string> KubectlOutputAsync(params string[] args) =>
        (await Run("kubectl", ["--kubeconfig", KubeconfigPath, .. args], TimeSpan.FromSeconds(60))).Item2;

    /// <summary>kubectl's exit code and stdout + stderr, whatever the exit code.</summary>
    public async Task<(int ExitCode, string Output)> KubectlResultAsync(params string[] args) =>
        await Run("kubectl", ["--kubeconfig", KubeconfigPath, .. args], TimeSpan.FromSeconds(60), check: false, withErrors: true);

    /// <summary>Applies CRDs (YAML text) and waits until each of the given resource paths is served (e.g. /apis/GROUP/VERSION/PLURAL).</summary>
    public async Task ApplyCrdsAsync(string yaml, params string[] paths)
    {
        if (yaml.Length > 0)
        {
            var file = Path.Combine(_dir, $"crd-{Guid.NewGuid():N}.yaml");
            await File.WriteAllTextAsync(file, yaml);
            await KubectlAsync("apply", "-f", file);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        foreach (var path in paths)
        {
            while ((await Run("kubectl", ["--kubeconfig", KubeconfigPath, "get", "--raw", path], TimeSpan.FromSeconds(10), check: false)).Item1 != 0)
            {
                Assert.True(DateTime.UtcNow < deadline, $"{path} not served within 30 s");
                await Task.Delay(100);
            }
        }
    }

    private static async Task<(int, string)> Run(string file, string[] args, TimeSpan timeout, Dictionary<string, string>? env = null, bool check = true, bool withErrors = false)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new()) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}");
        }
        var output = await stdout;
        if (check) Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} exited {process.ExitCode}:\n{output}\n{await stderr}");
        return (process.ExitCode, withErrors ? output + await stderr : output);
    }
}
