using System.Net;
using System.Net.Sockets;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// A real nginx on a web node, answering "NAME via CLIENT-ADDRESS" on <see cref="Port"/> and "NAMEb via ..." on
/// <see cref="SecondPort"/> (a second server on the same host, for pool changes that add one). The client
/// address is the balancer's own address, so a probe through a VIP learns which balancer carried it.
/// </summary>
public static class BackendServers
{
    public const int Port = 8080;
    public const int SecondPort = 8081;

    /// <summary>Starts nginx in the foreground; the lab ends it by PID when it is disposed.</summary>
    public static ChildProcess Start(LabNode node, string name, string workDirectory)
    {
        string nginx = RequiredTool.Locate("nginx", "nginx");
        string prefix = Path.Combine(workDirectory, name);
        Directory.CreateDirectory(prefix);
        string config = Path.Combine(prefix, "nginx.conf");
        File.WriteAllText(config, $$"""
            worker_processes 1;
            error_log {{prefix}}/error.log;
            pid {{prefix}}/nginx.pid;
            events { worker_connections 1024; }
            http {
                access_log off;
                default_type text/plain;
                server { listen {{Port}}; return 200 "{{name}} via $remote_addr\n"; }
                server { listen {{SecondPort}}; return 200 "{{name}}b via $remote_addr\n"; }
            }
            """);
        var process = node.Start(nginx, "-p", prefix + "/", "-e", Path.Combine(prefix, "error.log"), "-c", config, "-g", "daemon off;");
        return process;
    }

    /// <summary>Waits until each web node's nginx accepts connections from <paramref name="client"/>.</summary>
    public static async Task WaitUntilServingAsync(LabNode client, params LabNode[] webs)
    {
        foreach (var web in webs)
        {
            await Eventually.Until(() => client.Run(() =>
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Connect(new IPEndPoint(web.IPv4, Port));
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            }), up => up, TimeSpan.FromSeconds(10), $"the backend nginx on {web.Namespace} accepts connections");
        }
    }
}
