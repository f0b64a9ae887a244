using System.Runtime.CompilerServices;

namespace NginxHa.Core.Tests.Manifests;

internal static class TestData
{
    /// <summary>Files under testdata/ next to this source file (found from the source path, so no copy step is needed).</summary>
    public static string PathOf(string name) => Path.Combine(Path.GetDirectoryName(ThisFile())!, "testdata", name);

    private static string ThisFile([CallerFilePath] string path = "") => path;
}
