using System.Runtime.CompilerServices;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>One CRD API server for the tests of the "kubernetes" collection, with crds/ applied and established.</summary>
public sealed class CrdCluster : IDisposable
{
    public CrdApiServer Server { get; } = new();

    public CrdCluster()
    {
        try
        {
            Server.Ok("apply", "-f", CrdDirectory());
            Server.Ok("wait", "--for", "condition=Established", "--timeout=60s",
                "crd/virtualipgroups.nginx-ha.io", "crd/nginxbackendpools.nginx-ha.io", "crd/nodehaconfigs.nginx-ha.io");
        }
        catch
        {
            Server.Dispose();
            throw;
        }
    }

    public static string RepositoryPath(string relative, [CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "..", relative));

    public static string CrdDirectory() => RepositoryPath("crds");

    public static string[] ExampleFiles() =>
        Directory.GetFiles(RepositoryPath("examples"), "*.yaml").Order(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// An example without its core/v1 Node documents (standalone mode's stand-ins for the cluster's nodes), which
    /// the CRD API server does not serve. The other documents stay byte for byte as written.
    /// </summary>
    public static string WithoutNodes(string yaml) =>
        string.Join("\n---\n", yaml.Split("\n---\n").Where(document => !document.Split('\n').Contains("kind: Node")));

    public void Dispose() => Server.Dispose();
}

[CollectionDefinition(Name)]
public sealed class CrdClusterCollection : ICollectionFixture<CrdCluster>
{
    public const string Name = "crd-api-server";
}
