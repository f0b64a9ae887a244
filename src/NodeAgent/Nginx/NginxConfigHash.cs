using System.Text;
using NginxHa.NodeAgent.Metrics;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>The fingerprint of an nginx.conf: the first 12 hex digits of its SHA-256, in the node's status
/// (nginx.configHash) and the nginx_ha_nginx_config_info metric alike, so nodes serving the same config show the same value.</summary>
public static class NginxConfigHash
{
    public static string Of(string config) =>
        Convert.ToHexStringLower(Sha256.HashData(Encoding.UTF8.GetBytes(config)))[..12];
}
