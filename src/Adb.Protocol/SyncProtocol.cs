using System.Buffers.Binary;
using System.Text;

namespace Adb.Protocol;

/// <summary>
/// Sync service (<c>sync:</c>) record ids: four ASCII letters read as a little-endian uint32 (AOSP
/// <c>file_sync_protocol.h</c>, <c>MKID</c>). All sync integers are little-endian.
/// </summary>
public static class SyncCommand
{
    /// <summary><c>STAT</c>: lstat v1 request and its 16-byte reply.</summary>
    public const uint STAT = 'S' | ('T' << 8) | ('A' << 16) | ((uint)'T' << 24);
    /// <summary><c>STA2</c>: stat (following links) v2 request and its 72-byte reply.</summary>
    public const uint STA2 = 'S' | ('T' << 8) | ('A' << 16) | ((uint)'2' << 24);
    /// <summary><c>LST2</c>: lstat v2 request and its 72-byte reply.</summary>
    public const uint LST2 = 'L' | ('S' << 8) | ('T' << 16) | ((uint)'2' << 24);
    /// <summary><c>LIST</c>: directory listing v1 (DENT records, then a 20-byte DONE).</summary>
    public const uint LIST = 'L' | ('I' << 8) | ('S' << 16) | ((uint)'T' << 24);
    /// <summary><c>LIS2</c>: directory listing v2 (DNT2 records, then a 76-byte DONE).</summary>
    public const uint LIS2 = 'L' | ('I' << 8) | ('S' << 16) | ((uint)'2' << 24);
    /// <summary><c>DENT</c>: v1 directory entry (20 bytes + name).</summary>
    public const uint DENT = 'D' | ('E' << 8) | ('N' << 16) | ((uint)'T' << 24);
    /// <summary><c>DNT2</c>: v2 directory entry (76 bytes + name).</summary>
    public const uint DNT2 = 'D' | ('N' << 8) | ('T' << 16) | ((uint)'2' << 24);
    /// <summary><c>SEND</c>: push; the path is "remote,mode" (mode decimal, split at the last comma).</summary>
    public const uint SEND = 'S' | ('E' << 8) | ('N' << 16) | ((uint)'D' << 24);
    /// <summary><c>RECV</c>: pull.</summary>
    public const uint RECV = 'R' | ('E' << 8) | ('C' << 16) | ((uint)'V' << 24);
    /// <summary><c>DATA</c>: file data chunk (length ≤ <see cref="SyncProtocol.DataMax"/>).</summary>
    public const uint DATA = 'D' | ('A' << 8) | ('T' << 16) | ((uint)'A' << 24);
    /// <summary><c>DONE</c>: end of data (SEND: length field = mtime) or end of listing.</summary>
    public const uint DONE = 'D' | ('O' << 8) | ('N' << 16) | ((uint)'E' << 24);
    /// <summary><c>OKAY</c>: SEND succeeded.</summary>
    public const uint OKAY = 'O' | ('K' << 8) | ('A' << 16) | ((uint)'Y' << 24);
    /// <summary><c>FAIL</c>: failure; length + UTF-8 message follow.</summary>
    public const uint FAIL = 'F' | ('A' << 8) | ('I' << 16) | ((uint)'L' << 24);
    /// <summary><c>QUIT</c>: end of the sync session.</summary>
    public const uint QUIT = 'Q' | ('U' << 8) | ('I' << 16) | ((uint)'T' << 24);
    /// <summary><c>SND2</c>: sendrecv_v2 push (not used by adb 29.0.6).</summary>
    public const uint SND2 = 'S' | ('N' << 8) | ('D' << 16) | ((uint)'2' << 24);
    /// <summary><c>RCV2</c>: sendrecv_v2 pull (not used by adb 29.0.6).</summary>
    public const uint RCV2 = 'R' | ('C' << 8) | ('V' << 16) | ((uint)'2' << 24);

    /// <summary>The four letters of a record id, e.g. "STAT"; non-printable ids are shown in hex.</summary>
    /// <param name="id">Record id.</param>
    /// <returns>The name.</returns>
    public static string Name(uint id)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, id);
        foreach (byte x in b) if (x < 0x20 || x > 0x7e) return "0x" + id.ToString("x8");
        return Encoding.ASCII.GetString(b);
    }
}

/// <summary>Sizes and limits of the sync protocol (AOSP <c>file_sync_protocol.h</c>).</summary>
public static class SyncProtocol
{
    /// <summary>Request header / DATA / DONE / OKAY / FAIL header: id + u32 length = 8 bytes.</summary>
    public const int RequestSize = 8;
    /// <summary>STAT v1 reply: id, mode, size, mtime = 16 bytes.</summary>
    public const int StatV1Size = 16;
    /// <summary>STA2/LST2 reply: 72 bytes.</summary>
    public const int StatV2Size = 72;
    /// <summary>DENT record without the name (also the size of LIST's terminating DONE): 20 bytes.</summary>
    public const int DentV1Size = 20;
    /// <summary>DNT2 record without the name (also the size of LIS2's terminating DONE): 76 bytes.</summary>
    public const int DentV2Size = 76;
    /// <summary><c>SYNC_DATA_MAX</c>: largest DATA payload, 65536 bytes.</summary>
    public const int DataMax = 64 * 1024;
    /// <summary>Largest path in a request, in UTF-8 bytes: 1024.</summary>
    public const int PathMax = 1024;

