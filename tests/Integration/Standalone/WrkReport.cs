using System.Globalization;
using System.Text.RegularExpressions;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>What wrk printed at the end of a run. wrk prints the error lines only when a count is not zero.</summary>
public sealed partial record WrkReport(long Requests, long Non2xxOr3xx, long ConnectErrors, long ReadErrors, long WriteErrors, long Timeouts)
{
    public long SocketErrors => ConnectErrors + ReadErrors + WriteErrors + Timeouts;

    public static WrkReport Parse(string output)
    {
        var requests = RequestsLine().Match(output);
        if (!requests.Success) throw new FormatException($"no \"N requests in\" line in wrk's output:\n{output}");
        var non2xx = Non2xxLine().Match(output);
        var socket = SocketErrorsLine().Match(output);
        long Group(Match match, string name) => match.Success ? long.Parse(match.Groups[name].Value, CultureInfo.InvariantCulture) : 0;
        return new WrkReport(
            Group(requests, "requests"),
            Group(non2xx, "count"),
            Group(socket, "connect"),
            Group(socket, "read"),
            Group(socket, "write"),
            Group(socket, "timeout"));
    }

    public override string ToString() =>
        $"{Requests} requests, {Non2xxOr3xx} non-2xx/3xx, socket errors: connect {ConnectErrors}, read {ReadErrors}, write {WriteErrors}, timeout {Timeouts}";

    [GeneratedRegex(@"^\s*(?<requests>\d+) requests in ", RegexOptions.Multiline)]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"^\s*Non-2xx or 3xx responses: (?<count>\d+)", RegexOptions.Multiline)]
    private static partial Regex Non2xxLine();

    [GeneratedRegex(@"^\s*Socket errors: connect (?<connect>\d+), read (?<read>\d+), write (?<write>\d+), timeout (?<timeout>\d+)", RegexOptions.Multiline)]
    private static partial Regex SocketErrorsLine();
}
