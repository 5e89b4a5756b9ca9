using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Kv.Persistence;

/// <summary>
/// Builder of a listpack blob (listpack.c format, as stored inside RDB types 16, 17 and 18): header
/// <c>u32 LE total bytes</c>, <c>u16 LE count</c> (65535 = unknown), entries, terminator 0xFF. Each entry is its
/// encoding+data followed by a backlen. Canonical integer strings are stored with the integer encodings, as
/// lpAppend does.
/// </summary>
public sealed class ListpackBuilder
{
    private byte[] _buf = new byte[64];
    private int _len = 6;
    private int _count;

    /// <summary>Entries added so far.</summary>
    public int Count => _count;

    /// <summary>Current size in bytes including header and terminator.</summary>
    public int Bytes => _len + 1;

    /// <summary>Clears the builder for reuse.</summary>
    public void Reset()
    {
        _len = 6;
        _count = 0;
    }

    private void Ensure(int extra)
    {
        if (_len + extra + 1 > _buf.Length) Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + extra + 1));
    }

    /// <summary>Appends an element (integer encoding when it is a canonical 64-bit integer string).</summary>
    public void Add(ReadOnlySpan<byte> s)
    {
        if (s.Length <= 20 && RdbStrings.TryParseCanonicalLong(s, out long v)) AddInteger(v);
        else AddString(s);
    }

    /// <summary>Appends an integer entry.</summary>
    public void AddInteger(long v)
    {
        Ensure(9 + 1);
        int start = _len;
        if (v >= 0 && v <= 127) _buf[_len++] = (byte)v;
        else if (v >= -4096 && v <= 4095)
        {
            long u = v < 0 ? (1 << 13) + v : v;
            _buf[_len++] = (byte)(0xC0 | (u >> 8));
            _buf[_len++] = (byte)u;
        }
        else if (v >= short.MinValue && v <= short.MaxValue)
        {
            _buf[_len++] = 0xF1;
            BinaryPrimitives.WriteInt16LittleEndian(_buf.AsSpan(_len), (short)v);
            _len += 2;
        }
        else if (v >= -(1 << 23) && v <= (1 << 23) - 1)
        {
            _buf[_len++] = 0xF2;
            _buf[_len++] = (byte)v;
            _buf[_len++] = (byte)(v >> 8);
            _buf[_len++] = (byte)(v >> 16);
        }
        else if (v >= int.MinValue && v <= int.MaxValue)
        {
            _buf[_len++] = 0xF3;
            BinaryPrimitives.WriteInt32LittleEndian(_buf.AsSpan(_len), (int)v);
            _len += 4;
        }
        else
        {
            _buf[_len++] = 0xF4;
            BinaryPrimitives.WriteInt64LittleEndian(_buf.AsSpan(_len), v);
            _len += 8;
        }
        AddBacklen(_len - start);
        _count++;
    }

    /// <summary>Appends a string entry (never integer-encoded).</summary>
    public void AddString(ReadOnlySpan<byte> s)
    {
        Ensure(s.Length + 5 + 5);
        int start = _len;
        if (s.Length < 64) _buf[_len++] = (byte)(0x80 | s.Length);
        else if (s.Length < 4096)
        {
            _buf[_len++] = (byte)(0xE0 | (s.Length >> 8));
            _buf[_len++] = (byte)s.Length;
        }
        else
        {
            _buf[_len++] = 0xF0;
            BinaryPrimitives.WriteInt32LittleEndian(_buf.AsSpan(_len), s.Length);
            _len += 4;
        }
        s.CopyTo(_buf.AsSpan(_len));
        _len += s.Length;
        AddBacklen(_len - start);
        _count++;
    }

    private void AddBacklen(int l)
    {
        // Stored so it can be read backwards: the last byte holds the low 7 bits, bit 7 set when more bytes precede.
        if (l <= 127) _buf[_len++] = (byte)l;
        else if (l < 16383)
        {
            _buf[_len++] = (byte)(l >> 7);
            _buf[_len++] = (byte)((l & 127) | 128);
        }
        else if (l < 2097151)
        {
            _buf[_len++] = (byte)(l >> 14);
            _buf[_len++] = (byte)(((l >> 7) & 127) | 128);
            _buf[_len++] = (byte)((l & 127) | 128);
        }
        else if (l < 268435455)
        {
            _buf[_len++] = (byte)(l >> 21);
            _buf[_len++] = (byte)(((l >> 14) & 127) | 128);
            _buf[_len++] = (byte)(((l >> 7) & 127) | 128);
            _buf[_len++] = (byte)((l & 127) | 128);
        }
        else
        {
            _buf[_len++] = (byte)(l >> 28);
            _buf[_len++] = (byte)(((l >> 21) & 127) | 128);
            _buf[_len++] = (byte)(((l >> 14) & 127) | 128);
            _buf[_len++] = (byte)(((l >> 7) & 127) | 128);
            _buf[_len++] = (byte)((l & 127) | 128);
        }
    }

    /// <summary>Finishes the blob (header and terminator) and returns a view of it, valid until the next change.</summary>
    public ReadOnlySpan<byte> Finish()
    {
        Ensure(1);
        _buf[_len] = 0xFF;
        BinaryPrimitives.WriteUInt32LittleEndian(_buf, (uint)(_len + 1));
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(4), (ushort)Math.Min(_count, 65535));
        return _buf.AsSpan(0, _len + 1);
    }
}