    /// <summary>Writes an 8-byte record header (id, length).</summary>
    /// <param name="destination">At least 8 bytes.</param>
    /// <param name="id">Record id from <see cref="SyncCommand"/>.</param>
    /// <param name="length">Length field (payload bytes, or mtime for SEND's DONE).</param>
    public static void WriteHeader(Span<byte> destination, uint id, uint length)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, id);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], length);
    }

    /// <summary>Reads an 8-byte record header.</summary>
    /// <param name="source">At least 8 bytes.</param>
    /// <returns>(id, length).</returns>
    public static (uint Id, uint Length) ReadHeader(ReadOnlySpan<byte> source) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(source), BinaryPrimitives.ReadUInt32LittleEndian(source[4..]));

    /// <summary>Builds a request: header + UTF-8 path (e.g. STA2 "/sdcard").</summary>
    /// <param name="id">Request id.</param>
    /// <param name="path">Path (for SEND: "path,mode").</param>
    /// <returns>The request bytes.</returns>
    /// <exception cref="ArgumentException">The path exceeds <see cref="PathMax"/> bytes.</exception>
    public static byte[] Request(uint id, string path)
    {
        int len = Encoding.UTF8.GetByteCount(path);
        if (len > PathMax) throw new ArgumentException($"sync path longer than {PathMax} bytes", nameof(path));
        byte[] b = new byte[RequestSize + len];
        WriteHeader(b, id, (uint)len);
        Encoding.UTF8.GetBytes(path, b.AsSpan(RequestSize));
        return b;
    }

    /// <summary>Builds a FAIL record with a UTF-8 message.</summary>
    /// <param name="message">E.g. "open failed: No such file or directory".</param>
    /// <returns>The record bytes.</returns>
    public static byte[] Fail(string message)
    {
        int len = Encoding.UTF8.GetByteCount(message);
        byte[] b = new byte[RequestSize + len];
        WriteHeader(b, SyncCommand.FAIL, (uint)len);
        Encoding.UTF8.GetBytes(message, b.AsSpan(RequestSize));
        return b;
    }

    /// <summary>Splits a SEND argument "path,mode" at the last comma; mode is parsed with C's base auto-detection
    /// (decimal, 0x hex, leading-0 octal).</summary>
    /// <param name="spec">The SEND path argument.</param>
    /// <param name="path">The remote path.</param>
    /// <param name="mode">The st_mode (type + permission bits).</param>
    /// <returns>False when there is no comma or the mode is not a number.</returns>
    public static bool TryParseSendSpec(string spec, out string path, out uint mode)
    {
        int comma = spec.LastIndexOf(',');
        path = comma < 0 ? spec : spec[..comma];
        mode = 0;
        if (comma < 0) return false;
        string m = spec[(comma + 1)..];
        try
        {
            if (m.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) mode = Convert.ToUInt32(m[2..], 16);
            else if (m.Length > 1 && m[0] == '0') mode = Convert.ToUInt32(m[1..], 8);
            else mode = uint.Parse(m, System.Globalization.CultureInfo.InvariantCulture);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException) { return false; }
    }
}

/// <summary>STAT v1 reply (16 bytes: id, mode, size, mtime). All zeros means "missing".</summary>
/// <param name="Mode">st_mode.</param>
/// <param name="Size">Size in bytes (truncated to 32 bits).</param>
/// <param name="Mtime">Modification time, Unix seconds.</param>
public readonly record struct SyncStatV1(uint Mode, uint Size, uint Mtime)
{
    /// <summary>Writes the 16-byte record with id STAT.</summary>
    /// <param name="destination">At least 16 bytes.</param>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, SyncCommand.STAT);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[8..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[12..], Mtime);
    }

    /// <summary>Reads a 16-byte STAT reply.</summary>
    /// <param name="source">At least 16 bytes.</param>
    /// <returns>The record.</returns>
    /// <exception cref="AdbProtocolException">The id is not STAT.</exception>
    public static SyncStatV1 Read(ReadOnlySpan<byte> source)
    {
        uint id = BinaryPrimitives.ReadUInt32LittleEndian(source);
        if (id != SyncCommand.STAT) throw new AdbProtocolException($"expected STAT reply, got {SyncCommand.Name(id)}");
        return new(BinaryPrimitives.ReadUInt32LittleEndian(source[4..]), BinaryPrimitives.ReadUInt32LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[12..]));
    }
}

