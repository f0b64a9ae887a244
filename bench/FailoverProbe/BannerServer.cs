using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace NginxHa.Bench.FailoverProbe;

/// <summary>Answers every TCP connection with its name and a newline, then closes it.</summary>
public static class BannerServer
{
    public static async Task<int> RunAsync(ServeOptions options)
    {
        using var stop = new CancellationTokenSource();
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        var banner = Encoding.ASCII.GetBytes(options.Name + "\n");
        var listener = new TcpListener(IPAddress.Any, options.Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        // The probe opens up to ~40 connections at once while the VIP moves; keep a deep queue.
        listener.Start(backlog: 1024);
        Console.Error.WriteLine($"serving '{options.Name}' on 0.0.0.0:{options.Port}");
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var client = await listener.AcceptSocketAsync(stop.Token);
                _ = AnswerAsync(client, banner);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            listener.Stop();
        }
        return 0;
    }

    private static async Task AnswerAsync(Socket client, byte[] banner)
    {
        using (client)
        {
            try
            {
                await client.SendAsync(banner, SocketFlags.None);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
                // The probe gave up on this attempt already; nothing to answer.
            }
        }
    }
}
