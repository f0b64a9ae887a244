using System.Security.Cryptography;
using System.Text;
using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Sources;

/// <summary>An htpasswd file from a Secret's "auth" key, checked to be what nginx's auth_basic_user_file reads. Never logged.</summary>
public sealed class HtpasswdFile
{
    HtpasswdFile(ReadOnlyMemory<byte> content, string version)
    {
        Content = content;
        Version = version;
    }

    public ReadOnlyMemory<byte> Content { get; }

    /// <summary>16 hex digits of SHA-256 over the content: the same file gives the same directory on every node.</summary>
    public string Version { get; }

    /// <summary>Longest file taken: nginx reads it on every request.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>
    /// The file, or why not (naming the key and the line, never the content): UTF-8 text without NUL, at least one entry,
    /// every line that is not empty or a comment "user:hash" with both parts non-empty. nginx -t never opens this file
    /// (workers open it per request), so a broken one would otherwise only show as 500s or refused logins.
    /// </summary>
    public static HtpasswdFile? Check(ReadOnlySpan<byte> content, out string? problem)
    {
        problem = null;
        const string key = NginxRuntimeOptions.HtpasswdKey;
        if (content.Length > MaxLength)
        {
            problem = $"{key}: {content.Length} bytes, more than {MaxLength}";
            return null;
        }
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            problem = $"{key}: not UTF-8 text";
            return null;
        }
        int entries = 0;
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int colon = line.IndexOf(':');
            if (line.Contains('\0'))
                problem = $"{key}: line {i + 1}: a NUL byte";
            else if (colon <= 0)
                problem = $"{key}: line {i + 1}: not \"user:password-hash\" (no user name before a ':')";
            else if (colon == line.Length - 1)
                problem = $"{key}: line {i + 1}: no password hash after the user name";
            if (problem is not null) return null;
            entries++;
        }
        if (entries == 0)
        {
            problem = $"{key}: no \"user:password-hash\" line (nobody could log in)";
            return null;
        }
        return new HtpasswdFile(content.ToArray(), Convert.ToHexStringLower(SHA256.HashData(content))[..16]);
    }

    public override string ToString() => $"HtpasswdFile({Version})";
}

/// <summary>One basic-auth Secret a NodeHaConfig's pools name: where it is, and the field that names it (for messages).</summary>
public sealed record HtpasswdSecretReference(string Namespace, string Name, string Field)
{
    public string Key => $"{Namespace}/{Name}";

    /// <summary>Pure: every basic-auth Secret of the config's pools' status endpoints, once each (a pool's own namespace).</summary>
    public static IReadOnlyList<HtpasswdSecretReference> Of(NodeHaConfig config)
    {
        var found = new Dictionary<string, HtpasswdSecretReference>(StringComparer.Ordinal);
        for (int p = 0; p < config.Spec.BackendPools.Count; p++)
        {
            var pool = config.Spec.BackendPools[p];
            int slash = pool.Name.IndexOf('/');
            if (slash <= 0) continue;
            if (pool.Spec.Status is { Enabled: true, BasicAuth.SecretName: { } secret })
            {
                var reference = new HtpasswdSecretReference(pool.Name[..slash], secret, $"spec.backendPools[{p}].spec.status.basicAuth.secretName");
                found.TryAdd(reference.Key, reference);
            }
        }
        return found.Values.ToList();
    }
}
