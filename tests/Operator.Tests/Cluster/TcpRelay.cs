using System.Net;
using System.Net.Sockets;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of the API server that can misbehave like a broken network path:
/// <see cref="StallExisting"/> silently stops forwarding on the connections open now (they stay open, nothing
/// arrives: the watch that "stops delivering without an error"), <see cref="Refuse"/> closes every connection and
/// refuses new ones until <see cref="Accept"/>.
/// </summary>
public sealed class TcpRelay : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _upstream;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Connection> _connections = new();
    private volatile bool _refusing;

    private sealed class Connection(TcpClient client, TcpClient server)
    {
        public TcpClient Client { get; } = client;
        public TcpClient Server { get; } = server;
        public volatile bool Stalled;
        public void Close() { Client.Dispose(); Server.Dispose(); }
    }

    public TcpRelay(int upstreamPort)
    {
        _upstream = upstreamPort;
        _listener.Start();
        _ = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public int Accepted { get; private set; }

    public void StallExisting()
    {
        lock (_connections) foreach (var c in _connections) c.Stalled = true;
    }

    public void Refuse()
    {
        _refusing = true;
        lock (_connections)
        {
            foreach (var c in _connections) c.Close();
            _connections.Clear();
        }
    }

    public void Accept() => _refusing = false;

    private async Task AcceptLoop()
    {
        while (!_cts.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_cts.Token); }
            catch (Exception) { return; }
            if (_refusing)
            {
                client.Dispose();
                continue;
            }
            var server = new TcpClient();
            try { await server.ConnectAsync(IPAddress.Loopback, _upstream, _cts.Token); }
            catch (Exception)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }
            var connection = new Connection(client, server);
            lock (_connections) _connections.Add(connection);
            Accepted++;
            _ = Pump(connection, client.GetStream(), server.GetStream());
            _ = Pump(connection, server.GetStream(), client.GetStream());
        }
    }

    private async Task Pump(Connection connection, NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[16384];
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _cts.Token);
                if (n == 0) break;
                if (connection.Stalled) continue; // swallowed: the peer waits for bytes that never come
                await to.WriteAsync(buffer.AsMemory(0, n), _cts.Token);
            }
        }
        catch (Exception) { }
        if (!connection.Stalled) connection.Close();
    }

    public void Dispose()
    {
        _cts.Cancel();
        _listener.Stop();
        lock (_connections) foreach (var c in _connections) c.Close();
    }
}
