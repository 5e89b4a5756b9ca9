using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace Adb.Protocol;

/// <summary>
/// Android's RSA public key encoding used in <c>adbkey.pub</c>, <c>adb_keys</c> and the AUTH RSAPUBLICKEY payload:
/// the old mincrypt <c>RSAPublicKey</c> struct, 524 bytes, all little-endian:
/// <c>len</c> (u32, modulus size in 32-bit words, must be 64), <c>n0inv</c> (u32, −1/n mod 2^32),
/// <c>n</c> (256 bytes LE), <c>rr</c> (256 bytes LE, 2^4096 mod n), <c>exponent</c> (u32).
/// Text form: <c>base64(struct) + " " + comment</c> (700 base64 characters). Source: AOSP
/// <c>libcrypto_utils/android_pubkey.c</c>, reference §3.2.
/// </summary>
public static class AndroidPublicKey
{
    /// <summary>Size of the binary struct: 524 bytes.</summary>
    public const int EncodedSize = 524;

    /// <summary>Modulus size in bytes (RSA-2048): 256.</summary>
    public const int ModulusSize = 256;

    /// <summary>Encodes the public half of an RSA-2048 key into the 524-byte struct.</summary>
    /// <param name="parameters">RSA parameters; only <c>Modulus</c> (256 bytes big-endian) and <c>Exponent</c> are used.</param>
    /// <returns>524 bytes.</returns>
    /// <exception cref="ArgumentException">The modulus is not 2048 bits.</exception>
    public static byte[] Encode(RSAParameters parameters)
    {
        byte[] modulus = parameters.Modulus ?? throw new ArgumentException("no modulus", nameof(parameters));
        byte[] exponent = parameters.Exponent ?? throw new ArgumentException("no exponent", nameof(parameters));
        if (modulus.Length != ModulusSize) throw new ArgumentException($"adb keys are RSA-2048; modulus has {modulus.Length * 8} bits", nameof(parameters));
        var n = new BigInteger(modulus, isUnsigned: true, isBigEndian: true);
        byte[] result = new byte[EncodedSize];
        var span = result.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, ModulusSize / 4);
        uint n0 = (uint)(n & uint.MaxValue);
        // Inverse of n0 modulo 2^32 by Newton iteration (n0 is odd for an RSA modulus).
        uint inv = n0;
        for (int i = 0; i < 5; i++) inv *= 2 - n0 * inv;
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], unchecked(0u - inv));
        WriteLittleEndian(n, span.Slice(8, ModulusSize));
        var rr = BigInteger.ModPow(2, 4096, n);
        WriteLittleEndian(rr, span.Slice(8 + ModulusSize, ModulusSize));
        uint e = 0;
        foreach (byte b in exponent) e = (e << 8) | b;
        BinaryPrimitives.WriteUInt32LittleEndian(span[(8 + 2 * ModulusSize)..], e);
        return result;
    }

    /// <summary>Encodes the public half of <paramref name="rsa"/>.</summary>
    /// <param name="rsa">An RSA-2048 key (public or private).</param>
    /// <returns>524 bytes.</returns>
    public static byte[] Encode(RSA rsa) => Encode(rsa.ExportParameters(false));

    /// <summary>Decodes the 524-byte struct. <c>n0inv</c> and <c>rr</c> are ignored (as AOSP does).</summary>
    /// <param name="encoded">Exactly 524 bytes.</param>
    /// <returns>Public RSA parameters (big-endian modulus and exponent).</returns>
    /// <exception cref="AdbProtocolException">Wrong size, <c>len</c> ≠ 64, or a zero exponent.</exception>
    public static RSAParameters Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length != EncodedSize) throw new AdbProtocolException($"adb public key must be {EncodedSize} bytes, got {encoded.Length}");
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(encoded);
        if (len != ModulusSize / 4) throw new AdbProtocolException($"adb public key has len={len}, expected 64 (RSA-2048)");
        byte[] modulus = encoded.Slice(8, ModulusSize).ToArray();
        Array.Reverse(modulus);
        uint e = BinaryPrimitives.ReadUInt32LittleEndian(encoded[(8 + 2 * ModulusSize)..]);
        if (e == 0) throw new AdbProtocolException("adb public key has exponent 0");
        byte[] exponent = new BigInteger(e).ToByteArray(isUnsigned: true, isBigEndian: true);
        return new RSAParameters { Modulus = modulus, Exponent = exponent };
    }

    /// <summary>Creates an <see cref="RSA"/> holding the public key in <paramref name="encoded"/>.</summary>
    /// <param name="encoded">The 524-byte struct.</param>
    /// <returns>A new RSA object (dispose it).</returns>
    /// <exception cref="AdbProtocolException">The struct is malformed.</exception>
    public static RSA ToRsa(ReadOnlySpan<byte> encoded)
    {
        var rsa = RSA.Create();
        try { rsa.ImportParameters(Decode(encoded)); }
        catch (CryptographicException ex) { rsa.Dispose(); throw new AdbProtocolException("adb public key rejected: " + ex.Message, ex); }
        return rsa;
    }

    /// <summary>
    /// The fingerprint adb shows to users (Android's UsbDebuggingManager, adbkit): MD5 of the 524-byte struct as
    /// upper-case hex bytes joined by ':' (47 characters).
    /// </summary>
    /// <param name="encoded">The 524-byte struct (base64-decoded key).</param>
    /// <returns>E.g. "1A:2B:...".</returns>
    public static string Fingerprint(ReadOnlySpan<byte> encoded) =>
        Convert.ToHexString(MD5.HashData(encoded)).Chunk(2).Select(c => new string(c)).Aggregate((a, b) => a + ":" + b);

    /// <summary>Formats an <c>adbkey.pub</c> / <c>adb_keys</c> line: base64 + " " + comment, with no newline.</summary>
    /// <param name="encoded">The 524-byte struct.</param>
    /// <param name="comment">Usually "user@host"; empty for none.</param>
    /// <returns>The text line.</returns>
    public static string FormatLine(ReadOnlySpan<byte> encoded, string comment) =>
        comment.Length == 0 ? Convert.ToBase64String(encoded) : Convert.ToBase64String(encoded) + " " + comment;

    /// <summary>
    /// Parses a key line ("base64 comment", also the NUL-terminated RSAPUBLICKEY payload). Leading/trailing
    /// whitespace and NULs are ignored; the comment is everything after the first space or tab.
    /// </summary>
    /// <param name="line">The text line.</param>
    /// <param name="comment">The comment (may be empty).</param>
    /// <returns>The 524-byte struct.</returns>
    /// <exception cref="AdbProtocolException">Not base64, or not a valid 524-byte key.</exception>
    public static byte[] ParseLine(string line, out string comment)
    {
        string s = line.Trim('\0', ' ', '\t', '\r', '\n');
        int sep = s.IndexOfAny([' ', '\t']);
        string b64 = sep < 0 ? s : s[..sep];
        comment = sep < 0 ? "" : s[(sep + 1)..].Trim();
        byte[] blob;
        try { blob = Convert.FromBase64String(b64); }
        catch (FormatException) { throw new AdbProtocolException("adb public key is not valid base64"); }
        Decode(blob); // validates
        return blob;
    }

    /// <summary>Parses the RSAPUBLICKEY payload of an AUTH packet (UTF-8 text, NUL-terminated).</summary>
    /// <param name="payload">AUTH(3) payload bytes.</param>
    /// <param name="comment">The comment part ("user@host").</param>
    /// <returns>The 524-byte struct.</returns>
    /// <exception cref="AdbProtocolException">The payload is not a valid key line.</exception>
    public static byte[] ParseAuthPayload(ReadOnlySpan<byte> payload, out string comment)
    {
        int nul = payload.IndexOf((byte)0);
        if (nul >= 0) payload = payload[..nul];
        return ParseLine(Encoding.UTF8.GetString(payload), out comment);
    }

    private static void WriteLittleEndian(BigInteger value, Span<byte> destination)
    {
        destination.Clear();
        if (!value.TryWriteBytes(destination, out _, isUnsigned: true, isBigEndian: false))
            throw new ArgumentException("value too large for the field");
    }
}
