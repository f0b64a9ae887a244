using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Cli;

/// <summary>The VRRP fields a log line carries in JSON (null: not about an instance, or not a transition).</summary>
public sealed record LogFields(string Instance, int Vrid, string Vips)
{
    public string? From { get; init; }
    public string? To { get; init; }
    public string? Reason { get; init; }
}

/// <summary>
/// One line per event: text (a UTC timestamp and the message, what the README and the tests read) or JSON (one object per
/// line: time, msg, and instance, vrid, vip, from, to, reason where they apply). Messages never carry secrets: passwords
/// are read into memory and never formatted (tests check the log of a wrong-password exchange).
/// </summary>
public sealed class LineLog(TextWriter output, LogFormat format = LogFormat.Text)
{
    readonly object _gate = new();

    public LogFormat Format => format;

    public void Write(string line) => Write(line, null);

    public void Write(string line, LogFields? fields)
    {
        var now = DateTimeOffset.UtcNow;
        string text = format == LogFormat.Json ? Json(now, line, fields) : $"{now:yyyy-MM-ddTHH:mm:ss.fffZ} {line}";
        lock (_gate)
        {
            output.WriteLine(text);
            output.Flush();
        }
    }

    static string Json(DateTimeOffset now, string line, LogFields? fields)
    {
        var buffer = new MemoryStream();
        // Relaxed escaping: "->" stays readable; the output is a log line, never embedded in HTML.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("time", now.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("msg", line);
            if (fields is not null)
            {
                json.WriteString("instance", fields.Instance);
                json.WriteNumber("vrid", fields.Vrid);
                json.WriteString("vip", fields.Vips);
                if (fields.From is not null) json.WriteString("from", fields.From);
                if (fields.To is not null) json.WriteString("to", fields.To);
                if (fields.Reason is not null) json.WriteString("reason", fields.Reason);
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// A speaker's log: every line carries its instance, VRID and VIPs; the transition line also from, to and reason. The
    /// speaker reports a transition to its observer and then logs it, on its own thread, so the fields of the one are put
    /// on the other.
    /// </summary>
    public SpeakerLog ForInstance(InstancePlan plan) => new(this, new LogFields(plan.Name, plan.VirtualRouterId,
        string.Join(" ", plan.VirtualAddresses)));

    public sealed class SpeakerLog(LineLog log, LogFields fields) : IVrrpSpeakerObserver
    {
        [ThreadStatic] static LogFields? t_pending;

        public void Write(string line)
        {
            var pending = t_pending;
            t_pending = null;
            log.Write(line, pending ?? fields);
        }

        public void StateChanged(VrrpState from, VrrpState to, string reason) =>
            t_pending = fields with { From = Metrics.TransitionReasons.Label(from), To = Metrics.TransitionReasons.Label(to), Reason = reason };

        public void AdvertSent(byte priority) { }
        public void AdvertAccepted(System.Net.IPAddress source, byte priority, VrrpState before, VrrpState after) { }
        public void AdvertDropped(VrrpDropReason reason, System.Net.IPAddress source, VrrpAdvertisement? advert) { }
        public void AddressesBound(int count) { }
        public void Announced(int count) { }
    }
}
