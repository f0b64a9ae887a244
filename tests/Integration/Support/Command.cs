using System.Diagnostics;

namespace NginxHa.Integration.Tests.Support;

/// <summary>The outcome of a finished command.</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError);

/// <summary>Runs external tools (ip, sysctl, ...) and fails loudly: a missing tool is an error, never a skip.</summary>
public static class Command
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs the command and throws when it cannot start, times out or exits non-zero.</summary>
    public static CommandResult Run(params string[] arguments)
    {
        var result = TryRun(arguments);
        if (result.ExitCode != 0)
            throw new InvalidOperationException(
                $"`{result.CommandLine}` exited with {result.ExitCode}: {result.StandardError.Trim()} {result.StandardOutput.Trim()}");
        return result;
    }

    /// <summary>Runs the command and returns whatever exit code it had; still throws when it cannot start or hangs.</summary>
    public static CommandResult TryRun(params string[] arguments) => TryRun(DefaultTimeout, arguments);

    public static CommandResult TryRun(TimeSpan timeout, params string[] arguments)
    {
        ArgumentOutOfRangeException.ThrowIfZero(arguments.Length);
        string commandLine = string.Join(' ', arguments);
        var startInfo = new ProcessStartInfo(arguments[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments.Skip(1))
            startInfo.ArgumentList.Add(argument);
        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"`{commandLine}` did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true); // by PID: our own child
            process.WaitForExit();
            throw new TimeoutException($"`{commandLine}` did not finish within {timeout.TotalSeconds} s");
        }
        return new CommandResult(commandLine, process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
