using NginxHa.NodeAgent.Cli;

namespace NginxHa.NodeAgent.Tests.Cli;

/// <summary><c>nginx-ha-agent kubernetes</c>'s command line: bad arguments named (exit 2), a bad kubeconfig named (exit 1).</summary>
public sealed class KubernetesCommandTests
{
    [Theory]
    [InlineData("--kubeconfig /tmp/k", "--node: required")]
    [InlineData("--node", "--node: a value is required")]
    [InlineData("--node n1 --health-port 0", "--health-port: \"0\" is not a port")]
    [InlineData("--node n1 -f site.yaml", "-f: unknown argument")]
    [InlineData("--node n1 --heartbeat-duration 1s", "--heartbeat-duration: \"1s\" is not whole seconds from 2s to 1h")]
    [InlineData("--node n1 --heartbeat-duration 2500ms", "--heartbeat-duration: \"2500ms\" is not whole seconds")]
    [InlineData("--node n1 --heartbeat-duration soon", "--heartbeat-duration: \"soon\"")]
    [InlineData("--node n1 --lease-namespace Edge_1", "--lease-namespace: \"Edge_1\" is not a namespace name")]
    [InlineData("--node n1 --lease-namespace", "--lease-namespace: a value is required")]
    public void Parse_NamesTheArgumentAtFault(string line, string message)
    {
        var ex = Assert.Throws<UsageException>(() => KubernetesCommand.Parse(line.Split(' ')));
        Assert.StartsWith(message, ex.Message);
    }

    [Fact]
    public void Parse_DefaultsTheStateDirectoryByNode_AndTakesTheKubeconfigAsAFullPath()
    {
        var options = KubernetesCommand.Parse(["--node", "n1", "--kubeconfig", "k.yaml"]);
        Assert.Equal("n1", options.Run.Node);
        Assert.Equal("/run/nginx-ha/n1", options.Run.StateDirectory);
        Assert.Equal(Path.GetFullPath("k.yaml"), options.Kubeconfig);
        Assert.Empty(options.Run.Files);
        Assert.Equal(TimeSpan.FromSeconds(20), options.HeartbeatDuration);
    }

    [Fact]
    public void Parse_TakesTheHeartbeatsNamespaceAndDuration()
    {
        var options = KubernetesCommand.Parse(["--node", "n1", "--lease-namespace", "nginx-ha", "--heartbeat-duration", "8s"]);
        Assert.Equal(("nginx-ha", TimeSpan.FromSeconds(8)), (options.LeaseNamespace, options.HeartbeatDuration));
    }

    [Fact]
    public async Task Run_WithAKubeconfigWithoutCurrentContext_ExitsOne_NamingTheField()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "apiVersion: v1\nkind: Config\nclusters: []\n");
            var error = new StringWriter();
            Assert.Equal(1, await KubernetesCommand.RunAsync(["--node", "n1", "--kubeconfig", file], TextWriter.Null, error));
            Assert.Contains("current-context: missing", error.ToString());
        }
        finally
        {
            File.Delete(file);
        }
    }
}
