using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using YamlDotNet.RepresentationModel;

namespace NginxHa.NodeAgent.Kubernetes;

/// <summary>
/// Where the API server is and how to prove who we are: a kubeconfig's current context (server, CA, bearer token), or
/// the pod's service account (in-cluster). Client certificates and exec plugins are not supported.
/// </summary>
public sealed record KubeConnection(Uri Server, X509Certificate2Collection? CertificateAuthority, bool InsecureSkipTlsVerify,
    string? Token, string? TokenFile)
{
    const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>The pod's service account; the token file is read on every request (bound tokens rotate).</summary>
    public static KubeConnection InCluster()
    {
        var host = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST");
        var port = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port))
            throw new KubeConfigException("--kubeconfig: not given, and not in a pod (KUBERNETES_SERVICE_HOST/PORT are not set)");
        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(Path.Combine(ServiceAccountDirectory, "ca.crt"));
        var server = new Uri($"https://{(host.Contains(':') ? $"[{host}]" : host)}:{port}");
        return new KubeConnection(server, ca, false, null, Path.Combine(ServiceAccountDirectory, "token"));
    }

    /// <summary>The current context of a kubeconfig file.</summary>
    public static KubeConnection FromKubeconfig(string path)
    {
        var yaml = new YamlStream();
        using (var reader = File.OpenText(path)) yaml.Load(reader);
        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new KubeConfigException($"{path}: not a kubeconfig (no mapping)");
        string contextName = Scalar(root, "current-context") ?? throw new KubeConfigException($"{path}: current-context: missing");
        var context = Named(root, "contexts", contextName, "context", path);
        string clusterName = Scalar(context, "cluster") ?? throw new KubeConfigException($"{path}: context {contextName}: cluster: missing");
        var cluster = Named(root, "clusters", clusterName, "cluster", path);
        var server = Scalar(cluster, "server") ?? throw new KubeConfigException($"{path}: cluster {clusterName}: server: missing");
        X509Certificate2Collection? ca = null;
        if (Scalar(cluster, "certificate-authority-data") is { } caData)
        {
            ca = new X509Certificate2Collection();
            ca.ImportFromPem(System.Text.Encoding.ASCII.GetString(Convert.FromBase64String(caData)));
        }
        else if (Scalar(cluster, "certificate-authority") is { } caFile)
        {
            ca = new X509Certificate2Collection();
            ca.ImportFromPemFile(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, caFile));
        }
        bool insecure = Scalar(cluster, "insecure-skip-tls-verify") is "true";
        string? token = null, tokenFile = null;
        if (Scalar(context, "user") is { } userName)
        {
            var user = Named(root, "users", userName, "user", path);
            token = Scalar(user, "token");
            tokenFile = Scalar(user, "tokenFile");
        }
        return new KubeConnection(new Uri(server), ca, insecure, token, tokenFile);
    }

    /// <summary>The bearer token for the next request, if any.</summary>
    public string? CurrentToken() => TokenFile is { } file ? File.ReadAllText(file).Trim() : Token;

    public HttpMessageHandler CreateHandler()
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (InsecureSkipTlsVerify)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        else if (CertificateAuthority is { } ca)
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        return handler;
    }

    static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlScalarNode s ? s.Value : null;

    static YamlMappingNode Named(YamlMappingNode root, string list, string name, string field, string path)
    {
        if (root.Children.TryGetValue(new YamlScalarNode(list), out var items) && items is YamlSequenceNode sequence)
            foreach (var item in sequence.OfType<YamlMappingNode>())
                if (Scalar(item, "name") == name && item.Children.TryGetValue(new YamlScalarNode(field), out var body))
                    return body as YamlMappingNode ?? new YamlMappingNode();
        throw new KubeConfigException($"{path}: {list}: no entry named \"{name}\"");
    }
}

public sealed class KubeConfigException(string message) : Exception(message);
