using System.Runtime.CompilerServices;
using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace NginxHa.Core.Tests.Nginx;

/// <summary>
/// One golden case: testdata/NAME.yaml holds the pools (and node-local user settings),
/// testdata/NAME.golden the nginx.conf they must render to. Shared with the integration tests,
/// which render the same cases into a temporary directory and run `nginx -t` on them.
/// </summary>
public sealed class NginxRenderCase
{
    /// <summary>Where golden configs pretend nginx keeps its files; the nginx -t test substitutes a temp dir.</summary>
    public const string PlaceholderDirectory = "/run/nginx-ha/test";
    public const int PlaceholderHealthPort = 18080;

    public string Name { get; private init; } = "";
    public IReadOnlyList<(string Name, NginxBackendPoolSpec Spec)> Pools { get; private init; } = [];
    private RuntimeSettings Runtime { get; init; } = new();

    public string GoldenPath => Path.Combine(TestDataDirectory(), Name + ".golden");

    public NginxRenderInput Input(string directory, int healthPort) => new(
        Pools,
        NginxRuntimeOptions.UnderDirectory(directory, healthPort) with
        {
            User = Runtime.User,
            Group = Runtime.Group,
            ListenIPv6 = Runtime.ListenIPv6,
        });

    public static IReadOnlyList<NginxRenderCase> LoadAll() =>
        Directory.GetFiles(TestDataDirectory(), "*.yaml").Order(StringComparer.Ordinal).Select(Load).ToList();

    public static NginxRenderCase Load(string yamlPath)
    {
        var deserializer = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build();
        var file = deserializer.Deserialize<CaseFile>(File.ReadAllText(yamlPath));
        return new NginxRenderCase
        {
            Name = Path.GetFileNameWithoutExtension(yamlPath),
            Pools = file.Pools.Select(pool => (pool.Name, pool.Spec)).ToList(),
            Runtime = file.Runtime,
        };
    }

    public override string ToString() => Name;

    /// <summary>testdata/ next to this source file (also when compiled into the integration tests).</summary>
    public static string TestDataDirectory() => Path.Combine(Path.GetDirectoryName(ThisSourceFile())!, "testdata");

    private static string ThisSourceFile([CallerFilePath] string path = "") => path;

    private sealed class CaseFile
    {
        public RuntimeSettings Runtime { get; set; } = new();
        public List<PoolEntry> Pools { get; set; } = new();
    }

    private sealed class PoolEntry
    {
        public string Name { get; set; } = "";
        public NginxBackendPoolSpec Spec { get; set; } = new();
    }

    private sealed class RuntimeSettings
    {
        public string? User { get; set; }
        public string? Group { get; set; }
        public bool ListenIPv6 { get; set; } = true;
    }
}