/// <summary>
/// Decoders of the compact blobs found inside RDB values: listpack, ziplist, zipmap and intset. Integers are
/// returned as their decimal text (what redis's getters return). Throw <see cref="InvalidDataException"/> on
/// malformed input.
/// </summary>
public static class CompactDecoders
{
    private static InvalidDataException Bad(string what) => new(what);

    /// <summary>Decodes every entry of a listpack.</summary>
    public static List<byte[]> Listpack(ReadOnlySpan<byte> lp)
    {
        var e = new CompactEntries();
        Listpack(lp, e);
        return e.ToList();
    }

    /// <summary>Decodes every entry of a listpack into <paramref name="into"/> (cleared first), without allocating per entry.</summary>
    internal static void Listpack(ReadOnlySpan<byte> lp, CompactEntries into)
    {
        into.Clear();
        if (lp.Length < 7) throw Bad("listpack shorter than its header");
        uint total = BinaryPrimitives.ReadUInt32LittleEndian(lp);
        if (total != lp.Length) throw Bad($"listpack header says {total} bytes but blob has {lp.Length}");
        int declared = BinaryPrimitives.ReadUInt16LittleEndian(lp[4..]);
        int p = 6;
        while (true)
        {
            if (p >= lp.Length) throw Bad("listpack without terminator");
            byte b = lp[p];
            if (b == 0xFF)
            {
                if (p != lp.Length - 1) throw Bad("listpack terminator before end of blob");
                break;
            }
            int start = p;
            if ((b & 0x80) == 0) { into.AddInteger(b); p += 1; }
            else if ((b & 0xC0) == 0x80)
            {
                int len = b & 0x3F;
                Need(lp, p + 1 + len);
                into.Add(lp.Slice(p + 1, len));
                p += 1 + len;
            }
            else if ((b & 0xE0) == 0xC0)
            {
                Need(lp, p + 2);
                int u = ((b & 0x1F) << 8) | lp[p + 1];
                long v = u >= 1 << 12 ? u - (1 << 13) : u;
                into.AddInteger(v);
                p += 2;
            }
            else if ((b & 0xF0) == 0xE0)
            {
                Need(lp, p + 2);
                int len = ((b & 0x0F) << 8) | lp[p + 1];
                Need(lp, p + 2 + len);
                into.Add(lp.Slice(p + 2, len));
                p += 2 + len;
            }
            else
            {
                switch (b)
                {
                    case 0xF0:
                    {
                        Need(lp, p + 5);
                        uint len = BinaryPrimitives.ReadUInt32LittleEndian(lp[(p + 1)..]);
                        if (len > (uint)(lp.Length - p - 5)) throw Bad("listpack string past end");
                        into.Add(lp.Slice(p + 5, (int)len));
                        p += 5 + (int)len;
                        break;
                    }
                    case 0xF1: Need(lp, p + 3); into.AddInteger(BinaryPrimitives.ReadInt16LittleEndian(lp[(p + 1)..])); p += 3; break;
                    case 0xF2:
                    {
                        Need(lp, p + 4);
                        int v = lp[p + 1] | (lp[p + 2] << 8) | (lp[p + 3] << 16);
                        if ((v & 0x800000) != 0) v -= 1 << 24;
                        into.AddInteger(v);
                        p += 4;
                        break;
                    }
                    case 0xF3: Need(lp, p + 5); into.AddInteger(BinaryPrimitives.ReadInt32LittleEndian(lp[(p + 1)..])); p += 5; break;
                    case 0xF4: Need(lp, p + 9); into.AddInteger(BinaryPrimitives.ReadInt64LittleEndian(lp[(p + 1)..])); p += 9; break;
                    default: throw Bad($"listpack entry with invalid encoding byte 0x{b:X2}");
                }
            }
            int entryLen = p - start;
            int backlen = entryLen <= 127 ? 1 : entryLen < 16383 ? 2 : entryLen < 2097151 ? 3 : entryLen < 268435455 ? 4 : 5;
            Need(lp, p + backlen);
            p += backlen;
        }
        if (declared != 65535 && declared != into.Count) throw Bad($"listpack header count {declared} but {into.Count} entries");
    }

