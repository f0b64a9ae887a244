using System.Net;
using System.Net.Sockets;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// A TCP relay from 127.0.0.1 inside a lab namespace to 127.0.0.1:<c>target</c> on the host (both loopback: no
/// traffic leaves the machine), so an agent in the namespace reaches the test cluster. Dispose stops it and cuts
/// every relayed connection: the API server is then unreachable for the agent.
/// </summary>
public sealed class LoopbackRelay : IDisposable
{
    readonly TcpListener _listener;
    readonly int _target;
    readonly CancellationTokenSource _stop = new();
    readonly List<TcpClient> _connections = [];

    public LoopbackRelay(LabNode node, int target)
    {
        _target = target;
        // Created on a thread inside the namespace, the listening socket belongs to it.
        _listener = node.Run(() =>
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return listener;
        });
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    /// <summary>The port on 127.0.0.1 inside the namespace.</summary>
    public int Port { get; }

    /// <summary>Writes a kubeconfig for an agent in the namespace reaching the cluster through this relay; returns its path.</summary>
    public string WriteKubeconfig(string path)
    {
        File.WriteAllText(path, $$$"""
            apiVersion: v1
            kind: Config
            current-context: lab
            contexts: [{name: lab, context: {cluster: lab, user: agent}}]
            clusters: [{name: lab, cluster: {server: "http://127.0.0.1:{{{Port}}}"}}]
            users: [{name: agent, user: {token: not-checked}}]
            """);
        return path;
    }

    async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var inside = await _listener.AcceptTcpClientAsync(_stop.Token);
                var outside = new TcpClient();
                lock (_connections) _connections.AddRange([inside, outside]);
                try
                {
                    await outside.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
                }
                catch (SocketException)
                {
                    inside.Dispose();
                    continue;
                }
                _ = PumpAsync(inside, outside);
                _ = PumpAsync(outside, inside);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    async Task PumpAsync(TcpClient from, TcpClient to)
    {
        try
        {
            await from.GetStream().CopyToAsync(to.GetStream(), _stop.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or SocketException) { }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_connections) foreach (var c in _connections) c.Dispose();
    }
}
