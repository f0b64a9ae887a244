using NginxHa.Core.Resources;
using NginxHa.Core.Resources.Validation;

namespace NginxHa.Core.Planning;

/// <summary>
/// Pure function from the cluster view (groups, pools, nodes, previous allocations) to one NodeHaConfig per
/// node plus per-group conditions. Deterministic: the same input gives the same output on every node.
/// </summary>
public static class Planner
{
    /// <summary>
    /// The preferred master gets 254 and each further node one less (253, 252, ...). A backup that hears a
    /// priority-0 advert takes over after Skew_Time = (256 - Priority) * Master_Adver_Interval / 256
    /// (RFC 5798 section 6.1), so the top of the range gives the quickest handover. 255 is reserved for the
    /// router that owns the address (RFC 5798 section 5.2.4), which a floating VIP never is.
    /// </summary>
    public const int PreferredMasterPriority = 254;

    /// <summary>Priorities 254 down to 1 leave room for this many nodes in one instance.</summary>
    public const int MaxNodesPerInstance = PreferredMasterPriority;

    public static int PriorityAt(int position) => PreferredMasterPriority - position;

    private const string DefaultNamespace = "default";

    public static PlanResult Plan(PlanInput input) => Plan(input, previous: null);

    /// <summary>
    /// The same result as <see cref="Plan(PlanInput)"/>, reusing the work of <paramref name="previous"/> (any earlier plan,
    /// of any input) for what this input did not change: a group whose object, selected nodes and own previous allocations
    /// are the same is not prepared or assigned again, and a node whose placements and pools are the same keeps its
    /// config object. The global steps (VIP and VRID conflicts, VRID allocation) run over every group, cheaply, so a
    /// change still reaches every group it can affect. Inputs are recognised by reference: objects of an input must not
    /// change after a plan saw them (new objects for the same content only cost the reuse).
    /// </summary>
    public static PlanResult Plan(PlanInput input, PlanResult? previous)
    {
        var memo = previous?.Memo;
        var errors = new List<ValidationError>();
        var warnings = new List<ValidationError>();
        var nodes = input.Nodes.GroupBy(n => n.Metadata.Name, StringComparer.Ordinal).Select(g => g.First())
            .OrderBy(n => n.Metadata.Name, StringComparer.Ordinal).ToList();
        var nodesByName = nodes.ToDictionary(n => n.Metadata.Name, StringComparer.Ordinal);
        var previousAllocations = input.PreviousAllocations ?? [];
        var previousByGroup = previousAllocations.ToLookup(a => a.Group, StringComparer.Ordinal); // one pass, not one per group
        var next = new PlanMemo(nodes);
        // Selections can be kept only while every node has the same name and labels.
        var sameLabels = memo is not null && SameNamesAndLabels(memo.Nodes, nodes);

        var groups = input.Groups.GroupBy(Key, StringComparer.Ordinal).Select(g => g.First())
            .OrderBy(Key, StringComparer.Ordinal)
            .Select(g => Draft(Prepared(g, nodes, previousByGroup[Key(g)].ToList(), memo, sameLabels, next), errors))
            .ToList();

        ResolveConflicts(groups, ConflictKind.VirtualIp, errors);
        ResolveConflicts(groups, ConflictKind.VirtualRouterId, errors);
        AllocateVirtualRouterIds(groups, input.HeardRouters ?? [], adoptHeard: previousAllocations.Count == 0, warnings);
        foreach (var group in groups.Where(g => !g.Failed)) Apply(group, Assignment(group.Prepared, nodesByName, memo, next));

        var pools = input.Pools.GroupBy(Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var groupPlans = groups.Select(g => Conclude(g, pools, warnings)).ToList();
        var placements = PlacementsByNode(groups);
        var configs = nodes.Select(n => NodeConfig(n.Metadata.Name, placements.GetValueOrDefault(n.Metadata.Name) ?? [], nodesByName, pools, memo, next)).ToList();
        var allocations = groups.SelectMany(g => g.Instances.Where(i => i.Nodes.Count > 0)
                .Select(i => new VrrpAllocation(g.Key, i.KeyAddress, i.VirtualRouterId, i.Nodes[0])))
            .ToList();
        return new PlanResult(configs, groupPlans, allocations, errors, warnings) { Memo = next };
    }

    /// <summary>What a plan keeps for the next one; only ever read through <see cref="Plan(PlanInput, PlanResult)"/>.</summary>
    internal sealed class PlanMemo(IReadOnlyList<Node> nodes)
    {
        public IReadOnlyList<Node> Nodes { get; } = nodes;
        public Dictionary<string, PreparedGroup> Groups { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, AssignmentOutcome> Assignments { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, (List<PlacementKey> Placements, List<(string Key, NginxBackendPool Pool)> Pools, NodeHaConfig Config)> NodeConfigs { get; } = new(StringComparer.Ordinal);
    }

    private static bool SameNamesAndLabels(IReadOnlyList<Node> a, IReadOnlyList<Node> b)
    {
        if (a.Count != b.Count) return false;
        for (var i = 0; i < a.Count; i++)
        {
            if (ReferenceEquals(a[i], b[i])) continue;
            if (a[i].Metadata.Name != b[i].Metadata.Name || !SameLabels(a[i].Metadata.Labels, b[i].Metadata.Labels)) return false;
        }
        return true;
    }

    private static bool SameLabels(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b) =>
        a.Count == b.Count && a.All(p => b.TryGetValue(p.Key, out var v) && v == p.Value);

    private static string Key(Resource resource) => $"{resource.Metadata.Namespace ?? DefaultNamespace}/{resource.Metadata.Name}";

    /// <summary>
    /// What a group alone decides: its validation, selected nodes and VRRP instances (with their own previous allocations).
    /// A pure function of the group object, the names and labels of the nodes, and the group's previous allocations.
    /// </summary>
    internal sealed class PreparedGroup(VirtualIpGroup resource, string key, IReadOnlyList<VrrpAllocation> own, IReadOnlyList<string> selected)
    {
        public VirtualIpGroup Resource { get; } = resource;
        public string Key { get; } = key;
        public IReadOnlyList<VrrpAllocation> OwnAllocations { get; } = own;
        public IReadOnlyList<string> SelectedNodes { get; } = selected;
        public List<ValidationError> Errors { get; } = new();
        public (string Reason, string Message)? Invalid { get; set; }
        public List<InstanceTemplate> Instances { get; } = new();
    }

    internal sealed class InstanceTemplate
    {
        public required string Name { get; init; }
        public required int Index { get; init; }
        public required List<(VirtualIp Vip, int SpecIndex)> Vips { get; init; }
        public required IReadOnlyList<string> Addresses { get; init; }
        public required string CanonicalAddresses { get; init; }
        public required string Family { get; init; }
        public required string Interface { get; init; }
        public required int Version { get; init; }
        public required VrrpAuthenticationType AuthType { get; init; }
        public required string AllocationKey { get; init; }
        public int? ExplicitVirtualRouterId { get; init; }
        public VrrpAllocation? Previous { get; init; }
    }

    /// <summary>One plan's working copy of a prepared group: what the global steps and the assignment add to it.</summary>
    private sealed class GroupDraft(PreparedGroup prepared)
    {
        public PreparedGroup Prepared { get; } = prepared;
        public VirtualIpGroup Resource => Prepared.Resource;
        public string Key => Prepared.Key;
        public string ObjectName => $"{VirtualIpGroup.KindName} {Key}";
        public List<InstanceDraft> Instances { get; } = prepared.Instances.Select(t => new InstanceDraft(t)).ToList();
        public List<(string Reason, string Message)> Conflicts { get; } = new();
        public List<(string Reason, string Message)> Degradations { get; } = new();
        public (string Reason, string Message)? Failure { get; private set; }
        public bool Failed => Failure is not null;

        public void Fail(string reason, string message)
        {
            Failure ??= (reason, message);
            Instances.ForEach(i => i.Nodes.Clear());
        }
    }

    private sealed class InstanceDraft(InstanceTemplate template)
    {
        public InstanceTemplate Template { get; } = template;
        public string Name => Template.Name;
        public int Index => Template.Index;
        public List<(VirtualIp Vip, int SpecIndex)> Vips => Template.Vips;
        public string Family => Template.Family;
        public string Interface => Template.Interface;
        public int Version => Template.Version;
        public VrrpAuthenticationType AuthType => Template.AuthType;
        public string? KeyAddress => Template.Addresses.Count == 1 ? Template.Addresses[0] : null;

        /// <summary>What names this instance for its hashed VRID: the group, plus the VIP for ActiveActive (one
        /// instance per VIP), so adding or reordering VIPs or other groups never changes it.</summary>
        public string AllocationKey => Template.AllocationKey;
        public int? ExplicitVirtualRouterId => Template.ExplicitVirtualRouterId;
        public VrrpAllocation? Previous => Template.Previous;
        public int VirtualRouterId { get; set; }
        public bool HeardFromOthers { get; set; }
        public List<string> Nodes { get; } = new();

        /// <summary>VRIDs must differ per L2 segment and family (IPv4 and IPv6 virtual routers are distinct, RFC 5798 section 7.3).
        /// Groups without an explicit interface are taken to share one segment.</summary>
        public string Segment => $"{Family}|{Interface}";
        public string SegmentText => $"{Family} on {(Interface.Length == 0 ? "the default interface" : $"interface {FieldRules.Quote(Interface)}")}";
    }

    /// <summary>The previous plan's preparation of this group when nothing it reads changed, else a new one.</summary>
    private static PreparedGroup Prepared(VirtualIpGroup resource, List<Node> nodes, List<VrrpAllocation> own, PlanMemo? memo, bool sameLabels, PlanMemo next)
    {
        var key = Key(resource);
        var old = memo?.Groups.GetValueOrDefault(key);
        var sameResource = old is not null && ReferenceEquals(old.Resource, resource);
        var selected = sameResource && sameLabels
            ? old!.SelectedNodes
            : nodes.Where(n => resource.Spec.NodeSelector.Matches(n.Metadata.Labels)).Select(n => n.Metadata.Name).ToList();
        var prepared = sameResource && old!.SelectedNodes.SequenceEqual(selected, StringComparer.Ordinal) && old.OwnAllocations.SequenceEqual(own)
            ? old
            : Prepare(resource, key, own, selected);
        next.Groups[key] = prepared;
        return prepared;
    }

    private static GroupDraft Draft(PreparedGroup prepared, List<ValidationError> errors)
    {
        var draft = new GroupDraft(prepared);
        errors.AddRange(prepared.Errors);
        if (prepared.Invalid is { } invalid) draft.Fail(invalid.Reason, invalid.Message);
        return draft;
    }

    private static PreparedGroup Prepare(VirtualIpGroup resource, string key, IReadOnlyList<VrrpAllocation> ownAllocations, IReadOnlyList<string> selected)
    {
        var prepared = new PreparedGroup(resource, key, ownAllocations, selected);
        var objectName = $"{VirtualIpGroup.KindName} {key}";

        var problems = resource.Validate().ToList();
        if (problems.Count > 0)
        {
            prepared.Errors.AddRange(problems.Select(p => new ValidationError("", objectName, p.Path, p.Message)));
            var first = problems[0];
            prepared.Invalid = ("InvalidSpec", $"the spec is invalid: {first.Path}: {first.Message}" + (problems.Count > 1 ? $" (and {problems.Count - 1} more)" : ""));
            return prepared;
        }

        var spec = resource.Spec;
        var vips = spec.VirtualIPs.Select((text, index) => (Vip: ParseValid(text), SpecIndex: index)).ToList();
        var vipSets = spec.Mode == VirtualIpGroupMode.ActivePassive ? [vips] : vips.Select(v => new List<(VirtualIp, int)> { v }).ToList();
        for (var index = 0; index < vipSets.Count; index++)
        {
            var set = vipSets[index];
            var addresses = set.Select(v => v.Item1.Address.ToString()).ToList();
            var remembered = set.Count == 1
                ? ownAllocations.FirstOrDefault(a => a.VirtualIp == addresses[0])
                : ownAllocations.FirstOrDefault(a => a.VirtualIp is null)
                  ?? addresses.Select(a => ownAllocations.FirstOrDefault(p => p.VirtualIp == a)).FirstOrDefault(a => a is not null);
            prepared.Instances.Add(new InstanceTemplate
            {
                Name = $"{key}/{index}",
                Index = index,
                AllocationKey = spec.Mode == VirtualIpGroupMode.ActivePassive ? key : $"{key}|{addresses[0]}",
                Vips = set,
                Addresses = addresses,
                CanonicalAddresses = CanonicalAddresses(addresses),
                Family = set[0].Item1.Family,
                Interface = spec.Interface ?? "",
                Version = spec.Vrrp.Version,
                AuthType = spec.Vrrp.AuthSecretRef is not null || spec.Vrrp.AuthPasswordFile is not null
                    ? VrrpAuthenticationType.SimpleText : VrrpAuthenticationType.None,
                ExplicitVirtualRouterId = spec.VirtualRouterIds is { Count: > 0 } ids ? ids[index] : null,
                Previous = remembered,
            });
        }
        return prepared;
    }

    private static VirtualIp ParseValid(string text) =>
        VirtualIp.TryParse(text, out var vip, out var reason) ? vip : throw new InvalidOperationException($"validated VIP {text} {reason}");

    private enum ConflictKind { VirtualIp, VirtualRouterId }

    /// <summary>
    /// Every group taking part in a conflict gets a Conflict condition and an error. Groups are then taken in
    /// name order and the first claim wins: a later group with any conflicting claim gets no instances at all,
    /// because sharing a VIP or a VRID between two virtual routers breaks both.
    /// </summary>
    private static void ResolveConflicts(List<GroupDraft> groups, ConflictKind kind, List<ValidationError> errors)
    {
        var claims = groups.Where(g => !g.Failed)
            .SelectMany(g => Claims(g, kind).Select(c => (Group: g, c.Key, c.Path, c.Text)))
            .ToList();
        var reason = kind == ConflictKind.VirtualIp ? "VirtualIpConflict" : "VirtualRouterIdConflict";

        foreach (var shared in claims.GroupBy(c => c.Key).Where(c => c.Select(x => x.Group).Distinct().Count() > 1))
        {
            foreach (var claim in shared)
            {
                var others = string.Join(", ", shared.Where(o => o.Group != claim.Group).Select(o => o.Group.ObjectName).Distinct());
                var message = $"{claim.Text} is also claimed by {others}";
                claim.Group.Conflicts.Add((reason, message));
                errors.Add(new ValidationError("", claim.Group.ObjectName, claim.Path, message));
            }
        }

        var owners = new Dictionary<string, GroupDraft>();
        foreach (var group in groups.Where(g => !g.Failed))
        {
            var mine = Claims(group, kind).ToList();
            var taken = mine.FirstOrDefault(c => owners.ContainsKey(c.Key));
            if (taken.Key is not null)
            {
                group.Fail(reason, $"gets no VRRP instances: {taken.Text} is already claimed by {owners[taken.Key].ObjectName}, which sorts first");
                continue;
            }
            foreach (var claim in mine) owners[claim.Key] = group;
        }
    }

    private static IEnumerable<(string Key, string Path, string Text)> Claims(GroupDraft group, ConflictKind kind) =>
        kind == ConflictKind.VirtualIp
            ? group.Instances.SelectMany(i => i.Vips).Select(v =>
                (v.Vip.Address.ToString(), $"spec.virtualIPs[{v.SpecIndex}]", $"virtual IP {v.Vip.Address}"))
            : group.Instances.Where(i => i.ExplicitVirtualRouterId is not null).Select(i =>
                ($"{i.Segment}|{i.ExplicitVirtualRouterId}", $"spec.virtualRouterIds[{i.Index}]", $"VRID {i.ExplicitVirtualRouterId} ({i.SegmentText})"));

    /// <summary>
    /// VRIDs never renumber (docs/vrid-allocation.md). In order: explicit VRIDs (they always win); automatic
    /// instances keep their previous VRID unless an explicit one now claims it; a node with no memory at all
    /// (first start, lost state) adopts for each instance the VRID heard on the wire with exactly its VIPs; the rest take the first free VRID on a probe sequence
    /// that starts at a stable hash of the instance's name and steps by one. New instances probe in the order
    /// of their names, never in input order, so every node computes the same VRIDs from the same files. A probe
    /// skips VRIDs in use on any segment first (a group with no interface may share a segment with a named
    /// one), and VRIDs heard from routers that are not ours. Last, every instance whose VRID is heard from a router
    /// that is not that instance (other addresses, version or authentication) is reported, never renumbered.
    /// </summary>
    private static void AllocateVirtualRouterIds(List<GroupDraft> groups, IReadOnlyList<HeardVirtualRouter> heard, bool adoptHeard, List<ValidationError> warnings)
    {
        var owners = new Dictionary<(string Segment, int Id), string>();
        var usedAnywhere = new HashSet<int>();
        var active = groups.Where(g => !g.Failed).SelectMany(g => g.Instances.Select(i => (Group: g, Instance: i))).ToList();
        var canonical = new Dictionary<string, string>(StringComparer.Ordinal); // many nodes report the same routers
        var heardBy = heard.Select(h =>
        {
            var key = string.Join(",", h.Addresses);
            if (!canonical.TryGetValue(key, out var addresses)) canonical[key] = addresses = CanonicalAddresses(h.Addresses);
            return (Router: h, Addresses: addresses);
        }).ToList();
        var ownAddresses = active.ToDictionary(a => a.Instance, a => a.Instance.Template.CanonicalAddresses);
        // One of ours, on whatever VRID (a node without memory hears its peer on the VRID it is about to adopt).
        bool Carries((HeardVirtualRouter Router, string Addresses) h, InstanceDraft i) =>
            h.Router.Family == i.Family && h.Addresses == ownAddresses[i]
            && (h.Router.Version is null || h.Router.Version == i.Version)
            && (h.Router.AuthType is null || h.Router.AuthType == i.AuthType);
        // Indexed: the operator passes what every node hears, the same routers many times over.
        var byAddresses = active.ToLookup(a => (a.Instance.Family, ownAddresses[a.Instance]), a => a.Instance);
        var foreign = heardBy.Where(h => !byAddresses[(h.Router.Family, h.Addresses)].Any(i => Carries(h, i)))
            .Select(h => (h.Router.Family, h.Router.VirtualRouterId)).ToHashSet();

        void Claim(InstanceDraft instance, int id)
        {
            instance.VirtualRouterId = id;
            owners[(instance.Segment, id)] = instance.Name;
            usedAnywhere.Add(id);
        }

        foreach (var (_, instance) in active.Where(a => a.Instance.ExplicitVirtualRouterId is not null))
            Claim(instance, instance.ExplicitVirtualRouterId!.Value);

        var automatic = active.Where(a => a.Instance.ExplicitVirtualRouterId is null)
            .OrderBy(a => a.Instance.AllocationKey, StringComparer.Ordinal).ToList();
        foreach (var (group, instance) in automatic.Where(a => a.Instance.Previous is not null))
        {
            var id = instance.Previous!.VirtualRouterId;
            if (owners.TryGetValue((instance.Segment, id), out var owner))
                warnings.Add(new ValidationError("", group.ObjectName, "spec.virtualRouterIds",
                    $"VRRP instance {instance.Name} leaves VRID {id} ({instance.SegmentText}), which {owner} now claims; a new VRID is allocated"));
            else if (id is >= VirtualIpGroupValidator.MinVirtualRouterId and <= VirtualIpGroupValidator.MaxVirtualRouterId)
                Claim(instance, id);
        }

        // Only without memory: a node that remembers would otherwise adopt a renamed group's old VRID, which its
        // peer (the master, who does not hear itself) does not.
        foreach (var (_, instance) in automatic.Where(a => adoptHeard && a.Instance.VirtualRouterId == 0))
        {
            var wire = heardBy.Where(h => Carries(h, instance)).Select(h => h.Router.VirtualRouterId)
                .Where(id => id is >= VirtualIpGroupValidator.MinVirtualRouterId and <= VirtualIpGroupValidator.MaxVirtualRouterId
                             && !owners.ContainsKey((instance.Segment, id)))
                .Order().ToList();
            if (wire.Count > 0) Claim(instance, wire[0]);
        }

        foreach (var (group, instance) in automatic.Where(a => a.Instance.VirtualRouterId == 0))
        {
            var probe = ProbeSequence(instance.AllocationKey).Where(i => !foreign.Contains((instance.Family, i))).ToList();
            var id = probe.FirstOrDefault(i => !usedAnywhere.Contains(i));
            if (id == 0) id = probe.FirstOrDefault(i => !owners.ContainsKey((instance.Segment, i)));
            if (id == 0)
                group.Fail("NoFreeVirtualRouterId", $"no VRID is free for {instance.Name} ({instance.SegmentText}): all 255 are in use or heard on the wire");
            else
                Claim(instance, id);
        }

        // A router on the same VRID and segment that is not this instance (nor another of ours there) shares the VRID
        // with it on the wire: both sides drop each other's adverts, so both can be MASTER.
        bool SameSegment(HeardVirtualRouter h, InstanceDraft i) => h.Interface is null || i.Interface.Length == 0 || h.Interface == i.Interface;
        var heardOn = heardBy.ToLookup(h => (h.Router.Family, h.Router.VirtualRouterId));
        foreach (var (group, instance) in active.Where(a => a.Instance.VirtualRouterId != 0))
        {
            var strangers = heardOn[(instance.Family, instance.VirtualRouterId)]
                .Where(h => SameSegment(h.Router, instance)
                            && !byAddresses[(h.Router.Family, h.Addresses)].Any(i => i.VirtualRouterId == instance.VirtualRouterId && SameSegment(h.Router, i) && Carries(h, i)))
                .ToList();
            if (strangers.Count == 0) continue;
            instance.HeardFromOthers = true;
            var message = $"VRID {instance.VirtualRouterId} of {instance.Name} ({instance.SegmentText}) is also heard on the wire from another virtual router: " +
                          string.Join("; ", strangers.GroupBy(h => (h.Addresses, h.Router.Version, h.Router.AuthType)).Select(Describe));
            group.Conflicts.Add(("VirtualRouterIdHeard", message));
            warnings.Add(new ValidationError("", group.ObjectName,
                instance.ExplicitVirtualRouterId is null ? "spec.virtualRouterIds" : $"spec.virtualRouterIds[{instance.Index}]", message));
        }
    }

    /// <summary>"VRRPv2, auth SimpleText, addresses 198.18.9.9, from 198.18.0.5, heard by node lb1 on eth0".</summary>
    private static string Describe(IGrouping<(string Addresses, int? Version, VrrpAuthenticationType? AuthType), (HeardVirtualRouter Router, string Addresses)> router)
    {
        var (addresses, version, auth) = router.Key;
        var text = (version is { } v ? $"VRRPv{v}, " : "") + (auth is { } a ? $"auth {a}, " : "")
                   + (addresses.Length == 0 ? "no addresses" : $"addresses {addresses.Replace(",", ", ")}");
        var sources = router.Select(h => h.Router.Source).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();
        var nodes = router.Select(h => h.Router.Node).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();
        if (sources.Count > 0) text += $", from {string.Join(", ", sources)}";
        var interfaces = router.Select(h => h.Router.Interface).OfType<string>().Distinct().Order(StringComparer.Ordinal).ToList();
        if (nodes.Count > 0) text += $", heard by node {string.Join(", ", nodes)}";
        if (interfaces.Count > 0) text += $" on {string.Join(", ", interfaces)}";
        return text;
    }

    // The link-local address an agent adds to an IPv6 advert (RFC 5798 section 5.2.9) is no VIP of the group: it is left
    // out on both sides, or our own peer would be heard as a foreign router.
    private static string CanonicalAddresses(IEnumerable<string> addresses) =>
        string.Join(",", addresses
            .Select(a => VirtualIp.TryParseAddress(a, out var address)
                ? (Text: address.ToString(), Added: VirtualRouterLinkLocal.IsDerived(address))
                : (Text: a, Added: false))
            .Where(a => !a.Added).Select(a => a.Text).Order(StringComparer.Ordinal));

    /// <summary>Every VRID once, starting at <see cref="HomeVirtualRouterId"/> and stepping by one (255 wraps to 1).</summary>
    public static IEnumerable<int> ProbeSequence(string allocationKey)
    {
        var home = HomeVirtualRouterId(allocationKey);
        const int count = VirtualIpGroupValidator.MaxVirtualRouterId - VirtualIpGroupValidator.MinVirtualRouterId + 1;
        for (var step = 0; step < count; step++)
            yield return VirtualIpGroupValidator.MinVirtualRouterId + (home - VirtualIpGroupValidator.MinVirtualRouterId + step) % count;
    }

    /// <summary>
    /// Where an automatic instance's probe starts: FNV-1a (32 bit) of the UTF-8 name, mod 255, plus 1. Fixed by
    /// this definition, not by string.GetHashCode (randomised per process), so every node and version agrees.
    /// </summary>
    public static int HomeVirtualRouterId(string allocationKey)
    {
        var hash = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(allocationKey))
            hash = unchecked((hash ^ b) * 16777619u);
        return VirtualIpGroupValidator.MinVirtualRouterId + (int)(hash % 255u);
    }

    /// <summary>Which nodes carry each instance of a group, in priority order: a pure function of the prepared group and, with
    /// unicast adverts, its nodes' addresses (<see cref="AddressKey"/>).</summary>
    internal sealed record AssignmentOutcome(PreparedGroup Prepared, string AddressKey, IReadOnlyList<IReadOnlyList<string>> InstanceNodes,
        IReadOnlyList<(string Reason, string Message)> Degradations, (string Reason, string Message)? Failure);

    private static string AddressKey(PreparedGroup group, Dictionary<string, Node> nodes) =>
        group.Resource.Spec.Vrrp.Unicast ? string.Join(";", group.SelectedNodes.Select(n => string.Join(",", nodes[n].InternalIPs))) : "";

    private static AssignmentOutcome Assignment(PreparedGroup group, Dictionary<string, Node> nodes, PlanMemo? memo, PlanMemo next)
    {
        var addressKey = AddressKey(group, nodes);
        var outcome = memo?.Assignments.GetValueOrDefault(group.Key) is { } old && ReferenceEquals(old.Prepared, group) && old.AddressKey == addressKey
            ? old
            : AssignNodes(group, addressKey, nodes);
        next.Assignments[group.Key] = outcome;
        return outcome;
    }

    private static void Apply(GroupDraft group, AssignmentOutcome outcome)
    {
        group.Degradations.AddRange(outcome.Degradations);
        for (var i = 0; i < group.Instances.Count; i++) group.Instances[i].Nodes.AddRange(outcome.InstanceNodes[i]);
        if (outcome.Failure is { } failure) group.Fail(failure.Reason, failure.Message);
    }

    private static AssignmentOutcome AssignNodes(PreparedGroup group, string addressKey, Dictionary<string, Node> nodes)
    {
        var degradations = new List<(string Reason, string Message)>();
        var instanceNodes = group.Instances.Select(_ => new List<string>()).ToList();
        AssignmentOutcome Outcome((string, string)? failure) => new(group, addressKey, instanceNodes, degradations, failure);
        if (group.SelectedNodes.Count == 0)
            return Outcome(("NoNodesSelected", "spec.nodeSelector matches no node, so no node carries the virtual IPs"));

        var names = group.SelectedNodes.ToList();
        var unicast = group.Resource.Spec.Vrrp.Unicast;
        var eligible = new List<IReadOnlyList<string>>();
        foreach (var instance in group.Instances)
        {
            var usable = names;
            if (unicast)
            {
                // A node without an address of the instance's family can neither send nor receive its unicast adverts.
                usable = names.Where(n => UnicastAddress(nodes[n], instance.Family) is not null).ToList();
                foreach (var missing in names.Except(usable))
                    degradations.Add(("NoUnicastAddress", $"node {missing} has no {instance.Family} InternalIP for unicast adverts, so it does not carry {instance.Name}"));
            }
            if (usable.Count > MaxNodesPerInstance)
            {
                degradations.Add(("TooManyNodes", $"{instance.Name} runs on the first {MaxNodesPerInstance} of {usable.Count} selected nodes (VRRP priorities 254..1)"));
                usable = usable.Take(MaxNodesPerInstance).ToList();
            }
            eligible.Add(usable);
        }

        var preferred = MasterAssignment.Assign(names, eligible, group.Instances.Select(i => i.Previous?.PreferredNode).ToList());
        for (var i = 0; i < group.Instances.Count; i++)
        {
            var instance = group.Instances[i];
            if (eligible[i].Count == 0) continue;
            // Backups in rotation after the preferred master, so a failed node's VIPs spread over the others.
            var start = eligible[i].ToList().IndexOf(preferred[i]);
            instanceNodes[i].AddRange(Enumerable.Range(0, eligible[i].Count).Select(k => eligible[i][(start + k) % eligible[i].Count]));
            if (instanceNodes[i].Count == 1)
                degradations.Add(("SingleNode", $"only node {instanceNodes[i][0]} carries {instance.Name}: there is no failover"));
        }
        return Outcome(instanceNodes.All(n => n.Count == 0) ? ("NoEligibleNodes", "no selected node can carry the virtual IPs") : null);
    }

    private static string? UnicastAddress(Node node, string family) =>
        node.InternalIPs.FirstOrDefault(a => VirtualIp.TryParseAddress(a, out var address)
            && (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4") == family);

    private static GroupPlan Conclude(GroupDraft group, Dictionary<string, NginxBackendPool> pools, List<ValidationError> warnings)
    {
        var instances = group.Instances.Where(i => i.Nodes.Count > 0).Select(i => new PlannedInstance(
            i.Name, group.Key, i.VirtualRouterId, i.Vips.Select(v => v.Vip.ToString()).ToList(), i.Nodes.ToList())).ToList();

        var poolRef = group.Resource.Spec.BackendPoolRef;
        var poolMissing = !group.Failed && poolRef is { Length: > 0 } && !pools.ContainsKey($"{group.Resource.Metadata.Namespace ?? DefaultNamespace}/{poolRef}");

        Condition ready;
        if (group.Failure is { } failure)
            ready = NewCondition(ConditionTypes.Ready, false, failure.Reason, failure.Message);
        else if (poolMissing)
            ready = NewCondition(ConditionTypes.Ready, false, "BackendPoolNotFound",
                $"NginxBackendPool {FieldRules.Quote(poolRef!)} not found: the virtual IPs are planned but nothing serves them");
        else
            ready = NewCondition(ConditionTypes.Ready, true, "Planned",
                $"{instances.Count} VRRP instance(s) on {instances.SelectMany(i => i.Nodes).Distinct().Count()} node(s)");

        if (group.Failure is { Reason: "NoNodesSelected" or "NoEligibleNodes" or "NoFreeVirtualRouterId" } f)
            warnings.Add(new ValidationError("", group.ObjectName, "", f.Message));
        if (poolMissing)
            warnings.Add(new ValidationError("", group.ObjectName, "spec.backendPoolRef", ready.Message));

        var degraded = group.Degradations.Count > 0
            ? NewCondition(ConditionTypes.Degraded, true, group.Degradations[0].Reason, string.Join("; ", group.Degradations.Select(d => d.Message).Distinct()))
            : NewCondition(ConditionTypes.Degraded, false, "Redundant", group.Failed ? "not planned" : "every instance has a backup");
        var conflict = group.Conflicts.Count > 0
            ? NewCondition(ConditionTypes.Conflict, true, group.Conflicts[0].Reason, string.Join("; ", group.Conflicts.Select(c => c.Message).Distinct()))
            : NewCondition(ConditionTypes.Conflict, false, "NoConflict", "no other group claims these virtual IPs or VRIDs");
        return new GroupPlan(group.Key, instances, [ready, degraded, conflict],
            group.Instances.Count(i => i.HeardFromOthers && i.Nodes.Count > 0));
    }

    private static Condition NewCondition(string type, bool status, string reason, string message) => new()
    {
        Type = type,
        Status = status ? ConditionStatus.True : ConditionStatus.False,
        Reason = reason,
        Message = message,
    };

    /// <summary>Every node's instances and positions in one pass over the groups, in group order: looking each node up in
    /// every instance of every group cost nodes x instances x nodes (most of a plan's CPU at 200 nodes and 500 groups).</summary>
    private static Dictionary<string, List<(GroupDraft Group, InstanceDraft Instance, int Position)>> PlacementsByNode(List<GroupDraft> groups)
    {
        var result = new Dictionary<string, List<(GroupDraft, InstanceDraft, int)>>(StringComparer.Ordinal);
        foreach (var group in groups)
            foreach (var instance in group.Instances)
                for (var position = 0; position < instance.Nodes.Count; position++)
                {
                    var node = instance.Nodes[position];
                    if (!result.TryGetValue(node, out var list)) result[node] = list = new();
                    list.Add((group, instance, position));
                }
        return result;
    }

    /// <summary>Everything one placement gives a node's config: the group and its instance (prepared group), the instance's
    /// nodes and their unicast addresses (assignment), its VRID and the node's position in it.</summary>
    internal readonly record struct PlacementKey(AssignmentOutcome Assignment, int Instance, int VirtualRouterId, int Position);

    /// <summary>The previous plan's config object of the node when its placements and pools are the same, else a new one.</summary>
    private static NodeHaConfig NodeConfig(string nodeName, List<(GroupDraft Group, InstanceDraft Instance, int Position)> placements,
        Dictionary<string, Node> nodesByName, Dictionary<string, NginxBackendPool> pools, PlanMemo? memo, PlanMemo next)
    {
        var keys = placements.Select(p => new PlacementKey(next.Assignments[p.Group.Key], p.Instance.Index, p.Instance.VirtualRouterId, p.Position)).ToList();
        var poolsUsed = new List<(string Key, NginxBackendPool Pool)>();
        foreach (var group in placements.Select(p => p.Group).Distinct())
            if (group.Resource.Spec.BackendPoolRef is { Length: > 0 } && pools.TryGetValue(PoolKey(group.Resource), out var pool))
                poolsUsed.Add((PoolKey(group.Resource), pool));
        var config = memo is not null && memo.NodeConfigs.TryGetValue(nodeName, out var old) && old.Placements.SequenceEqual(keys)
                     && old.Pools.Count == poolsUsed.Count && old.Pools.Zip(poolsUsed).All(p => p.First.Key == p.Second.Key && ReferenceEquals(p.First.Pool, p.Second.Pool))
            ? old.Config
            : BuildNodeConfig(nodeName, placements, nodesByName, pools);
        next.NodeConfigs[nodeName] = (keys, poolsUsed, config);
        return config;
    }

    private static string PoolKey(VirtualIpGroup group) => $"{group.Metadata.Namespace ?? DefaultNamespace}/{group.Spec.BackendPoolRef}";

    private static NodeHaConfig BuildNodeConfig(string nodeName, List<(GroupDraft Group, InstanceDraft Instance, int Position)> placements,
        Dictionary<string, Node> nodesByName, Dictionary<string, NginxBackendPool> pools)
    {
        var config = new NodeHaConfig { Metadata = new ObjectMeta { Name = nodeName } };
        config.Spec.NodeName = nodeName;
        var poolNames = new HashSet<string>(StringComparer.Ordinal);

        foreach (var (group, instance, position) in placements)
        {
            config.Spec.VrrpInstances.Add(BuildInstance(group, instance, PriorityAt(position), nodeName, nodesByName));
            // A node serving any instance of a group gets the group's pool (once).
            var poolKey = PoolKey(group.Resource);
            if (group.Resource.Spec.BackendPoolRef is { Length: > 0 } && pools.TryGetValue(poolKey, out var pool) && poolNames.Add(poolKey))
                config.Spec.BackendPools.Add(new BackendPoolConfig { Name = poolKey, Spec = pool.Spec });
        }
        config.Spec.VrrpInstances.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        config.Spec.BackendPools.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        return config;
    }

    private static VrrpInstanceConfig BuildInstance(GroupDraft group, InstanceDraft instance, int priority, string nodeName, Dictionary<string, Node> nodes)
    {
        var spec = group.Resource.Spec;
        var vrrp = spec.Vrrp;
        Duration.TryParse(vrrp.AdvertisementInterval, out var interval, out _);
        Duration.TryParse(vrrp.PreemptDelay, out var preemptDelay, out _);
        return new VrrpInstanceConfig
        {
            Name = instance.Name,
            Group = group.Key,
            Interface = spec.Interface,
            Version = vrrp.Version,
            VirtualRouterId = instance.VirtualRouterId,
            Priority = priority,
            AdvertisementInterval = Duration.Format(interval),
            Preempt = vrrp.Preempt,
            PreemptDelay = Duration.Format(preemptDelay),
            VirtualIPs = instance.Vips.Select(v => v.Vip.ToString()).ToList(),
            UnicastPeers = vrrp.Unicast
                ? instance.Nodes.Where(n => n != nodeName).Order(StringComparer.Ordinal)
                    .Select(n => UnicastAddress(nodes[n], instance.Family)!).ToList()
                : [],
            AuthSecretRef = vrrp.AuthSecretRef is { } secret
                ? new NamespacedSecretKeySelector { Namespace = group.Resource.Metadata.Namespace ?? DefaultNamespace, Name = secret.Name, Key = secret.Key }
                : null,
            AuthPasswordFile = vrrp.AuthPasswordFile,
        };
    }
}
