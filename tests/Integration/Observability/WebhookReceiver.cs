using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Observability;

/// <summary>
/// The receiving end of Alertmanager's webhook: a plain HTTP/1.1 listener on 127.0.0.1 inside a lab namespace, on a
/// thread of its own, that keeps every notification posted to it and answers 200.
/// </summary>
public sealed class WebhookReceiver : IDisposable
{
    readonly TcpListener _listener;
    readonly ConcurrentQueue<Notification> _notifications = new();
    readonly CancellationTokenSource _stop = new();

    public WebhookReceiver(LabNode node)
    {
        _listener = node.Run(() =>
        {
            var l = new TcpListener(IPAddress.Loopback, 0);
            l.Start();
            return l;
        });
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        new Thread(AcceptLoop) { IsBackground = true, Name = "alertmanager webhook" }.Start();
    }

    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}/alerts";
    public IReadOnlyList<Notification> Notifications => _notifications.ToArray();

    void AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var client = _listener.AcceptTcpClient();
                client.ReceiveTimeout = 5000;
                using var stream = client.GetStream();
                if (ReadRequest(stream) is { } body) _notifications.Enqueue(Notification.Parse(body));
                stream.Write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8);
            }
            catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or InvalidOperationException or JsonException)
            {
                // A stopped listener, or a broken request: the next one is read anew.
            }
        }
    }

    static string? ReadRequest(NetworkStream stream)
    {
        var buffer = new List<byte>();
        var one = new byte[1];
        while (!EndsWithBlankLine(buffer))
        {
            if (stream.Read(one) == 0) return null;
            buffer.Add(one[0]);
        }
        var headers = Encoding.ASCII.GetString(buffer.ToArray());
        var length = headers.Split("\r\n")
            .Where(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            .Select(h => int.Parse(h["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture)).FirstOrDefault();
        var body = new byte[length];
        stream.ReadExactly(body);
        return Encoding.UTF8.GetString(body);
    }

    static bool EndsWithBlankLine(List<byte> b) =>
        b.Count >= 4 && b[^4] == '\r' && b[^3] == '\n' && b[^2] == '\r' && b[^1] == '\n';

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }

    /// <summary>One webhook post: its status and its alerts' status, labels and annotations.</summary>
    public sealed record Notification(string Status, string Receiver, IReadOnlyList<NotifiedAlert> Alerts)
    {
        public static Notification Parse(string json)
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            return new Notification(root.GetProperty("status").GetString()!, root.GetProperty("receiver").GetString()!,
                root.GetProperty("alerts").EnumerateArray().Select(a => new NotifiedAlert(
                    a.GetProperty("status").GetString()!,
                    a.GetProperty("labels").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? ""),
                    a.GetProperty("annotations").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? ""))).ToArray());
        }

        public override string ToString() => $"{Status} to {Receiver}: {string.Join("; ", Alerts)}";
    }

    public sealed record NotifiedAlert(string Status, IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, string> Annotations)
    {
        public override string ToString() => $"{Status} {{{string.Join(",", Labels.Select(l => $"{l.Key}={l.Value}"))}}}";
    }
}