    private static void Need(ReadOnlySpan<byte> blob, int end)
    {
        if (end > blob.Length) throw Bad("entry runs past the end of the blob");
    }

    /// <summary>Decodes every entry of a ziplist (RDB types 10, 12, 13 and quicklist v1 nodes).</summary>
    public static List<byte[]> Ziplist(ReadOnlySpan<byte> zl)
    {
        var e = new CompactEntries();
        Ziplist(zl, e);
        return e.ToList();
    }

    /// <summary>Decodes every entry of a ziplist into <paramref name="into"/> (cleared first), without allocating per entry.</summary>
    internal static void Ziplist(ReadOnlySpan<byte> zl, CompactEntries into)
    {
        into.Clear();
        if (zl.Length < 11) throw Bad("ziplist shorter than its header");
        uint total = BinaryPrimitives.ReadUInt32LittleEndian(zl);
        if (total != zl.Length) throw Bad($"ziplist header says {total} bytes but blob has {zl.Length}");
        int declared = BinaryPrimitives.ReadUInt16LittleEndian(zl[8..]);
        int p = 10;
        while (true)
        {
            if (p >= zl.Length) throw Bad("ziplist without terminator");
            if (zl[p] == 0xFF) break;
            // prevlen
            if (zl[p] < 254) p += 1;
            else p += 5;
            Need(zl, p + 1);
            byte enc = zl[p];
            switch (enc >> 6)
            {
                case 0:
                {
                    int len = enc & 0x3F;
                    Need(zl, p + 1 + len);
                    into.Add(zl.Slice(p + 1, len));
                    p += 1 + len;
                    continue;
                }
                case 1:
                {
                    Need(zl, p + 2);
                    int len = ((enc & 0x3F) << 8) | zl[p + 1];
                    Need(zl, p + 2 + len);
                    into.Add(zl.Slice(p + 2, len));
                    p += 2 + len;
                    continue;
                }
                case 2:
                {
                    Need(zl, p + 5);
                    uint len = BinaryPrimitives.ReadUInt32BigEndian(zl[(p + 1)..]);
                    if (len > (uint)(zl.Length - p - 5)) throw Bad("ziplist string past end");
                    into.Add(zl.Slice(p + 5, (int)len));
                    p += 5 + (int)len;
                    continue;
                }
            }
            switch (enc)
            {
                case 0xC0: Need(zl, p + 3); into.AddInteger(BinaryPrimitives.ReadInt16LittleEndian(zl[(p + 1)..])); p += 3; break;
                case 0xD0: Need(zl, p + 5); into.AddInteger(BinaryPrimitives.ReadInt32LittleEndian(zl[(p + 1)..])); p += 5; break;
                case 0xE0: Need(zl, p + 9); into.AddInteger(BinaryPrimitives.ReadInt64LittleEndian(zl[(p + 1)..])); p += 9; break;
                case 0xF0:
                {
                    Need(zl, p + 4);
                    int v = zl[p + 1] | (zl[p + 2] << 8) | (zl[p + 3] << 16);
                    if ((v & 0x800000) != 0) v -= 1 << 24;
                    into.AddInteger(v);
                    p += 4;
                    break;
                }
                case 0xFE: Need(zl, p + 2); into.AddInteger((sbyte)zl[p + 1]); p += 2; break;
                default:
                    if (enc >= 0xF1 && enc <= 0xFD) { into.AddInteger((enc & 0x0F) - 1); p += 1; break; }
                    throw Bad($"ziplist entry with invalid encoding byte 0x{enc:X2}");
            }
        }
        if (declared != 65535 && declared != into.Count) throw Bad($"ziplist header count {declared} but {into.Count} entries");
    }

