using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// A TCP relay from 127.0.0.1 inside a lab namespace to 127.0.0.1:<c>target</c> on the host (both loopback: no
/// traffic leaves the machine), so an agent in the namespace reaches the test cluster. Dispose stops it and cuts
/// every relayed connection: the API server is then unreachable for the agent.
/// </summary>
public sealed class LoopbackRelay : IDisposable
{
    /// <summary>
    /// Takes over a connection before the bytes are copied: given the namespace side and the host side (connected), it
    /// returns the stream to copy in place of the namespace side (e.g. TLS terminated over it).
    /// </summary>
    public delegate Task<Stream> Opening(Stream inside, Stream upstream, CancellationToken cancellationToken);

    readonly TcpListener _listener;
    readonly int _target;
    readonly Opening? _opening;
    readonly CancellationTokenSource _stop = new();
    readonly List<IDisposable> _connections = [];

    public LoopbackRelay(LabNode node, int target, Opening? opening = null)
    {
        _target = target;
        _opening = opening;
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
                _ = RelayAsync(await _listener.AcceptTcpClientAsync(_stop.Token));
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException) { }
    }

    async Task RelayAsync(TcpClient inside)
    {
        var outside = new TcpClient();
        Stream? stream = null;
        lock (_connections) _connections.AddRange([inside, outside]);
        try
        {
            await outside.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            var upstream = outside.GetStream();
            stream = _opening is null ? inside.GetStream() : await _opening(inside.GetStream(), upstream, _stop.Token);
            lock (_connections) _connections.Add(stream);
            // Either side ending ends the connection: both are closed below.
            await Task.WhenAny(stream.CopyToAsync(upstream, _stop.Token), upstream.CopyToAsync(stream, _stop.Token));
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or SocketException
                                    or AuthenticationException) { }
        finally
        {
            stream?.Dispose();
            inside.Dispose();
            outside.Dispose();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_connections) foreach (var c in _connections) c.Dispose();
    }
}
