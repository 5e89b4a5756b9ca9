namespace Adb.Protocol;

/// <summary>
/// Transport packet command words (the <c>command</c> field of the 24-byte header), as defined in AOSP
/// <c>adb/adb.h</c> (<c>A_CNXN</c>, <c>A_AUTH</c>...). Each value is the four ASCII letters read as a
/// little-endian uint32, so <c>CNXN</c> appears on the wire as the bytes <c>43 4E 58 4E</c>.
/// </summary>
public static class AdbCommand
{
    /// <summary><c>A_SYNC</c> 0x434e5953: obsolete, never sent on the wire.</summary>
    public const uint SYNC = 0x434e5953;

    /// <summary><c>A_CNXN</c> 0x4e584e43: <c>CNXN(version, maxdata, "banner")</c>.</summary>
    public const uint CNXN = 0x4e584e43;

    /// <summary><c>A_AUTH</c> 0x48545541: <c>AUTH(type, 0, data)</c>, type from <see cref="AdbAuthType"/>.</summary>
    public const uint AUTH = 0x48545541;

    /// <summary><c>A_OPEN</c> 0x4e45504f: <c>OPEN(local-id, 0, "service\0")</c>.</summary>
    public const uint OPEN = 0x4e45504f;

    /// <summary><c>A_OKAY</c> 0x59414b4f: <c>OKAY(local-id, remote-id, "")</c>; also the per-WRTE acknowledgement.</summary>
    public const uint OKAY = 0x59414b4f;

    /// <summary><c>A_CLSE</c> 0x45534c43: <c>CLSE(local-id or 0, remote-id, "")</c>.</summary>
    public const uint CLSE = 0x45534c43;

    /// <summary><c>A_WRTE</c> 0x45545257: <c>WRTE(local-id, remote-id, data)</c>.</summary>
    public const uint WRTE = 0x45545257;

    /// <summary><c>A_STLS</c> 0x534c5453: TLS upgrade (Android 11+); unknown to adb 29.0.6, never send it to such a peer.</summary>
    public const uint STLS = 0x534c5453;

    /// <summary>Returns the four-letter name of <paramref name="command"/> (e.g. "CNXN"), or its hex value if unknown.</summary>
    /// <param name="command">A header command word.</param>
    /// <returns>"CNXN", "AUTH", ... or "0x1234abcd".</returns>
    public static string Name(uint command) => command switch
    {
        SYNC => "SYNC",
        CNXN => "CNXN",
        AUTH => "AUTH",
        OPEN => "OPEN",
        OKAY => "OKAY",
        CLSE => "CLSE",
        WRTE => "WRTE",
        STLS => "STLS",
        _ => "0x" + command.ToString("x8"),
    };

    /// <summary>True for the commands adb 29.0.6 knows (all of the above but SYNC and STLS).</summary>
    /// <param name="command">A header command word.</param>
    /// <returns>Whether the command is one of CNXN, AUTH, OPEN, OKAY, CLSE, WRTE.</returns>
    public static bool IsKnown(uint command) =>
        command is CNXN or AUTH or OPEN or OKAY or CLSE or WRTE;
}

/// <summary>
/// Protocol versions and size limits of the adb transport (AOSP <c>adb.h</c>: <c>A_VERSION_MIN</c>,
/// <c>A_VERSION_SKIP_CHECKSUM</c>, <c>MAX_PAYLOAD_V1</c>, <c>MAX_PAYLOAD</c>).
/// </summary>
public static class AdbVersion
{
    /// <summary><c>A_VERSION_MIN</c> 0x01000000: original protocol; <c>data_check</c> is the byte sum of the payload.</summary>
    public const uint Min = 0x01000000;

    /// <summary><c>A_VERSION_SKIP_CHECKSUM</c> 0x01000001: peers send <c>data_check = 0</c>. This is the version we announce.</summary>
    public const uint SkipChecksum = 0x01000001;

    /// <summary>The version we send in CNXN (<see cref="SkipChecksum"/>).</summary>
    public const uint Current = SkipChecksum;

    /// <summary><c>MAX_PAYLOAD_V1</c>: 4096 bytes. CNXN and AUTH payloads must fit in it (the peer's maxdata is unknown yet).</summary>
    public const int MaxPayloadV1 = 4096;

    /// <summary><c>MAX_PAYLOAD</c> in adb 29.0.6: 1 MiB (1048576 bytes). The <c>maxdata</c> we announce in CNXN.</summary>
    public const int MaxPayload = 1024 * 1024;

    /// <summary>Negotiated version: <c>min(peer, ours)</c>.</summary>
    /// <param name="peerVersion">The arg0 of the peer's CNXN.</param>
    /// <returns>The version both sides use.</returns>
    public static uint Negotiate(uint peerVersion) => Math.Min(peerVersion, Current);

    /// <summary>Whether a sender must fill <c>data_check</c> for the negotiated version (true below 0x01000001).</summary>
    /// <param name="negotiatedVersion">Result of <see cref="Negotiate"/>; use <see cref="Min"/> before CNXN was seen.</param>
    /// <returns>True when checksums must be computed.</returns>
    public static bool NeedsChecksum(uint negotiatedVersion) => negotiatedVersion < SkipChecksum;
}

/// <summary>AUTH packet types (arg0 of <see cref="AdbCommand.AUTH"/>), AOSP <c>adb_auth.h</c>.</summary>
public enum AdbAuthType : uint
{
    /// <summary><c>ADB_AUTH_TOKEN</c>: device → host, payload is a 20-byte random token.</summary>
    Token = 1,

    /// <summary><c>ADB_AUTH_SIGNATURE</c>: host → device, payload is the 256-byte RSA signature of the token.</summary>
    Signature = 2,

    /// <summary><c>ADB_AUTH_RSAPUBLICKEY</c>: host → device, payload is "base64key comment\0" (NUL-terminated text).</summary>
    RsaPublicKey = 3,
}
