using System.Globalization;
using System.Text;

namespace Adb.Protocol;

/// <summary>
/// Host "smart socket" framing between the adb client and server (TCP 5037): a request is 4 lower-case hex digits
/// giving the payload length (1..1 MiB) then the payload; replies are <c>OKAY</c>, or <c>FAIL</c> + hex4 + message.
/// Source: AOSP <c>adb/SERVICES.TXT</c>, reference §1.1.
/// </summary>
public static class AdbSmartSocket
{
    /// <summary>Reply status <c>OKAY</c>.</summary>
    public const string Okay = "OKAY";

    /// <summary>Reply status <c>FAIL</c>.</summary>
    public const string Fail = "FAIL";

    /// <summary>Encodes a request: hex4 length + UTF-8 payload, e.g. <c>000chost:version</c>.</summary>
    /// <param name="request">The service string.</param>
    /// <returns>The bytes to send.</returns>
    /// <exception cref="ArgumentException">Empty, or longer than 65535 bytes (4 hex digits).</exception>
    public static byte[] FormatRequest(string request)
    {
        byte[] body = Encoding.UTF8.GetBytes(request);
        if (body.Length is 0 or > 0xFFFF) throw new ArgumentException("smart-socket request must be 1..65535 bytes", nameof(request));
        return Encoding.ASCII.GetBytes(body.Length.ToString("x4", CultureInfo.InvariantCulture)).Concat(body).ToArray();
    }

    /// <summary>Encodes a length-prefixed payload (hex4 + bytes) as used in OKAY/FAIL replies.</summary>
    /// <param name="payload">The text.</param>
    /// <returns>hex4 + UTF-8 bytes.</returns>
    public static byte[] FormatLengthPrefixed(string payload)
    {
        byte[] body = Encoding.UTF8.GetBytes(payload);
        return Encoding.ASCII.GetBytes(Math.Min(body.Length, 0xFFFF).ToString("x4", CultureInfo.InvariantCulture)).Concat(body).ToArray();
    }

    /// <summary>Parses 4 hex digits (either case).</summary>
    /// <param name="hex4">Exactly 4 bytes.</param>
    /// <param name="length">The value.</param>
    /// <returns>False when not 4 hex digits.</returns>
    public static bool TryParseLength(ReadOnlySpan<byte> hex4, out int length) =>
        int.TryParse(Encoding.ASCII.GetString(hex4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out length) && hex4.Length == 4;
}
