using System.Net;
using System.Net.Sockets;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// A load balancer node running <c>nginx-ha-agent run</c> on a manifest file, like a service (see <see cref="AgentNode"/>);
/// and what only the standalone tests do to it: nginx's master killed, its port taken, the link cut.
/// </summary>
public sealed class StandaloneNode(string name, LabNode node, string manifestPath, string stateDirectory) : AgentNode(name, node, stateDirectory)
{
    const int SolSocket = 1, SoReuseAddr = 2;

    protected override (IReadOnlyList<string> Arguments, string Label) AgentCommand() =>
        (["run", "-f", manifestPath, "--node", Name, "--state-dir", StateDirectory], $"agent@{Name}");

    /// <summary>SIGKILL to the nginx master alone (its workers are left to the agent, as after a real crash).</summary>
    public int KillNginxMaster()
    {
        int pid = NginxMasterPid() ?? throw new InvalidOperationException($"{Name}: no nginx master in {NginxPidFile}\n{Output}");
        ChildProcess.SignalPid(pid, ChildProcess.SIGKILL);
        return pid;
    }

    /// <summary>
    /// Makes nginx unable to start here, the way a stray service holding its port does: kills nginx's process group
    /// and, before the agent's restart can bind, listens on 127.0.0.1:80, which nginx's wildcard listener needs too.
    /// Clients of the VIP are refused, not accepted by the blocker. Dispose the socket to let nginx start again.
    /// </summary>
    public async Task<Socket> BlockNginxListenPortAsync()
    {
        for (int attempt = 1; attempt <= 5; attempt++)
        {
            int master = await WaitForNginxMasterAsync(null, TimeSpan.FromSeconds(5)) ?? 0;
            var blocker = Node.Run(() => KillAndOccupy(master));
            if (blocker is not null) return blocker;
            // The agent's restart bound the port first; try again on the new master.
        }
        throw new InvalidOperationException($"{Name}: nginx kept winning the race for port {SeedManifest.ListenPort}\n{Output}");
    }

    static Socket? KillAndOccupy(int nginxMaster)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // Not blocked by TIME_WAIT leftovers; nginx's bind still fails because this socket listens.
        socket.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        KillProcessGroup(nginxMaster);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(1);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, SeedManifest.ListenPort));
                socket.Listen(1);
                return socket;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                Thread.SpinWait(1000); // the killed workers still hold the port for a moment
            }
        }
        socket.Dispose();
        return null;
    }

    public void SetLink(bool up) => Node.Exec("ip", "link", "set", Node.InterfaceName, up ? "up" : "down");
}
