using System.Globalization;
using System.Net;

namespace NginxHa.Bench.FailoverProbe;

public sealed class UsageException(string message) : Exception(message);

public sealed record ServeOptions(string Name, int Port)
{
    public static ServeOptions Parse(string[] args)
    {
        var values = OptionReader.Read(args, ["--name", "--port"], out var trailing);
        if (trailing.Length > 0)
            throw new UsageException($"serve takes no command, got '{string.Join(' ', trailing)}'");
        return new ServeOptions(
            OptionReader.Required(values, "--name"),
            OptionReader.ParsePort(OptionReader.Required(values, "--port"), "--port"));
    }
}

public sealed record ProbeOptions(
    IPEndPoint Target,
    string ExpectedBanner,
    TimeSpan Timeout,
    TimeSpan AttemptInterval,
    TimeSpan AttemptTimeout,
    IPAddress? SyncAdvertFrom,
    string[] FaultCommand,
    string? HttpPath = null,
    TimeSpan FaultDelay = default,
    SignalFault? Signal = null)
{
    public static ProbeOptions Parse(string[] args)
    {
        var values = OptionReader.Read(
            args,
            ["--target", "--expect", "--timeout", "--interval", "--attempt-timeout", "--sync-advert-from", "--http", "--fault-delay", "--signal"],
            out var fault);
        var target = OptionReader.Required(values, "--target");
        if (!IPEndPoint.TryParse(target, out var endpoint) || endpoint.Port == 0)
            throw new UsageException($"--target must be ADDRESS:PORT, got '{target}'");
        IPAddress? syncFrom = null;
        if (values.TryGetValue("--sync-advert-from", out var sync) && !IPAddress.TryParse(sync, out syncFrom))
            throw new UsageException($"--sync-advert-from must be an IP address, got '{sync}'");
        values.TryGetValue("--http", out var httpPath);
        if (httpPath is not null && (!httpPath.StartsWith('/') || httpPath.Any(c => c <= ' ' || c > '~')))
            throw new UsageException($"--http must be a path starting with '/' without spaces or control characters, got '{httpPath}'");
        var faultDelay = OptionReader.Duration(values, "--fault-delay", TimeSpan.Zero);
        if (faultDelay > TimeSpan.Zero && syncFrom is null)
            throw new UsageException("--fault-delay counts from an advert: it needs --sync-advert-from");
        SignalFault? signal = values.TryGetValue("--signal", out var signalText) ? SignalFault.Parse(signalText) : null;
        if (signal is not null && fault.Length > 0)
            throw new UsageException("--signal is the fault: it takes no fault command after '--'");
        if (syncFrom is not null && fault.Length == 0 && signal is null)
            throw new UsageException("--sync-advert-from needs a fault: --signal or a command after '--'");
        return new ProbeOptions(
            endpoint,
            OptionReader.Required(values, "--expect"),
            OptionReader.Duration(values, "--timeout", TimeSpan.FromSeconds(10)),
            OptionReader.Duration(values, "--interval", TimeSpan.FromMilliseconds(5)),
            OptionReader.Duration(values, "--attempt-timeout", TimeSpan.FromMilliseconds(200)),
            syncFrom,
            fault,
            httpPath,
            faultDelay,
            signal);
    }
}

/// <summary>
/// "--signal TERM:PID[,PID...]": the probe sends the signal itself, one kill(2) per PID in order, so the fault
/// starts within microseconds of the time stamp instead of after a process start (a `kill` command).
/// </summary>
public sealed record SignalFault(int Number, string Name, int[] Pids)
{
    private static readonly Dictionary<string, int> Numbers = new(StringComparer.Ordinal) { ["TERM"] = 15, ["KILL"] = 9, ["INT"] = 2 };

    public static SignalFault Parse(string text)
    {
        var colon = text.IndexOf(':');
        var name = colon < 0 ? text : text[..colon];
        if (colon < 0 || !Numbers.TryGetValue(name, out var number))
            throw new UsageException($"--signal must be TERM, KILL or INT, a colon and PIDs (TERM:1234,1240), got '{text}'");
        var pids = text[(colon + 1)..].Split(',').Select(p =>
            int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 1
                ? pid
                : throw new UsageException($"--signal: '{p}' is not a process ID")).ToArray();
        return new SignalFault(number, name, pids);
    }
}

internal static class OptionReader
{
    /// <summary>Reads "--key value" pairs up to a "--"; everything after it is returned as <paramref name="trailing"/>.</summary>
    public static Dictionary<string, string> Read(string[] args, string[] known, out string[] trailing)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--")
            {
                trailing = args[(i + 1)..];
                return values;
            }
            if (!known.Contains(args[i]))
                throw new UsageException($"unknown option '{args[i]}' (known: {string.Join(", ", known)})");
            if (i + 1 >= args.Length)
                throw new UsageException($"option '{args[i]}' needs a value");
            values[args[i]] = args[++i];
        }
        trailing = [];
        return values;
    }

    public static string Required(Dictionary<string, string> values, string key) =>
        values.TryGetValue(key, out var value) && value.Length > 0
            ? value
            : throw new UsageException($"option '{key}' is required");

    public static int ParsePort(string text, string key) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? port
            : throw new UsageException($"{key} must be a port number 1..65535, got '{text}'");

    /// <summary>Durations are written like the agent's flags: "10s", "200ms".</summary>
    public static TimeSpan Duration(Dictionary<string, string> values, string key, TimeSpan fallback)
    {
        if (!values.TryGetValue(key, out var text))
            return fallback;
        var (digits, unit) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], TimeSpan.FromMilliseconds(1))
            : text.EndsWith('s') ? (text[..^1], TimeSpan.FromSeconds(1))
            : throw new UsageException($"{key} needs a unit (ms or s), got '{text}'");
        if (!double.TryParse(digits, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) || amount <= 0)
            throw new UsageException($"{key} must be a positive duration like 200ms or 10s, got '{text}'");
        return unit * amount;
    }
}
