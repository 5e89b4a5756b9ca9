namespace Adb.Daemon;

/// <summary>Command-line settings of <c>adbd</c> (see <c>adbd --help</c>).</summary>
public sealed class DaemonOptions
{
    /// <summary>TCP port to listen on (<c>--port</c>, default 5555; 0 picks a free port).</summary>
    public int Port { get; set; } = 5555;

    /// <summary>Address to bind (<c>--bind</c>, default 0.0.0.0).</summary>
    public string Bind { get; set; } = "0.0.0.0";

    /// <summary>Keys file (<c>--keys</c>): adb_keys lines with optional capability options.</summary>
    public string KeysFile { get; set; } = "/etc/adbd/adb_keys";

    /// <summary>Audit log (<c>--audit-log</c>); null disables it.</summary>
    public string? AuditLog { get; set; }

    /// <summary>Daemon-wide switch that allows <c>root:</c> at all (<c>--allow-root</c>).</summary>
    public bool AllowRoot { get; set; }

    /// <summary>User to serve as (<c>--user</c>); null = "nobody" when started as root, else the current user.</summary>
    public string? User { get; set; }

    /// <summary>Banner property ro.product.name (defaults to the host name).</summary>
    public string ProductName { get; set; } = "linux";

    /// <summary>Banner property ro.product.model.</summary>
    public string Model { get; set; } = "Linux_adbd";

    /// <summary>Banner property ro.product.device (defaults to the host name).</summary>
    public string Device { get; set; } = Environment.MachineName;

    /// <summary>Interval between checks of the keys files for changes, in milliseconds.</summary>
    public int KeysPollMilliseconds { get; set; } = 250;
}
