using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Kv.Storage;

namespace Kv.Persistence;

/// <summary>One key read from an RDB stream.</summary>
/// <param name="Db">Database number (from the last SELECTDB).</param>
/// <param name="Key">The key.</param>
/// <param name="Value"><c>byte[]</c> for strings or a <see cref="KvObject"/>.</param>
/// <param name="ExpireMs">Absolute expire time in unix ms, or -1.</param>
public readonly record struct RdbEntry(int Db, byte[] Key, object Value, long ExpireMs);

/// <summary>
/// Incremental reader of RDB streams as written by redis 1.x to 7.0.15 (RDB versions 1 to 10; rdb.c rdbLoadRioWithLoadingCtx):
/// opcodes AUX, SELECTDB, RESIZEDB, EXPIRETIME(_MS), IDLE, FREQ, FUNCTION2 (libraries kept as source text), EOF;
/// all string encodings (raw, int8/16/32, LZF); object types 0-5 and 9-14, 16-18 (strings, plain/ziplist/quicklist
/// lists, sets and intsets, zsets with text or binary scores, ziplist/listpack encodings, zipmaps). Module data
/// (MODULE_AUX, types 6/7) and streams (types 15/19) are refused with a clear error.
/// <para>
/// Reads from any <see cref="Stream"/> with its own buffer and never reads past <c>length</c> when one is given,
/// so it can consume exactly a "$len" framed payload from a socket; <see cref="Position"/> is the exact number of
/// RDB bytes consumed and <see cref="Leftover"/> the bytes read ahead past the trailer (only possible when no
/// length was given, e.g. EOF-marked diskless transfers). Any problem raises <see cref="RdbFormatException"/> with
/// the byte offset. Verifies the CRC-64 trailer unless it is zero.
/// </para>
/// </summary>
public sealed class RdbReader
{
    private readonly Stream _in;
    private readonly long _limit;
    private byte[] _buf = new byte[64 * 1024];
    private int _pos, _end, _crcPos;
    private long _base; // stream position of _buf[0]
    private ulong _crc;
    private byte[] _scratch = new byte[256];            // LZF output and integer text of ReadStringSpan
    private readonly CompactEntries _entries = new();  // decoded listpack/ziplist entries

    /// <summary>Creates a reader. <paramref name="length"/>: exact RDB size when known (file size, "$len" framing).</summary>
    public RdbReader(Stream input, long? length = null)
    {
        _in = input;
        _limit = length ?? long.MaxValue;
    }

    /// <summary>Bytes consumed from the start of the RDB.</summary>
    public long Position => _base + _pos;

    /// <summary>RDB version from the magic (1..10), after <see cref="ReadHeader"/>.</summary>
    public int Version { get; private set; }

    /// <summary>Aux fields in file order (redis-ver, ctime, repl-id, repl-offset, ...).</summary>
    public List<KeyValuePair<string, byte[]>> Aux { get; } = [];

    /// <summary>Function library sources (FUNCTION2 records).</summary>
    public List<byte[]> Functions { get; } = [];

    /// <summary>Bytes read from the stream beyond the end of the RDB (valid after the EOF trailer was read).</summary>
    public ReadOnlyMemory<byte> Leftover => _buf.AsMemory(_pos, _end - _pos);

    /// <summary>True when the EOF opcode and trailer were read.</summary>
    public bool Finished { get; private set; }

    /// <summary>Whether to verify the CRC-64 trailer (default true; a stored 0 always skips verification).</summary>
    public bool VerifyChecksum { get; init; } = true;

    /// <summary>Number of databases accepted (SELECTDB beyond it is an error). Default 16.</summary>
    public int Databases { get; init; } = 16;

    /// <summary>Called for RESIZEDB with (database, keys, keys with a TTL): a sizing hint for the dictionaries.</summary>
    public Action<int, long, long>? OnResizeDb { get; set; }