    /// <summary>Decodes a zipmap (RDB type 9, redis &lt; 2.6 hashes) into field/value pairs.</summary>
    public static List<(byte[] Field, byte[] Value)> Zipmap(ReadOnlySpan<byte> zm)
    {
        var res = new List<(byte[], byte[])>();
        if (zm.Length < 1) throw Bad("empty zipmap");
        int p = 1;
        while (true)
        {
            Need(zm, p + 1);
            if (zm[p] == 0xFF) break;
            int klen = ZipmapLen(zm, ref p);
            Need(zm, p + klen);
            var field = zm.Slice(p, klen).ToArray();
            p += klen;
            Need(zm, p + 1);
            int vlen = ZipmapLen(zm, ref p);
            Need(zm, p + 1);
            int free = zm[p++];
            Need(zm, p + vlen + free);
            var value = zm.Slice(p, vlen).ToArray();
            p += vlen + free;
            res.Add((field, value));
        }
        return res;
    }

    private static int ZipmapLen(ReadOnlySpan<byte> zm, ref int p)
    {
        byte b = zm[p];
        if (b < 254) { p++; return b; }
        if (b == 254)
        {
            Need(zm, p + 5);
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(zm[(p + 1)..]);
            p += 5;
            if (len > int.MaxValue) throw Bad("zipmap length too large");
            return (int)len;
        }
        throw Bad("zipmap invalid length byte");
    }

    /// <summary>Decodes an intset blob (RDB type 11): <c>u32 encoding (2/4/8)</c>, <c>u32 count</c>, sorted LE integers.</summary>
    public static List<long> Intset(ReadOnlySpan<byte> blob)
    {
        if (blob.Length < 8) throw Bad("intset shorter than its header");
        uint enc = BinaryPrimitives.ReadUInt32LittleEndian(blob);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(blob[4..]);
        if (enc is not (2 or 4 or 8)) throw Bad($"intset with invalid encoding {enc}");
        if ((ulong)count * enc + 8 != (ulong)blob.Length) throw Bad($"intset of {count} x {enc} bytes does not match blob size {blob.Length}");
        var res = new List<long>((int)count);
        for (int i = 0; i < count; i++)
        {
            var s = blob[(8 + i * (int)enc)..];
            res.Add(enc switch
            {
                2 => BinaryPrimitives.ReadInt16LittleEndian(s),
                4 => BinaryPrimitives.ReadInt32LittleEndian(s),
                _ => BinaryPrimitives.ReadInt64LittleEndian(s),
            });
        }
        return res;
    }

    /// <summary>Builds an intset blob from distinct values (sorted here).</summary>
    public static byte[] BuildIntset(List<long> values)
    {
        values.Sort();
        long min = values.Count > 0 ? values[0] : 0, max = values.Count > 0 ? values[^1] : 0;
        int enc = min >= short.MinValue && max <= short.MaxValue ? 2 : min >= int.MinValue && max <= int.MaxValue ? 4 : 8;
        var blob = new byte[8 + enc * values.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(blob, (uint)enc);
        BinaryPrimitives.WriteUInt32LittleEndian(blob.AsSpan(4), (uint)values.Count);
        for (int i = 0; i < values.Count; i++)
        {
            var s = blob.AsSpan(8 + i * enc);
            switch (enc)
            {
                case 2: BinaryPrimitives.WriteInt16LittleEndian(s, (short)values[i]); break;
                case 4: BinaryPrimitives.WriteInt32LittleEndian(s, (int)values[i]); break;
                default: BinaryPrimitives.WriteInt64LittleEndian(s, values[i]); break;
            }
        }
        return blob;
    }
}

/// <summary>
/// The entries of one decoded listpack or ziplist as text (integers in their decimal form, as redis's getters
/// return them), stored back to back in one reusable buffer: decoding a blob costs no allocation per entry.
/// Entry spans stay valid until the next <see cref="Clear"/>.
/// </summary>
internal sealed class CompactEntries
{
    private byte[] _data = new byte[256];
    private int[] _ends = new int[32];

    /// <summary>Number of entries.</summary>
    public int Count { get; private set; }

    /// <summary>Total bytes of all entries.</summary>
    public int DataLength { get; private set; }

    /// <summary>Entry <paramref name="i"/> (0..Count-1).</summary>
    public ReadOnlySpan<byte> this[int i]
    {
        get
        {
            int start = i == 0 ? 0 : _ends[i - 1];
            return _data.AsSpan(start, _ends[i] - start);
        }
    }

