using System.Text;

namespace Adb.Protocol;

/// <summary>
/// Feature names exchanged in the CNXN banner (<c>features=a,b,c</c>). A feature is used only when both sides list
/// it. Source: AOSP <c>adb/transport.cpp</c> (kFeature*), reference §2.7.
/// </summary>
public static class AdbFeatures
{
    /// <summary><c>shell_v2</c>: the shell packet protocol (exit codes, separate stderr).</summary>
    public const string ShellV2 = "shell_v2";
    /// <summary><c>cmd</c>: install/uninstall through <c>cmd package</c>.</summary>
    public const string Cmd = "cmd";
    /// <summary><c>stat_v2</c>: sync STA2/LST2.</summary>
    public const string StatV2 = "stat_v2";
    /// <summary><c>ls_v2</c>: sync LIS2/DNT2.</summary>
    public const string LsV2 = "ls_v2";
    /// <summary><c>libusb</c>: host-only pseudo-feature.</summary>
    public const string Libusb = "libusb";
    /// <summary><c>push_sync</c>: host-only pseudo-feature.</summary>
    public const string PushSync = "push_sync";
    /// <summary><c>apex</c>: .apex installs allowed.</summary>
    public const string Apex = "apex";
    /// <summary><c>fixed_push_mkdir</c>: the daemon creates parent folders on SEND.</summary>
    public const string FixedPushMkdir = "fixed_push_mkdir";
    /// <summary><c>abb</c>: Android Binder Bridge.</summary>
    public const string Abb = "abb";
    /// <summary><c>fixed_push_symlink_timestamp</c>: symlink push keeps mtime.</summary>
    public const string FixedPushSymlinkTimestamp = "fixed_push_symlink_timestamp";
    /// <summary><c>abb_exec</c>: binder bridge exec form (used by install when present).</summary>
    public const string AbbExec = "abb_exec";
    /// <summary><c>remount_shell</c>: remount through the shell service.</summary>
    public const string RemountShell = "remount_shell";
    /// <summary><c>track_app</c>: newer than 29.0.6.</summary>
    public const string TrackApp = "track_app";
    /// <summary><c>sendrecv_v2</c>: SND2/RCV2, newer than 29.0.6.</summary>
    public const string SendRecvV2 = "sendrecv_v2";
    /// <summary><c>delayed_ack</c>: windowed flow control, newer than 29.0.6; never send to 29.0.6.</summary>
    public const string DelayedAck = "delayed_ack";

    /// <summary>Features the host side of Debian's adb 29.0.6 announces, in its order (reference §2.4).</summary>
    public static readonly IReadOnlyList<string> Host29 =
        [RemountShell, AbbExec, Abb, Apex, FixedPushMkdir, LsV2, StatV2, FixedPushSymlinkTimestamp, Cmd, ShellV2];

    /// <summary>Features our Linux adbd implements and announces.</summary>
    public static readonly IReadOnlyList<string> Daemon = [ShellV2, StatV2, LsV2, FixedPushMkdir, FixedPushSymlinkTimestamp];
}

/// <summary>
/// The CNXN payload ("connection banner"): <c>&lt;type&gt;:&lt;serial&gt;:&lt;props&gt;</c>, props being
/// <c>key=value</c> pairs separated by ';'. Examples: <c>host::features=shell_v2,cmd</c> and
/// <c>device::ro.product.name=x;ro.product.model=y;ro.product.device=z;features=shell_v2</c>.
/// Parsing follows adb 29.0.6 (<c>parse_banner</c> in <c>adb.cpp</c>): entries without exactly one '=' are dropped;
/// a type other than device/bootloader/recovery/sideload/rescue means "host". Keep it under 4096 bytes.
/// </summary>
/// <param name="SystemType">"device", "host", "recovery"...</param>
/// <param name="Serial">Serial field (usually empty; TCP transports are named by address).</param>
/// <param name="Properties">Properties other than <c>features</c>, in order (ro.product.name, ro.product.model, ro.product.device...).</param>
/// <param name="Features">Feature names, in order.</param>
public sealed record AdbBanner(string SystemType, string Serial, IReadOnlyList<KeyValuePair<string, string>> Properties, IReadOnlyList<string> Features)
{
    /// <summary>Property key of the product name.</summary>
    public const string ProductName = "ro.product.name";
    /// <summary>Property key of the model.</summary>
    public const string ProductModel = "ro.product.model";
    /// <summary>Property key of the device name.</summary>
    public const string ProductDevice = "ro.product.device";

