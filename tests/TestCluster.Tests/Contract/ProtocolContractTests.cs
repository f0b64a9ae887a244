using System.Text.Json.Nodes;
using NginxHa.TestCluster.Tests.Support;

namespace NginxHa.TestCluster.Tests.Contract;

/// <summary>
/// The protocol contract: the same cases against the real CRD API server (on a custom resource) and against
/// the stand-in (on a Secret), through the cluster's one URL. Where clients depend on a behaviour, both halves
/// must show it the same way.
/// </summary>
public abstract class ProtocolContractTests(ClusterSide side) : IDisposable
{
    static readonly TimeSpan WatchLimit = TimeSpan.FromSeconds(30);

    readonly KubeHttp _http = new(side.Cluster.Url);
    readonly string _run = Guid.NewGuid().ToString("N")[..8];
    const string Ns = "contract-a";
    const string OtherNs = "contract-b";

    Dictionary<string, string> Labels(params (string Key, string Value)[] extra)
    {
        var labels = new Dictionary<string, string> { ["run"] = _run };
        foreach (var (k, v) in extra) labels[k] = v;
        return labels;
    }

    string Name(string what) => $"{what}-{_run}";
    string RunSelector => $"labelSelector=run%3D{_run}";

    async Task<KubeHttp.Reply> Create(string ns, string name, int value, (string, string)[]? labels = null, params string[] finalizers)
    {
        var reply = await _http.Post(side.Collection(ns), side.New(ns, name, Labels(labels ?? []), value, finalizers));
        Assert.True(reply.Code == 201, $"create {name}: {reply}");
        return reply;
    }