    /// <summary>Empties the list (keeps the buffers).</summary>
    public void Clear()
    {
        Count = 0;
        DataLength = 0;
    }

    private Span<byte> Append(int len)
    {
        if (DataLength + len > _data.Length) Array.Resize(ref _data, Math.Max(_data.Length * 2, DataLength + len));
        if (Count == _ends.Length) Array.Resize(ref _ends, _ends.Length * 2);
        var dst = _data.AsSpan(DataLength, len);
        DataLength += len;
        _ends[Count++] = DataLength;
        return dst;
    }

    /// <summary>Adds a string entry (copied).</summary>
    public void Add(ReadOnlySpan<byte> s) => s.CopyTo(Append(s.Length));

    /// <summary>Adds an integer entry as its decimal text.</summary>
    public void AddInteger(long v)
    {
        Span<byte> tmp = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(v, tmp, out int w);
        tmp[..w].CopyTo(Append(w));
    }

    /// <summary>Copies every entry into its own array.</summary>
    public List<byte[]> ToList()
    {
        var res = new List<byte[]>(Count);
        for (int i = 0; i < Count; i++) res.Add(this[i].ToArray());
        return res;
    }
}

/// <summary>String helpers with redis's rules (util.c string2ll, and the "%.17g" text of doubles).</summary>
public static class RdbStrings
{
    /// <summary>
    /// True when <paramref name="s"/> is the canonical decimal form of a 64-bit integer (no sign '+', no leading
    /// zeros, "-0" refused), i.e. string2ll succeeds and converting back gives the same bytes.
    /// </summary>
    public static bool TryParseCanonicalLong(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        int i = 0;
        bool neg = false;
        if (s[0] == '-')
        {
            neg = true;
            i = 1;
            if (s.Length == 1) return false;
        }
        if (s[i] == '0') { if (s.Length == 1) { value = 0; return true; } return false; }
        ulong acc = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) return false;
            if (acc > (ulong.MaxValue - d) / 10) return false;
            acc = acc * 10 + d;
        }
        if (neg)
        {
            if (acc > (ulong)long.MaxValue + 1) return false;
            value = (long)(0 - acc);
        }
        else
        {
            if (acc > long.MaxValue) return false;
            value = (long)acc;
        }
        return true;
    }

    /// <summary>C's <c>printf("%.17g", d)</c> (debug.c digests, and redis's exact double text).</summary>
    public static string G17(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0" : "0";
        // "E16" yields exactly 17 significant digits, correctly rounded: d.ddddddddddddddddE+xxx
        var e = d.ToString("E16", CultureInfo.InvariantCulture);
        bool neg = e[0] == '-';
        if (neg) e = e[1..];
        int ePos = e.IndexOf('E');
        string digits = e[0] + e.Substring(2, ePos - 2); // 17 digits
        int exp = int.Parse(e.AsSpan(ePos + 1), CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        if (neg) sb.Append('-');
        if (exp < -4 || exp >= 17)
        {
            string frac = digits[1..].TrimEnd('0');
            sb.Append(digits[0]);
            if (frac.Length > 0) sb.Append('.').Append(frac);
            sb.Append('e').Append(exp < 0 ? '-' : '+');
            int a = Math.Abs(exp);
            if (a < 10) sb.Append('0');
            sb.Append(a.ToString(CultureInfo.InvariantCulture));
        }
        else if (exp >= 0)
        {
            string intPart = digits[..(exp + 1)];
            string frac = digits[(exp + 1)..].TrimEnd('0');
            sb.Append(intPart);
            if (frac.Length > 0) sb.Append('.').Append(frac);
        }
        else
        {
            string frac = (new string('0', -exp - 1) + digits).TrimEnd('0');
            sb.Append("0.").Append(frac);
        }
        return sb.ToString();
    }

    /// <summary>Parses a score text as strtod (inf/-inf/nan words accepted).</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value)
    {
        // Plain numbers (what redis writes: "%.17g" text or integers) without the string round trip below.
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return true;
        var t = Encoding.ASCII.GetString(s).Trim();
        switch (t.ToLowerInvariant())
        {
            case "inf" or "+inf" or "infinity" or "+infinity": value = double.PositiveInfinity; return true;
            case "-inf" or "-infinity": value = double.NegativeInfinity; return true;
            case "nan" or "-nan" or "+nan": value = double.NaN; return true;
        }
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }
}
