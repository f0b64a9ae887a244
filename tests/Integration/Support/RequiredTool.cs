using System.Diagnostics;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// Runs an external tool a test depends on. A missing tool fails the test with an install hint:
/// a skipped test would hide that the check never ran.
/// </summary>
public static class RequiredTool
{
    public static string Locate(string name, string debianPackage)
    {
        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        Assert.Fail($"'{name}' is required by this test but is not on PATH (apt-get install {debianPackage}).");
        return name;
    }

    /// <summary>Runs to completion and returns (exit code, stdout, stderr); ends the process by its own handle on timeout.</summary>
    public static (int ExitCode, string Output, string Error) Run(string path, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {path}.");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{path} did not finish within {timeout}.");
        }
        process.WaitForExit(); // drains the redirected streams
        return (process.ExitCode, output.Result, error.Result);
    }
}
