namespace NginxHa.Operator;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("nginx-ha-operator: the controller loop is not built yet (see the issues)");
        return 2;
    }
}
