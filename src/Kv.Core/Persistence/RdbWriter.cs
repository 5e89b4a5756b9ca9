using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Kv.Storage;

namespace Kv.Persistence;

/// <summary>Options of <see cref="RdbWriter"/>, named after the redis.conf directives they mirror.</summary>
public sealed class RdbWriterOptions
{
    /// <summary>rdbcompression: LZF-compress strings longer than 20 bytes when that saves space.</summary>
    public bool Compression { get; init; } = true;

    /// <summary>rdbchecksum: write the CRC-64 trailer (all zeros when false, which loaders skip).</summary>
    public bool Checksum { get; init; } = true;

    /// <summary>list-max-listpack-size when negative (-2 = 8 KiB nodes): byte limit of one quicklist node.</summary>
    public int ListNodeBytes { get; init; } = 8192;
}

/// <summary>
/// Serializes a dataset in the RDB version 10 format that redis-server 7.0.15 writes and loads (rdb.c): magic,
/// aux fields, SELECTDB/RESIZEDB, EXPIRETIME_MS, typed key/value pairs (string, quicklist2 of listpacks, intset or
/// hashtable sets, listpack or hashtable hashes, listpack or ZSET_2 sorted sets, chosen from the value's in-memory
/// encoding as redis does), EOF and the CRC-64/Jones trailer.
/// <para>
/// Bytes are first appended to an internal buffer (<see cref="Pending"/>), so a caller can serialize under the
/// execution lock and then push the buffer to the output with <see cref="Flush"/> or <see cref="FlushAsync"/>
/// outside it. The checksum covers everything flushed. The output is any writable <see cref="Stream"/>: a file,
/// a socket (replication full sync) or memory. Not thread-safe.
/// </para>
/// </summary>
public sealed class RdbWriter
{
    private readonly Stream _out;
    private readonly RdbWriterOptions _opt;
    private byte[] _buf = new byte[64 * 1024];
    private int _len;
    private ulong _crc;
    private long _flushed;
    private readonly ListpackBuilder _lp = new();

    /// <summary>Creates a writer over <paramref name="output"/> (not owned: never disposed here).</summary>
    public RdbWriter(Stream output, RdbWriterOptions? options = null)
    {
        _out = output;
        _opt = options ?? new RdbWriterOptions();
    }

    /// <summary>Bytes serialized but not yet written to the stream.</summary>
    public int Pending => _len;

    /// <summary>Total bytes produced so far (flushed and pending).</summary>
    public long Length => _flushed + _len;

    /// <summary>Writes the pending bytes to the stream (and folds them into the checksum).</summary>
    public void Flush()
    {
        if (_len == 0) return;
        _crc = Crc64.Update(_crc, _buf.AsSpan(0, _len));
        _out.Write(_buf, 0, _len);
        _flushed += _len;
        _len = 0;
    }

    /// <summary>Asynchronous <see cref="Flush"/>.</summary>
    public async Task FlushAsync(CancellationToken ct = default)
    {
        if (_len == 0) return;
        _crc = Crc64.Update(_crc, _buf.AsSpan(0, _len));
        await _out.WriteAsync(_buf.AsMemory(0, _len), ct).ConfigureAwait(false);
        _flushed += _len;
        _len = 0;
    }

