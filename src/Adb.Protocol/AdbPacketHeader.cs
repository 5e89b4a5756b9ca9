using System.Buffers.Binary;

namespace Adb.Protocol;

/// <summary>
/// The 24-byte transport message header (AOSP <c>amessage</c> in <c>adb.h</c>): six little-endian uint32 fields
/// <c>command, arg0, arg1, data_length, data_check, magic</c>, with <c>magic = command ^ 0xFFFFFFFF</c>.
/// <c>data_check</c> is the unsigned byte sum of the payload (not a CRC despite the AOSP name <c>data_crc32</c>)
/// and is 0 once version 0x01000001 was negotiated.
/// </summary>
/// <param name="Command">Command word, one of <see cref="AdbCommand"/>.</param>
/// <param name="Arg0">First argument (meaning depends on the command).</param>
/// <param name="Arg1">Second argument.</param>
/// <param name="DataLength">Payload length in bytes.</param>
/// <param name="DataCheck">Byte sum of the payload, or 0.</param>
/// <param name="Magic">Must equal <c>Command ^ 0xFFFFFFFF</c>.</param>
public readonly record struct AdbPacketHeader(uint Command, uint Arg0, uint Arg1, uint DataLength, uint DataCheck, uint Magic)
{
    /// <summary>Header size on the wire: 24 bytes.</summary>
    public const int Size = 24;

    /// <summary>Builds a header for <paramref name="payload"/>, with a correct magic.</summary>
    /// <param name="command">Command word.</param>
    /// <param name="arg0">First argument.</param>
    /// <param name="arg1">Second argument.</param>
    /// <param name="payload">The payload that will follow the header.</param>
    /// <param name="withChecksum">Fill <c>data_check</c> with the byte sum (negotiated version below 0x01000001), else 0.</param>
    /// <returns>The header.</returns>
    public static AdbPacketHeader Create(uint command, uint arg0, uint arg1, ReadOnlySpan<byte> payload, bool withChecksum) =>
        new(command, arg0, arg1, (uint)payload.Length, withChecksum ? Checksum(payload) : 0, command ^ 0xFFFFFFFF);

    /// <summary>The unsigned byte sum of <paramref name="payload"/> (the legacy <c>data_check</c>).</summary>
    /// <param name="payload">Payload bytes.</param>
    /// <returns>Sum of all bytes, modulo 2^32.</returns>
    public static uint Checksum(ReadOnlySpan<byte> payload)
    {
        uint sum = 0;
        foreach (byte b in payload) sum += b;
        return sum;
    }

    /// <summary>Decodes a header from the first 24 bytes of <paramref name="source"/>, without validating it.</summary>
    /// <param name="source">At least <see cref="Size"/> bytes.</param>
    /// <returns>The decoded header.</returns>
    /// <exception cref="ArgumentException"><paramref name="source"/> is shorter than 24 bytes.</exception>
    public static AdbPacketHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size) throw new ArgumentException("an adb header needs 24 bytes", nameof(source));
        return new AdbPacketHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(source),
            BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[20..]));
    }

    /// <summary>Encodes the header into the first 24 bytes of <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 24 bytes.</exception>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < Size) throw new ArgumentException("an adb header needs 24 bytes", nameof(destination));
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Command);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Arg0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Arg1);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], DataLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], DataCheck);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], Magic);
    }

    /// <summary>
    /// Applies the two checks adb 29.0.6 makes on receive: the magic, and <c>data_length</c> at most
    /// <paramref name="maxPayload"/>. The checksum is deliberately NOT checked (Debian's server sends 0 on reconnect).
    /// </summary>
    /// <param name="maxPayload">Largest payload accepted, in bytes (the negotiated maximum, or
    /// <see cref="AdbVersion.MaxPayload"/> before CNXN).</param>
    /// <exception cref="AdbProtocolException">Bad magic or a payload longer than <paramref name="maxPayload"/>.</exception>
    public void Validate(int maxPayload)
    {
        if (Magic != (Command ^ 0xFFFFFFFF))
            throw new AdbProtocolException($"bad magic 0x{Magic:x8} for command {AdbCommand.Name(Command)}");
        if (DataLength > (uint)maxPayload)
            throw new AdbProtocolException($"{AdbCommand.Name(Command)} payload of {DataLength} bytes exceeds the maximum of {maxPayload}");
    }

    /// <summary>Short trace form, e.g. <c>WRTE(1, 5, len=4096)</c>.</summary>
    /// <returns>The trace string.</returns>
    public override string ToString() => $"{AdbCommand.Name(Command)}({Arg0}, {Arg1}, len={DataLength})";
}
