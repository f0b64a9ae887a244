using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Sources;

/// <summary>A kubernetes.io/tls Secret's certificate chain and private key (PEM), checked to belong together. Never logged.</summary>
public sealed class TlsKeyPair
{
    TlsKeyPair(ReadOnlyMemory<byte> certificate, ReadOnlyMemory<byte> privateKey, string version)
    {
        Certificate = certificate;
        PrivateKey = privateKey;
        Version = version;
    }

    public ReadOnlyMemory<byte> Certificate { get; }
    public ReadOnlyMemory<byte> PrivateKey { get; }

    /// <summary>16 hex digits of SHA-256 over both: the same pair gives the same directory on every node.</summary>
    public string Version { get; }

    /// <summary>
    /// The pair, or why not (a line that names the Secret's key and the reason, never the content): both PEM, the first
    /// certificate parses, and the key is the private key of that certificate (what nginx would refuse at load).
    /// </summary>
    public static TlsKeyPair? Check(ReadOnlySpan<byte> certificate, ReadOnlySpan<byte> privateKey, out string? problem)
    {
        problem = null;
        string certificateText, keyText;
        try
        {
            var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
            certificateText = strict.GetString(certificate);
            keyText = strict.GetString(privateKey);
        }
        catch (DecoderFallbackException)
        {
            problem = "tls.crt or tls.key: not PEM text";
            return null;
        }
        if (!certificateText.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            problem = $"{NginxRuntimeOptions.TlsCertificateKey}: no PEM certificate (-----BEGIN CERTIFICATE-----)";
        else if (!keyText.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
            problem = $"{NginxRuntimeOptions.TlsPrivateKeyKey}: no PEM private key (-----BEGIN ... PRIVATE KEY-----)";
        if (problem is not null) return null;
        try
        {
            using var first = X509Certificate2.CreateFromPem(certificateText);
            try
            {
                // Throws when the key is not the certificate's (a mismatched Secret that nginx -t would reject).
                using var paired = X509Certificate2.CreateFromPem(certificateText, keyText);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException)
            {
                // ArgumentException: a key of the certificate's algorithm but not its own; CryptographicException: no usable key.
                problem = $"{NginxRuntimeOptions.TlsPrivateKeyKey}: not the private key of the certificate in {NginxRuntimeOptions.TlsCertificateKey} " +
                          $"(subject {Core.Text.SafeText.Escape(first.Subject, 200)}): {Describe(ex)}";
                return null;
            }
        }
        catch (CryptographicException ex)
        {
            problem = $"{NginxRuntimeOptions.TlsCertificateKey}: the certificate does not parse: {Describe(ex)}";
            return null;
        }
        return new TlsKeyPair(certificate.ToArray(), privateKey.ToArray(), Hash(certificate, privateKey));
    }

    // The framework's messages name the problem, not the bytes; cut all the same.
    static string Describe(Exception ex) => Core.Text.SafeText.Escape(ex is ArgumentException a ? a.Message.Replace($" (Parameter '{a.ParamName}')", "") : ex.Message, 200);

    static string Hash(ReadOnlySpan<byte> certificate, ReadOnlySpan<byte> privateKey)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(certificate);
        sha.AppendData([0]);
        sha.AppendData(privateKey);
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    public override string ToString() => $"TlsKeyPair({Version})";
}

/// <summary>One TLS Secret a NodeHaConfig's pools name: where it is, and the field that names it (for messages).</summary>
public sealed record TlsSecretReference(string Namespace, string Name, string Field)
{
    public string Key => $"{Namespace}/{Name}";

    /// <summary>
    /// Pure: every TLS Secret the config's pools serve with, once each. A pool's Secret is in the pool's namespace (the pool is
    /// "namespace/name" in a NodeHaConfig); a pool without a namespace has no Secret to read.
    /// </summary>
    public static IReadOnlyList<TlsSecretReference> Of(NodeHaConfig config)
    {
        var found = new Dictionary<string, TlsSecretReference>(StringComparer.Ordinal);
        for (int p = 0; p < config.Spec.BackendPools.Count; p++)
        {
            var pool = config.Spec.BackendPools[p];
            int slash = pool.Name.IndexOf('/');
            if (slash <= 0) continue;
            // One certificate per server block: the first TLS listener's, as the renderer writes it.
            int l = pool.Spec.Listeners.FindIndex(listener => listener.Tls is not null);
            if (l >= 0 && pool.Spec.Listeners[l].Tls!.SecretName is { } secret)
            {
                var reference = new TlsSecretReference(pool.Name[..slash], secret, $"spec.backendPools[{p}].spec.listeners[{l}].tls.secretName");
                found.TryAdd(reference.Key, reference);
            }
        }
        return found.Values.ToList();
    }
}
