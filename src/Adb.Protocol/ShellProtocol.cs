using System.Buffers.Binary;
using System.Text;

namespace Adb.Protocol;

/// <summary>Shell v2 packet ids (AOSP <c>shell_protocol.h</c>, <c>ShellProtocol::Id</c>).</summary>
public enum ShellPacketId : byte
{
    /// <summary>Host → device: bytes for the child's stdin.</summary>
    Stdin = 0,
    /// <summary>Device → host: child stdout bytes.</summary>
    Stdout = 1,
    /// <summary>Device → host: child stderr bytes.</summary>
    Stderr = 2,
    /// <summary>Device → host: 1 byte, the exit status (128+signal when killed, 126 when exec failed).</summary>
    Exit = 3,
    /// <summary>Host → device: close the child's stdin (length 0); ignored for a PTY.</summary>
    CloseStdin = 4,
    /// <summary>Host → device: ASCII "rows x cols , xpixels x ypixels" plus NUL, applied with TIOCSWINSZ.</summary>
    WindowSizeChange = 5,
}

/// <summary>
/// Shell v2 framing: 1-byte <see cref="ShellPacketId"/>, u32 little-endian length, data. Packets may be split or
/// coalesced across WRTE payloads, so readers must buffer. Source: AOSP <c>shell_protocol.h</c>, reference §4.2.
/// </summary>
public static class ShellProtocol
{
    /// <summary>Header size: 5 bytes.</summary>
    public const int HeaderSize = 5;

    /// <summary>adbd's packet data buffer size (<c>MAX_PAYLOAD - HeaderSize</c> in AOSP is larger; any length is legal).</summary>
    public const int DefaultBufferSize = 64 * 1024;

    /// <summary>Writes a 5-byte header.</summary>
    /// <param name="destination">At least 5 bytes.</param>
    /// <param name="id">Packet id.</param>
    /// <param name="length">Data length in bytes.</param>
    public static void WriteHeader(Span<byte> destination, ShellPacketId id, uint length)
    {
        destination[0] = (byte)id;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[1..], length);
    }

    /// <summary>Reads a 5-byte header.</summary>
    /// <param name="source">At least 5 bytes.</param>
    /// <returns>(id, length).</returns>
    public static (ShellPacketId Id, uint Length) ReadHeader(ReadOnlySpan<byte> source) =>
        ((ShellPacketId)source[0], BinaryPrimitives.ReadUInt32LittleEndian(source[1..]));

    /// <summary>Builds a complete packet.</summary>
    /// <param name="id">Packet id.</param>
    /// <param name="data">Packet data.</param>
    /// <returns>Header + data.</returns>
    public static byte[] Packet(ShellPacketId id, ReadOnlySpan<byte> data)
    {
        byte[] b = new byte[HeaderSize + data.Length];
        WriteHeader(b, id, (uint)data.Length);
        data.CopyTo(b.AsSpan(HeaderSize));
        return b;
    }

    /// <summary>Formats a window-size payload: "rowsxcols,xpixelsxypixels" plus NUL.</summary>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns.</param>
    /// <param name="xPixels">Width in pixels.</param>
    /// <param name="yPixels">Height in pixels.</param>
    /// <returns>The payload bytes.</returns>
    public static byte[] WindowSize(int rows, int cols, int xPixels, int yPixels) =>
        Encoding.ASCII.GetBytes($"{rows}x{cols},{xPixels}x{yPixels}\0");

    /// <summary>Parses a window-size payload.</summary>
    /// <param name="data">Payload (NUL optional).</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns.</param>
    /// <param name="xPixels">Width in pixels.</param>
    /// <param name="yPixels">Height in pixels.</param>
    /// <returns>False if malformed.</returns>
    public static bool TryParseWindowSize(ReadOnlySpan<byte> data, out int rows, out int cols, out int xPixels, out int yPixels)
    {
        rows = cols = xPixels = yPixels = 0;
        int nul = data.IndexOf((byte)0);
        if (nul >= 0) data = data[..nul];
        string[] parts = Encoding.ASCII.GetString(data).Split(',');
        if (parts.Length != 2) return false;
        string[] a = parts[0].Split('x'), b = parts[1].Split('x');
        return a.Length == 2 && b.Length == 2 && int.TryParse(a[0], out rows) && int.TryParse(a[1], out cols)
            && int.TryParse(b[0], out xPixels) && int.TryParse(b[1], out yPixels);
    }
}
