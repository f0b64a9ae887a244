namespace NginxHa.Core.Resources.Schema;

/// <summary>
/// CEL forms of the VRRP checks in <see cref="Validation.VirtualIpGroupValidator"/>, shared by VirtualIpGroup's
/// vrrp settings and NodeHaConfig's VRRP instances. Each guards on the duration pattern so that a malformed
/// duration is reported once, by the pattern, and not again as a CEL evaluation error.
/// </summary>
public static class VrrpRules
{
    const string Interval = "duration(self.advertisementInterval)";
    const string Valid = "!self.advertisementInterval.matches(r'" + SchemaPatterns.Duration + "')";

    public const string V2WholeSeconds = "self.version != 2 || " + Valid + " || " + Interval + ".getMilliseconds() % 1000 == 0";
    public const string V2WholeSecondsMessage = "must be whole seconds for VRRP version 2";

    public const string V2Range = "self.version != 2 || " + Valid + " || " + Interval + ".getMilliseconds() % 1000 != 0 || ("
                                  + Interval + " >= duration('1s') && " + Interval + " <= duration('255s'))";
    public const string V2RangeMessage = "must be 1s..255s for VRRP version 2";

    public const string V3Centiseconds = "self.version != 3 || " + Valid + " || " + Interval + ".getMilliseconds() % 10 == 0";
    public const string V3CentisecondsMessage = "must be a multiple of 10ms for VRRP version 3";

    public const string V3Range = "self.version != 3 || " + Valid + " || " + Interval + ".getMilliseconds() % 10 != 0 || ("
                                  + Interval + " >= duration('10ms') && " + Interval + " <= duration('40950ms'))";
    public const string V3RangeMessage = "must be 10ms..40950ms for VRRP version 3";

    public const string PreemptDelay = "!self.preemptDelay.matches(r'" + SchemaPatterns.Duration + "') || duration(self.preemptDelay) <= duration('1000s')";
    public const string PreemptDelayMessage = "must be at most 1000s";

    public const string AuthV2Message = "authentication is only supported with VRRP version 2";
    public const string AuthEitherMessage = "set either authSecretRef or authPasswordFile, not both";

    /// <summary>
    /// Every rule above, on a class with VRRP's fields (version, advertisementInterval, preemptDelay, authSecretRef,
    /// authPasswordFile): one attribute instead of the same eight on each such class. They come before the class's own
    /// <see cref="CelRuleAttribute"/>s in the CRD.
    /// </summary>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    public sealed class SettingsAttribute : CelRuleSetAttribute
    {
        public override IReadOnlyList<CelRuleAttribute> Rules { get; } =
        [
            new(V2WholeSeconds, V2WholeSecondsMessage) { FieldPath = ".advertisementInterval" },
            new(V2Range, V2RangeMessage) { FieldPath = ".advertisementInterval" },
            new(V3Centiseconds, V3CentisecondsMessage) { FieldPath = ".advertisementInterval" },
            new(V3Range, V3RangeMessage) { FieldPath = ".advertisementInterval" },
            new(PreemptDelay, PreemptDelayMessage) { FieldPath = ".preemptDelay" },
            new("!has(self.authSecretRef) || self.version == 2", AuthV2Message) { FieldPath = ".authSecretRef" },
            new("!has(self.authPasswordFile) || has(self.authSecretRef) || self.version == 2", AuthV2Message) { FieldPath = ".authPasswordFile" },
            new("!(has(self.authSecretRef) && has(self.authPasswordFile))", AuthEitherMessage) { FieldPath = ".authPasswordFile" },
        ];
    }
}
