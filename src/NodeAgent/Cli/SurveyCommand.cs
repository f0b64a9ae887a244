using System.Globalization;
using NginxHa.NodeAgent.Survey;

namespace NginxHa.NodeAgent.Cli;

/// <summary>
/// <c>nginx-ha-agent survey --interface IF [--seconds N] [--json]</c>: who speaks VRRP on this segment, before a
/// deployment (to pick free VRIDs) or while debugging a flap. Exit 0: heard and no conflict; 3: a conflict was heard.
/// </summary>
public static class SurveyCommand
{
    public const string Usage =
        "usage: nginx-ha-agent survey --interface IF [--seconds N] [--json]   (listen on IF for N seconds, default 10; root)\n" +
        "       nginx-ha-agent survey --file CAPTURE.pcap [--json]            (read a tcpdump/tshark capture instead)\n" +
        "prints every VRID heard (version, sources, priorities, advert interval, VIPs, authentication type) and conflicts\n" +
        "(same VRID with different VIPs, versions or authentication; two masters). Exit 0, or 3 when a conflict was heard.";

    public const int ConflictExitCode = 3;

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        string? interfaceName = null, file = null;
        var seconds = 10.0;
        var json = false;
        for (int i = 0; i < args.Count; i++)
        {
            string? value = i + 1 < args.Count ? args[i + 1] : null;
            switch (args[i])
            {
                case "--interface" when value is { Length: > 0 }:
                    interfaceName = value;
                    i++;
                    break;
                case "--file" when value is { Length: > 0 }:
                    file = value;
                    i++;
                    break;
                case "--seconds" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 && s <= 86400:
                    seconds = s;
                    i++;
                    break;
                case "--seconds":
                    error.WriteLine($"nginx-ha-agent survey: --seconds: \"{value}\" is not a number of seconds in (0, 86400]");
                    return 2;
                case "--json":
                    json = true;
                    break;
                default:
                    error.WriteLine($"nginx-ha-agent survey: \"{args[i]}\": unknown option or missing value\n{Usage}");
                    return 2;
            }
        }
        if ((interfaceName is null) == (file is null))
        {
            error.WriteLine($"nginx-ha-agent survey: give exactly one of --interface or --file\n{Usage}");
            return 2;
        }

        var survey = new VrrpSurvey();
        string heardOn;
        try
        {
            if (file is not null)
            {
                SurveyCapture.ReadFile(file, survey);
                heardOn = $"VRRP in {file}";
            }
            else
            {
                using var stop = new CancellationTokenSource();
                ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
                Console.CancelKeyPress += onCancel;
                try
                {
                    SurveyCapture.Listen(interfaceName!, TimeSpan.FromSeconds(seconds), survey, stop.Token);
                }
                finally
                {
                    Console.CancelKeyPress -= onCancel;
                }
                heardOn = $"VRRP heard on {interfaceName} in {seconds.ToString("0.###", CultureInfo.InvariantCulture)} s";
            }
        }
        catch (SurveyCaptureException ex)
        {
            error.WriteLine($"nginx-ha-agent survey: {ex.Message}");
            return 1;
        }
        var report = survey.Report();
        output.Write(json ? SurveyReportFormat.Json(report, heardOn) : SurveyReportFormat.Text(report, heardOn));
        return report.ConflictCount > 0 ? ConflictExitCode : 0;
    }
}
