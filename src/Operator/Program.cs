using NginxHa.Core.Manifests;
using NginxHa.Core.Planning;
using NginxHa.Observability.Memory;
using NginxHa.Operator.Cli;
using NginxHa.Operator.Crds;

namespace NginxHa.Operator;

/// <summary>
/// nginx-ha-operator: <c>run</c> runs the controllers; <c>plan</c>, which shows the NodeHaConfigs the controller would write for a
/// set of manifests (the same planner the controller and the standalone agent run), and <c>generate</c>, which
/// writes the CRDs and the resource reference from the C# resource types; <c>uninstall</c>, the chart's pre-delete hook.
/// </summary>
public static class Program
{
    const string Usage = "usage: nginx-ha-operator plan -f FILE [-f FILE ...]\n       " + GenerateCommand.Usage + "\n       " + RunCommand.Usage +
        "\n       " + UninstallCommand.Usage;

    public static int Main(string[] args)
    {
        // Two malloc arenas instead of up to 16 on 2 CPUs: the runtime's, the JIT's and OpenSSL's memory freed in one arena
        // serves only that arena (docs/benchmarks.md, "Operator memory: start-up pages given back"). Before any thread
        // of ours starts.
        NativeHeap.LimitArenas(2);
        return Run(args, Console.Out, Console.Error);
    }

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Count > 0 && args[0] == "generate") return GenerateCommand.Run(args.Skip(1).ToList(), output, error);
        if (args.Count > 0 && args[0] == "run") return RunCommand.RunAsync(args.Skip(1).ToList(), output, error).GetAwaiter().GetResult();
        if (args.Count > 0 && args[0] == "uninstall") return UninstallCommand.RunAsync(args.Skip(1).ToList(), output, error).GetAwaiter().GetResult();
        if (args.Count == 0 || args[0] != "plan")
        {
            error.WriteLine(args.Count == 0 ? Usage : $"nginx-ha-operator: \"{args[0]}\": unknown command\n{Usage}");
            return 2;
        }
        var files = new List<string>();
        for (int i = 1; i < args.Count; i++)
        {
            if (args[i] is "-f" or "--file" && i + 1 < args.Count) files.Add(args[++i]);
            else
            {
                error.WriteLine($"nginx-ha-operator: {args[i]}: unknown argument\n{Usage}");
                return 2;
            }
        }
        if (files.Count == 0)
        {
            error.WriteLine($"nginx-ha-operator: -f: at least one manifest file is required\n{Usage}");
            return 2;
        }
        return Plan(files, output, error);
    }

    static int Plan(IReadOnlyList<string> files, TextWriter output, TextWriter error)
    {
        var set = ManifestLoader.LoadFiles(files);
        foreach (var warning in set.Warnings) error.WriteLine($"warning: {warning}");
        if (!set.IsValid)
        {
            foreach (var e in set.Errors) error.WriteLine(e);
            return 1;
        }
        var result = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));
        foreach (var warning in result.Warnings) error.WriteLine($"warning: {warning}");
        foreach (var e in result.Errors) error.WriteLine(e);
        output.Write(ManifestWriter.Write(result.NodeConfigs));
        return result.Errors.Count == 0 ? 0 : 1;
    }
}
