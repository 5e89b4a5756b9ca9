using System.Buffers;

namespace Adb.Protocol;

/// <summary>
/// One transport message: header fields plus payload. <see cref="Payload"/> is owned by the packet (a fresh array
/// from <see cref="AdbPacketIO.ReadAsync"/>).
/// </summary>
/// <param name="Command">Command word, one of <see cref="AdbCommand"/>.</param>
/// <param name="Arg0">First argument.</param>
/// <param name="Arg1">Second argument.</param>
/// <param name="Payload">Payload bytes (0..max payload).</param>
public sealed record AdbPacket(uint Command, uint Arg0, uint Arg1, ReadOnlyMemory<byte> Payload)
{
    /// <summary>Short trace form, e.g. <c>OPEN(1, 0, len=7)</c>.</summary>
    /// <returns>The trace string.</returns>
    public override string ToString() => $"{AdbCommand.Name(Command)}({Arg0}, {Arg1}, len={Payload.Length})";
}

/// <summary>
/// Reading and writing transport packets on a <see cref="Stream"/> (a TCP connection). Reads validate the header
/// as adb 29.0.6 does (magic and length only; never the checksum). Writers must serialize their calls per stream.
/// </summary>
public static class AdbPacketIO
{
    /// <summary>
    /// Reads one header. Returns null on a clean end of stream before the first header byte.
    /// The caller must then read exactly <see cref="AdbPacketHeader.DataLength"/> payload bytes.
    /// </summary>
    /// <param name="stream">Source stream.</param>
    /// <param name="maxPayload">Largest payload accepted, in bytes.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The validated header, or null at end of stream.</returns>
    /// <exception cref="AdbProtocolException">Bad magic or oversized payload.</exception>
    /// <exception cref="EndOfStreamException">The stream ended inside the header.</exception>
    public static async ValueTask<AdbPacketHeader?> ReadHeaderAsync(Stream stream, int maxPayload, CancellationToken cancellationToken = default)
    {
        byte[] buf = new byte[AdbPacketHeader.Size];
        int got = 0;
        while (got < buf.Length)
        {
            int n = await stream.ReadAsync(buf.AsMemory(got), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                if (got == 0) return null;
                throw new EndOfStreamException($"connection closed inside a packet header ({got} of 24 bytes)");
            }
            got += n;
        }
        var header = AdbPacketHeader.Read(buf);
        header.Validate(maxPayload);
        return header;
    }

    /// <summary>Reads one complete packet (header and payload); null on clean end of stream.</summary>
    /// <param name="stream">Source stream.</param>
    /// <param name="maxPayload">Largest payload accepted, in bytes.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The packet with a newly allocated payload, or null at end of stream.</returns>
    /// <exception cref="AdbProtocolException">Bad magic or oversized payload.</exception>
    /// <exception cref="EndOfStreamException">The stream ended inside the packet.</exception>
    public static async ValueTask<AdbPacket?> ReadAsync(Stream stream, int maxPayload, CancellationToken cancellationToken = default)
    {
        var header = await ReadHeaderAsync(stream, maxPayload, cancellationToken).ConfigureAwait(false);
        if (header is null) return null;
        var h = header.Value;
        byte[] payload = h.DataLength == 0 ? [] : new byte[h.DataLength];
        if (payload.Length > 0)
            await stream.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
        return new AdbPacket(h.Command, h.Arg0, h.Arg1, payload);
    }

    /// <summary>
    /// Writes one packet (header then payload) and flushes. Not thread-safe: callers serialize writes per stream.
    /// </summary>
    /// <param name="stream">Destination stream.</param>
    /// <param name="command">Command word.</param>
    /// <param name="arg0">First argument.</param>
    /// <param name="arg1">Second argument.</param>
    /// <param name="payload">Payload; the caller keeps it within the peer's max payload.</param>
    /// <param name="withChecksum">Fill <c>data_check</c> (see <see cref="AdbVersion.NeedsChecksum"/>).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task completing once the bytes are handed to the stream and flushed.</returns>
    public static async ValueTask WriteAsync(Stream stream, uint command, uint arg0, uint arg1, ReadOnlyMemory<byte> payload,
        bool withChecksum, CancellationToken cancellationToken = default)
    {
        var header = AdbPacketHeader.Create(command, arg0, arg1, payload.Span, withChecksum);
        if (payload.Length <= 64 * 1024)
        {
            int total = AdbPacketHeader.Size + payload.Length;
            byte[] buf = ArrayPool<byte>.Shared.Rent(total);
            try
            {
                header.WriteTo(buf);
                payload.Span.CopyTo(buf.AsSpan(AdbPacketHeader.Size));
                await stream.WriteAsync(buf.AsMemory(0, total), cancellationToken).ConfigureAwait(false);
            }
            finally { ArrayPool<byte>.Shared.Return(buf); }
        }
        else
        {
            byte[] hb = new byte[AdbPacketHeader.Size];
            header.WriteTo(hb);
            await stream.WriteAsync(hb, cancellationToken).ConfigureAwait(false);
            await stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        }
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes <paramref name="packet"/>; see the other overload.</summary>
    /// <param name="stream">Destination stream.</param>
    /// <param name="packet">The packet.</param>
    /// <param name="withChecksum">Fill <c>data_check</c>.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task completing once written and flushed.</returns>
    public static ValueTask WriteAsync(Stream stream, AdbPacket packet, bool withChecksum, CancellationToken cancellationToken = default) =>
        WriteAsync(stream, packet.Command, packet.Arg0, packet.Arg1, packet.Payload, withChecksum, cancellationToken);
}
