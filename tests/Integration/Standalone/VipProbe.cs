using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>One HTTP GET through a VIP: when it finished, and who answered (the backend and the balancer it came through).</summary>
/// <param name="Backend">The backend's name from the body ("web1", "web2b"), null on failure.</param>
/// <param name="Via">The balancer address the backend saw the request come from, null on failure.</param>
/// <param name="Failure">Why the request failed (connect timeout, ConnectionRefused, HTTP 502, ...), null on success.</param>
public sealed record ProbeSample(DateTimeOffset At, string? Backend, IPAddress? Via, string? Failure)
{
    public bool Ok => Failure is null;

    /// <summary>From the connect to the answer (or the failure).</summary>
    public TimeSpan Took { get; init; }

    /// <summary>HTTPS probes: the serial number of the certificate the balancer presented.</summary>
    public string? Certificate { get; init; }

    public override string ToString() => Ok ? $"{Backend} via {Via}{(Certificate is null ? "" : $" cert {Certificate}")}" : Failure!;
}

/// <summary>
/// Hits one VIP from the client namespace continuously (fresh connections from two loops, each every ~10 ms and
/// bounded by a short timeout) and keeps every answer, so a test can measure how long the VIP went unserved during a step.
/// </summary>
public sealed class VipProbe : IDisposable
{
    // Far above a SYN round trip between namespaces, even on a busy machine; a dropped SYN is retried only after 1 s.
    static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromMilliseconds(100);
    const int DefaultReadTimeoutMilliseconds = 300;
    readonly TimeSpan ConnectTimeout;
    readonly int ReadTimeoutMilliseconds;
    static readonly TimeSpan Cadence = TimeSpan.FromMilliseconds(10);

    readonly IPEndPoint _endpoint;
    readonly bool _tls;
    readonly List<ProbeSample> _samples = [];
    readonly Lock _gate = new();
    readonly CancellationTokenSource _stop = new();
    const int Loops = 2;
    readonly Task[] _loops;

    /// <param name="connectTimeout">default 100 ms (a gap meter); a patient client (seconds) outlasts a dropped SYN's
    /// 1 s retry the way browsers and load generators do, so only real failures count.</param>
    /// <param name="tls">HTTPS: any certificate is accepted and its serial number kept in each sample.</param>
    public VipProbe(LabNode client, IPAddress vip, int port, TimeSpan? connectTimeout = null, TimeSpan? readTimeout = null, bool tls = false)
    {
        _tls = tls;
        ConnectTimeout = connectTimeout ?? DefaultConnectTimeout;
        ReadTimeoutMilliseconds = (int)(readTimeout?.TotalMilliseconds ?? DefaultReadTimeoutMilliseconds);
        Vip = vip;
        _endpoint = new IPEndPoint(vip, port);
        byte[] request = Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {vip}\r\nConnection: close\r\n\r\n");
        // Each loop runs on a thread inside the client namespace, so every socket it creates lives there. Two loops
        // halve the blind time a dropped SYN (a VIP in motion) costs one loop, so gaps are measured to ~50 ms.
        _loops = Enumerable.Range(0, Loops)
            .Select(_ => Task.Factory.StartNew(() => client.Run(() => ProbeUntilStopped(request)), TaskCreationOptions.LongRunning))
            .ToArray();
    }

    public IPAddress Vip { get; }

    public IReadOnlyList<ProbeSample> Samples
    {
        get { lock (_gate) return _samples.OrderBy(s => s.At).ToArray(); }
    }

    public IReadOnlyList<ProbeSample> Between(DateTimeOffset from, DateTimeOffset to) =>
        Samples.Where(s => s.At >= from && s.At <= to).ToArray();

    /// <summary>The longest stretch of [from, to] without a successful answer.</summary>
    public TimeSpan LongestGap(DateTimeOffset from, DateTimeOffset to)
    {
        var served = Between(from, to).Where(s => s.Ok).Select(s => s.At);
        var points = served.Prepend(from).Append(to).ToArray();
        var longest = TimeSpan.Zero;
        for (int i = 1; i < points.Length; i++)
            if (points[i] - points[i - 1] > longest) longest = points[i] - points[i - 1];
        return longest;
    }

