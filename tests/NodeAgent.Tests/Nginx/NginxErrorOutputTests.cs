using NginxHa.NodeAgent.Nginx;

namespace NginxHa.NodeAgent.Tests.Nginx;

public class NginxErrorOutputTests
{
    [Theory]
    [InlineData("nginx: [emerg] bind() to 0.0.0.0:80 failed (13: Permission denied)\nnginx: configuration file /c test failed\n", true)]
    [InlineData("nginx: [warn] low\nnginx: [emerg] bind() to [::]:443 failed (13: Permission denied)\n", true)]
    [InlineData("nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)\n", false)]
    [InlineData("nginx: [emerg] unknown directive \"bogus\" in /c:3\nnginx: [emerg] bind() to 0.0.0.0:80 failed (13: Permission denied)\n", false)]
    [InlineData("nginx: configuration file /c test failed\n", false)]
    [InlineData("", false)]
    public void Only_a_refused_listen_bind_is_what_the_sidecar_binds_for_the_agent(string stderr, bool onlyListen)
    {
        Assert.Equal(onlyListen, NginxErrorOutput.OnlyListenPermissionDenied(stderr));
    }

    [Fact]
    public void Takes_the_first_emerg_line_without_prefix_or_summary()
    {
        const string stderr = """
            nginx: [emerg] unknown directive "bogus" in /srv/conf/nginx.conf.candidate:3
            nginx: configuration file /srv/conf/nginx.conf.candidate test failed
            """;

        Assert.Equal("unknown directive \"bogus\" in /srv/conf/nginx.conf.candidate:3", NginxErrorOutput.FirstError(stderr));
    }

    [Fact]
    public void Strips_timestamp_and_pid_of_the_error_log_shape()
    {
        const string stderr = "2026/11/23 20:07:33 [emerg] 12789#12789: \"pid\" directive is duplicate in /x/dup.conf:1\n"
            + "nginx: configuration file /x/dup.conf test failed\n";

        Assert.Equal("\"pid\" directive is duplicate in /x/dup.conf:1", NginxErrorOutput.FirstError(stderr));
    }

    [Fact]
    public void Skips_warnings_before_the_first_error()
    {
        const string stderr = "nginx: [warn] the \"ssl\" directive is deprecated in /c:4\n"
            + "nginx: [emerg] bind() to 127.0.0.1:80 failed (98: Address already in use)\n";

        Assert.Equal("bind() to 127.0.0.1:80 failed (98: Address already in use)", NginxErrorOutput.FirstError(stderr));
    }

    [Fact]
    public void Falls_back_to_the_first_line_that_is_not_the_summary()
    {
        const string stderr = "nginx: configuration file /c test failed\nnginx: something odd happened\n";

        Assert.Equal("something odd happened", NginxErrorOutput.FirstError(stderr));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  \n ")]
    public void Empty_output_has_no_error(string? stderr) => Assert.Null(NginxErrorOutput.FirstError(stderr));

    [Theory]
    [InlineData("nginx: [emerg] bind() to 127.0.0.1:80 failed (98: Address already in use)", true)]
    [InlineData("2026/11/23 20:07:33 [emerg] 1#1: still could not bind()", true)]
    [InlineData("nginx: [warn] conflicting server name \"a\" on 0.0.0.0:80, ignored", false)]
    [InlineData("nginx: [alert] could not open error log file", false)]
    [InlineData("emerg without brackets", false)]
    public void Emergency_lines_are_recognised(string line, bool emergency) => Assert.Equal(emergency, NginxErrorOutput.IsEmergency(line));
}
