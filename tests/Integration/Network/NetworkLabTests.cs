using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Network;

public sealed class NetworkLabTests
{
    [Fact]
    public void Lab_builds_connected_namespaces_and_removes_them_on_dispose()
    {
        string[] namespaces;
        using (var lab = NetworkLab.Create("nio", 2))
        {
            namespaces = [lab.BridgeNamespace, .. lab.Nodes.Select(n => n.Namespace)];
            foreach (var name in namespaces)
                Assert.True(File.Exists(NetworkNamespace.PathOf(name)), $"namespace {name} missing");

            var a = lab.Nodes[0];
            string bridgePorts = Command.Run("ip", "-n", lab.BridgeNamespace, "-o", "link", "show", "master", "br0").StandardOutput;
            Assert.Contains("p0@", bridgePorts);
            Assert.Contains("p1@", bridgePorts);
            string addresses = a.Exec("ip", "-o", "addr", "show", "dev", "eth0").StandardOutput;
            Assert.Contains("inet 198.18.0.1/24", addresses);
            Assert.Contains("inet6 fd00::1/64", addresses);

            // Code run "inside" sees the namespace's interfaces, not the host's.
            string[] seen = a.Run(() => System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces().Select(i => i.Name).Order().ToArray());
            Assert.Equal(["eth0", "lo"], seen);
        }
        foreach (var name in namespaces)
            Assert.False(File.Exists(NetworkNamespace.PathOf(name)), $"namespace {name} left behind");
    }
}
