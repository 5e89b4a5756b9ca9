using System.Buffers.Text;

namespace Kv.Storage;

/// <summary>
/// A set value. As redis 7.0.15: sets of at most set-max-intset-entries (512) members that are all canonical
/// 64-bit integers ("intset") are a sorted <c>long[]</c> and iterate in ascending numeric order; other sets
/// ("hashtable") are a <see cref="KvDict{TValue}"/>. Converts up only, never back. Not thread-safe.
/// </summary>
public sealed class KvSet : KvObject
{
    private long[]? _ints = new long[4];
    private int _ic;
    private KvDict<bool>? _dict;

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
        for (int i = 0; i < _ic; i++) d.Set(IntBytes(_ints![i]), true);
        _dict = d;
        _ints = null;
        _ic = 0;
    }

    /// <summary>setTypeAdd with the intset limit <paramref name="maxIntset"/>. Returns true when the member is new.</summary>
    public bool Add(ReadOnlySpan<byte> member, long maxIntset)
    {
        if (_dict is null)
        {
            if (TryParseInt(member, out long v))
            {
                int i = Array.BinarySearch(_ints!, 0, _ic, v);
                if (i >= 0) return false;
                i = ~i;
                if (_ic == _ints!.Length) Array.Resize(ref _ints, _ic * 2);
                Array.Copy(_ints, i, _ints, i + 1, _ic - i);
                _ints[i] = v;
                _ic++;
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

    /// <summary>Removes a member. Returns true when it was present.</summary>
    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_dict is not null) return _dict.Remove(member);
        if (!TryParseInt(member, out long v)) return false;
        int i = Array.BinarySearch(_ints!, 0, _ic, v);
        if (i < 0) return false;
        Array.Copy(_ints!, i + 1, _ints!, i, _ic - i - 1);
        _ic--;
        return true;
    }

    /// <summary>Membership test.</summary>
    public bool Contains(ReadOnlySpan<byte> member)
    {
        if (_dict is not null) return _dict.ContainsKey(member);
        return TryParseInt(member, out long v) && Array.BinarySearch(_ints!, 0, _ic, v) >= 0;
    }

    /// <summary>All members (ascending numeric order for the intset form).</summary>
    public IEnumerable<byte[]> Members()
    {
        if (_dict is not null)
        {
            foreach (var kv in _dict.Entries()) yield return kv.Key;
            yield break;
        }
        for (int i = 0; i < _ic; i++) yield return IntBytes(_ints![i]);
    }

    /// <summary>A uniformly random member (set must be non-empty).</summary>
    public byte[] Random(Random rng)
    {
        if (_dict is null) return IntBytes(_ints![rng.Next(_ic)]);
        _dict.TryGetRandom(rng, out var k, out _);
        return k;
    }

    /// <summary>One SSCAN step (hashtable form); the intset form visits everything and returns 0.</summary>
    public ulong Scan(ulong cursor, Action<byte[]> visit)
    {
        if (_dict is null)
        {
            for (int i = 0; i < _ic; i++) visit(IntBytes(_ints![i]));
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
            c._ints = (long[])_ints!.Clone();
            c._ic = _ic;
        }
        else foreach (var kv in _dict.Entries()) c._dict!.Set(kv.Key, true);
        return c;
    }
}