    private Span<byte> Reserve(int n)
    {
        if (_len + n > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        var s = _buf.AsSpan(_len, n);
        _len += n;
        return s;
    }

    private void Byte(byte b)
    {
        if (_len == _buf.Length) Array.Resize(ref _buf, _buf.Length * 2);
        _buf[_len++] = b;
    }

    private void Raw(ReadOnlySpan<byte> s) => s.CopyTo(Reserve(s.Length));

    /// <summary>Writes "REDIS" and the 4-digit version (default 10).</summary>
    public void WriteMagic(int version = RdbFormat.Version) => Raw(Encoding.ASCII.GetBytes("REDIS" + version.ToString("D4", CultureInfo.InvariantCulture)));

    /// <summary>
    /// Writes the aux fields redis 7.0.15 puts in every RDB (rdbSaveInfoAuxFields), in its order: redis-ver,
    /// redis-bits, ctime, used-mem, then repl-stream-db, repl-id, repl-offset when <paramref name="repl"/> is given,
    /// then aof-base 0.
    /// </summary>
    public void WriteDefaultAux(long ctimeSeconds, long usedMemory, RdbReplInfo? repl, string redisVersion = "7.0.15")
    {
        WriteAux("redis-ver", redisVersion);
        WriteAux("redis-bits", 64);
        WriteAux("ctime", ctimeSeconds);
        WriteAux("used-mem", usedMemory);
        if (repl is not null)
        {
            WriteAux("repl-stream-db", repl.StreamDb);
            WriteAux("repl-id", repl.ReplId);
            WriteAux("repl-offset", repl.ReplOffset);
        }
        WriteAux("aof-base", 0);
    }

    /// <summary>Writes one AUX (0xFA) field with a text value.</summary>
    public void WriteAux(string key, string value)
    {
        Byte(RdbFormat.OpAux);
        WriteString(Encoding.ASCII.GetBytes(key));
        WriteString(Encoding.UTF8.GetBytes(value));
    }

    /// <summary>Writes one AUX (0xFA) field with an integer value (int-encoded when it fits 32 bits).</summary>
    public void WriteAux(string key, long value) => WriteAux(key, value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Writes a FUNCTION2 (0xF5) record with a library's source code.</summary>
    public void WriteFunction(ReadOnlySpan<byte> code)
    {
        Byte(RdbFormat.OpFunction2);
        WriteString(code);
    }

    /// <summary>Writes SELECTDB (0xFE).</summary>
    public void WriteSelectDb(int db)
    {
        Byte(RdbFormat.OpSelectDb);
        WriteLength((ulong)db);
    }

    /// <summary>Writes RESIZEDB (0xFB) with the key and expire counts of the current database.</summary>
    public void WriteResizeDb(long keys, long expires)
    {
        Byte(RdbFormat.OpResizeDb);
        WriteLength((ulong)keys);
        WriteLength((ulong)expires);
    }

    /// <summary>Writes EOF (0xFF) and the CRC-64 trailer, then flushes everything to the stream.</summary>
    public void WriteEnd()
    {
        Byte(RdbFormat.OpEof);
        _crc = Crc64.Update(_crc, _buf.AsSpan(0, _len));
        _out.Write(_buf, 0, _len);
        _flushed += _len;
        _len = 0;
        Span<byte> trailer = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(trailer, _opt.Checksum ? _crc : 0);
        _out.Write(trailer);
        _flushed += 8;
    }

    /// <summary>The checksum of the bytes flushed so far.</summary>
    public ulong Checksum => _crc;

    /// <summary>Writes a length with the 6/14/32/64-bit length encoding.</summary>
    public void WriteLength(ulong len)
    {
        if (len < 64) Byte((byte)len);
        else if (len < 16384)
        {
            Byte((byte)(0x40 | (len >> 8)));
            Byte((byte)len);
        }
        else if (len <= uint.MaxValue)
        {
            Byte(0x80);
            BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), (uint)len);
        }
        else
        {
            Byte(0x81);
            BinaryPrimitives.WriteUInt64BigEndian(Reserve(8), len);
        }
    }

