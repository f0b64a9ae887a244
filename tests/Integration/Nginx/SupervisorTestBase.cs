using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Nginx;

/// <summary>A class of supervisor tests: each test gets its own <see cref="SupervisorTestSite"/>, disposed after it with
/// the supervisor's log written to the test's output.</summary>
public abstract class SupervisorTestBase(ITestOutputHelper output) : IAsyncLifetime
{
    protected const int SIGKILL = 9;

    private protected readonly SupervisorTestSite _site = new();

    protected ITestOutputHelper Output => output;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _site.DisposeAsync();
        foreach (var line in _site.LogLines) output.WriteLine(line);
    }
}
