
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
            string[] wait = ["wait", "--for", "condition=Established", "--timeout=60s", .. CrdNames.Select(name => $"crd/{name}")];
            // kubectl wait gives up at once ("accessor error") on a CRD the server has not yet given any condition
            // (seen in CI right after the apply): ask again while that is its answer, then let Ok report the last one.
            for (var attempt = 0; attempt < 50 && Server.Run(wait) is { ExitCode: not 0, Error: var error }
                                  && error.Contains(".status.conditions accessor error", StringComparison.Ordinal); attempt++)
                Thread.Sleep(100);
            Server.Ok(wait);
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