    /// <summary>
    /// Writes a string as rdbSaveRawString: int-encoded (0xC0/C1/C2) when it is a canonical integer of at most 11
    /// characters that fits 32 bits, LZF (0xC3) when longer than 20 bytes, compression is on and it saves at least
    /// 4 bytes, else raw.
    /// </summary>
    public void WriteString(ReadOnlySpan<byte> s)
    {
        if (s.Length <= 11 && RdbStrings.TryParseCanonicalLong(s, out long v) && v >= int.MinValue && v <= int.MaxValue)
        {
            if (v >= sbyte.MinValue && v <= sbyte.MaxValue)
            {
                Byte(0xC0);
                Byte((byte)(sbyte)v);
            }
            else if (v >= short.MinValue && v <= short.MaxValue)
            {
                Byte(0xC1);
                BinaryPrimitives.WriteInt16LittleEndian(Reserve(2), (short)v);
            }
            else
            {
                Byte(0xC2);
                BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), (int)v);
            }
            return;
        }
        if (_opt.Compression && s.Length > 20)
        {
            int cap = s.Length - 4;
            var tmp = ArrayPool<byte>.Shared.Rent(cap);
            try
            {
                int n = Lzf.Compress(s, tmp.AsSpan(0, cap));
                if (n > 0)
                {
                    Byte(0xC3);
                    WriteLength((ulong)n);
                    WriteLength((ulong)s.Length);
                    Raw(tmp.AsSpan(0, n));
                    return;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(tmp);
            }
        }
        WriteLength((ulong)s.Length);
        Raw(s);
    }

    /// <summary>
    /// Writes one key: EXPIRETIME_MS when <paramref name="expireMs"/> is not -1, then the type byte, the key and the
    /// value (<c>byte[]</c> string, <see cref="KvList"/>, <see cref="KvSet"/>, <see cref="KvHash"/>, <see cref="KvZSet"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The value is of an unknown kind.</exception>
    public void WriteKeyValue(ReadOnlySpan<byte> key, object value, long expireMs)
    {
        if (expireMs != -1)
        {
            Byte(RdbFormat.OpExpireTimeMs);
            BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), expireMs);
        }
        switch (value)
        {
            case byte[] s:
                Byte(RdbFormat.TypeString);
                WriteString(key);
                WriteString(s);
                break;
            case KvList l: WriteList(key, l); break;
            case KvSet set: WriteSet(key, set); break;
            case KvHash h: WriteHash(key, h); break;
            case KvZSet z: WriteZSet(key, z); break;
            default: throw new ArgumentException($"cannot serialize a value of type {value.GetType().Name}", nameof(value));
        }
    }

    private void WriteList(ReadOnlySpan<byte> key, KvList list)
    {
        // RDB_TYPE_LIST_QUICKLIST_2: nodes of at most ListNodeBytes, each a packed listpack, built back to back in a
        // reusable buffer (the node count comes first in the stream).
        _nodesUsed = 0;
        _nodeEnds.Clear();
        _lp.Reset();
        if (list.TryGetPacked(out var packed))
        {
            int pos = 0;
            while (pos < packed.Length) AddListElement(PackedString(packed, ref pos));
        }
        else foreach (var e in list.Items()) AddListElement(e);
        if (_lp.Count > 0) EndListNode();
        Byte(RdbFormat.TypeListQuicklist2);
        WriteString(key);
        WriteLength((ulong)_nodeEnds.Count);
        int start = 0;
        foreach (int end in _nodeEnds)
        {
            WriteLength(RdbFormat.ContainerPacked);
            WriteString(_nodes.AsSpan(start, end - start));
            start = end;
        }
    }

    private byte[] _nodes = new byte[16 * 1024];
    private int _nodesUsed;
    private readonly List<int> _nodeEnds = [];

    private void AddListElement(ReadOnlySpan<byte> e)
    {
        if (_lp.Count > 0 && (_lp.Bytes + e.Length + 11 > _opt.ListNodeBytes || _lp.Count >= 65535)) EndListNode();
        _lp.Add(e);
    }

    private void EndListNode()
    {
        var node = _lp.Finish();
        if (_nodesUsed + node.Length > _nodes.Length) Array.Resize(ref _nodes, Math.Max(_nodes.Length * 2, _nodesUsed + node.Length));
        node.CopyTo(_nodes.AsSpan(_nodesUsed));
        _nodesUsed += node.Length;
        _nodeEnds.Add(_nodesUsed);
        _lp.Reset();
    }

    /// <summary>Reads one <see cref="PackedBytes"/> string of a packed collection buffer at <paramref name="pos"/>.</summary>
    private static ReadOnlySpan<byte> PackedString(ReadOnlySpan<byte> b, ref int pos)
    {
        int l = PackedBytes.ReadLen(b, ref pos);
        var s = b.Slice(pos, l);
        pos += l;
        return s;
    }

    private void WriteSet(ReadOnlySpan<byte> key, KvSet set)
    {
        if (set.Encoding == "intset")
        {
            var ints = new List<long>((int)set.Count);
            bool ok = true;
            foreach (var m in set.Members())
            {
                if (!RdbStrings.TryParseCanonicalLong(m, out long v)) { ok = false; break; }
                ints.Add(v);
            }
            if (ok)
            {
                Byte(RdbFormat.TypeSetIntset);
                WriteString(key);
                WriteString(CompactDecoders.BuildIntset(ints));
                return;
            }
        }
        Byte(RdbFormat.TypeSet);
        WriteString(key);
        WriteLength((ulong)set.Count);
        foreach (var m in set.Members()) WriteString(m);
    }

    private void WriteHash(ReadOnlySpan<byte> key, KvHash hash)
    {
        if (hash.TryGetPacked(out var packed))
        {
            _lp.Reset();
            int pos = 0;
            while (pos < packed.Length) _lp.Add(PackedString(packed, ref pos));
            Byte(RdbFormat.TypeHashListpack);
            WriteString(key);
            WriteString(_lp.Finish());
            return;
        }
        Byte(RdbFormat.TypeHash);
        WriteString(key);
        WriteLength((ulong)hash.Count);
        foreach (var kv in hash.Pairs())
        {
            WriteString(kv.Key);
            WriteString(kv.Value);
        }
    }

    private void WriteZSet(ReadOnlySpan<byte> key, KvZSet zset)
    {
        if (zset.TryGetPacked(out var packed))
        {
            _lp.Reset();
            int pos = 0;
            while (pos < packed.Length)
            {
                _lp.Add(PackedString(packed, ref pos));
                AddScore(_lp, BinaryPrimitives.ReadDoubleLittleEndian(packed.Slice(pos, 8)));
                pos += 8;
            }
            Byte(RdbFormat.TypeZSetListpack);
            WriteString(key);
            WriteString(_lp.Finish());
            return;
        }
        Byte(RdbFormat.TypeZSet2);
        WriteString(key);
        WriteLength((ulong)zset.Count);
        foreach (var (member, score) in zset.Ascending())
        {
            WriteString(member);
            BinaryPrimitives.WriteDoubleLittleEndian(Reserve(8), score);
        }
    }

    /// <summary>Adds a score as zzlInsertAt does (d2string: integers in ±2^52 as integers, else "%.17g").</summary>
    private static void AddScore(ListpackBuilder lp, double score)
    {
        if (score > -4503599627370495.0 && score < 4503599627370496.0 && score == Math.Truncate(score) && !(score == 0 && double.IsNegative(score)))
            lp.AddInteger((long)score);
        else lp.AddString(Encoding.ASCII.GetBytes(RdbStrings.G17(score)));
    }
}