    /// <summary>Value of a property, or null.</summary>
    /// <param name="key">Property key, e.g. <see cref="ProductModel"/>.</param>
    /// <returns>The value or null.</returns>
    public string? Get(string key)
    {
        foreach (var kv in Properties) if (kv.Key == key) return kv.Value;
        return null;
    }

    /// <summary>Whether <paramref name="feature"/> is listed.</summary>
    /// <param name="feature">A name from <see cref="AdbFeatures"/>.</param>
    /// <returns>True if present.</returns>
    public bool HasFeature(string feature) => Features.Contains(feature);

    /// <summary>Formats the banner text (without NUL). Properties come first, then <c>features=</c> (omitted when empty).</summary>
    /// <returns>E.g. <c>device::ro.product.name=x;features=shell_v2</c>.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(SystemType).Append(':').Append(Serial).Append(':');
        bool first = true;
        foreach (var kv in Properties)
        {
            if (!first) sb.Append(';');
            sb.Append(kv.Key).Append('=').Append(kv.Value);
            first = false;
        }
        if (Features.Count > 0)
        {
            if (!first) sb.Append(';');
            sb.Append("features=").Append(string.Join(',', Features));
        }
        return sb.ToString();
    }

    /// <summary>The CNXN payload: UTF-8 of <see cref="ToString"/>.</summary>
    /// <returns>Payload bytes.</returns>
    public byte[] ToPayload() => Encoding.UTF8.GetBytes(ToString());

    /// <summary>A device banner with the three product properties and the given features.</summary>
    /// <param name="productName">ro.product.name (no ':', ';' or '=').</param>
    /// <param name="model">ro.product.model.</param>
    /// <param name="device">ro.product.device.</param>
    /// <param name="features">Features to announce.</param>
    /// <returns>The banner.</returns>
    public static AdbBanner Device(string productName, string model, string device, IReadOnlyList<string> features) =>
        new("device", "", [new(ProductName, Sanitize(productName)), new(ProductModel, Sanitize(model)), new(ProductDevice, Sanitize(device))], features);

    /// <summary>Parses a CNXN payload (a trailing NUL is ignored).</summary>
    /// <param name="payload">CNXN payload bytes.</param>
    /// <returns>The banner; an unparseable text yields type "host" with no properties, as adb does.</returns>
    public static AdbBanner Parse(ReadOnlySpan<byte> payload)
    {
        int nul = payload.IndexOf((byte)0);
        if (nul >= 0) payload = payload[..nul];
        return Parse(Encoding.UTF8.GetString(payload));
    }

    /// <summary>Parses banner text.</summary>
    /// <param name="text">E.g. <c>host::features=shell_v2</c>.</param>
    /// <returns>The banner.</returns>
    public static AdbBanner Parse(string text)
    {
        string[] pieces = text.Split(':', 3);
        string type = pieces[0];
        string serial = pieces.Length > 1 ? pieces[1] : "";
        var props = new List<KeyValuePair<string, string>>();
        var features = new List<string>();
        if (pieces.Length > 2)
        {
            foreach (string entry in pieces[2].Split(';'))
            {
                string[] kv = entry.Split('=');
                if (kv.Length != 2) continue;
                if (kv[0] == "features")
                    features.AddRange(kv[1].Split(',', StringSplitOptions.RemoveEmptyEntries));
                else props.Add(new(kv[0], kv[1]));
            }
        }
        return new AdbBanner(type, serial, props, features);
    }

    private static string Sanitize(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (char c in value) sb.Append(c is ':' or ';' or '=' ? '_' : c);
        return sb.ToString();
    }
}