    /// <summary>Waits for an answer finished after <paramref name="after"/> that matches; returns it.</summary>
    public async Task<ProbeSample> WaitForAsync(Func<ProbeSample, bool> match, DateTimeOffset after, TimeSpan timeout, string what,
        Func<ProbeSample, string>? label = null)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (true)
        {
            var found = Samples.FirstOrDefault(s => s.At > after && match(s));
            if (found is not null) return found;
            if (_loops.FirstOrDefault(l => l.IsCompleted) is { } ended) await ended; // surfaces a crashed probe loop
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"{Vip}: {what} within {timeout.TotalSeconds} s; answers: {Describe(after, DateTimeOffset.UtcNow, label)}");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// The answers of [from, to] as runs of equal labels (default: the whole answer), e.g.
    /// "+0ms web1 via 198.18.0.1 x12, +130ms connect timeout x3".
    /// </summary>
    public string Describe(DateTimeOffset from, DateTimeOffset to, Func<ProbeSample, string>? label = null)
    {
        label ??= s => s.ToString();
        var runs = new List<string>();
        string? current = null;
        int count = 0;
        DateTimeOffset start = from;
        foreach (var sample in Between(from, to))
        {
            string text = label(sample);
            if (text == current) { count++; continue; }
            if (current is not null) runs.Add($"+{(start - from).TotalMilliseconds:F0}ms {current} x{count}");
            current = text;
            count = 1;
            start = sample.At;
        }
        if (current is not null) runs.Add($"+{(start - from).TotalMilliseconds:F0}ms {current} x{count}");
        return runs.Count == 0 ? "none" : string.Join(", ", runs);
    }

    void ProbeUntilStopped(byte[] request)
    {
        while (!_stop.IsCancellationRequested)
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            var sample = ProbeOnce(request) with { Took = System.Diagnostics.Stopwatch.GetElapsedTime(started) };
            lock (_gate) _samples.Add(sample);
            _stop.Token.WaitHandle.WaitOne(Cadence);
        }
    }

    ProbeSample ProbeOnce(byte[] request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Synchronous with a timeout (non-blocking connect + poll): no thread-pool hop that a busy test process could delay.
            socket.Blocking = false;
            try
            {
                socket.Connect(_endpoint);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
            }
            bool settled = socket.Poll(ConnectTimeout, SelectMode.SelectWrite);
            var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            if (error != SocketError.Success) return Failed(error.ToString());
            if (!settled) return Failed("connect timeout");
            socket.Blocking = true;
            socket.SendTimeout = ReadTimeoutMilliseconds;
            socket.ReceiveTimeout = ReadTimeoutMilliseconds;
            string? serial = null;
            using var network = new NetworkStream(socket, ownsSocket: false);
            using var ssl = _tls ? new SslStream(network, leaveInnerStreamOpen: true) : null;
            Stream stream = network;
            if (ssl is not null)
            {
                ssl.AuthenticateAsClient(new SslClientAuthenticationOptions
                {
                    TargetHost = Vip.ToString(),
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    {
                        serial = certificate is null ? null : new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate).SerialNumber;
                        return true;
                    },
                });
                stream = ssl;
            }
            stream.Write(request);
            var response = new MemoryStream();
            var buffer = new byte[1024];
            int read;
            while ((read = stream.Read(buffer)) > 0 && response.Length < 16 * 1024)
                response.Write(buffer, 0, read);
            return Parse(Encoding.ASCII.GetString(response.ToArray())) with { Certificate = serial };
        }
        catch (SocketException e)
        {
            return Failed(e.SocketErrorCode == SocketError.TimedOut ? "read timeout" : e.SocketErrorCode.ToString());
        }
        catch (IOException e) when (e.InnerException is SocketException inner)
        {
            return Failed(inner.SocketErrorCode == SocketError.TimedOut ? "read timeout" : inner.SocketErrorCode.ToString());
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
            return Failed($"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>A backend answers "NAME via ADDRESS" (see <see cref="BackendServers"/>).</summary>
    static ProbeSample Parse(string response)
    {
        if (response.Length == 0) return Failed("empty response");
        int lineEnd = response.IndexOf("\r\n", StringComparison.Ordinal);
        string statusLine = lineEnd < 0 ? response : response[..lineEnd];
        if (!statusLine.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal)) return Failed(statusLine);
        int bodyStart = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        string[] body = bodyStart < 0 ? [] : response[(bodyStart + 4)..].Trim().Split(' ');
        if (body is not [var backend, "via", var via] || !IPAddress.TryParse(via, out var viaAddress))
            return Failed($"unexpected body \"{(bodyStart < 0 ? "" : response[(bodyStart + 4)..].Trim())}\"");
        return new ProbeSample(DateTimeOffset.UtcNow, backend, viaAddress, null);
    }

    static ProbeSample Failed(string why) => new(DateTimeOffset.UtcNow, null, null, why);

    public void Dispose()
    {
        _stop.Cancel();
        Task.WaitAll(_loops, TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
