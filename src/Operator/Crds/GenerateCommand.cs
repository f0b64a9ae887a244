namespace NginxHa.Operator.Crds;

/// <summary>`nginx-ha-operator generate crds --out DIR` and `generate docs --out FILE`.</summary>
public static class GenerateCommand
{
    public const string Usage = "nginx-ha-operator generate crds --out DIR | generate docs --out FILE";

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Count != 3 || args[0] is not ("crds" or "docs") || args[1] is not ("--out" or "-o"))
        {
            error.WriteLine($"usage: {Usage}");
            return 2;
        }
        if (args[0] == "crds")
        {
            foreach (var path in CrdGenerator.WriteAll(args[2])) output.WriteLine($"wrote {path}");
        }
        else
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(args[2]));
            if (directory is not null) Directory.CreateDirectory(directory);
            File.WriteAllText(args[2], ResourceReference.Write());
            output.WriteLine($"wrote {args[2]}");
        }
        return 0;
    }
}