/// <summary>
/// STA2/LST2 reply body (72 bytes with the id): id, error (Linux errno, 0 = ok), dev u64, ino u64, mode, nlink,
/// uid, gid, size u64, atime i64, mtime i64, ctime i64. Also the first 72 bytes of a DNT2 record.
/// </summary>
/// <param name="Error">errno of the failed stat (2 = ENOENT), or 0.</param>
/// <param name="Dev">st_dev.</param>
/// <param name="Ino">st_ino.</param>
/// <param name="Mode">st_mode.</param>
/// <param name="Nlink">st_nlink.</param>
/// <param name="Uid">st_uid.</param>
/// <param name="Gid">st_gid.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Atime">Access time, Unix seconds.</param>
/// <param name="Mtime">Modification time, Unix seconds.</param>
/// <param name="Ctime">Change time, Unix seconds.</param>
public readonly record struct SyncStatV2(uint Error, ulong Dev, ulong Ino, uint Mode, uint Nlink, uint Uid, uint Gid,
    ulong Size, long Atime, long Mtime, long Ctime)
{
    /// <summary>A record that carries only an errno.</summary>
    /// <param name="errno">Linux errno.</param>
    /// <returns>The record.</returns>
    public static SyncStatV2 FromError(uint errno) => new(errno, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

    /// <summary>Writes the 72-byte record with the given id (STA2, LST2, or DNT2 for the entry prefix).</summary>
    /// <param name="destination">At least 72 bytes.</param>
    /// <param name="id">Record id.</param>
    public void WriteTo(Span<byte> destination, uint id)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, id);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Error);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Dev);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], Ino);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[28..], Nlink);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[32..], Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[36..], Gid);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[40..], Size);
        BinaryPrimitives.WriteInt64LittleEndian(destination[48..], Atime);
        BinaryPrimitives.WriteInt64LittleEndian(destination[56..], Mtime);
        BinaryPrimitives.WriteInt64LittleEndian(destination[64..], Ctime);
    }

    /// <summary>Reads a 72-byte record (id not checked; see <paramref name="id"/>).</summary>
    /// <param name="source">At least 72 bytes.</param>
    /// <param name="id">The record id found.</param>
    /// <returns>The record.</returns>
    public static SyncStatV2 Read(ReadOnlySpan<byte> source, out uint id)
    {
        id = BinaryPrimitives.ReadUInt32LittleEndian(source);
        return new(BinaryPrimitives.ReadUInt32LittleEndian(source[4..]), BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[16..]), BinaryPrimitives.ReadUInt32LittleEndian(source[24..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[28..]), BinaryPrimitives.ReadUInt32LittleEndian(source[32..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[36..]), BinaryPrimitives.ReadUInt64LittleEndian(source[40..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[48..]), BinaryPrimitives.ReadInt64LittleEndian(source[56..]),
            BinaryPrimitives.ReadInt64LittleEndian(source[64..]));
    }
}

/// <summary>Encoding of directory entries for LIST (DENT, 20 bytes + name) and LIS2 (DNT2, 76 bytes + name).</summary>
public static class SyncDent
{
    /// <summary>Builds a DENT record: id, mode, size, mtime, namelen, name.</summary>
    /// <param name="mode">st_mode.</param>
    /// <param name="size">Size (32 bits).</param>
    /// <param name="mtime">Unix seconds.</param>
    /// <param name="name">Entry name (UTF-8).</param>
    /// <returns>The record bytes.</returns>
    public static byte[] V1(uint mode, uint size, uint mtime, string name)
    {
        int len = Encoding.UTF8.GetByteCount(name);
        byte[] b = new byte[SyncProtocol.DentV1Size + len];
        BinaryPrimitives.WriteUInt32LittleEndian(b, SyncCommand.DENT);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), mode);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(8), size);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(12), mtime);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(16), (uint)len);
        Encoding.UTF8.GetBytes(name, b.AsSpan(SyncProtocol.DentV1Size));
        return b;
    }

    /// <summary>The 20-byte DONE record that ends a LIST (all fields zero).</summary>
    /// <returns>The record bytes.</returns>
    public static byte[] V1Done()
    {
        byte[] b = new byte[SyncProtocol.DentV1Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, SyncCommand.DONE);
        return b;
    }

    /// <summary>Builds a DNT2 record: the 72-byte stat v2 prefix (id DNT2), namelen, name.</summary>
    /// <param name="stat">The entry's lstat (with error set when lstat failed).</param>
    /// <param name="name">Entry name (UTF-8).</param>
    /// <returns>The record bytes.</returns>
    public static byte[] V2(SyncStatV2 stat, string name)
    {
        int len = Encoding.UTF8.GetByteCount(name);
        byte[] b = new byte[SyncProtocol.DentV2Size + len];
        stat.WriteTo(b, SyncCommand.DNT2);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(72), (uint)len);
        Encoding.UTF8.GetBytes(name, b.AsSpan(SyncProtocol.DentV2Size));
        return b;
    }

    /// <summary>The full-size 76-byte DONE record that ends a LIS2 (a short one hangs adb 29.0.6's <c>adb ls</c>).</summary>
    /// <returns>The record bytes.</returns>
    public static byte[] V2Done()
    {
        byte[] b = new byte[SyncProtocol.DentV2Size];
        BinaryPrimitives.WriteUInt32LittleEndian(b, SyncCommand.DONE);
        return b;
    }
}
