using System.Buffers.Text;

namespace Kv.Storage;

/// <summary>
/// A set value. As redis 7.0.15: sets of at most set-max-intset-entries (512) members that are all canonical
/// 64-bit integers ("intset") are a sorted <c>long[]</c> and iterate in ascending numeric order; other sets
/// ("hashtable") are a <see cref="KvDict{TValue}"/>. Converts up only, never back. The intset form is a byte
/// buffer of sorted integers 2, 4 or 8 bytes wide (the narrowest that fits every member, as intset.c), so its
/// memory is close to redis's. Not thread-safe.
/// </summary>
public sealed class KvSet : KvObject
{
    private byte[]? _is = [];   // intset: _ic values of _w bytes each, ascending
    private int _ic;
    private byte _w = 2;
    private KvDict<bool>? _dict;

    private long IntAt(int i) => _w switch
    {
        2 => System.Buffers.Binary.BinaryPrimitives.ReadInt16LittleEndian(_is.AsSpan(i * 2, 2)),
        4 => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(_is.AsSpan(i * 4, 4)),
        _ => System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(_is.AsSpan(i * 8, 8)),
    };

    private static void WriteInt(byte[] buf, int w, int i, long v)
    {
        switch (w)
        {
            case 2: System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(buf.AsSpan(i * 2, 2), (short)v); break;
            case 4: System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(i * 4, 4), (int)v); break;
            default: System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(buf.AsSpan(i * 8, 8), v); break;
        }
    }

    private static byte WidthOf(long v) => v is >= short.MinValue and <= short.MaxValue ? (byte)2 : v is >= int.MinValue and <= int.MaxValue ? (byte)4 : (byte)8;

    /// <summary>Binary search in the intset: index, or ~insertion point.</summary>
    private int IntSearch(long v)
    {
        int lo = 0, hi = _ic - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            long x = IntAt(mid);
            if (x == v) return mid;
            if (x < v) lo = mid + 1; else hi = mid - 1;
        }
        return ~lo;
    }

    private void IntInsert(int at, long v)
    {
        byte w = Math.Max(_w, WidthOf(v));
        int need = (_ic + 1) * w;
        var buf = _is!;
        if (w != _w || need > buf.Length)
        {
            int cap = Math.Max(need, buf.Length + (buf.Length >> 2));
            cap = (cap + 7) & ~7;
            buf = new byte[cap];
            for (int i = 0; i < _ic; i++) WriteInt(buf, w, i < at ? i : i + 1, IntAt(i));
        }
        else _is.AsSpan(at * w, (_ic - at) * w).CopyTo(buf.AsSpan((at + 1) * w));
        WriteInt(buf, w, at, v);
        _is = buf;
        _w = w;
        _ic++;
    }

    /// <summary>Creates an empty set in the intset form, or the hashtable form when <paramref name="hashtable"/>.</summary>
    public KvSet(bool hashtable = false)
    {
        if (hashtable) ToHashtable();
    }

    /// <summary>setTypeCreate: an intset when <paramref name="firstMember"/> is an integer, else a hashtable.</summary>
    public static KvSet CreateFor(ReadOnlySpan<byte> firstMember) => new(!TryParseInt(firstMember, out _));

    /// <inheritdoc />
    public override KvType Type => KvType.Set;

    /// <inheritdoc />
    public override long Count => _dict?.Count ?? _ic;

    /// <summary>True for the intset form.</summary>
    public bool IsIntSet => _dict is null;

    /// <inheritdoc />
    public override string Encoding => _dict is null ? "intset" : "hashtable";

    /// <summary>string2ll: a canonical decimal 64-bit integer (no sign '+', no leading zeros, no spaces).</summary>
    public static bool TryParseInt(ReadOnlySpan<byte> s, out long v)
    {
        v = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        if (s.Length == 1 && s[0] == '0') return true;
        int i = 0;
        bool neg = false;
        if (s[0] == '-') { neg = true; i = 1; if (s.Length == 1) return false; }
        if (s[i] < '1' || s[i] > '9') return false;
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
            v = (long)(0 - acc);
        }
        else
        {
            if (acc > long.MaxValue) return false;
            v = (long)acc;
        }
        return true;
    }

    private static byte[] IntBytes(long v)
    {
        Span<byte> tmp = stackalloc byte[24];
        Utf8Formatter.TryFormat(v, tmp, out int w);
        return tmp[..w].ToArray();
    }

    /// <summary>Converts to the hashtable form.</summary>
    public void ToHashtable()
    {
        if (_dict is not null) return;
        var d = new KvDict<bool>(Math.Max(4, _ic));
        for (int i = 0; i < _ic; i++) d.Set(IntBytes(IntAt(i)), true);
        _dict = d;
        _is = null;
        _ic = 0;
    }

    /// <summary>setTypeAdd with the intset limit <paramref name="maxIntset"/>. Returns true when the member is new.</summary>
    public bool Add(ReadOnlySpan<byte> member, long maxIntset)
    {
        if (_dict is null)
        {
            if (TryParseInt(member, out long v))
            {
                int i = IntSearch(v);
                if (i >= 0) return false;
                IntInsert(~i, v);
                if (_ic > maxIntset) ToHashtable();
                return true;
            }
            ToHashtable();
        }
        if (_dict!.ContainsKey(member)) return false;
        _dict.Set(member, true);
        return true;
    }

    /// <summary>Adds a member with the default intset limit (512). Returns true when new (RDB loader).</summary>
    public bool Add(byte[] member) => Add(member, 512);

    /// <summary>
    /// Bulk loading (RDB): a set that will receive <paramref name="count"/> members, the first being
    /// <paramref name="firstMember"/>: an intset when it is an integer, else a hashtable sized for
    /// <paramref name="count"/> (the same forms the adds would reach, without the table's regrowth).
    /// </summary>
    internal static KvSet CreateForLoad(ReadOnlySpan<byte> firstMember, int count)
    {
        if (TryParseInt(firstMember, out _)) return new KvSet();
        var s = new KvSet { _dict = new KvDict<bool>(Math.Max(4, count)), _is = null, _ic = 0 };
        return s;
    }

    /// <summary>
    /// Bulk loading (RDB type 11): the intset form straight from an intset's sorted little-endian integers of
    /// <paramref name="width"/> (2, 4 or 8) bytes. Returns null when the integers are not strictly ascending or
    /// there are more than 512 (the caller then adds them one by one, which sorts, drops duplicates and converts
    /// as <see cref="Add(byte[])"/> does).
    /// </summary>
    internal static KvSet? FromSortedInts(ReadOnlySpan<byte> ints, int width, int count)
    {
        if (count > 512 || count == 0) return null;
        long ReadAt(ReadOnlySpan<byte> b, int i) => width switch
        {
            2 => System.Buffers.Binary.BinaryPrimitives.ReadInt16LittleEndian(b.Slice(i * 2, 2)),
            4 => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(b.Slice(i * 4, 4)),
            _ => System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(b.Slice(i * 8, 8)),
        };
        long prev = ReadAt(ints, 0);
        for (int i = 1; i < count; i++)
        {
            long v = ReadAt(ints, i);
            if (v <= prev) return null;
            prev = v;
        }
        // The narrowest width holding every member, as the adds would have chosen.
        byte w = Math.Max(WidthOf(ReadAt(ints, 0)), WidthOf(prev));
        var buf = new byte[(count * w + 7) & ~7];
        if (w == width) ints[..(count * width)].CopyTo(buf);
        else for (int i = 0; i < count; i++) WriteInt(buf, w, i, ReadAt(ints, i));
        return new KvSet { _is = buf, _ic = count, _w = w };
    }

    /// <summary>Removes a member. Returns true when it was present.</summary>
    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_dict is not null) return _dict.Remove(member);
        if (!TryParseInt(member, out long v)) return false;
        int i = IntSearch(v);
        if (i < 0) return false;
        _is.AsSpan((i + 1) * _w, (_ic - i - 1) * _w).CopyTo(_is.AsSpan(i * _w));
        _ic--;
        return true;
    }

    /// <summary>Membership test.</summary>
    public bool Contains(ReadOnlySpan<byte> member)
    {
        if (_dict is not null) return _dict.ContainsKey(member);
        return TryParseInt(member, out long v) && IntSearch(v) >= 0;
    }

    /// <summary>All members (ascending numeric order for the intset form).</summary>
    public IEnumerable<byte[]> Members()
    {
        if (_dict is not null)
        {
            foreach (var kv in _dict.Entries()) yield return kv.Key;
            yield break;
        }
        for (int i = 0; i < _ic; i++) yield return IntBytes(IntAt(i));
    }

    /// <summary>A uniformly random member (set must be non-empty).</summary>
    public byte[] Random(Random rng)
    {
        if (_dict is null) return IntBytes(IntAt(rng.Next(_ic)));
        _dict.TryGetRandom(rng, out var k, out _);
        return k;
    }

    /// <summary>One SSCAN step (hashtable form); the intset form visits everything and returns 0.</summary>
    public ulong Scan(ulong cursor, Action<byte[]> visit)
    {
        if (_dict is null)
        {
            for (int i = 0; i < _ic; i++) visit(IntBytes(IntAt(i)));
            return 0;
        }
        return _dict.Scan(cursor, (k, _) => visit(k));
    }

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvSet(_dict is not null);
        if (_dict is null)
        {
            c._is = _is.AsSpan(0, _ic * _w).ToArray();
            c._ic = _ic;
            c._w = _w;
        }
        else foreach (var kv in _dict.Entries()) c._dict!.Set(kv.Key, true);
        return c;
    }
}
