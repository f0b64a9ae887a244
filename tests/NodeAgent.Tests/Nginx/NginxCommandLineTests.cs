using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Tests.Nginx;

public class NginxCommandLineTests
{
    private static readonly NginxPaths Paths = NginxSupervisorOptions.PathsUnder("/srv/ngx");

    [Fact]
    public void Run_keeps_nginx_in_the_foreground_with_our_pid_file()
    {
        Assert.Equal(
            ["-c", "/srv/ngx/conf/nginx.conf", "-p", "/srv/ngx/", "-e", "/srv/ngx/logs/error.log",
             "-g", "daemon off; master_process on; pid /srv/ngx/logs/nginx.pid;"],
            NginxCommandLine.Run(Paths));
    }

    [Fact]
    public void Test_validates_the_given_file_with_the_same_globals()
    {
        Assert.Equal(
            ["-t", "-c", "/srv/ngx/conf/nginx.conf.candidate", "-p", "/srv/ngx/", "-e", "/srv/ngx/logs/error.log",
             "-g", "daemon off; master_process on; pid /srv/ngx/logs/nginx.pid;"],
            NginxCommandLine.Test(Paths, Paths.CandidatePath));
    }

    [Fact]
    public void Candidate_sits_next_to_the_live_config_for_an_atomic_rename()
    {
        Assert.Equal(Path.GetDirectoryName(Paths.ConfigPath), Path.GetDirectoryName(Paths.CandidatePath));
    }

    [Theory]
    [InlineData("/run/ngx pid", "PidFilePath")]
    [InlineData("/run/x;evil", "PidFilePath")]
    [InlineData("logs/nginx.pid", "PidFilePath must be an absolute path")]
    public void Unsafe_pid_paths_are_rejected_with_the_field_name(string pidPath, string expectedStart)
    {
        var paths = Paths with { PidFilePath = pidPath };

        var error = Assert.Throws<ArgumentException>(paths.Validate);

        Assert.StartsWith(expectedStart, error.Message);
    }

    [Fact]
    public void Relative_config_path_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>((Paths with { ConfigPath = "nginx.conf" }).Validate);

        Assert.Equal("ConfigPath must be an absolute path, got 'nginx.conf'.", error.Message);
    }
}
