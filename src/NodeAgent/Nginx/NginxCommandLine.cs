namespace NginxHa.NodeAgent.Nginx;

/// <summary>Where nginx and its files live. All paths absolute.</summary>
/// <param name="Binary">The nginx executable.</param>
/// <param name="Prefix">nginx's -p prefix: relative paths in the config resolve against it.</param>
/// <param name="ConfigPath">The live config (-c); candidates are written next to it so the final rename is atomic.</param>
/// <param name="PidFilePath">The master's pid file; set by us through -g in child mode, so the rendered config must not set `pid`.</param>
/// <param name="ErrorLogPath">Startup error log (-e) until the config's own error_log takes over.</param>
public sealed record NginxPaths(string Binary, string Prefix, string ConfigPath, string PidFilePath, string ErrorLogPath)
{
    public string CandidatePath => ConfigPath + ".candidate";

    public void Validate()
    {
        Check(nameof(Binary), Binary);
        Check(nameof(Prefix), Prefix);
        Check(nameof(ConfigPath), ConfigPath);
        Check(nameof(PidFilePath), PidFilePath);
        Check(nameof(ErrorLogPath), ErrorLogPath);
        // The pid path goes into a -g directive string: keep it free of nginx syntax.
        if (PidFilePath.IndexOfAny([' ', '\t', ';', '"', '\'', '{', '}', '$', '\\']) >= 0)
            throw new ArgumentException($"PidFilePath must not contain whitespace, quotes or any of ; {{ }} $ \\, got '{PidFilePath}'.");
    }

    private static void Check(string field, string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{field} is required.");
        if (!Path.IsPathFullyQualified(path)) throw new ArgumentException($"{field} must be an absolute path, got '{path}'.");
        if (path.Contains('\n') || path.Contains('\0')) throw new ArgumentException($"{field} contains a newline or NUL.");
    }
}

/// <summary>The nginx command lines the supervisor runs.</summary>
public static class NginxCommandLine
{
    /// <summary>
    /// Global directives we own: foreground (we must be its parent to see it die), master process (graceful reload on
    /// SIGHUP), our pid file. The rendered config must not repeat them (nginx rejects duplicate directives).
    /// </summary>
    public static string GlobalDirectives(NginxPaths paths) => $"daemon off; master_process on; pid {paths.PidFilePath};";

    /// <summary>Arguments to run the master in the foreground on the live config.</summary>
    public static IReadOnlyList<string> Run(NginxPaths paths) =>
        ["-c", paths.ConfigPath, "-p", EnsureTrailingSlash(paths.Prefix), "-e", paths.ErrorLogPath, "-g", GlobalDirectives(paths)];

    /// <summary>Arguments to validate a config file with the same prefix and globals as the running master.</summary>
    public static IReadOnlyList<string> Test(NginxPaths paths, string configPath) =>
        ["-t", "-c", configPath, "-p", EnsureTrailingSlash(paths.Prefix), "-e", paths.ErrorLogPath, "-g", GlobalDirectives(paths)];

    // nginx joins the prefix and relative paths by plain concatenation.
    private static string EnsureTrailingSlash(string prefix) => prefix.EndsWith('/') ? prefix : prefix + "/";
}
