using System.Text;

namespace NginxHa.Bench.FailoverProbe;

/// <summary>
/// The probe's HTTP mode (<c>--http PATH</c>): one GET per connection, and a reply counts as the expected
/// server when its status is 200 and its body, trailing newlines trimmed, equals the expected name.
/// Lets the probe time services behind a real nginx, which speaks first only after a request.
/// </summary>
public static class HttpReply
{
    public const int MaxReplySize = 4096;
    private static ReadOnlySpan<byte> HeaderEnd => "\r\n\r\n"u8;

    public static byte[] Request(string path, string host) =>
        Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");

    public static bool IsOkWithBody(ReadOnlySpan<byte> reply, ReadOnlySpan<byte> expectedBody)
    {
        var headerEnd = reply.IndexOf(HeaderEnd);
        if (headerEnd < 0)
            return false;
        var statusLine = reply[..reply.IndexOf("\r\n"u8)];
        // "HTTP/1.1 200 OK": the status code sits between the first and second space.
        var afterVersion = statusLine.IndexOf((byte)' ');
        if (afterVersion < 0 || !statusLine[(afterVersion + 1)..].StartsWith("200"u8))
            return false;
        return reply[(headerEnd + HeaderEnd.Length)..].TrimEnd("\r\n"u8).SequenceEqual(expectedBody);
    }
}
