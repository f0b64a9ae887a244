using NginxHa.NodeAgent.Watchdog;

namespace NginxHa.NodeAgent.Cli;

/// <summary>
/// <c>nginx-ha-agent watchdog --agent-pid PID --state-dir DIR</c> (started by <c>run</c> itself) and
/// <c>nginx-ha-agent release --state-dir DIR</c> (systemd's ExecStopPost): see <see cref="AgentWatchdog"/>.
/// </summary>
public static class WatchdogCommand
{
    public const string Usage =
        "usage: nginx-ha-agent watchdog --agent-pid PID --state-dir DIR   (started by `run`: on the agent's death, release)\n" +
        "       nginx-ha-agent release --state-dir DIR                    (now: remove our marked VIPs, priority 0 for the instances that held them)";

    public static async Task<int> RunAsync(string command, string[] args, TextWriter output, TextWriter error)
    {
        int? pid = null;
        string? stateDirectory = null;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--agent-pid" when command == "watchdog" && int.TryParse(value, out var p) && p > 0:
                    pid = p;
                    i++;
                    break;
                case "--state-dir" when value is { Length: > 0 }:
                    stateDirectory = value;
                    i++;
                    break;
                default:
                    error.WriteLine($"nginx-ha-agent {command}: \"{args[i]}\": unknown option or missing/invalid value\n{Usage}");
                    return 2;
            }
        }
        if (stateDirectory is null || (command == "watchdog" && pid is null))
        {
            error.WriteLine($"nginx-ha-agent {command}: {(stateDirectory is null ? "--state-dir" : "--agent-pid")} is required\n{Usage}");
            return 2;
        }
        return command == "watchdog"
            ? await AgentWatchdog.WatchAsync(pid!.Value, stateDirectory, output)
            : AgentWatchdog.Release(stateDirectory, output);
    }
}
