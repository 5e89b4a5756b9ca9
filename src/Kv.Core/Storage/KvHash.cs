using System.Runtime.CompilerServices;

namespace Kv.Storage;

/// <summary>
/// A hash value: field to value. Small hashes ("listpack" in redis 7.0.15: at most hash-max-listpack-entries
/// fields, no field or value longer than hash-max-listpack-value) are one byte buffer of length-prefixed
/// field/value strings in insertion order (see <see cref="PackedBytes"/>), which is the order redis shows for
/// them (HGETALL, HKEYS, HVALS) and costs about as much memory as a listpack; bigger ones ("hashtable") are a
/// <see cref="KvDict{TValue}"/>. Converts up only, never back, as 7.0. Not thread-safe.
/// </summary>
public sealed class KvHash : KvObject
{
    private byte[]? _lp = [];
    private int _used;
    private int _pc; // pairs in the packed form
    private KvDict<byte[]>? _dict;

    /// <inheritdoc />
    public override KvType Type => KvType.Hash;

    /// <inheritdoc />
    public override long Count => _dict?.Count ?? _pc;

    /// <summary>True for the listpack form.</summary>
    public bool IsPacked => _dict is null;

    /// <inheritdoc />
    public override string Encoding => _dict is null ? "listpack" : "hashtable";

    /// <summary>Converts to the hashtable form.</summary>
    public void ToHashtable()
    {
        if (_dict is not null) return;
        var d = new KvDict<byte[]>(Math.Max(4, _pc));
        foreach (var kv in PackedPairs()) d.Set(kv.Key, kv.Value);
        _dict = d;
        _lp = null;
        _used = 0;
        _pc = 0;
    }

    /// <summary>Finds a field in the packed form: offset of its entry, of its value string (length prefix) and the entry end.</summary>
    private bool PackedFind(ReadOnlySpan<byte> field, out int entry, out int valuePos, out int end)
    {
        var b = _lp.AsSpan(0, _used);
        int pos = 0;
        while (pos < b.Length)
        {
            entry = pos;
            int fl = PackedBytes.ReadLen(b, ref pos);
            bool match = fl == field.Length && b.Slice(pos, fl).SequenceEqual(field);
            pos += fl;
            valuePos = pos;
            int vl = PackedBytes.ReadLen(b, ref pos);
            pos += vl;
            if (match)
            {
                end = pos;
                return true;
            }
        }
        entry = valuePos = end = -1;
        return false;
    }

