using NginxHa.Core.Nginx;
using NginxHa.Core.Planning;
using NginxHa.NodeAgent.Sources;
using NginxHa.NodeAgent.Standalone;

namespace NginxHa.NodeAgent.Tests.Standalone;

/// <summary>The standalone agent remembers its VRIDs in the state dir, so a group added in front never renumbers a running one.</summary>
public sealed class VridMemoryTests : IDisposable
{
    readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("nginx-ha-vrids-");

    static string Site(params (string Name, string Vip)[] groups) =>
        """
        apiVersion: v1
        kind: Node
        metadata: {name: lb1, labels: {role: edge}}
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: lb2, labels: {role: edge}}
        """ + string.Concat(groups.Select(g => $$$"""

        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {name: {{{g.Name}}}, namespace: edge}
        spec:
          mode: ActivePassive
          virtualIPs: [{{{g.Vip}}}/24]
          nodeSelector: {matchLabels: {role: edge}}
        """));

    NginxHa.Core.Resources.NodeHaConfig Load(string text, string? stateDirectory)
    {
        var file = Path.Combine(_dir.FullName, "site.yaml");
        File.WriteAllText(file, text);
        var loaded = new FileConfigSource([file], "lb1", TimeProvider.System, _ => { }, stateDirectory).Load("test");
        var update = Assert.IsType<NodeConfigUpdate>(loaded);
        return update.Config;
    }

    static int VridOf(NginxHa.Core.Resources.NodeHaConfig config, string group) =>
        config.Spec.VrrpInstances.Single(i => i.Name.StartsWith($"edge/{group}/")).VirtualRouterId;

    [Fact]
    public void RunningGroupKeepsItsVridAcrossARestartWhenAGroupThatSortsFirstTakesItsHome()
    {
        var home = Planner.HomeVirtualRouterId("edge/web");
        var rival = Enumerable.Range(0, 100_000).Select(i => $"a{i}").First(n => Planner.HomeVirtualRouterId($"edge/{n}") == home);
        var state = Directory.CreateDirectory(Path.Combine(_dir.FullName, "state")).FullName;
        var first = Load(Site(("web", "198.18.0.201")), state);

        // A restart: a new source reads the memory back from the state dir.
        var second = Load(Site(("web", "198.18.0.201"), (rival, "198.18.0.202")), state);
        var forgetful = Load(Site(("web", "198.18.0.201"), (rival, "198.18.0.202")), null);

        Assert.Equal(home, VridOf(first, "web"));
        Assert.Equal(home, VridOf(second, "web"));
        Assert.NotEqual(home, VridOf(second, rival));
        Assert.NotEqual(home, VridOf(forgetful, "web"));
    }

    [Fact]
    public void MemoryFileIsPrivateAndADamagedLineIsForgotten()
    {
        VridMemory.Save(_dir.FullName, [new VrrpAllocation("edge/web", null, 7, "lb1"), new VrrpAllocation("edge/aa", "198.18.0.9", 9, "lb2")]);
        File.AppendAllText(Path.Combine(_dir.FullName, "vrids"), "garbage\n");

        var back = VridMemory.Load(_dir.FullName);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir.FullName, "vrids")));
        Assert.Equal([new VrrpAllocation("edge/web", null, 7, ""), new VrrpAllocation("edge/aa", "198.18.0.9", 9, "")], back);
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
