namespace NginxHa.NodeAgent;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("usage: nginx-ha-agent vrrp --interface IF --vrid N --priority P --vip ADDR/PREFIX");
        return 2;
    }
}
