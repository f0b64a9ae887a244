using System.Globalization;
using System.Net;
using System.Text;
using NginxHa.Core.Nginx;

namespace NginxHa.Core.Resources;

/// <summary>
/// Checks an <see cref="NginxBackendPoolSpec"/> field by field. Every string that reaches nginx.conf
/// is held to a character set that cannot alter the config's structure.
/// </summary>
internal static class NginxBackendPoolValidator
{
    /// <summary>Request headers the renderer sets itself; extra headers may not override them.</summary>
    private static readonly string[] ReservedHeaders = ["Host", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Proto", "Connection"];

    // nginx defaults on x86_64 (one memory page), used to check buffer combinations like nginx does.
    private const long DefaultProxyBufferSize = 4096;
    private const int DefaultProxyBufferCount = 8;

    private const int MaxPort = 65535;
    private const int MaxServerWeight = 1000;
    private const int MaxRealmLength = 128;

    public static IEnumerable<(string Path, string Message)> Validate(NginxBackendPoolSpec spec)
    {
        var errors = new List<(string, string)>();
        void Error(string path, string message) => errors.Add((path, message));

        ValidateListeners(spec.Listeners, Error);
        ValidateServerNames(spec.ServerNames, Error);
        ValidateLoadBalancing(spec.LoadBalancing, Error);
        ValidateBackends(spec.Backends, spec.LoadBalancing.Method, Error);
        ValidateUpstreamKeepalive(spec.UpstreamKeepalive, Error);
        ValidateProxy(spec.Proxy, Error);

        Offset("spec.clientMaxBodySize", spec.ClientMaxBodySize, Error);
        Size("spec.clientHeaderBufferSize", spec.ClientHeaderBufferSize, Error);
        Buffers("spec.largeClientHeaderBuffers", spec.LargeClientHeaderBuffers, minimumNumber: 1, Error);
        Duration("spec.clientKeepaliveTimeout", spec.ClientKeepaliveTimeout, Error);

        ValidateGzip(spec.Gzip, Error);
        ValidateAccessLog(spec.AccessLog, Error);
        ValidateStatus(spec.Status, spec.Listeners, Error);
        ValidateWorker(spec.Worker, Error);
        return errors;
    }

    private static void ValidateListeners(List<NginxListener> listeners, Action<string, string> error)
    {
        var seenPorts = new HashSet<int>();
        string? tlsSource = null;
        for (var index = 0; index < listeners.Count; index++)
        {
            var listener = listeners[index];
            var path = $"spec.listeners[{index}]";
            Port($"{path}.port", listener.Port, error);
            if (!seenPorts.Add(listener.Port))
                error($"{path}.port", $"port {listener.Port} is listed twice");
            if (listener.Address is not null && !NginxSyntax.IsIpAddress(listener.Address))
                error($"{path}.address", $"{Show(listener.Address)} is not an IP address");
            if (listener.Tls is null) continue;

            var tls = listener.Tls;
            var hasFiles = tls.CertificateFile is not null || tls.KeyFile is not null;
            if (tls.SecretName is not null && hasFiles)
                error($"{path}.tls", "set either secretName or certificateFile and keyFile, not both");
            else if (tls.SecretName is null && !hasFiles)
                error($"{path}.tls", "set secretName, or certificateFile and keyFile");
            if (tls.SecretName is not null)
                KubernetesName($"{path}.tls.secretName", tls.SecretName, error);
            if (hasFiles)
            {
                FilePath($"{path}.tls.certificateFile", tls.CertificateFile, required: true, error);
                FilePath($"{path}.tls.keyFile", tls.KeyFile, required: true, error);
            }

            // One server block per pool holds one certificate for all its TLS ports.
            var source = tls.SecretName ?? $"{tls.CertificateFile}|{tls.KeyFile}";
            if (tlsSource is null) tlsSource = source;
            else if (tlsSource != source)
                error($"{path}.tls", "all TLS listeners of a pool must use the same certificate");
        }
    }

    private static void ValidateServerNames(List<string> serverNames, Action<string, string> error)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var index = 0; index < serverNames.Count; index++)
        {
            var name = serverNames[index];
            var path = $"spec.serverNames[{index}]";
            if (!NginxSyntax.IsServerName(name))
                error(path, $"{Show(name)} is not a host name, \"*.name\", \".name\", \"name.*\" or \"_\"");
            else if (!seen.Add(name))
                error(path, $"{Show(name)} is listed twice");
        }
    }

    private static void ValidateLoadBalancing(LoadBalancing balancing, Action<string, string> error)
    {
        if (!Enum.IsDefined(balancing.Method))
        {
            error("spec.loadBalancing.method", $"{(int)balancing.Method} is not RoundRobin, LeastConn, IpHash or Hash");
            return;
        }
        if (balancing.Method == LoadBalancingMethod.Hash)
        {
            if (balancing.HashKey is null)
                error("spec.loadBalancing.hashKey", "is required when method is Hash");
            else if (!NginxSyntax.TryCheckVariableTemplate(balancing.HashKey, out var reason))
                error("spec.loadBalancing.hashKey", $"{Show(balancing.HashKey)} {reason}");
        }
        else
        {
            if (balancing.HashKey is not null)
                error("spec.loadBalancing.hashKey", $"is only used when method is Hash, not {balancing.Method}");
            if (balancing.Consistent)
                error("spec.loadBalancing.consistent", $"is only used when method is Hash, not {balancing.Method}");
        }
    }

    private static void ValidateBackends(Backends backends, LoadBalancingMethod method, Action<string, string> error)
    {
        if (backends.Servers.Count == 0 && backends.Service is null)
            error("spec.backends", "set servers or service");

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var index = 0; index < backends.Servers.Count; index++)
        {
            var server = backends.Servers[index];
            var path = $"spec.backends.servers[{index}]";
            if (!NginxSyntax.IsIpAddress(server.Address) && !NginxSyntax.IsHostName(server.Address))
                error($"{path}.address", $"{Show(server.Address)} is not an IP address or host name");
            else if (!seen.Add($"{server.Address}:{server.Port}"))
                error(path, $"{server.Address} port {server.Port} is listed twice");
            Port($"{path}.port", server.Port, error);
            if (server.Weight is { } weight && weight is < 1 or > MaxServerWeight)
                error($"{path}.weight", $"{weight} is not between 1 and {MaxServerWeight}");
            if (server.MaxFails is < 0)
                error($"{path}.maxFails", $"{server.MaxFails} is negative");
            Duration($"{path}.failTimeout", server.FailTimeout, error);
            if (server.Backup && method is LoadBalancingMethod.IpHash or LoadBalancingMethod.Hash)
                error($"{path}.backup", $"backup servers cannot be used with method {method} (nginx refuses them)");
        }

        if (backends.Service is { } service)
        {
            KubernetesName("spec.backends.service.name", service.Name, error);
            Port("spec.backends.service.port", service.Port, error);
        }
    }

    private static void ValidateUpstreamKeepalive(UpstreamKeepalive? keepalive, Action<string, string> error)
    {
        if (keepalive is null) return;
        if (keepalive.Connections < 1)
            error("spec.upstreamKeepalive.connections", $"{keepalive.Connections} is less than 1");
        Duration("spec.upstreamKeepalive.timeout", keepalive.Timeout, error);
        if (keepalive.Requests is < 1)
            error("spec.upstreamKeepalive.requests", $"{keepalive.Requests} is less than 1");
    }

    private static void ValidateProxy(ProxySettings proxy, Action<string, string> error)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in proxy.Headers.Extra.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            var path = $"spec.proxy.headers.extra[{Show(name)}]";
            if (!NginxSyntax.IsHeaderName(name))
                error(path, $"header name {Show(name)} may only contain letters, digits and \"-\"");
            else if (ReservedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
                error(path, $"header {name} is set by the proxy.headers switches and cannot be overridden");
            else if (!seen.Add(name))
                error(path, $"header {name} is listed twice (names are case-insensitive)");
            if (value is null || !NginxSyntax.IsLiteral(value))
                error(path, $"value {Show(value ?? "")} must be a literal: no \"$\" (nginx variables) and no control characters");
        }

        Duration("spec.proxy.connectTimeout", proxy.ConnectTimeout, error);
        Duration("spec.proxy.sendTimeout", proxy.SendTimeout, error);
        Duration("spec.proxy.readTimeout", proxy.ReadTimeout, error);
        if (!Enum.IsDefined(proxy.Redirect))
            error("spec.proxy.redirect", $"{(int)proxy.Redirect} is not Default or Off");

        var sizesValid = Size("spec.proxy.bufferSize", proxy.BufferSize, error)
            & Buffers("spec.proxy.buffers", proxy.Buffers, minimumNumber: 2, error)
            & Size("spec.proxy.busyBuffersSize", proxy.BusyBuffersSize, error);
        if (sizesValid) CheckProxyBufferCombination(proxy, error);
    }

    /// <summary>The same arithmetic nginx applies at startup (ngx_http_proxy_merge_loc_conf).</summary>
    private static void CheckProxyBufferCombination(ProxySettings proxy, Action<string, string> error)
    {
        var bufferSize = proxy.BufferSize is null ? DefaultProxyBufferSize : NginxSyntax.ParseSize(proxy.BufferSize);
        var bufferCount = proxy.Buffers?.Number ?? DefaultProxyBufferCount;
        var oneBuffer = proxy.Buffers is null ? DefaultProxyBufferSize : NginxSyntax.ParseSize(proxy.Buffers.Size);
        var largest = Math.Max(bufferSize, oneBuffer);
        var busy = proxy.BusyBuffersSize is null ? 2 * largest : NginxSyntax.ParseSize(proxy.BusyBuffersSize);
        var allButOne = (bufferCount - 1) * oneBuffer;
        var busyPath = proxy.BusyBuffersSize is null ? "spec.proxy.buffers" : "spec.proxy.busyBuffersSize";

        if (busy < largest)
            error(busyPath, $"busy buffers ({busy} bytes) must be at least the larger of bufferSize and one of buffers ({largest} bytes)");
        if (busy > allButOne)
            error(busyPath, $"busy buffers ({busy} bytes{(proxy.BusyBuffersSize is null ? ", nginx's default of twice the largest buffer" : "")}) must not exceed all buffers minus one ({bufferCount - 1} x {oneBuffer} = {allButOne} bytes)");
    }

    private static void ValidateGzip(GzipSettings? gzip, Action<string, string> error)
    {
        if (gzip is null) return;
        Size("spec.gzip.minLength", gzip.MinLength, error);
        if (gzip.CompLevel is { } level && level is < 1 or > 9)
            error("spec.gzip.compLevel", $"{level} is not between 1 and 9");
        for (var index = 0; index < gzip.Types.Count; index++)
        {
            if (!NginxSyntax.IsMimeType(gzip.Types[index]))
                error($"spec.gzip.types[{index}]", $"{Show(gzip.Types[index])} is not a MIME type like \"text/css\"");
        }
        Buffers("spec.gzip.buffers", gzip.Buffers, minimumNumber: 1, error);
        if (gzip.HttpVersion is not null and not ("1.0" or "1.1"))
            error("spec.gzip.httpVersion", $"{Show(gzip.HttpVersion)} is not \"1.0\" or \"1.1\"");
    }

    private static void ValidateAccessLog(AccessLogSettings accessLog, Action<string, string> error)
    {
        if (accessLog.Format is not null && !NginxSyntax.TryCheckVariableTemplate(accessLog.Format, out var reason))
            error("spec.accessLog.format", $"{Show(accessLog.Format)} {reason}");
        FilePath("spec.accessLog.path", accessLog.Path, required: false, error);
    }

    private static void ValidateStatus(StatusEndpoint? status, List<NginxListener> listeners, Action<string, string> error)
    {
        if (status is null || !status.Enabled) return;
        if (!NginxSyntax.IsLocationPath(status.Path))
            error("spec.status.path", $"{Show(status.Path)} is not a path like \"/nginx_status\" (letters, digits, \"._~-/\"; not \"/\")");
        if (status.Port is { } port)
        {
            Port("spec.status.port", port, error);
            if (listeners.Any(listener => listener.Port == port))
                error("spec.status.port", $"port {port} is already a listener of this pool");
        }

        if (status.BasicAuth is { } auth)
        {
            if ((auth.SecretName is null) == (auth.HtpasswdFile is null))
                error("spec.status.basicAuth", "set exactly one of secretName and htpasswdFile");
            if (auth.SecretName is not null) KubernetesName("spec.status.basicAuth.secretName", auth.SecretName, error);
            FilePath("spec.status.basicAuth.htpasswdFile", auth.HtpasswdFile, required: false, error);
            // nginx copies the realm into WWW-Authenticate: realm="..." without escaping.
            if (auth.Realm.Length is 0 or > MaxRealmLength || !NginxSyntax.IsLiteral(auth.Realm) || auth.Realm.IndexOfAny(['"', '\\']) >= 0)
                error("spec.status.basicAuth.realm", $"{Show(auth.Realm)} must be 1 to {MaxRealmLength} printable characters without \"$\", '\"' or '\\'");
        }

        for (var index = 0; index < status.Allow.Count; index++)
        {
            if (!IsAddressOrCidr(status.Allow[index]))
                error($"spec.status.allow[{index}]", $"{Show(status.Allow[index])} is not an IP address or CIDR");
        }

        if (status.BasicAuth is null && status.Allow.Count == 0)
            error("spec.status", "an enabled status endpoint needs basicAuth or an allow list; it would be open to everyone");
    }

    private static void ValidateWorker(WorkerSettings? worker, Action<string, string> error)
    {
        if (worker is null) return;
        if (worker.Processes is not null && worker.Processes != "auto"
            && !(int.TryParse(worker.Processes, NumberStyles.None, CultureInfo.InvariantCulture, out var processes) && processes is >= 1 and <= 1024))
            error("spec.worker.processes", $"{Show(worker.Processes)} is not \"auto\" or a number from 1 to 1024");
        if (worker.Connections is < 1)
            error("spec.worker.connections", $"{worker.Connections} is less than 1");
        if (worker.RlimitNofile is < 1)
            error("spec.worker.rlimitNofile", $"{worker.RlimitNofile} is less than 1");
    }

    internal static bool IsAddressOrCidr(string value)
    {
        var slash = value.IndexOf('/');
        var address = slash < 0 ? value : value[..slash];
        if (!NginxSyntax.IsIpAddress(address)) return false;
        if (slash < 0) return true;
        var maxPrefix = IPAddress.Parse(address).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128;
        return int.TryParse(value.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) && prefix <= maxPrefix;
    }

    private static void Port(string path, int port, Action<string, string> error)
    {
        if (port is < 1 or > MaxPort) error(path, $"{port} is not a port between 1 and {MaxPort}");
    }

    private static void Duration(string path, string? value, Action<string, string> error)
    {
        if (value is not null && !NginxSyntax.IsDuration(value))
            error(path, $"{Show(value)} is not a duration like \"60s\", \"500ms\" or \"1h\"");
    }

    private static bool Size(string path, string? value, Action<string, string> error)
    {
        if (value is null || NginxSyntax.IsSize(value)) return true;
        error(path, $"{Show(value)} is not a size like \"16k\" or \"1m\"");
        return false;
    }

    private static void Offset(string path, string? value, Action<string, string> error)
    {
        if (value is not null && !NginxSyntax.IsOffset(value))
            error(path, $"{Show(value)} is not a size like \"8m\" or \"1g\"");
    }

    private static bool Buffers(string path, BufferSet? buffers, int minimumNumber, Action<string, string> error)
    {
        if (buffers is null) return true;
        var valid = true;
        if (buffers.Number < minimumNumber || buffers.Number > 1024)
        {
            error($"{path}.number", $"{buffers.Number} is not between {minimumNumber} and 1024");
            valid = false;
        }
        return Size($"{path}.size", buffers.Size, error) && valid;
    }

    private static void KubernetesName(string path, string value, Action<string, string> error)
    {
        if (!NginxSyntax.IsKubernetesName(value))
            error(path, $"{Show(value)} is not a Kubernetes name (lower-case letters, digits, \"-\" and \".\")");
    }

    private static void FilePath(string path, string? value, bool required, Action<string, string> error)
    {
        if (value is null)
        {
            if (required) error(path, "is required");
            return;
        }
        if (!NginxSyntax.IsSafeFilePath(value))
            error(path, $"{Show(value)} is not a file path of letters, digits and \"._/+-\" without \".\" or \"..\" segments");
    }

    /// <summary>A value in double quotes with control characters made visible, for messages.</summary>
    internal static string Show(string value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var character in value)
        {
            switch (character)
            {
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                default:
                    if (char.IsControl(character)) builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)character:x4}");
                    else builder.Append(character);
                    break;
            }
        }
        return builder.Append('"').ToString();
    }
}
