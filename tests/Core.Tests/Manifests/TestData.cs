using System.Runtime.CompilerServices;

namespace NginxHa.Core.Tests.Manifests;

internal static class TestData
{
    /// <summary>Files under testdata/ next to this source file (found from the source path, so no copy step is needed).</summary>
    public static string PathOf(string name, [CallerFilePath] string callerFile = "") =>
        Path.Combine(Path.GetDirectoryName(callerFile)!, "testdata", name);
}
