namespace Adb.Cli.Server;

/// <summary>Transport states as the host server reports them (AOSP <c>ConnectionState</c> kCs*, reference §3.4).</summary>
internal enum ConnectionState
{
    /// <summary>TCP connected (or connecting), CNXN sent, no answer yet: "connecting".</summary>
    Connecting,
    /// <summary>An AUTH token arrived and private keys are being tried: "authorizing".</summary>
    Authorizing,
    /// <summary>All private keys failed and the public key was sent: "unauthorized".</summary>
    Unauthorized,
    /// <summary>The connection dropped (reconnect pending): "offline".</summary>
    Offline,
    /// <summary>CNXN with a "device:" banner: "device".</summary>
    Device,
    /// <summary>CNXN with an unknown banner type: "host".</summary>
    Host,
    /// <summary>"bootloader".</summary>
    Bootloader,
    /// <summary>"recovery".</summary>
    Recovery,
    /// <summary>"sideload".</summary>
    Sideload,
    /// <summary>"rescue".</summary>
    Rescue,
}

/// <summary>Names of <see cref="ConnectionState"/> on the wire.</summary>
internal static class ConnectionStates
{
    /// <summary>The state word used in devices lists and get-state replies.</summary>
    public static string Name(this ConnectionState s) => s switch
    {
        ConnectionState.Connecting => "connecting",
        ConnectionState.Authorizing => "authorizing",
        ConnectionState.Unauthorized => "unauthorized",
        ConnectionState.Offline => "offline",
        ConnectionState.Device => "device",
        ConnectionState.Host => "host",
        ConnectionState.Bootloader => "bootloader",
        ConnectionState.Recovery => "recovery",
        ConnectionState.Sideload => "sideload",
        ConnectionState.Rescue => "rescue",
        _ => "unknown",
    };

    /// <summary>Maps a banner type (the text before the first ':') to a state; anything unknown is "host".</summary>
    public static ConnectionState FromBannerType(string type) => type switch
    {
        "device" => ConnectionState.Device,
        "bootloader" => ConnectionState.Bootloader,
        "recovery" => ConnectionState.Recovery,
        "sideload" => ConnectionState.Sideload,
        "rescue" => ConnectionState.Rescue,
        _ => ConnectionState.Host,
    };
}
