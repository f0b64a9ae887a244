using System.Collections.Concurrent;
using k8s;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>The informer against the real API server: paging, watch, 410 Gone, and a silent watch.</summary>
public sealed class ResourceInformerTests(ResourceInformerTests.Server fixture) : IClassFixture<ResourceInformerTests.Server>, IAsyncLifetime
{
    public sealed class Server : IAsyncLifetime
    {
        public ApiServer ApiServer { get; } = new();

        public async Task InitializeAsync()
        {
            await ApiServer.InitializeAsync();
            await ApiServer.ApplyCrdsAsync(TestCrds.Widgets, TestCrds.WidgetPath);
        }

        public Task DisposeAsync() => ApiServer.DisposeAsync();
    }

    private readonly ApiServer _server = fixture.ApiServer;
    private readonly StringWriter _logText = new();
    private OperatorLog Log => new(TextWriter.Synchronized(_logText), TimeProvider.System, debug: true);

    public async Task InitializeAsync()
    {
        using var client = _server.Client();
        await client.CustomObjects.DeleteCollectionNamespacedCustomObjectAsync(TestCrds.WidgetGroup, "v1", "default", "widgets");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Records the calls the informer makes.</summary>
    private sealed class Recording<T>(IListWatch<T> inner) : IListWatch<T>
    {
        public ConcurrentQueue<string> Calls { get; } = new();
        public string Description => inner.Description;

        public async Task<ListPage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken)
        {
            var page = await inner.ListAsync(continueToken, limit, cancellationToken);
            Calls.Enqueue($"list continue={continueToken is not null} limit={limit} items={page.Items.Count} rv={page.ResourceVersion}");
            return page;
        }

        public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(string resourceVersion, int timeoutSeconds, Action<Exception> onError, CancellationToken cancellationToken)
        {
            Calls.Enqueue($"watch rv={resourceVersion} timeoutSeconds={timeoutSeconds}");
            return inner.WatchAsync(resourceVersion, timeoutSeconds, onError, cancellationToken);
        }
    }