    private static ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> b, ref int pos)
    {
        int l = PackedBytes.ReadLen(b, ref pos);
        var s = b.Slice(pos, l);
        pos += l;
        return s;
    }

    /// <summary>
    /// Sets a field (hashTypeSet): listpack form converts when the field or value is longer than
    /// <paramref name="maxValue"/> or the count passes <paramref name="maxEntries"/>. Returns true when the field is new.
    /// </summary>
    public bool Set(ReadOnlySpan<byte> field, byte[] value, long maxEntries, long maxValue)
    {
        if (_dict is null)
        {
            if (field.Length > maxValue || value.Length > maxValue) ToHashtable();
            else
            {
                if (!PackedSet(field, value)) return false;
                if (_pc > maxEntries) ToHashtable();
                return true;
            }
        }
        ref var slot = ref _dict!.GetValueRefOrNullRef(field);
        if (!Unsafe.IsNullRef(ref slot))
        {
            slot = value;
            return false;
        }
        _dict.Set(field, value);
        return true;
    }

    /// <summary>
    /// Listpack form only: replaces the value of <paramref name="field"/> in place, or appends the pair (the entry
    /// count grows; the caller converts when over its limit). Returns true when the field is new.
    /// </summary>
    private bool PackedSet(ReadOnlySpan<byte> field, ReadOnlySpan<byte> value)
    {
        if (PackedFind(field, out _, out int vp, out int end))
        {
            int newLen = PackedBytes.LenSize(value.Length) + value.Length;
            _used = PackedBytes.Splice(ref _lp!, _used, vp, end - vp, newLen);
            PackedBytes.WriteString(_lp.AsSpan(vp), value);
            return false;
        }
        int add = PackedBytes.LenSize(field.Length) + field.Length + PackedBytes.LenSize(value.Length) + value.Length;
        int at = _used;
        _used = PackedBytes.Splice(ref _lp!, _used, at, 0, add);
        at += PackedBytes.WriteString(_lp.AsSpan(at), field);
        PackedBytes.WriteString(_lp.AsSpan(at), value);
        _pc++;
        return true;
    }

    /// <summary>Sets a field with the default limits (512 entries, 64 bytes: the compiled defaults of 7.0.15). Returns true when the field is new (RDB loader).</summary>
    public bool Set(byte[] field, byte[] value) => Set(field, value, 512, 64);

    /// <summary>
    /// Bulk loading (RDB): makes room in the listpack form for <paramref name="pairs"/> more field/value pairs of
    /// <paramref name="payloadBytes"/> bytes in total, so the following <see cref="SetSpan"/> calls do not regrow
    /// the buffer. No effect when they would not fit the listpack form with the default limits.
    /// </summary>
    internal void ReservePacked(int pairs, long payloadBytes)
    {
        if (_dict is not null || _pc + pairs > 512 || payloadBytes > pairs * 128L) return;
        // Packed strings are at most 64 bytes: a one-byte length prefix each.
        int need = _used + 2 * pairs + (int)payloadBytes;
        PackedBytes.Reserve(ref _lp!, _used, need);
    }

    /// <summary>
    /// Sets a field from spans (RDB loading) with the default entry limit (512) and <paramref name="maxValue"/>:
    /// same result as <see cref="Set(ReadOnlySpan{byte}, byte[], long, long)"/>, but allocates arrays only for the
    /// hashtable form. Returns true when the field is new.
    /// </summary>
    internal bool SetSpan(ReadOnlySpan<byte> field, ReadOnlySpan<byte> value, long maxValue = 64)
    {
        if (_dict is null && field.Length <= maxValue && value.Length <= maxValue)
        {
            if (!PackedSet(field, value)) return false;
            if (_pc > 512) ToHashtable();
            return true;
        }
        return Set(field, value.ToArray(), 512, maxValue);
    }

    /// <summary>
    /// The listpack form's buffer: field, value, field, value... each a <see cref="PackedBytes"/> varint length and
    /// the bytes, in order. False for the hashtable form. For serialization without an array per field; valid until
    /// the next change.
    /// </summary>
    internal bool TryGetPacked(out ReadOnlySpan<byte> packed)
    {
        packed = _dict is null ? _lp.AsSpan(0, _used) : default;
        return _dict is null;
    }

    /// <summary>Gets a field's value (a copy for the listpack form).</summary>
    public bool TryGet(ReadOnlySpan<byte> field, out byte[] value)
    {
        if (_dict is not null) return _dict.TryGetValue(field, out value!);
        if (PackedFind(field, out _, out int vp, out _))
        {
            value = ReadString(_lp.AsSpan(0, _used), ref vp).ToArray();
            return true;
        }
        value = null!;
        return false;
    }

    /// <summary>True when the field exists.</summary>
    public bool Contains(ReadOnlySpan<byte> field)
        => _dict is not null ? _dict.ContainsKey(field) : PackedFind(field, out _, out _, out _);

    /// <summary>Length of a field's value, or -1 when missing (HSTRLEN).</summary>
    public int ValueLength(ReadOnlySpan<byte> field)
    {
        if (_dict is not null) return _dict.TryGetValue(field, out var v) ? v.Length : -1;
        if (!PackedFind(field, out _, out int vp, out _)) return -1;
        return PackedBytes.ReadLen(_lp.AsSpan(0, _used), ref vp);
    }

    /// <summary>Removes a field. Returns true when it existed.</summary>
    public bool Remove(ReadOnlySpan<byte> field)
    {
        if (_dict is not null) return _dict.Remove(field);
        if (!PackedFind(field, out int entry, out _, out int end)) return false;
        _used = PackedBytes.Splice(ref _lp!, _used, entry, end - entry, 0);
        _pc--;
        return true;
    }

    /// <summary>All (field, value) pairs in iteration order.</summary>
    public IEnumerable<KeyValuePair<byte[], byte[]>> Pairs()
    {
        if (_dict is not null) return _dict.Entries();
        return PackedPairs();
    }

    private IEnumerable<KeyValuePair<byte[], byte[]>> PackedPairs()
    {
        int pos = 0;
        for (int i = 0; i < _pc; i++)
        {
            var f = ReadString(_lp.AsSpan(0, _used), ref pos).ToArray();
            var v = ReadString(_lp.AsSpan(0, _used), ref pos).ToArray();
            yield return new(f, v);
        }
    }

    /// <summary>Pair at position <paramref name="index"/> of the listpack form (0..Count-1).</summary>
    public KeyValuePair<byte[], byte[]> PackedAt(int index)
    {
        var b = _lp.AsSpan(0, _used);
        int pos = 0;
        for (int i = 0; i < index; i++)
        {
            int fl = PackedBytes.ReadLen(b, ref pos);
            pos += fl;
            int vl = PackedBytes.ReadLen(b, ref pos);
            pos += vl;
        }
        var f = ReadString(b, ref pos).ToArray();
        return new(f, ReadString(b, ref pos).ToArray());
    }

    /// <summary>A uniformly random pair (hash must be non-empty).</summary>
    public KeyValuePair<byte[], byte[]> Random(Random rng)
    {
        if (_dict is null) return PackedAt(rng.Next(_pc));
        _dict.TryGetRandom(rng, out var k, out var v);
        return new(k, v);
    }

    /// <summary>One HSCAN step (hashtable form); the listpack form visits everything and returns 0.</summary>
    public ulong Scan(ulong cursor, Action<byte[], byte[]> visit)
    {
        if (_dict is null)
        {
            foreach (var kv in PackedPairs()) visit(kv.Key, kv.Value);
            return 0;
        }
        return _dict.Scan(cursor, visit);
    }

    /// <inheritdoc />
    public override KvObject Clone()
    {
        var c = new KvHash();
        if (_dict is null)
        {
            c._lp = _lp.AsSpan(0, _used).ToArray();
            c._used = _used;
            c._pc = _pc;
        }
        else
        {
            c._lp = null;
            c._dict = new KvDict<byte[]>(_dict.Count);
            foreach (var kv in _dict.Entries()) c._dict.Set(kv.Key, kv.Value);
        }
        return c;
    }
}
