using System.Text.RegularExpressions;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// <c>scripts/demo.sh --cluster</c> as a user runs it: it starts its own test cluster, operator, agents and namespaces,
/// tells the story step by step, exits 0 only when every step was checked, and leaves nothing behind.
/// </summary>
public sealed class ClusterDemoScriptTests
{
    // 43 s at load 52; the bound leaves room for a loaded machine.
    static readonly TimeSpan Bound = TimeSpan.FromSeconds(150);

    /// <summary>What a user must see, in this order (each pattern is searched after the previous one's line).</summary>
    static readonly string[] Story =
    [
        @"using .*/nginx-ha-agent\.dll as built",
        @"using .*/nginx-ha-operator\.dll as built",
        @"test cluster up: up in",
        @"kubectl apply -f crds/: the CRDs are Established",
        @"operator started: nginx-ha-operator run",
        @"agents started: nginx-ha-agent kubernetes --node lb1 \| lb2",
        @"lb1 holds 198\.18\.0\.201, lb2 holds 198\.18\.0\.202",
        @"^\s+web\s+ActiveActive\s+\S+\s+lb1,lb2\s+True\s",
        @"kubectl get vipg: lb1 master of 198\.18\.0\.201, lb2 of 198\.18\.0\.202",
        @"curl http://198\.18\.0\.202/ from 198\.18\.1\.100 -> web2 \(via 198\.18\.0\.12\)",
        @"status page /nginx_status: 401 without credentials; with them: Active connections",
        @"kill -KILL \d+ \(lb1's agent\)",
        @"lb2 holds 198\.18\.0\.201",
        @"198\.18\.0\.201: longest gap without a reply \d+ ms",
        @"198\.18\.0\.202: longest gap without a reply \d+ ms",
        @"curl http://198\.18\.0\.201/ -> web\d \(via 198\.18\.0\.12\)",
        // The SIGKILLed agent's heartbeat Lease expires, and its last report (MASTER of VIP 1) stops counting.
        "kubectl get vipg: lb2 is master of both VIPs",
        @"198\.18\.0\.201 is back on lb1",
        @"198\.18\.0\.201: longest gap without a reply \d+ ms",
        @"kubectl get vipg: lb1 master of 198\.18\.0\.201 again, lb2 of 198\.18\.0\.202",
        @"kubectl patch nbp web .*remove.*\(web2 leaves the pool\)",
        @"lb\d agent: .* nginx: config reloaded",
        @"lb\d agent: .* nginx: config reloaded",
        @"curl http://198\.18\.0\.202/ from 198\.18\.1\.100 -> web1 \(via 198\.18\.0\.12\)",
        @"kubectl patch nbp web .*add.*\(web2 comes back\)",
        @"curl http://198\.18\.0\.202/ from 198\.18\.1\.100 -> web2 \(via 198\.18\.0\.12\)",
        @"no node holds 198\.18\.0\.201 or 198\.18\.0\.202 any more; the VirtualIpGroup is still there",
        @"the VirtualIpGroup is gone",
        @"lb1 agent exited 0, no VIP and no process left",
        @"lb2 agent exited 0, no VIP and no process left",
        @"operator exited 0 \(released Lease",
        @"demo passed",
    ];

    [Fact]
    public async Task DemoCluster_TellsTheStoryThroughKubectl_ExitsZero_AndLeavesNothingBehind()
    {
        RequiredTool.Locate("socat", "socat");
        RequiredTool.Locate("kubectl", "kubectl");
        // The agent and the operator as scripts/test.sh built them: the demo's own `dotnet build` of a project the
        // solution built through ProjectReferences compiles it again, minutes on a loaded machine.
        using var demo = new ChildProcess("env", ["NHA_DEMO_PREBUILT=1", "bash", TestCluster.RepositoryPath("scripts/demo.sh"), "--cluster"],
            "demo.sh --cluster");
        int exit;
        try
        {
            exit = await demo.WaitForExitAsync(Bound);
        }
        catch (TimeoutException)
        {
            demo.Signal(ChildProcess.SIGTERM); // its trap removes what it started
            await demo.WaitForExitAsync(TimeSpan.FromSeconds(60));
            throw;
        }
        var lines = demo.Lines;
        Assert.True(exit == 0, $"demo.sh --cluster exited {exit}:\n{demo.Output}");

        int at = 0;
        foreach (var pattern in Story)
        {
            int found = IndexOf(lines, pattern, at);
            Assert.True(found >= 0, $"after line {at} no line matches /{pattern}/:\n{demo.Output}");
            at = found + 1;
        }

        // Nothing left: the namespaces, the work directory, and no process that names it (the test cluster's included).
        var namespaces = RequiredTool.Run("ip", ["netns", "list"], TimeSpan.FromSeconds(10)).Output;
        Assert.DoesNotMatch(@"(?m)^nhk-", namespaces);
        var work = Regex.Match(demo.Output, @"export KUBECONFIG=(/tmp/nha-demo\.\w+)/cluster/kubeconfig").Groups[1].Value;
        Assert.NotEqual("", work);
        Assert.False(Directory.Exists(work), $"{work} was left behind");
        Assert.Empty(ProcessesNaming(work));
    }

    static int IndexOf(IReadOnlyList<string> lines, string pattern, int from)
    {
        for (int i = from; i < lines.Count; i++)
            if (Regex.IsMatch(lines[i], pattern)) return i;
        return -1;
    }

    static IEnumerable<string> ProcessesNaming(string path)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _)) continue;
            string commandLine;
            try { commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (commandLine.Contains(path, StringComparison.Ordinal)) yield return $"{Path.GetFileName(dir)}: {commandLine}";
        }
    }
}
