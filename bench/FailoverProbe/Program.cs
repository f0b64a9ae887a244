using NginxHa.Bench.FailoverProbe;

// A measurement tool for bench/failover.sh: a banner server for each router and a client-side
// probe that times a failover from the fault until the backup's banner comes back on the VIP.
try
{
    return args switch
    {
        ["serve", .. var rest] => await BannerServer.RunAsync(ServeOptions.Parse(rest)),
        ["probe", .. var rest] => await FailoverProbe.RunAsync(ProbeOptions.Parse(rest)),
        _ => Usage(),
    };
}
catch (UsageException e)
{
    Console.Error.WriteLine($"failover-probe: {e.Message}");
    return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage:
          failover-probe serve --name NAME --port PORT
          failover-probe probe --target VIP:PORT --expect NAME [--timeout 10s] [--interval 5ms]
                               [--attempt-timeout 200ms] [--sync-advert-from IP [--fault-delay 300ms]] [--http PATH]
                               [--signal TERM|KILL|INT:PID[,PID...] | -- FAULT COMMAND...]
        probe prints the milliseconds from the fault (or from the start, without a fault command) until
        the first banner equal to NAME, or "timeout". With --sync-advert-from it fires the fault right
        after a VRRP advert from IP (or --fault-delay after it) and prints a second line with what it saw
        on the wire; it then also connects once more on each ARP for the target. --signal sends the
        signal itself (kill(2), PIDs in order) instead of running a command. With --http it sends GET PATH on each connection and matches a 200 reply whose body
        is NAME.
        """);
    return 2;
}
