using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace NginxHa.TestCluster.StandIn;

public sealed record WatchEvent(string Type, JsonObject Object);

/// <summary>One open watch: its events in order (bookmarks included), ended by the store or the caller.</summary>
public sealed class Watcher(ObjectStore store, ResourceKind kind, Func<JsonObject, bool> matches) : IDisposable
{
    readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>(new() { SingleReader = true });

    public ResourceKind Kind { get; } = kind;
    public Func<JsonObject, bool> Matches { get; } = matches;
    public ChannelReader<WatchEvent> Events => _events.Reader;

    /// <summary>The newest version this watcher has been told about: a bookmark must be newer to be sent.</summary>
    internal long Revision { get; set; }

    internal void Send(WatchEvent e)
    {
        if (long.TryParse(ObjectStore.ResourceVersionOf(e.Object), out var rv) && rv > Revision) Revision = rv;
        _events.Writer.TryWrite(e);
    }
    internal void Complete() => _events.Writer.TryComplete();

    public void Dispose() => store.Unregister(this);
}

/// <summary>
/// The stand-in's storage: objects of every <see cref="ResourceKind"/>, one global resourceVersion counter
/// (like etcd's revision), a change log that watches replay from and exact-version lists are rebuilt from,
/// and compaction (explicit, or when the log passes <see cref="MaxLog"/> changes). Every write happens under
/// one lock, so watchers see changes in resourceVersion order.
/// </summary>
public sealed class ObjectStore(TimeProvider clock)
{
    public const int MaxLog = 20_000;

    sealed record Change(long Revision, ResourceKind Kind, string Key, string Type, JsonObject Object, JsonObject? Previous);

    readonly Lock _gate = new();
    readonly Dictionary<ResourceKind, SortedDictionary<string, JsonObject>> _objects =
        ResourceKind.All.ToDictionary(k => k, _ => new SortedDictionary<string, JsonObject>(StringComparer.Ordinal));
    readonly List<Change> _log = [];
    readonly List<Watcher> _watchers = [];
    long _revision;
    long _compactedAt;

    public long Revision { get { lock (_gate) return _revision; } }

    static string Key(string? ns, string name) => ns is null ? name : $"{ns}/{name}";

    public static string ResourceVersionOf(JsonObject obj) => obj["metadata"]?["resourceVersion"]?.GetValue<string>() ?? "";

    string Now() => clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    /// <summary>Compacts the change log at the current revision; returns it.</summary>
    public long Compact()
    {
        lock (_gate)
        {
            _compactedAt = _revision;
            _log.Clear();
            return _revision;
        }
    }

    public JsonObject Get(ResourceKind kind, string? ns, string name)
    {
        lock (_gate)
            return _objects[kind].TryGetValue(Key(ns, name), out var obj) ? (JsonObject)obj.DeepClone() : throw ApiError.NotFound(kind, name);
    }

    public sealed record ListResult(IReadOnlyList<JsonObject> Items, long ResourceVersion, string? Continue, long? Remaining);

    public ListResult List(ResourceKind kind, string? ns, Selector labels, Selector fields,
        string? resourceVersion, string? resourceVersionMatch, int limit, string? continueToken)
    {
        lock (_gate)
        {
            var at = _revision;
            string? after = null;
            if (!string.IsNullOrEmpty(continueToken))
            {
                (at, after) = DecodeContinue(continueToken);
                if (at < _compactedAt)
                    throw ApiError.Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.");
            }
            else if (!string.IsNullOrEmpty(resourceVersion) && resourceVersion != "0")
            {
                var requested = ParseVersion(resourceVersion);
                if (resourceVersionMatch == "Exact")
                {
                    if (requested < _compactedAt) throw ApiError.Expired("The resourceVersion for the provided list is too old.");
                    if (requested > _revision) throw TooLarge(requested);
                    at = requested;
                }
                else if (requested > _revision) throw TooLarge(requested);
            }
            else if (resourceVersionMatch == "Exact") throw ApiError.BadRequest("resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");

            var state = at == _revision ? _objects[kind] : StateAt(kind, at);
            var prefix = ns is null ? null : ns + "/";
            var matching = state
                .Where(p => (prefix is null || p.Key.StartsWith(prefix, StringComparison.Ordinal)) && (after is null || string.CompareOrdinal(p.Key, after) > 0))
                .Where(p => labels.Matches(p.Value) && fields.Matches(p.Value))
                .ToList();
            var page = limit > 0 ? matching.Take(limit).ToList() : matching;
            string? next = null;
            long? remaining = null;
            if (limit > 0 && matching.Count > limit)
            {
                next = EncodeContinue(at, page[^1].Key);
                remaining = matching.Count - limit;
            }
            return new(page.Select(p => (JsonObject)p.Value.DeepClone()).ToList(), at, next, remaining);
        }
    }

