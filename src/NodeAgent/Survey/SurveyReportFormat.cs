using System.Globalization;
using System.Text;
using System.Text.Json;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Survey;

/// <summary>A <see cref="SurveyReport"/> as a table for a person or as JSON for a script. Pure. Never prints
/// authentication data, only its type.</summary>
public static class SurveyReportFormat
{
    public static string Text(SurveyReport report, string heardOn)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"{heardOn}: {report.Routers.Count} virtual router(s), {report.ConflictCount} conflict(s)\n");
        if (report.Routers.Count > 0)
        {
            var rows = new List<string[]> { new[] { "FAMILY", "VRID", "VERSION", "SOURCE", "PRIORITY", "INTERVAL", "AUTH", "ADVERTS", "VIPS" } };
            foreach (var router in report.Routers)
            foreach (var s in router.Speakers)
                rows.Add(
                [
                    router.Family, router.Vrid.ToString(CultureInfo.InvariantCulture), $"v{(int)s.Version}", s.Source,
                    s.LowestPriority == s.HighestPriority
                        ? s.Priority.ToString(CultureInfo.InvariantCulture)
                        : $"{s.Priority} ({s.LowestPriority}..{s.HighestPriority})",
                    Interval(s.AdvertInterval), VrrpSurvey.AuthName(s.Authentication),
                    s.Adverts.ToString(CultureInfo.InvariantCulture), string.Join(",", s.VirtualAddresses),
                ]);
            var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
            foreach (var row in rows)
                text.Append(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()).Append('\n');
        }
        foreach (var router in report.Routers)
        foreach (var conflict in router.Conflicts)
            text.Append(CultureInfo.InvariantCulture, $"CONFLICT {router.Family} VRID {router.Vrid}: {Describe(conflict.Kind)}: {conflict.Detail}\n");
        foreach (var u in report.Undecodable)
            text.Append(CultureInfo.InvariantCulture, $"undecodable: {u.Count} packet(s) from {u.Source}: {u.Reason.Describe()}\n");
        return text.ToString();
    }

    public static string Json(SurveyReport report, string heardOn)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("heardOn", heardOn);
            json.WriteNumber("frames", report.FramesSeen);
            json.WriteStartArray("routers");
            foreach (var router in report.Routers)
            {
                json.WriteStartObject();
                json.WriteString("family", router.Family);
                json.WriteNumber("vrid", router.Vrid);
                json.WriteStartArray("speakers");
                foreach (var s in router.Speakers)
                {
                    json.WriteStartObject();
                    json.WriteString("source", s.Source);
                    json.WriteNumber("version", (int)s.Version);
                    json.WriteNumber("priority", s.Priority);
                    json.WriteNumber("lowestPriority", s.LowestPriority);
                    json.WriteNumber("highestPriority", s.HighestPriority);
                    json.WriteNumber("advertIntervalSeconds", s.AdvertInterval.TotalSeconds);
                    json.WriteString("authentication", VrrpSurvey.AuthName(s.Authentication));
                    json.WriteNumber("ttl", s.Ttl);
                    json.WriteNumber("adverts", s.Adverts);
                    json.WriteString("firstHeard", s.FirstHeard.ToUniversalTime());
                    json.WriteString("lastHeard", s.LastHeard.ToUniversalTime());
                    json.WriteStartArray("virtualAddresses");
                    foreach (var a in s.VirtualAddresses) json.WriteStringValue(a);
                    json.WriteEndArray();
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteStartArray("conflicts");
                foreach (var c in router.Conflicts)
                {
                    json.WriteStartObject();
                    json.WriteString("kind", c.Kind.ToString());
                    json.WriteString("detail", c.Detail);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("undecodable");
            foreach (var u in report.Undecodable)
            {
                json.WriteStartObject();
                json.WriteString("source", u.Source);
                json.WriteString("reason", u.Reason.ToString());
                json.WriteNumber("count", u.Count);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    static string Describe(SurveyConflictKind kind) => kind switch
    {
        SurveyConflictKind.DifferentAddresses => "same VRID, different VIPs",
        SurveyConflictKind.TwoMasters => "two masters",
        SurveyConflictKind.DifferentVersion => "same VRID, different VRRP versions",
        SurveyConflictKind.DifferentAuthentication => "same VRID, different authentication",
        _ => kind.ToString(),
    };

    static string Interval(TimeSpan interval) => interval.TotalSeconds >= 1 && interval.Ticks % TimeSpan.TicksPerSecond == 0
        ? $"{interval.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)}s"
        : $"{interval.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)}ms";
}
