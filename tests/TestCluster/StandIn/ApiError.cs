using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.StandIn;

/// <summary>A request the stand-in refuses, answered as a meta/v1 Status with the real server's reason and wording.</summary>
public sealed class ApiError(int code, string reason, string message, ResourceKind? kind = null, string? name = null)
    : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;

    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
            ["code"] = Code,
        };
        if (kind is not null)
        {
            var details = new JsonObject { ["kind"] = kind.Plural };
            if (kind.Group.Length > 0) details["group"] = kind.Group;
            if (name is not null) details["name"] = name;
            status["details"] = details;
        }
        return status;
    }

    public static ApiError NotFound(ResourceKind kind, string name) =>
        new(404, "NotFound", $"{kind.QualifiedResource} \"{name}\" not found", kind, name);

    public static ApiError AlreadyExists(ResourceKind kind, string name) =>
        new(409, "AlreadyExists", $"{kind.QualifiedResource} \"{name}\" already exists", kind, name);

    public static ApiError Conflict(ResourceKind kind, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {kind.QualifiedResource} \"{name}\": {why}", kind, name);

    public static ApiError Modified(ResourceKind kind, string name) =>
        Conflict(kind, name, "the object has been modified; please apply your changes to the latest version and try again");

    public static ApiError Invalid(ResourceKind kind, string name, string field, string detail) =>
        new(422, "Invalid", $"{kind.Kind} \"{name}\" is invalid: {field}: {detail}", kind, name);

    public static ApiError BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiError Expired(string message) => new(410, "Expired", message);
}
