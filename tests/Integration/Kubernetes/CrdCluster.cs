
namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>One test cluster for the tests of the collection, with crds/ applied and established.</summary>
public sealed class CrdCluster : IDisposable
{
    public static readonly string[] CrdNames = ["virtualipgroups.nginx-ha.io", "nginxbackendpools.nginx-ha.io", "nodehaconfigs.nginx-ha.io"];

    public TestCluster Server { get; } = new();

    public CrdCluster()
    {
        try
        {
            Server.Ok("apply", "-f", CrdDirectory());
            Server.Ok(["wait", "--for", "condition=Established", "--timeout=60s", .. CrdNames.Select(name => $"crd/{name}")]);
        }
        catch
        {
            Server.Dispose();
            throw;
        }
    }

    public static string CrdDirectory() => TestCluster.RepositoryPath("crds");

    public static string[] ExampleFiles() =>
        Directory.GetFiles(TestCluster.RepositoryPath("examples"), "*.yaml").Order(StringComparer.Ordinal).ToArray();

    public void Dispose() => Server.Dispose();
}

[CollectionDefinition(Name)]
public sealed class CrdClusterCollection : ICollectionFixture<CrdCluster>
{
    public const string Name = "crd-api-server";
}
