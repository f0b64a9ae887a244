using System.Runtime.CompilerServices;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// The project's test cluster, started by <c>scripts/cluster.sh up DIR</c> in a fresh directory and stopped by
/// <c>scripts/cluster.sh down DIR</c> (by recorded PID): the real CRD API server on etcd, and the stand-in for
/// core/v1 and apps/v1, behind one front URL. kubectl runs against the front, as a user's would.
/// </summary>
public sealed class TestCluster : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nha-crds-cluster-");
    readonly string _script = RepositoryPath("scripts/cluster.sh");
    bool _up;

    public string Kubeconfig => Path.Combine(_dir.FullName, "kubeconfig");
    public string Kubectl { get; } = RequiredTool.Locate("kubectl", "kubectl");

    public TestCluster()
    {
        try
        {
            Script(TimeSpan.FromMinutes(10), "build"); // a no-op when the cached server and the front are current
            _up = true;
            var output = Script(TimeSpan.FromMinutes(2), "up", _dir.FullName);
            Assert.Contains($"export KUBECONFIG={Kubeconfig}", output);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static string RepositoryPath(string relative, [CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", relative));

    /// <summary>Runs kubectl against the cluster; returns exit code and output.</summary>
    public (int ExitCode, string Output, string Error) Run(params string[] arguments) =>
        RequiredTool.Run(Kubectl, ["--kubeconfig", Kubeconfig, .. arguments], TimeSpan.FromSeconds(90));

    /// <summary>Runs kubectl and fails the test, showing stderr, unless it exits 0.</summary>
    public string Ok(params string[] arguments)
    {
        var (exit, output, error) = Run(arguments);
        Assert.True(exit == 0, $"kubectl {string.Join(' ', arguments)} exited {exit}:\n{error}\n{output}");
        return output;
    }

    /// <summary>Writes YAML to a file in the cluster's directory and returns its path, for `kubectl -f`.</summary>
    public string WriteManifest(string name, string yaml)
    {
        var path = Path.Combine(_dir.FullName, "manifests", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, yaml);
        return path;
    }

    string Script(TimeSpan timeout, params string[] arguments)
    {
        var (exit, output, error) = RequiredTool.Run("/bin/bash", [_script, .. arguments], timeout);
        Assert.True(exit == 0, $"scripts/cluster.sh {string.Join(' ', arguments)} exited {exit}:\n{error}\n{output}");
        return output;
    }

    public void Dispose()
    {
        try
        {
            if (_up) Script(TimeSpan.FromMinutes(1), "down", _dir.FullName);
        }
        finally
        {
            _dir.Delete(recursive: true);
        }
    }
}
