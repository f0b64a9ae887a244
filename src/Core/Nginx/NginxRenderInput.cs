using NginxHa.Core.Resources;

namespace NginxHa.Core.Nginx;

/// <summary>Everything one node's nginx.conf is made of: its pools (servers already resolved) and local paths.</summary>
/// <param name="Pools">Pool name ("name" or "namespace/name") and spec; rendered in ordinal name order.</param>
public sealed record NginxRenderInput(
    IReadOnlyList<(string Name, NginxBackendPoolSpec Spec)> Pools,
    NginxRuntimeOptions Runtime)
{
    static readonly IReadOnlyDictionary<string, string> NoSecretDirectories = new Dictionary<string, string>();

    /// <summary>
    /// Secrets the agent wrote to disk, by <see cref="SecretKey"/>: the directory holding their files (tls.crt, tls.key,
    /// auth). A Secret not listed here is expected in <see cref="NginxRuntimeOptions.SecretsDirectory"/>/SECRET/.
    /// </summary>
    public IReadOnlyDictionary<string, string> SecretDirectories { get; init; } = NoSecretDirectories;

    /// <summary>A pool's Secret lives in the pool's namespace: "namespace/secret" ("secret" for a pool without one).</summary>
    public static string SecretKey(string poolName, string secretName)
    {
        int slash = poolName.IndexOf('/');
        return slash < 0 ? secretName : $"{poolName[..slash]}/{secretName}";
    }

    public string CertificatePath(string poolName, ListenerTls tls) =>
        SecretFile(poolName, tls.SecretName, NginxRuntimeOptions.TlsCertificateKey) ?? Runtime.CertificatePath(tls);

    public string PrivateKeyPath(string poolName, ListenerTls tls) =>
        SecretFile(poolName, tls.SecretName, NginxRuntimeOptions.TlsPrivateKeyKey) ?? Runtime.PrivateKeyPath(tls);

    public string HtpasswdPath(string poolName, BasicAuth auth) =>
        SecretFile(poolName, auth.SecretName, NginxRuntimeOptions.HtpasswdKey) ?? Runtime.HtpasswdPath(auth);

    string? SecretFile(string poolName, string? secretName, string key) =>
        secretName is not null && SecretDirectories.TryGetValue(SecretKey(poolName, secretName), out var directory) ? $"{directory}/{key}" : null;
}

/// <summary>Node-local facts the manifests do not carry: where nginx keeps its files and who it runs as.</summary>
public sealed record NginxRuntimeOptions
{
    /// <summary>
    /// The `pid` directive; null leaves it out, for a supervisor that sets it on nginx's command line
    /// (nginx rejects the directive twice).
    /// </summary>
    public required string? PidFile { get; init; }
    public required string ErrorLogFile { get; init; }

    /// <summary>Access logs with relative paths (and the default "POOL.access.log") go here.</summary>
    public required string AccessLogDirectory { get; init; }

    /// <summary>Parent of nginx's client body, proxy, fastcgi, uwsgi and scgi temp directories.</summary>
    public required string TempDirectory { get; init; }

    /// <summary>Relative certificate, key and htpasswd files in the manifests are relative to this directory.</summary>
    public required string ConfigDirectory { get; init; }

    /// <summary>Secrets are materialised as SecretsDirectory/SECRET/tls.crt, tls.key and auth.</summary>
    public required string SecretsDirectory { get; init; }

    /// <summary>Worker processes run as this user (nginx "user"); null leaves nginx's default.</summary>
    public string? User { get; init; }
    public string? Group { get; init; }

    /// <summary>Address of the agent's health probe server (answers 200 on /healthz); keep it on loopback.</summary>
    public string HealthAddress { get; init; } = "127.0.0.1";
    public required int HealthPort { get; init; }

    /// <summary>Also listen on [::] for wildcard listeners, so IPv6 VIPs are served.</summary>
    public bool ListenIPv6 { get; init; } = true;

    /// <summary>All paths under one directory: DIR/nginx.pid, DIR/logs, DIR/tmp, DIR/conf, DIR/secrets.</summary>
    public static NginxRuntimeOptions UnderDirectory(string directory, int healthPort) => new()
    {
        PidFile = $"{directory}/nginx.pid",
        ErrorLogFile = $"{directory}/logs/error.log",
        AccessLogDirectory = $"{directory}/logs",
        TempDirectory = $"{directory}/tmp",
        ConfigDirectory = $"{directory}/conf",
        SecretsDirectory = $"{directory}/secrets",
        HealthPort = healthPort,
    };

    public const string TlsCertificateKey = "tls.crt";
    public const string TlsPrivateKeyKey = "tls.key";
    public const string HtpasswdKey = "auth";

    public string CertificatePath(ListenerTls tls) =>
        tls.SecretName is { } secret ? $"{SecretsDirectory}/{secret}/{TlsCertificateKey}" : Resolve(tls.CertificateFile!);

    public string PrivateKeyPath(ListenerTls tls) =>
        tls.SecretName is { } secret ? $"{SecretsDirectory}/{secret}/{TlsPrivateKeyKey}" : Resolve(tls.KeyFile!);

    public string HtpasswdPath(BasicAuth auth) =>
        auth.SecretName is { } secret ? $"{SecretsDirectory}/{secret}/{HtpasswdKey}" : Resolve(auth.HtpasswdFile!);

    public string AccessLogPath(string poolFileName, AccessLogSettings accessLog) =>
        accessLog.Path is { } path ? ResolveUnder(AccessLogDirectory, path) : $"{AccessLogDirectory}/{poolFileName}.access.log";

    private string Resolve(string path) => ResolveUnder(ConfigDirectory, path);

    private static string ResolveUnder(string directory, string path) => path.StartsWith('/') ? path : $"{directory}/{path}";
}

/// <summary>Render refused: the input has the listed problems.</summary>
public sealed class NginxConfigException(IReadOnlyList<ValidationError> errors)
    : Exception("nginx config not rendered: " + string.Join("; ", errors))
{
    public IReadOnlyList<ValidationError> Errors { get; } = errors;
}