    /// <summary>Value of an aux field as text, or null.</summary>
    public string? GetAux(string key)
    {
        foreach (var kv in Aux) if (kv.Key == key) return Encoding.UTF8.GetString(kv.Value);
        return null;
    }

    /// <summary>Replication info (repl-id, repl-offset, repl-stream-db) when the RDB carries it, else null.</summary>
    public RdbReplInfo? ReplInfo
    {
        get
        {
            var id = GetAux("repl-id");
            var off = GetAux("repl-offset");
            if (id is null || off is null || !long.TryParse(off, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long o)) return null;
            int db = int.TryParse(GetAux("repl-stream-db"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int d) ? d : 0;
            return new RdbReplInfo(db, id, o);
        }
    }

    private RdbFormatException Error(string reason, Exception? inner = null) => new(reason, Position, inner);

    // ---- buffered input ----

    private void Fill(int need)
    {
        if (_end - _pos >= need) return;
        if (_buf.Length - _pos < need)
        {
            _crc = Crc64.Update(_crc, _buf.AsSpan(_crcPos, _pos - _crcPos));
            int rest = _end - _pos;
            if (need > _buf.Length)
            {
                var nb = new byte[Math.Max(need, _buf.Length * 2)];
                Buffer.BlockCopy(_buf, _pos, nb, 0, rest);
                _buf = nb;
            }
            else Buffer.BlockCopy(_buf, _pos, _buf, 0, rest);
            _base += _pos;
            _pos = 0;
            _crcPos = 0;
            _end = rest;
        }
        while (_end - _pos < need)
        {
            long room = Math.Min(_buf.Length - _end, _limit - (_base + _end));
            if (room <= 0) throw Error("unexpected end of RDB data (truncated)");
            int n;
            try { n = _in.Read(_buf, _end, (int)room); }
            catch (IOException e) { throw Error("I/O error reading RDB: " + e.Message, e); }
            if (n <= 0) throw Error("unexpected end of RDB data (truncated)");
            _end += n;
        }
    }

    private byte ReadByte()
    {
        if (_pos >= _end) Fill(1);
        return _buf[_pos++];
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        Fill(n);
        var s = _buf.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    private byte[] ReadBytes(long n)
    {
        if (n < 0 || n > int.MaxValue - 64) throw Error($"string length {n} is too large");
        if (_limit != long.MaxValue && n > _limit - Position) throw Error($"string length {n} runs past the end of the RDB (truncated or corrupt)");
        if (n <= 1 << 20) return Take((int)n).ToArray();
        // Without a known length a corrupt size must not allocate gigabytes up front: grow as the bytes arrive.
        var res = GC.AllocateUninitializedArray<byte>((int)(_limit == long.MaxValue ? Math.Min(n, 64L << 20) : n));
        int have = Math.Min(_end - _pos, (int)n);
        _buf.AsSpan(_pos, have).CopyTo(res);
        _pos += have;
        _crc = Crc64.Update(_crc, _buf.AsSpan(_crcPos, _pos - _crcPos));
        _base += _end;
        _pos = _end = _crcPos = 0;
        int off = have;
        while (off < n)
        {
            if (off == res.Length) Array.Resize(ref res, (int)Math.Min(n, (long)res.Length * 2));
            int want = (int)Math.Min(res.Length - off, _limit - _base);
            if (want <= 0) throw Error("unexpected end of RDB data (truncated)");
            int r;
            try { r = _in.Read(res, off, want); }
            catch (IOException e) { throw Error("I/O error reading RDB: " + e.Message, e); }
            if (r <= 0) throw Error("unexpected end of RDB data (truncated)");
            _crc = Crc64.Update(_crc, res.AsSpan(off, r));
            _base += r;
            off += r;
        }
        return res;
    }

    // ---- primitives ----

    /// <summary>Reads a length; <paramref name="encoded"/> is set for the 11xxxxxx special string encodings.</summary>
    private ulong ReadLength(out bool encoded)
    {
        encoded = false;
        byte b = ReadByte();
        switch (b >> 6)
        {
            case 0: return (ulong)(b & 0x3F);
            case 1: return ((ulong)(b & 0x3F) << 8) | ReadByte();
            case 3: encoded = true; return (ulong)(b & 0x3F);
        }
        if (b == 0x80) return BinaryPrimitives.ReadUInt32BigEndian(Take(4));
        if (b == 0x81) return BinaryPrimitives.ReadUInt64BigEndian(Take(8));
        throw Error($"unknown length encoding 0x{b:X2}");
    }

    private long ReadLen()
    {
        long at = Position;
        ulong v = ReadLength(out bool enc);
        if (enc) throw new RdbFormatException("unexpected string encoding where a length was expected", at);
        if (v > long.MaxValue) throw new RdbFormatException("length out of range", at);
        return (long)v;
    }

    private int ReadCount(string what)
    {
        long at = Position;
        long n = ReadLen();
        if (n > int.MaxValue) throw new RdbFormatException($"{what} count {n} is too large", at);
        return (int)n;
    }

    /// <summary>Reads a string in any of its encodings.</summary>
    private byte[] ReadString()
    {
        long at = Position;
        ulong len = ReadLength(out bool enc);
        if (!enc) return ReadBytes((long)Math.Min(len, long.MaxValue));
        switch (len)
        {
            case 0: return Ascii((sbyte)ReadByte());
            case 1: return Ascii(BinaryPrimitives.ReadInt16LittleEndian(Take(2)));
            case 2: return Ascii(BinaryPrimitives.ReadInt32LittleEndian(Take(4)));
            case 3:
            {
                long clen = ReadLen();
                long ulen = ReadLen();
                if (ulen > int.MaxValue - 64) throw new RdbFormatException($"LZF string of {ulen} bytes is too large", at);
                // One LZF back reference (3 bytes at best) expands to at most 264 bytes.
                if (ulen > clen * 90 + 64) throw new RdbFormatException($"LZF string claims {ulen} bytes from {clen} compressed bytes", at);
                var comp = ReadBytes(clen);
                var res = GC.AllocateUninitializedArray<byte>((int)ulen);
                try { Lzf.Decompress(comp, res); }
                catch (InvalidDataException e) { throw new RdbFormatException("invalid LZF compressed string: " + e.Message, at, e); }
                return res;
            }
            default: throw new RdbFormatException($"unknown string encoding {len}", at);
        }
    }

    /// <summary>
    /// Reads a string in any of its encodings without allocating when it fits the read buffer: the span points into
    /// the reader's buffers and is valid only until the next read.
    /// </summary>
    private ReadOnlySpan<byte> ReadStringSpan()
    {
        long at = Position;
        ulong len = ReadLength(out bool enc);
        if (!enc)
        {
            if (len <= 1 << 20) return TakeString((long)len);
            return ReadBytes((long)Math.Min(len, long.MaxValue));
        }
        switch (len)
        {
            case 0: return IntText((sbyte)ReadByte());
            case 1: return IntText(BinaryPrimitives.ReadInt16LittleEndian(Take(2)));
            case 2: return IntText(BinaryPrimitives.ReadInt32LittleEndian(Take(4)));
            case 3:
            {
                long clen = ReadLen();
                long ulen = ReadLen();
                if (ulen > int.MaxValue - 64) throw new RdbFormatException($"LZF string of {ulen} bytes is too large", at);
                if (ulen > clen * 90 + 64) throw new RdbFormatException($"LZF string claims {ulen} bytes from {clen} compressed bytes", at);
                var comp = clen <= 1 << 20 ? TakeString(clen) : ReadBytes(clen);
                if (_scratch.Length < ulen) _scratch = new byte[Math.Max(ulen, _scratch.Length * 2L)];
                var res = _scratch.AsSpan(0, (int)ulen);
                try { Lzf.Decompress(comp, res); }
                catch (InvalidDataException e) { throw new RdbFormatException("invalid LZF compressed string: " + e.Message, at, e); }
                return res;
            }
            default: throw new RdbFormatException($"unknown string encoding {len}", at);
        }
    }

    /// <summary>The next <paramref name="n"/> (at most 1 MiB) bytes as a span into the read buffer, with ReadBytes's checks.</summary>
    private ReadOnlySpan<byte> TakeString(long n)
    {
        if (n < 0) throw Error($"string length {n} is too large");
        if (_limit != long.MaxValue && n > _limit - Position) throw Error($"string length {n} runs past the end of the RDB (truncated or corrupt)");
        return Take((int)n);
    }

    private ReadOnlySpan<byte> IntText(long v)
    {
        System.Buffers.Text.Utf8Formatter.TryFormat(v, _scratch, out int w);
        return _scratch.AsSpan(0, w);
    }

    private static byte[] Ascii(long v) => Encoding.ASCII.GetBytes(v.ToString(CultureInfo.InvariantCulture));

    private double ReadBinaryDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    private double ReadTextDouble()
    {
        long at = Position;
        byte len = ReadByte();
        switch (len)
        {
            case 253: return double.NaN;
            case 254: return double.PositiveInfinity;
            case 255: return double.NegativeInfinity;
        }
        var s = Take(len);
        if (!RdbStrings.TryParseDouble(s, out var d)) throw new RdbFormatException("invalid double value", at);
        return d;
    }

    // ---- structure ----

    /// <summary>Reads and checks the "REDISnnnn" magic.</summary>
    public void ReadHeader()
    {
        var magic = Take(9);
        if (!magic[..5].SequenceEqual("REDIS"u8)) throw new RdbFormatException("wrong signature trying to load DB from file (not an RDB file)", 0);
        int v = 0;
        for (int i = 5; i < 9; i++)
        {
            if (magic[i] < '0' || magic[i] > '9') throw new RdbFormatException("invalid RDB version digits", i);
            v = v * 10 + (magic[i] - '0');
        }
        if (v < 1 || v > RdbFormat.Version) throw new RdbFormatException($"can't handle RDB format version {v}", 5);
        Version = v;
    }

    /// <summary>
    /// Reads the whole RDB (header included), calling <paramref name="onKey"/> for every key in file order.
    /// Empty collections are skipped as redis does. Ends after the EOF trailer.
    /// </summary>
    public void ReadAll(Action<RdbEntry> onKey)
    {
        if (Version == 0) ReadHeader();
        int db = 0;
        long expire = -1;
        while (true)
        {
            long at = Position;
            byte type = ReadByte();
            switch (type)
            {
                case RdbFormat.OpExpireTimeMs: expire = BinaryPrimitives.ReadInt64LittleEndian(Take(8)); continue;
                case RdbFormat.OpExpireTime: expire = BinaryPrimitives.ReadInt32LittleEndian(Take(4)) * 1000L; continue;
                case RdbFormat.OpIdle: ReadLen(); continue;
                case RdbFormat.OpFreq: ReadByte(); continue;
                case RdbFormat.OpSelectDb:
                {
                    long n = ReadLen();
                    if (n >= Databases) throw new RdbFormatException($"the RDB uses database {n} but this server has only {Databases} databases", at);
                    db = (int)n;
                    continue;
                }
                case RdbFormat.OpResizeDb:
                {
                    long keys = ReadLen();
                    long exp = ReadLen();
                    OnResizeDb?.Invoke(db, keys, exp);
                    continue;
                }
                case RdbFormat.OpAux:
                {
                    var k = ReadString();
                    var v = ReadString();
                    Aux.Add(new(Encoding.UTF8.GetString(k), v));
                    continue;
                }
                case RdbFormat.OpFunction2: Functions.Add(ReadString()); continue;
                case RdbFormat.OpFunctionPreGa: throw new RdbFormatException("pre-release function format (7.0 RC) is not supported", at);
                case RdbFormat.OpModuleAux: throw new RdbFormatException("module auxiliary data found: modules are not supported", at);
                case RdbFormat.OpEof:
                    ReadTrailer();
                    return;
            }
            var key = ReadString();
            var value = ReadObject(type, at);
            if (value is not null) onKey(new RdbEntry(db, key, value, expire));
            expire = -1;
        }
    }

    private void ReadTrailer()
    {
        if (Version >= 5)
        {
            _crc = Crc64.Update(_crc, _buf.AsSpan(_crcPos, _pos - _crcPos));
            _crcPos = _pos;
            ulong computed = _crc;
            long at = Position;
            ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
            _crcPos = _pos;
            if (VerifyChecksum && stored != 0 && stored != computed)
                throw new RdbFormatException($"wrong RDB checksum expected: {stored:x16} got: {computed:x16}", at);
        }
        Finished = true;
    }

    private object? ReadObject(byte type, long at)
    {
        try
        {
            return ReadObjectCore(type, at);
        }
        catch (InvalidDataException e)
        {
            throw new RdbFormatException($"corrupt value of RDB type {type}: {e.Message}", at, e);
        }
    }

    private object? ReadObjectCore(byte type, long at)
    {
        switch (type)
        {
            case RdbFormat.TypeString: return ReadString();
            case RdbFormat.TypeList:
            {
                int n = ReadCount("list");
                var l = new KvList();
                for (int i = 0; i < n; i++) l.AddLastSpan(ReadStringSpan());
                return l.Count == 0 ? null : l;
            }
            case RdbFormat.TypeSet:
            {
                int n = ReadCount("set");
                if (n == 0) return null;
                var first = ReadStringSpan();
                var s = KvSet.CreateForLoad(first, n);
                s.Add(first, 512);
                for (int i = 1; i < n; i++) s.Add(ReadStringSpan(), 512);
                return s;
            }
            case RdbFormat.TypeZSet:
            case RdbFormat.TypeZSet2:
            {
                int n = ReadCount("zset");
                var z = new KvZSet();
                for (int i = 0; i < n; i++)
                {
                    var m = ReadString();
                    double sc = type == RdbFormat.TypeZSet2 ? ReadBinaryDouble() : ReadTextDouble();
                    if (double.IsNaN(sc)) throw Error("zset score is NaN");
                    z.Set(m, sc);
                }
                return z.Count == 0 ? null : z;
            }
            case RdbFormat.TypeHash:
            {
                int n = ReadCount("hash");
                var h = new KvHash();
                for (int i = 0; i < n; i++)
                {
                    var f = ReadString();
                    h.Set(f, ReadString());
                }
                return h.Count == 0 ? null : h;
            }
            case RdbFormat.TypeHashZipmap:
            {
                var h = new KvHash();
                foreach (var (f, v) in CompactDecoders.Zipmap(ReadStringSpan())) h.Set(f, v);
                return h.Count == 0 ? null : h;
            }
            case RdbFormat.TypeListZiplist:
            {
                var e = _entries;
                CompactDecoders.Ziplist(ReadStringSpan(), e);
                var l = new KvList();
                l.ReservePacked(e.Count, e.DataLength);
                for (int i = 0; i < e.Count; i++) l.AddLastSpan(e[i]);
                return l.Count == 0 ? null : l;
            }
            case RdbFormat.TypeSetIntset:
            {
                var blob = ReadStringSpan();
                if (blob.Length < 8) throw new InvalidDataException("intset shorter than its header");
                uint enc = BinaryPrimitives.ReadUInt32LittleEndian(blob);
                uint count = BinaryPrimitives.ReadUInt32LittleEndian(blob[4..]);
                if (enc is not (2 or 4 or 8)) throw new InvalidDataException($"intset with invalid encoding {enc}");
                if ((ulong)count * enc + 8 != (ulong)blob.Length) throw new InvalidDataException($"intset of {count} x {enc} bytes does not match blob size {blob.Length}");
                if (count == 0) return null;
                var fast = KvSet.FromSortedInts(blob[8..], (int)enc, (int)count);
                if (fast is not null) return fast;
                var s = new KvSet();
                Span<byte> text = stackalloc byte[20];
                foreach (var v in CompactDecoders.Intset(blob))
                {
                    System.Buffers.Text.Utf8Formatter.TryFormat(v, text, out int w);
                    s.Add(text[..w], 512);
                }
                return s;
            }
            case RdbFormat.TypeZSetZiplist:
            case RdbFormat.TypeZSetListpack:
            {
                var e = _entries;
                if (type == RdbFormat.TypeZSetZiplist) CompactDecoders.Ziplist(ReadStringSpan(), e);
                else CompactDecoders.Listpack(ReadStringSpan(), e);
                if (e.Count % 2 != 0) throw new InvalidDataException("odd number of zset listpack entries");
                var z = new KvZSet();
                long members = 0;
                for (int i = 0; i < e.Count; i += 2) members += e[i].Length;
                z.ReservePacked(e.Count / 2, members);
                for (int i = 0; i < e.Count; i += 2)
                {
                    if (!RdbStrings.TryParseDouble(e[i + 1], out var sc) || double.IsNaN(sc)) throw new InvalidDataException("invalid zset score");
                    // 7.0.15 converts a listpack/ziplist sorted set on its entry count only, never on element length.
                    z.SetSpan(e[i], sc, long.MaxValue);
                }
                return z.Count == 0 ? null : z;
            }
            case RdbFormat.TypeHashZiplist:
            case RdbFormat.TypeHashListpack:
            {
                var e = _entries;
                if (type == RdbFormat.TypeHashZiplist) CompactDecoders.Ziplist(ReadStringSpan(), e);
                else CompactDecoders.Listpack(ReadStringSpan(), e);
                if (e.Count % 2 != 0) throw new InvalidDataException("odd number of hash listpack entries");
                var h = new KvHash();
                h.ReservePacked(e.Count / 2, e.DataLength);
                // 7.0.15 converts a listpack/ziplist hash on its entry count only, never on element length.
                for (int i = 0; i < e.Count; i += 2) h.SetSpan(e[i], e[i + 1], long.MaxValue);
                return h.Count == 0 ? null : h;
            }
            case RdbFormat.TypeListQuicklist:
            case RdbFormat.TypeListQuicklist2:
            {
                int nodes = ReadCount("quicklist node");
                var l = new KvList();
                var e = _entries;
                for (int i = 0; i < nodes; i++)
                {
                    int container = RdbFormat.ContainerPacked;
                    if (type == RdbFormat.TypeListQuicklist2)
                    {
                        long c = ReadLen();
                        if (c is not (RdbFormat.ContainerPlain or RdbFormat.ContainerPacked)) throw Error($"quicklist node container {c} is invalid");
                        container = (int)c;
                    }
                    if (container == RdbFormat.ContainerPlain)
                    {
                        l.AddLast(ReadString());
                        continue;
                    }
                    if (type == RdbFormat.TypeListQuicklist) CompactDecoders.Ziplist(ReadStringSpan(), e);
                    else CompactDecoders.Listpack(ReadStringSpan(), e);
                    l.ReservePacked(e.Count, e.DataLength);
                    for (int j = 0; j < e.Count; j++) l.AddLastSpan(e[j]);
                }
                return l.Count == 0 ? null : l;
            }
            case RdbFormat.TypeModule:
            case RdbFormat.TypeModule2:
                throw new RdbFormatException($"module value (RDB type {type}) found: modules are not supported", at);
            case RdbFormat.TypeStreamListpacks:
            case RdbFormat.TypeStreamListpacks2:
                throw new RdbFormatException($"stream value (RDB type {type}) found: streams are not supported", at);
            default:
                throw new RdbFormatException($"unknown RDB object type {type}", at);
        }
    }
}
