using System.Runtime.CompilerServices;
using NginxHa.Integration.Tests.Support;
using NginxHa.TestCluster.Tests.Support;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// kubectl against the project's test cluster: <see cref="ClusterFixture"/> (linked from tests/TestCluster.Tests)
/// runs <c>scripts/cluster.sh up</c> in a directory of its own and <c>down</c> (by recorded PID) at the end: the
/// real CRD API server on etcd and the stand-in for core/v1 and apps/v1, behind one front URL.
/// </summary>
public sealed class TestCluster : IDisposable
{
    readonly ClusterFixture _cluster = new();
    readonly DirectoryInfo _manifests = Directory.CreateTempSubdirectory("nha-crds-manifests-");

    public string Kubeconfig => _cluster.Kubeconfig;

    /// <summary>The front's URL (plain http on 127.0.0.1).</summary>
    public Uri Url => _cluster.Url;
    public string Kubectl { get; } = RequiredTool.Locate("kubectl", "kubectl");

    public static string RepositoryPath(string relative, [CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", relative));

    /// <summary>The API server goes away (etcd and the front stay): every client sees errors until <see cref="StartApiServer"/>.</summary>
    public void StopApiServer() => _cluster.StopApiServer();

    public void StartApiServer() => _cluster.StartApiServer();

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

    /// <summary>Writes YAML to a file of its own and returns its path, for `kubectl -f`.</summary>
    public string WriteManifest(string name, string yaml)
    {
        var path = Path.Combine(_manifests.FullName, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public void Dispose()
    {
        try
        {
            _cluster.Dispose();
        }
        finally
        {
            _manifests.Delete(recursive: true);
        }
    }
}
