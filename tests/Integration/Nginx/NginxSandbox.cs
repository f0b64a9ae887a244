using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;

namespace NginxHa.Integration.Tests.Nginx;

/// <summary>
/// A temporary directory laid out like <see cref="NginxRuntimeOptions.UnderDirectory"/>, with the
/// certificates, keys and htpasswd files a rendered config refers to. Deleted on dispose.
/// </summary>
public sealed class NginxSandbox : IDisposable
{
    private const string NginxBinary = "/usr/sbin/nginx";
    private const string TestPassword = "sandbox-password";

    public DirectoryInfo Directory { get; } = System.IO.Directory.CreateTempSubdirectory("nhr-nginx-");
    public string ConfigPath => Path.Combine(Directory.FullName, "nginx.conf");
    public string ErrorLogPath => Path.Combine(Directory.FullName, "logs", "error.log");

    public NginxSandbox()
    {
        foreach (var sub in new[] { "logs", "tmp", "conf", "secrets" })
            Directory.CreateSubdirectory(sub);
    }

    /// <summary>Render the input into this directory and create every file it references.</summary>
    public string WriteConfig(NginxRenderInput input, bool createReferencedFiles = true)
    {
        if (createReferencedFiles) CreateReferencedFiles(input);
        var text = NginxConfigRenderer.Render(input);
        File.WriteAllText(ConfigPath, text);
        return text;
    }

    public void CreateReferencedFiles(NginxRenderInput input)
    {
        var runtime = input.Runtime;
        foreach (var (_, spec) in input.Pools)
        {
            foreach (var tls in spec.Listeners.Select(listener => listener.Tls).OfType<ListenerTls>())
                WriteSelfSignedCertificate(runtime.CertificatePath(tls), runtime.PrivateKeyPath(tls));
            if (spec.Status?.BasicAuth is { } auth)
                WritePrivateFile(runtime.HtpasswdPath(auth), $"admin:{{SHA}}{Convert.ToBase64String(SHA1.HashData(Encoding.UTF8.GetBytes(TestPassword)))}\n");
        }
    }

    /// <summary>Runs `nginx -t` on <see cref="ConfigPath"/>; fails the test when nginx is not installed.</summary>
    public (int ExitCode, string Output) TestConfig(string? configPath = null)
    {
        Assert.True(File.Exists(NginxBinary), $"{NginxBinary} is missing: install the nginx package");
        var start = new ProcessStartInfo(NginxBinary)
        {
            ArgumentList = { "-t", "-c", configPath ?? ConfigPath, "-e", ErrorLogPath },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "nginx -t did not finish in 30 s");
        return (process.ExitCode, stdout + stderr.Result);
    }

    /// <summary>Starts nginx in the foreground on this config; the caller disposes the process.</summary>
    public Process StartNginx()
    {
        Assert.True(File.Exists(NginxBinary), $"{NginxBinary} is missing: install the nginx package");
        var start = new ProcessStartInfo(NginxBinary)
        {
            ArgumentList = { "-c", ConfigPath, "-e", ErrorLogPath, "-g", "daemon off;" },
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        };
        return Process.Start(start)!;
    }

    private static void WriteSelfSignedCertificate(string certificatePath, string keyPath)
    {
        if (File.Exists(certificatePath)) return;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=nginx-ha.test", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(certificatePath)!);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        WritePrivateFile(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>Keys and password files are readable by the owner only.</summary>
    private static void WritePrivateFile(string path, string content)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("file modes need Linux");
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        stream.Write(Encoding.UTF8.GetBytes(content));
    }

    public void Dispose() => Directory.Delete(recursive: true);
}