    private static InformerOptions Fast => new()
    {
        ErrorBackoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), Jitter: 0.5),
    };

    private static async Task Until(Func<bool> condition, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} within {seconds} s");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task Lists_in_pages_then_watches_from_the_lists_resourceVersion_with_timeout_and_delivers_changes()
    {
        using var client = _server.Client();
        for (var i = 0; i < 7; i++) await client.CreateWidget($"w{i}", i);
        var source = new Recording<Widget>(TestCrds.WidgetSource(client));
        var informer = new ResourceInformer<Widget>(source, Log, options: Fast with { PageSize = 3, WatchTimeout = TimeSpan.FromSeconds(100) });
        var events = new ConcurrentQueue<string>();
        informer.OnChange((type, old, current) => events.Enqueue($"{type} {current.Metadata.Name} {old?.Spec.Size} {current.Spec.Size}"));
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);

        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(7, informer.List().Count);
        Assert.Equal(7, events.Count(e => e.StartsWith("Added")));
        await Until(() => source.Calls.Any(c => c.StartsWith("watch")), "a watch");
        var calls = source.Calls.ToList();
        Assert.Equal(["list continue=False limit=3 items=3", "list continue=True limit=3 items=3", "list continue=True limit=3 items=1"],
            calls.Take(3).Select(c => c[..c.IndexOf(" rv=")]));
        var listRv = calls[2][(calls[2].IndexOf("rv=") + 3)..];
        var watch = calls[3];
        Assert.StartsWith($"watch rv={listRv} ", watch);
        var timeout = int.Parse(watch[(watch.IndexOf("timeoutSeconds=") + 15)..]);
        Assert.InRange(timeout, 90, 100); // jittered down by at most 10 %

        await client.PatchWidget("w1", 41);
        await client.DeleteWidget("w2");
        await client.CreateWidget("w7", 7);
        await Until(() => events.Count == 10, "three watch events");
        Assert.Equal(["Modified w1 1 41", "Deleted w2 2 2", "Added w7  7"], events.Skip(7));
        Assert.Equal(41, informer.Get("default", "w1")!.Spec.Size);
        Assert.Null(informer.Get("default/w2"));
        Assert.Equal(1, informer.Lists);

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_resourceVersion_expired_while_disconnected_410_Gone_makes_it_list_again_and_deliver_the_differences()
    {
        using var relay = new TcpRelay(_server.Port);
        using var direct = _server.Client();
        using var viaRelay = _server.Client(relay.Port);
        await direct.CreateWidget("kept", 1);
        await direct.CreateWidget("removed", 2);
        var informer = new ResourceInformer<Widget>(TestCrds.WidgetSource(viaRelay), Log, options: Fast);
        var events = new ConcurrentQueue<string>();
        informer.OnChange((type, _, current) => events.Enqueue($"{type} {current.Metadata.Name}"));
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(20));
        await Until(() => informer.Watches >= 1, "a watch");

        relay.Refuse(); // the informer is cut off and misses what follows
        await direct.DeleteWidget("removed");
        await direct.CreateWidget("added", 3);
        await direct.PatchWidget("kept", 10);
        await _server.RestartApiServerAsync(); // its watch cache now starts after the informer's resourceVersion
        relay.Accept();

        await Until(() => informer.Get("default/added") is not null && informer.Get("default/removed") is null
                          && informer.Get("default/kept")!.Spec.Size == 10, "the re-listed state");
        Assert.True(informer.Expired >= 1, $"no 410 seen; log:\n{_logText}");
        Assert.Equal(2, informer.Lists);
        Assert.Equal(["Added kept", "Added removed", "Modified kept", "Deleted removed", "Added added"],
            events.Take(2).Order().Concat(events.Skip(2).OrderBy(e => e.StartsWith("Modified") ? 0 : e.StartsWith("Deleted") ? 1 : 2)));
        Assert.Contains("expired (410 Gone)", _logText.ToString());

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>An API server that is away for the first <paramref name="listFailures"/> lists, then answers lists but
    /// fails the first watch (as one still re-initializing its storage answers 429), then watches quietly.</summary>
    private sealed class Returning(int listFailures) : IListWatch<Widget>
    {
        int _lists, _watches;
        public string Description => "widgets (returning)";

        public Task<ListPage<Widget>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken) =>
            ++_lists <= listFailures
                ? throw new HttpRequestException("Connection refused")
                : Task.FromResult(new ListPage<Widget>([], "7", null));

        public async IAsyncEnumerable<(WatchEventType Type, Widget Object)> WatchAsync(string resourceVersion, int timeoutSeconds,
            Action<Exception> onError, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            if (++_watches == 1) throw new HttpRequestException("429 Too Many Requests: storage is (re)initializing");
            await Task.Delay(Timeout.Infinite, cancellationToken);
            yield break;
        }
    }

    [Fact]
    public async Task A_list_that_succeeds_after_an_outage_starts_the_error_backoff_over()
    {
        var informer = new ResourceInformer<Widget>(new Returning(listFailures: 3), Log,
            options: new InformerOptions { ErrorBackoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10)) });
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(20));
        await Until(() => System.Text.RegularExpressions.Regex.Matches(_logText.ToString(), "retrying in").Count == 4, "four retries");

        // 100, 200, 400 ms while the server is away; the failed watch after the good list waits 100 ms again, not 800.
        var delays = System.Text.RegularExpressions.Regex.Matches(_logText.ToString(), @"retrying in (\d+) ms").Select(m => m.Groups[1].Value);
        Assert.Equal(["100", "200", "400", "100"], delays);
        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_watch_that_goes_silent_without_an_error_is_reopened_by_the_watchdog()
    {
        using var relay = new TcpRelay(_server.Port);
        using var direct = _server.Client();
        using var viaRelay = _server.Client(relay.Port);
        var informer = new ResourceInformer<Widget>(TestCrds.WidgetSource(viaRelay), Log,
            options: Fast with { WatchTimeout = TimeSpan.FromMinutes(10), WatchdogSilence = TimeSpan.FromSeconds(3) });
        using var cts = new CancellationTokenSource();
        var run = informer.RunAsync(cts.Token);
        await informer.Synced.WaitAsync(TimeSpan.FromSeconds(20));
        await Until(() => informer.Watches >= 1, "a watch");

        relay.StallExisting(); // the open watch stays connected but nothing arrives any more
        var reconnectsBefore = informer.WatchdogReconnects;
        await direct.CreateWidget("after-stall", 5);

        // The server would end this watch only after 10 minutes; the watchdog re-opens it after 3 s of silence.
        await Until(() => informer.Get("default/after-stall") is not null, "the object created after the stall", seconds: 15);
        Assert.True(informer.WatchdogReconnects > reconnectsBefore);
        Assert.Contains("watch silent for 3 s", _logText.ToString());

        cts.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
