using System.Text.Json;
using NginxHa.Operator.Cli;

namespace NginxHa.Operator.Tests.Metrics;

/// <summary>
/// The runtime settings the operator ships in its runtimeconfig.json (the image publishes the same file; it sets no
/// DOTNET_* variables), each measured at 200 nodes, 500 groups and 500 pools (docs/benchmarks.md, "Operator memory").
/// Dropping one raises the operator's resident set by several MB without failing anything else.
/// </summary>
public class RuntimeSettingsTests
{
    static JsonElement ConfigProperties()
    {
        // The operator's build output beside its assembly (a referenced Exe's runtimeconfig.json is copied with it).
        var path = Path.ChangeExtension(typeof(RunCommand).Assembly.Location, ".runtimeconfig.json");
        Assert.True(File.Exists(path), $"{path} is missing");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties").Clone();
    }

    [Theory]
    [InlineData("System.GC.ConserveMemory", 9)] // gen2 compacted at the least fragmentation: GC committed about 40 MB, not 54
    [InlineData("System.GC.RegionSize", 1 << 20)] // 1 MiB regions, not 4 MiB
    [InlineData("System.GC.Gen0MaxBudget", 4 << 20)] // gen0 budget at most 4 MiB, not sized from the L3 cache
    public void The_GC_is_configured_for_a_small_heap(string name, long value)
    {
        Assert.True(ConfigProperties().TryGetProperty(name, out var actual), $"{name} is not in the operator's runtimeconfig.json");
        Assert.Equal(value, actual.GetInt64());
    }

    [Fact]
    public void The_instrumented_JIT_tier_is_off()
    {
        Assert.True(ConfigProperties().TryGetProperty("System.Runtime.TieredPGO", out var actual), "TieredPGO is not set");
        Assert.False(actual.GetBoolean());
    }
}