    /// <summary>Reads a watch until <paramref name="enough"/> says so or the server ends it (bounded by a safety limit).</summary>
    async Task<List<(string Type, JsonObject Object)>> ReadWatch(string query, Func<List<(string Type, JsonObject Object)>, bool> enough,
        Func<Task>? onStarted = null)
    {
        var seen = new List<(string, JsonObject)>();
        using var cts = new CancellationTokenSource(WatchLimit);
        try
        {
            await foreach (var e in _http.Watch($"{side.Collection(Ns)}?watch=true&{query}", cts.Token, onStarted))
            {
                seen.Add(e);
                if (enough(seen)) break;
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the watch ?{query} neither ended nor delivered what the case waits for within {WatchLimit}; got: {Describe(seen)}");
        }
        return seen;
    }

    static string Describe(IEnumerable<(string Type, JsonObject Object)> events) =>
        string.Join(", ", events.Select(e => $"{e.Type} {e.Object["metadata"]?["name"]}@{e.Object["metadata"]?["resourceVersion"]}"));

    static long Rv(JsonObject obj) => long.Parse(obj["metadata"]!["resourceVersion"]!.GetValue<string>());

    [Fact]
    public async Task List_returns_the_objects_and_a_resourceVersion_no_older_than_any_of_them()
    {
        var a = await Create(Ns, Name("a"), 1);
        var b = await Create(Ns, Name("b"), 2);

        var list = await _http.Get($"{side.Collection(Ns)}?{RunSelector}");

        Assert.Equal(200, list.Code);
        Assert.Equal([Name("a"), Name("b")], list.Names);
        Assert.True(long.Parse(list.ResourceVersion) >= Math.Max(Rv(a.Body), Rv(b.Body)), list.ToString());
    }

    [Fact]
    public async Task List_pages_with_limit_and_continue_at_one_resourceVersion()
    {
        foreach (var i in new[] { 1, 2, 3 }) await Create(Ns, Name($"p{i}"), i);

        var first = await _http.Get($"{side.Collection(Ns)}?{RunSelector}&limit=2");
        var token = first.Body["metadata"]!["continue"]?.GetValue<string>();
        Assert.False(string.IsNullOrEmpty(token), first.ToString());
        await Create(Ns, Name("p4"), 4); // after the first page: not in this list
        var second = await _http.Get($"{side.Collection(Ns)}?{RunSelector}&limit=2&continue={Uri.EscapeDataString(token!)}");

        Assert.Equal([Name("p1"), Name("p2")], first.Names);
        Assert.Equal([Name("p3")], second.Names);
        Assert.Equal(first.ResourceVersion, second.ResourceVersion);
    }

    [Fact]
    public async Task List_at_an_exact_resourceVersion_shows_the_objects_as_they_were()
    {
        var created = await Create(Ns, Name("exact"), 1);
        Assert.Equal(200, (await _http.MergePatch(side.Item(Ns, Name("exact")), side.ValuePatch(2))).Code);

        var then = await _http.Get($"{side.Collection(Ns)}?{RunSelector}&resourceVersion={created.ResourceVersion}&resourceVersionMatch=Exact");

        Assert.Equal(200, then.Code);
        Assert.Equal(1, side.ValueOf(then.Items.Single()!.AsObject()));
        Assert.Equal(created.ResourceVersion, then.ResourceVersion);
    }

    [Fact]
    public async Task Watch_from_a_resourceVersion_delivers_every_later_change_in_order()
    {
        await Create(Ns, Name("old"), 1);
        var from = (await _http.Get($"{side.Collection(Ns)}?{RunSelector}")).ResourceVersion;
        await Create(Ns, Name("new"), 2);
        Assert.Equal(200, (await _http.MergePatch(side.Item(Ns, Name("old")), side.ValuePatch(3))).Code);
        Assert.Equal(200, (await _http.Delete(side.Item(Ns, Name("new")))).Code);

        var events = await ReadWatch($"resourceVersion={from}&{RunSelector}", seen => seen.Count == 3);

        Assert.Equal(["ADDED new", "MODIFIED old", "DELETED new"],
            events.Select(e => $"{e.Type} {e.Object["metadata"]!["name"]!.GetValue<string>().Split('-')[0]}"));
        Assert.Equal(3, side.ValueOf(events[1].Object));
        var versions = events.Select(e => Rv(e.Object)).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.True(versions[0] > long.Parse(from));
    }

    [Fact]
    public async Task Watch_without_a_resourceVersion_starts_with_the_current_objects()
    {
        await Create(Ns, Name("present"), 1);

        var events = await ReadWatch(RunSelector, seen => seen.Count == 1);

        Assert.Equal("ADDED", events[0].Type);
        Assert.Equal(Name("present"), events[0].Object["metadata"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Watch_with_bookmarks_sends_before_its_timeout_a_bookmark_past_the_changes_its_selector_filtered_out()
    {
        var from = (await _http.Get($"{side.Collection(Ns)}?{RunSelector}")).ResourceVersion;
        long hidden = 0;

        // The real server sends a bookmark 2 s before a watch's deadline (and every minute), and only when it is
        // newer than what the watcher saw: here, a change its label selector hides, made once the watch is open.
        var events = await ReadWatch($"resourceVersion={from}&allowWatchBookmarks=true&timeoutSeconds=6&{RunSelector}",
            seen => seen.Any(e => e.Type == "BOOKMARK"),
            onStarted: async () =>
            {
                var other = new Dictionary<string, string> { ["run"] = "other-" + _run };
                var created = await _http.Post(side.Collection(Ns), side.New(Ns, Name("hidden"), other, 9));
                Assert.True(created.Code == 201, created.ToString());
                hidden = Rv(created.Body);
            });

        var (type, bookmark) = Assert.Single(events);
        Assert.Equal("BOOKMARK", type);
        Assert.Equal(side.Kind, bookmark["kind"]!.GetValue<string>());
        Assert.Equal(side.ApiVersion, bookmark["apiVersion"]!.GetValue<string>());
        Assert.True(Rv(bookmark) >= hidden, $"bookmark at {Rv(bookmark)}, the hidden change at {hidden}");
        Assert.Null(bookmark["metadata"]!["name"]);
    }

    [Fact]
    public async Task Watch_with_bookmarks_and_nothing_new_sends_no_bookmark()
    {
        var from = (await _http.Get($"{side.Collection(Ns)}?{RunSelector}")).ResourceVersion;

        var events = await ReadWatch($"resourceVersion={from}&allowWatchBookmarks=true&timeoutSeconds=4&labelSelector=run%3Dnothing-{_run}", _ => false);

        Assert.DoesNotContain(events, e => e.Type == "BOOKMARK");
    }

    [Fact]
    public async Task Watch_without_a_resourceVersion_and_with_bookmarks_marks_the_end_of_the_current_objects()
    {
        var present = await Create(Ns, Name("listed"), 1);

        var events = await ReadWatch($"allowWatchBookmarks=true&{RunSelector}", seen => seen.Any(e => e.Type == "BOOKMARK"));

        Assert.Equal(["ADDED", "BOOKMARK"], events.Select(e => e.Type));
        Assert.Equal("true", events[1].Object["metadata"]!["annotations"]!["k8s.io/initial-events-end"]!.GetValue<string>());
        Assert.True(Rv(events[1].Object) >= Rv(present.Body));
    }

    [Fact]
    public async Task Watch_ends_when_its_timeout_passes()
    {
        var started = DateTime.UtcNow;

        var events = await ReadWatch($"resourceVersion=0&timeoutSeconds=2&{RunSelector}", _ => false);

        Assert.Empty(events);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(1.5), WatchLimit);
    }

    [Fact]
    public async Task Watch_with_sendInitialEvents_marks_the_end_of_the_initial_objects_with_a_bookmark()
    {
        await Create(Ns, Name("initial"), 1);

        var events = await ReadWatch($"sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&{RunSelector}",
            seen => seen.Any(e => e.Type == "BOOKMARK"));

        Assert.Equal(["ADDED", "BOOKMARK"], events.Select(e => e.Type));
        Assert.Equal("true", events[1].Object["metadata"]!["annotations"]!["k8s.io/initial-events-end"]!.GetValue<string>());
    }

    [Fact]
    public async Task Watch_from_a_compacted_resourceVersion_ends_with_410_Expired()
    {
        var compacted = await side.CompactedResourceVersion(_http, Ns);

        var events = await ReadWatch($"resourceVersion={compacted}", _ => false);

        var (type, status) = Assert.Single(events);
        Assert.Equal("ERROR", type);
        Assert.Equal(410, status["code"]!.GetValue<int>());
        Assert.Equal("Expired", status["reason"]!.GetValue<string>());
        Assert.Equal("Status", status["kind"]!.GetValue<string>());
    }

    [Fact]
    public async Task Label_selectors_select_by_equality_inequality_set_and_existence()
    {
        await Create(Ns, Name("red"), 1, [("color", "red"), ("tier", "web")]);
        await Create(Ns, Name("blue"), 2, [("color", "blue")]);
        await Create(Ns, Name("none"), 3);

        async Task<IReadOnlyList<string>> Select(string selector)
        {
            var reply = await _http.Get($"{side.Collection(Ns)}?labelSelector={Uri.EscapeDataString($"run={_run},{selector}")}");
            Assert.True(reply.Code == 200, reply.ToString());
            return reply.Names.Select(n => n.Split('-')[0]).ToList();
        }

        Assert.Equal(["red"], await Select("color=red"));
        Assert.Equal(["red"], await Select("color==red"));
        Assert.Equal(["blue", "none"], await Select("color!=red"));
        Assert.Equal(["blue", "red"], await Select("color in (red,blue)"));
        Assert.Equal(["none", "red"], await Select("color notin (blue)"));
        Assert.Equal(["red"], await Select("tier"));
        Assert.Equal(["blue", "none"], await Select("!tier"));
    }

    [Fact]
    public async Task A_malformed_label_selector_is_400_BadRequest()
    {
        var reply = await _http.Get($"{side.Collection(Ns)}?labelSelector={Uri.EscapeDataString("color in red")}");

        Assert.Equal(400, reply.Code);
        Assert.Equal("BadRequest", reply.Reason);
    }

    [Fact]
    public async Task Field_selectors_select_by_metadata_name_and_metadata_namespace()
    {
        await Create(Ns, Name("f1"), 1);
        await Create(Ns, Name("f2"), 2);
        await Create(OtherNs, Name("f3"), 3);

        var byName = await _http.Get($"{side.Collection(Ns)}?{RunSelector}&fieldSelector=metadata.name%3D{Name("f2")}");
        var byNamespace = await _http.Get($"{side.AllNamespaces}?{RunSelector}&fieldSelector=metadata.namespace%3D{OtherNs}");
        var notName = await _http.Get($"{side.AllNamespaces}?{RunSelector}&fieldSelector=metadata.name!%3D{Name("f1")}");

        Assert.Equal([Name("f2")], byName.Names);
        Assert.Equal([Name("f3")], byNamespace.Names);
        Assert.Equal([Name("f2"), Name("f3")], notName.Names);
    }

    [Fact]
    public async Task A_field_selector_on_an_unsupported_field_is_400_BadRequest()
    {
        var reply = await _http.Get($"{side.Collection(Ns)}?fieldSelector=spec.nothing%3Dx");

        Assert.Equal(400, reply.Code);
        Assert.Equal("BadRequest", reply.Reason);
        Assert.Contains("field label not supported: spec.nothing", reply.Body["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Get_returns_the_object_and_a_missing_one_is_404_NotFound()
    {
        var created = await Create(Ns, Name("get"), 7);

        var got = await _http.Get(side.Item(Ns, Name("get")));
        var missing = await _http.Get(side.Item(Ns, Name("missing")));

        Assert.Equal(200, got.Code);
        Assert.Equal(7, side.ValueOf(got.Body));
        Assert.Equal(created.Body["metadata"]!["uid"]!.GetValue<string>(), got.Body["metadata"]!["uid"]!.GetValue<string>());
        Assert.Equal(created.ResourceVersion, got.ResourceVersion);
        Assert.Equal(404, missing.Code);
        Assert.Equal("NotFound", missing.Reason);
        Assert.Equal(Name("missing"), missing.Body["details"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_of_an_existing_name_is_409_AlreadyExists()
    {
        await Create(Ns, Name("dup"), 1);

        var again = await _http.Post(side.Collection(Ns), side.New(Ns, Name("dup"), Labels(), 2));

        Assert.Equal(409, again.Code);
        Assert.Equal("AlreadyExists", again.Reason);
    }

    [Fact]
    public async Task Update_with_the_current_resourceVersion_succeeds_and_with_a_stale_one_is_409_Conflict()
    {
        var created = await Create(Ns, Name("upd"), 1);
        var first = created.Body.DeepClone().AsObject();
        side.SetValue(first, 2);
        var stale = created.Body.DeepClone().AsObject();
        side.SetValue(stale, 3);

        var updated = await _http.Put(side.Item(Ns, Name("upd")), first);
        var conflict = await _http.Put(side.Item(Ns, Name("upd")), stale);

        Assert.Equal(200, updated.Code);
        Assert.True(Rv(updated.Body) > Rv(created.Body));
        Assert.Equal(409, conflict.Code);
        Assert.Equal("Conflict", conflict.Reason);
        Assert.Contains("the object has been modified", conflict.Body["message"]!.GetValue<string>());
        Assert.Equal(2, side.ValueOf((await _http.Get(side.Item(Ns, Name("upd")))).Body));
    }

    [Fact]
    public async Task Merge_patch_sets_and_removes_only_the_given_fields()
    {
        await Create(Ns, Name("mp"), 1, [("keep", "yes"), ("drop", "yes")]);

        var patched = await _http.MergePatch(side.Item(Ns, Name("mp")),
            JsonNode.Parse("""{"metadata":{"labels":{"drop":null,"added":"yes"}}}""")!);

        Assert.Equal(200, patched.Code);
        var labels = patched.Body["metadata"]!["labels"]!.AsObject().Select(l => l.Key).Order();
        Assert.Equal(["added", "keep", "run"], labels);
        Assert.Equal(1, side.ValueOf(patched.Body));
    }

    [Fact]
    public async Task Merge_patch_with_a_stale_resourceVersion_is_409_Conflict()
    {
        var created = await Create(Ns, Name("mpc"), 1);
        Assert.Equal(200, (await _http.MergePatch(side.Item(Ns, Name("mpc")), side.ValuePatch(2))).Code);

        var patch = side.ValuePatch(3);
        patch["metadata"] = new JsonObject { ["resourceVersion"] = created.ResourceVersion };
        var conflict = await _http.MergePatch(side.Item(Ns, Name("mpc")), patch);

        Assert.Equal(409, conflict.Code);
        Assert.Equal("Conflict", conflict.Reason);
    }

    [Fact]
    public async Task Delete_removes_the_object_and_a_stale_precondition_is_409_Conflict()
    {
        var created = await Create(Ns, Name("del"), 1);
        Assert.Equal(200, (await _http.MergePatch(side.Item(Ns, Name("del")), side.ValuePatch(2))).Code);

        var refused = await _http.Delete(side.Item(Ns, Name("del")),
            new JsonObject { ["kind"] = "DeleteOptions", ["apiVersion"] = "v1", ["preconditions"] = new JsonObject { ["resourceVersion"] = created.ResourceVersion } });
        var deleted = await _http.Delete(side.Item(Ns, Name("del")));

        Assert.Equal(409, refused.Code);
        Assert.Equal("Conflict", refused.Reason);
        Assert.Equal(200, deleted.Code);
        Assert.Equal(404, (await _http.Get(side.Item(Ns, Name("del")))).Code);
    }

    [Fact]
    public async Task Delete_with_a_finalizer_waits_until_the_finalizer_is_removed()
    {
        var created = await Create(Ns, Name("fin"), 1, null, "contract.nginx-ha.io/hold");
        var path = side.Item(Ns, Name("fin"));

        var deleting = await _http.Delete(path);
        var held = await _http.Get(path);
        var released = await _http.MergePatch(path, JsonNode.Parse("""{"metadata":{"finalizers":null}}""")!);
        var gone = await _http.Get(path);
        var events = await ReadWatch($"resourceVersion={created.ResourceVersion}&{RunSelector}", seen => seen.Count == 2);

        Assert.Equal(200, held.Code);
        Assert.NotNull(held.Body["metadata"]!["deletionTimestamp"]);
        Assert.Equal(["contract.nginx-ha.io/hold"], held.Body["metadata"]!["finalizers"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.InRange(deleting.Code, 200, 202);
        Assert.NotNull(deleting.Body["metadata"]!["deletionTimestamp"]);
        Assert.Equal(200, released.Code);
        Assert.Equal(404, gone.Code);
        Assert.Equal(["MODIFIED", "DELETED"], events.Select(e => e.Type));
        Assert.NotNull(events[0].Object["metadata"]!["deletionTimestamp"]);
    }

    public void Dispose() => _http.Dispose();
}

[CollectionDefinition("test cluster")]
public sealed class TestClusterCollection : ICollectionFixture<ClusterFixture>;

[Collection("test cluster")]
public sealed class RealServerContractTests(ClusterFixture cluster) : ProtocolContractTests(RealServerSide.For(cluster));

[Collection("test cluster")]
public sealed class StandInContractTests(ClusterFixture cluster) : ProtocolContractTests(new StandInSide(cluster));
