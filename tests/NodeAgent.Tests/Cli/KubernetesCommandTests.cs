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
