using NginxHa.Core.Tests.Nginx;

namespace NginxHa.Integration.Tests.Nginx;

/// <summary>
/// Every golden case, rendered into a temporary directory instead of the placeholder one,
/// must pass the real `nginx -t`; and `nginx -t` must catch broken configs, so the check can fail.
/// </summary>
public sealed class GoldenConfigTests
{
    private const int UnusedHealthPort = 18080;

    public static TheoryData<string> CaseNames()
    {
        var names = new TheoryData<string>();
        foreach (var renderCase in NginxRenderCase.LoadAll()) names.Add(renderCase.Name);
        return names;
    }

    private static NginxRenderCase LoadCase(string name) =>
        NginxRenderCase.Load(Path.Combine(NginxRenderCase.TestDataDirectory(), name + ".yaml"));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Golden_case_passes_nginx_t(string caseName)
    {
        using var sandbox = new NginxSandbox();
        var renderCase = LoadCase(caseName);
        var text = sandbox.WriteConfig(renderCase.Input(sandbox.Directory.FullName, UnusedHealthPort));

        // The sandbox render differs from the golden file only in the directory.
        Assert.Equal(
            File.ReadAllText(renderCase.GoldenPath),
            text.Replace(sandbox.Directory.FullName, NginxRenderCase.PlaceholderDirectory, StringComparison.Ordinal));

        var (exitCode, output) = sandbox.TestConfig();
        Assert.True(exitCode == 0, $"nginx -t failed for {caseName}:\n{output}\n{text}");
        Assert.Contains("test is successful", output);
        Assert.DoesNotContain("[warn]", output);
    }

    [Fact]
    public void Nginx_t_rejects_a_config_whose_private_key_is_missing()
    {
        using var sandbox = new NginxSandbox();
        var input = LoadCase("tls").Input(sandbox.Directory.FullName, UnusedHealthPort);
        sandbox.CreateReferencedFiles(input);
        var keyPath = input.Runtime.PrivateKeyPath(input.Pools.Single(pool => pool.Name == "admin").Spec.Listeners[0].Tls!);
        File.Delete(keyPath);
        sandbox.WriteConfig(input, createReferencedFiles: false);

        var (exitCode, output) = sandbox.TestConfig();

        Assert.NotEqual(0, exitCode);
        Assert.Contains(keyPath, output);
    }

    [Fact]
    public void Nginx_agrees_that_backup_servers_cannot_be_used_with_ip_hash()
    {
        using var sandbox = new NginxSandbox();
        var text = sandbox.WriteConfig(LoadCase("seed000").Input(sandbox.Directory.FullName, UnusedHealthPort));
        var broken = text.Replace("ip_hash;", "ip_hash;\n        server 198.18.1.19:80 backup;", StringComparison.Ordinal);
        Assert.NotEqual(text, broken);
        File.WriteAllText(sandbox.ConfigPath, broken);

        var (exitCode, output) = sandbox.TestConfig();

        Assert.NotEqual(0, exitCode);
        Assert.Contains("backup", output);
    }

    [Fact]
    public void Nginx_agrees_with_the_proxy_buffer_arithmetic_of_the_validator()
    {
        // The validator refuses bufferSize 64k with nginx's default 8 x 4k buffers; so must nginx.
        using var sandbox = new NginxSandbox();
        var text = sandbox.WriteConfig(LoadCase("seed001").Input(sandbox.Directory.FullName, UnusedHealthPort));
        var broken = text.Replace("proxy_pass http://default_web;", "proxy_pass http://default_web;\n            proxy_buffer_size 64k;", StringComparison.Ordinal);
        Assert.NotEqual(text, broken);
        File.WriteAllText(sandbox.ConfigPath, broken);

        var (exitCode, output) = sandbox.TestConfig();

        Assert.NotEqual(0, exitCode);
        Assert.Contains("proxy_busy_buffers_size", output);
    }
}