    static ApiError TooLarge(long requested) =>
        new(504, "Timeout", $"Too large resource version: {requested}, current: unknown");

    static long ParseVersion(string resourceVersion) =>
        long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw ApiError.BadRequest($"resourceVersion: Invalid value: \"{resourceVersion}\": must be a decimal number");

    static string EncodeContinue(long rv, string key) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "standin.v1", ["rv"] = rv, ["start"] = key }.ToJsonString()));

    static (long, string) DecodeContinue(string token)
    {
        try
        {
            var o = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(token)))!;
            return (o["rv"]!.GetValue<long>(), o["start"]!.GetValue<string>());
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or NullReferenceException or InvalidOperationException)
        {
            throw ApiError.BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
        }
    }

    SortedDictionary<string, JsonObject> StateAt(ResourceKind kind, long at)
    {
        var state = new SortedDictionary<string, JsonObject>(_objects[kind], StringComparer.Ordinal);
        for (var i = _log.Count - 1; i >= 0 && _log[i].Revision > at; i--)
        {
            var c = _log[i];
            if (c.Kind != kind) continue;
            if (c.Previous is null) state.Remove(c.Key);
            else state[c.Key] = c.Previous;
        }
        return state;
    }

    public JsonObject Create(ResourceKind kind, string? ns, JsonObject obj, bool dryRun)
    {
        var meta = Metadata(obj);
        lock (_gate)
        {
            var name = meta["name"]?.GetValue<string>();
            if (string.IsNullOrEmpty(name) && meta["generateName"]?.GetValue<string>() is { Length: > 0 } prefix)
            {
                do name = prefix + RandomSuffix(); while (_objects[kind].ContainsKey(Key(ns, name)));
                meta["name"] = name;
            }
            if (string.IsNullOrEmpty(name)) throw ApiError.Invalid(kind, "", "metadata.name", "Required value: name or generateName is required");
            ValidateName(kind, name);
            var key = Key(ns, name);
            if (_objects[kind].ContainsKey(key)) throw ApiError.AlreadyExists(kind, name);
            if (ns is not null) meta["namespace"] = ns;
            else meta.Remove("namespace");
            meta["uid"] = Guid.NewGuid().ToString();
            meta["creationTimestamp"] = Now();
            meta.Remove("resourceVersion");
            meta.Remove("deletionTimestamp");
            meta.Remove("deletionGracePeriodSeconds");
            meta.Remove("managedFields");
            if (kind.TracksGeneration) meta["generation"] = 1L;
            obj["apiVersion"] = kind.ApiVersion;
            obj["kind"] = kind.Kind;
            Defaults.Apply(kind, obj, previous: null);
            if (dryRun) return (JsonObject)obj.DeepClone();
            Commit(kind, key, "ADDED", obj, previous: null);
            return (JsonObject)obj.DeepClone();
        }
    }

    /// <summary>
    /// Update (PUT, patches, apply): <paramref name="change"/> gets a copy of the stored object (null when absent and
    /// <paramref name="createIfMissing"/>) and returns the new object; a resourceVersion in it must be the current one.
    /// For the status subresource only .status is taken; for the main resource .status is kept (kinds with status).
    /// </summary>
    public JsonObject Update(ResourceKind kind, string? ns, string name, Func<JsonObject?, JsonObject> change,
        bool statusOnly, bool dryRun, bool createIfMissing = false)
    {
        lock (_gate)
        {
            var key = Key(ns, name);
            if (!_objects[kind].TryGetValue(key, out var current))
            {
                if (!createIfMissing) throw ApiError.NotFound(kind, name);
                var created = change(null);
                Metadata(created)["name"] = name;
                return Create(kind, ns, created, dryRun);
            }
            var updated = change((JsonObject)current.DeepClone());
            var meta = Metadata(updated);
            var givenName = meta["name"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(givenName) && givenName != name)
                throw ApiError.BadRequest($"the name of the object ({givenName}) does not match the name on the URL ({name})");
            var givenRv = meta["resourceVersion"]?.GetValue<string>();
            if (!string.IsNullOrEmpty(givenRv) && givenRv != ResourceVersionOf(current)) throw ApiError.Modified(kind, name);

            if (statusOnly)
            {
                var withStatus = (JsonObject)current.DeepClone();
                withStatus["status"] = updated["status"]?.DeepClone();
                updated = withStatus;
                meta = Metadata(updated);
            }
            else if (kind.HasStatus) updated["status"] = current["status"]?.DeepClone();

            // What the server owns, the client cannot change.
            var currentMeta = Metadata(current);
            foreach (var owned in new[] { "name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation" })
            {
                if (currentMeta[owned] is { } value) meta[owned] = value.DeepClone();
                else meta.Remove(owned);
            }
            meta.Remove("managedFields");
            updated["apiVersion"] = kind.ApiVersion;
            updated["kind"] = kind.Kind;
            Defaults.Apply(kind, updated, current);

            if (currentMeta["deletionTimestamp"] is not null && Finalizers(updated).Except(Finalizers(current)).Any())
                throw ApiError.Invalid(kind, name, "metadata.finalizers", "Forbidden: no new finalizers can be added if the object is being deleted");
            if (kind.TracksGeneration && !SameExcept(current, updated, "metadata", "status"))
                meta["generation"] = (currentMeta["generation"]?.GetValue<long>() ?? 1) + 1;

            meta["resourceVersion"] = ResourceVersionOf(current);
            if (JsonNode.DeepEquals(current, updated)) return (JsonObject)current.DeepClone(); // a no-op writes nothing
            if (dryRun) return (JsonObject)updated.DeepClone();
            if (currentMeta["deletionTimestamp"] is not null && !Finalizers(updated).Any())
            {
                Commit(kind, key, "DELETED", updated, current);
                return (JsonObject)updated.DeepClone();
            }
            Commit(kind, key, "MODIFIED", updated, current);
            return (JsonObject)updated.DeepClone();
        }
    }

    /// <summary>Deletes at once, or marks the deletion when finalizers hold it (Deleted is false then).</summary>
    public (JsonObject Object, bool Deleted) Delete(ResourceKind kind, string? ns, string name, string? uid, string? resourceVersion, bool dryRun)
    {
        lock (_gate)
        {
            var key = Key(ns, name);
            if (!_objects[kind].TryGetValue(key, out var current)) throw ApiError.NotFound(kind, name);
            var meta = Metadata(current);
            if (!string.IsNullOrEmpty(uid) && uid != meta["uid"]?.GetValue<string>())
                throw ApiError.Conflict(kind, name, $"Precondition failed: UID in precondition: {uid}, UID in object meta: {meta["uid"]}");
            if (!string.IsNullOrEmpty(resourceVersion) && resourceVersion != ResourceVersionOf(current))
                throw ApiError.Conflict(kind, name, $"Precondition failed: ResourceVersion in precondition: {resourceVersion}, ResourceVersion in object meta: {ResourceVersionOf(current)}");
            var next = (JsonObject)current.DeepClone();
            if (Finalizers(current).Any())
            {
                if (meta["deletionTimestamp"] is not null) return (next, false);
                Metadata(next)["deletionTimestamp"] = Now();
                Metadata(next)["deletionGracePeriodSeconds"] = 0;
                if (!dryRun) Commit(kind, key, "MODIFIED", next, current);
                return ((JsonObject)next.DeepClone(), false);
            }
            if (!dryRun) Commit(kind, key, "DELETED", next, current);
            return ((JsonObject)next.DeepClone(), true);
        }
    }

    void Commit(ResourceKind kind, string key, string type, JsonObject obj, JsonObject? previous)
    {
        var revision = ++_revision;
        Metadata(obj)["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture);
        if (type == "DELETED") _objects[kind].Remove(key);
        else _objects[kind][key] = obj;
        var change = new Change(revision, kind, key, type, obj, previous);
        _log.Add(change);
        if (_log.Count > MaxLog)
        {
            _compactedAt = _log[_log.Count - MaxLog - 1].Revision;
            _log.RemoveRange(0, _log.Count - MaxLog);
        }
        foreach (var w in _watchers) Deliver(w, change);
    }

    /// <summary>
    /// Opens a watch. Without a resourceVersion (or "0") or with sendInitialEvents, it starts with an ADDED
    /// event per existing object, then (when bookmarks are allowed) a bookmark marking their end, as the real
    /// watch cache does; from a resourceVersion it replays every later change, or sends one 410 Expired error
    /// when that version is compacted.
    /// </summary>
    public Watcher Watch(ResourceKind kind, string? ns, Selector labels, Selector fields, string? resourceVersion,
        bool allowBookmarks, bool sendInitialEvents)
    {
        var prefix = ns is null ? null : ns + "/";
        bool Matches(JsonObject o) =>
            (prefix is null || Metadata(o)["namespace"]?.GetValue<string>() == ns) && labels.Matches(o) && fields.Matches(o);
        var watcher = new Watcher(this, kind, Matches);
        lock (_gate)
        {
            if (sendInitialEvents || string.IsNullOrEmpty(resourceVersion) || resourceVersion == "0")
            {
                foreach (var (_, obj) in _objects[kind])
                    if (Matches(obj)) watcher.Send(new("ADDED", (JsonObject)obj.DeepClone()));
                if (allowBookmarks) watcher.Send(Bookmark(kind, initialEventsEnd: true));
                watcher.Revision = _revision;
            }
            else
            {
                var from = ParseVersion(resourceVersion);
                if (from < _compactedAt)
                {
                    watcher.Send(new("ERROR", ApiError.Expired($"too old resource version: {from} ({_compactedAt})").ToStatus()));
                    watcher.Complete();
                    return watcher;
                }
                watcher.Revision = from;
                foreach (var c in _log)
                    if (c.Revision > from && c.Kind == kind) Deliver(watcher, c);
            }
            _watchers.Add(watcher);
        }
        return watcher;
    }

    /// <summary>
    /// Queues a bookmark at the current revision behind every event already sent to <paramref name="watcher"/>;
    /// as the real watch cache, only when that revision is newer than what the watcher was told (changes its
    /// selectors filtered out, or writes to other kinds).
    /// </summary>
    public void SendBookmark(Watcher watcher)
    {
        lock (_gate)
            if (_revision > watcher.Revision) watcher.Send(Bookmark(watcher.Kind, initialEventsEnd: false));
    }

    WatchEvent Bookmark(ResourceKind kind, bool initialEventsEnd)
    {
        var meta = new JsonObject { ["resourceVersion"] = _revision.ToString(CultureInfo.InvariantCulture) };
        if (initialEventsEnd) meta["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
        return new("BOOKMARK", new JsonObject { ["kind"] = kind.Kind, ["apiVersion"] = kind.ApiVersion, ["metadata"] = meta });
    }

    internal void Unregister(Watcher watcher)
    {
        lock (_gate) _watchers.Remove(watcher);
        watcher.Complete();
    }

    /// <summary>As the real server's watch cache: a change that moves an object into or out of a selection is an ADDED or DELETED.</summary>
    static void Deliver(Watcher w, Change c)
    {
        if (c.Kind != w.Kind) return;
        var was = c.Previous is not null && w.Matches(c.Previous);
        var now = c.Type != "DELETED" && w.Matches(c.Object);
        if (c.Type == "DELETED")
        {
            if (was) w.Send(new("DELETED", (JsonObject)c.Object.DeepClone()));
            return;
        }
        if (now) w.Send(new(was ? "MODIFIED" : "ADDED", (JsonObject)c.Object.DeepClone()));
        else if (was)
        {
            var gone = (JsonObject)c.Previous!.DeepClone();
            Metadata(gone)["resourceVersion"] = ResourceVersionOf(c.Object);
            w.Send(new("DELETED", gone));
        }
    }

    public static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is JsonObject meta) return meta;
        meta = new JsonObject();
        obj["metadata"] = meta;
        return meta;
    }

    static IEnumerable<string> Finalizers(JsonObject obj) =>
        obj["metadata"]?["finalizers"] is JsonArray a ? a.Select(f => f?.GetValue<string>() ?? "") : [];

    static bool SameExcept(JsonObject a, JsonObject b, params string[] ignored)
    {
        var keys = a.Select(p => p.Key).Concat(b.Select(p => p.Key)).Distinct().Where(k => !ignored.Contains(k));
        return keys.All(k => JsonNode.DeepEquals(a[k], b[k]));
    }

    static string RandomSuffix()
    {
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Concat(Enumerable.Range(0, 5).Select(_ => alphabet[Random.Shared.Next(alphabet.Length)]));
    }

    static void ValidateName(ResourceKind kind, string name)
    {
        var ok = name.Length <= 253 && name.Split('.').All(label =>
            label.Length is > 0 and <= 63 && char.IsAsciiLetterLower(label[0]) | char.IsAsciiDigit(label[0])
            && char.IsAsciiLetterLower(label[^1]) | char.IsAsciiDigit(label[^1])
            && label.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'));
        if (!ok)
            throw ApiError.Invalid(kind, name, "metadata.name",
                $"Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
    }
}
