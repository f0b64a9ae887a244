using NginxHa.Core.Resources;
using NginxHa.Operator.Uninstall;

namespace NginxHa.Operator.Cli;

/// <summary>
/// <c>nginx-ha-operator uninstall</c>: the chart's pre-delete hook. Deletes every VirtualIpGroup, waits while the running operator's
/// finalizers have the agents release the VIPs, then deletes the NodeHaConfigs left; exits 1 with the reason on a timeout.
/// </summary>
public static class UninstallCommand
{
    public const string Usage = "nginx-ha-operator uninstall [--kubeconfig FILE] [--timeout 120s]";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        string? kubeconfig = null;
        var timeout = TimeSpan.FromSeconds(120);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (name is not ("--kubeconfig" or "--timeout"))
                return Fail(error, $"{name}: unknown argument");
            if (i + 1 >= args.Count) return Fail(error, $"{name}: a value is required");
            var value = args[++i];
            if (name == "--kubeconfig") kubeconfig = value;
            else if (!Duration.TryParse(value, out timeout, out var reason) || timeout <= TimeSpan.Zero)
                return Fail(error, $"--timeout: \"{value}\" {reason ?? "is not a positive duration"}");
        }

        k8s.KubernetesClientConfiguration config;
        try
        {
            config = RunCommand.LoadConfig(kubeconfig);
        }
        catch (Exception e) when (e is k8s.Exceptions.KubeConfigException or FileNotFoundException or IOException)
        {
            error.WriteLine($"nginx-ha-operator uninstall: {e.Message}");
            return 1;
        }
        using var client = new k8s.Kubernetes(config);
        output.WriteLine($"nginx-ha-operator uninstall: deleting every VirtualIpGroup, then the NodeHaConfigs left, against {config.Host} (timeout {timeout.TotalSeconds:0} s)");
        return await new UninstallRunner(new KubernetesUninstallApi(client), time ?? TimeProvider.System, output)
            .RunAsync(timeout, error, cancellationToken).ConfigureAwait(false);
    }

    static int Fail(TextWriter error, string message)
    {
        error.WriteLine($"nginx-ha-operator uninstall: {message}\nusage: {Usage}");
        return 2;
    }
}
