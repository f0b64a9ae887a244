using NginxHa.NodeAgent.Cli;

namespace NginxHa.NodeAgent;

public static class Program
{
    const string Usage = "usage: nginx-ha-agent <command> [--help] ...\n" +
                         "commands:\n" +
                         "  run    the node agent, standalone: manifests -> VRRP instances + supervised nginx\n" +
                         "  kubernetes the node agent in a cluster: this node's NodeHaConfig -> the same as run; status on it\n" +
                         "  vrrp   one VRRP instance in the foreground\n" +
                         "  status the running agent's instances, states, masters and nginx, as a table\n" +
                         "  survey who speaks VRRP on a segment: every VRID heard, and conflicts\n" +
                         "  release  remove this host's VIPs left by a dead agent (systemd ExecStopPost)";

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.Error.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        switch (args[0])
        {
            case "vrrp" when args.Length > 1 && args[1] is "-h" or "--help":
                Console.Out.WriteLine(VrrpCommandLine.Usage);
                return 0;
            case "run" when args.Length > 1 && args[1] is "-h" or "--help":
                Console.Out.WriteLine(RunCommandLine.Usage);
                return 0;
            case "kubernetes" when args.Length > 1 && args[1] is "-h" or "--help":
                Console.Out.WriteLine(KubernetesCommand.Usage);
                return 0;
            case "kubernetes":
                return await KubernetesCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "status" when args.Length > 1 && args[1] is "-h" or "--help":
                Console.Out.WriteLine(StatusCommand.Usage);
                return 0;
            case "status":
                return await StatusCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "survey" when args.Length > 1 && args[1] is "-h" or "--help":
                Console.Out.WriteLine(SurveyCommand.Usage);
                return 0;
            case "survey":
                return SurveyCommand.Run(args[1..], Console.Out, Console.Error);
            case "run":
                return await RunCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "vrrp":
                return await VrrpCommand.RunAsync(args[1..], Console.Out, Console.Error);
            case "watchdog" or "release" when args.Length > 1 && args[1] is "-h" or "--help":
                Console.Out.WriteLine(WatchdogCommand.Usage);
                return 0;
            case "watchdog" or "release":
                return await WatchdogCommand.RunAsync(args[0], args[1..], Console.Out, Console.Error);
            default:
                Console.Error.WriteLine($"nginx-ha-agent: \"{args[0]}\": unknown command\n{Usage}");
                return 2;
        }
    }
}
