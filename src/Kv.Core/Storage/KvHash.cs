using System.Runtime.CompilerServices;

namespace Kv.Storage;

/// <summary>
/// A hash value: field to value. Small hashes ("listpack" in redis 7.0.15: at most hash-max-listpack-entries
/// fields, no field or value longer than hash-max-listpack-value) are a flat array of alternating field/value
/// in insertion order, which is what redis shows for them (HGETALL, HKEYS, HVALS); bigger ones ("hashtable") are
/// a <see cref="KvDict{TValue}"/>. Converts up only, never back, as 7.0. Not thread-safe.
/// </summary>
public sealed class KvHash : KvObject
{
    private byte[][]? _pack = new byte[4][];
    private int _pc; // pairs
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
        for (int i = 0; i < _pc; i++) d.Set(_pack![2 * i], _pack[2 * i + 1]);
        _dict = d;
        _pack = null;
        _pc = 0;
    }

    private int PackedFind(ReadOnlySpan<byte> field)
    {
        var p = _pack!;
        for (int i = 0; i < _pc; i++)
            if (field.SequenceEqual(p[2 * i])) return i;
        return -1;
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
                int i = PackedFind(field);
                if (i >= 0)
                {
                    _pack![2 * i + 1] = value;
                    return false;
                }
                if (2 * _pc + 2 > _pack!.Length) Array.Resize(ref _pack, _pack.Length * 2);
                _pack[2 * _pc] = field.ToArray();
                _pack[2 * _pc + 1] = value;
                _pc++;
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

    /// <summary>Sets a field with the default limits (512 entries, 64 bytes: the compiled defaults of 7.0.15). Returns true when the field is new (RDB loader).</summary>
    public bool Set(byte[] field, byte[] value) => Set(field, value, 512, 64);

    /// <summary>Gets a field's value.</summary>
    public bool TryGet(ReadOnlySpan<byte> field, out byte[] value)
    {
        if (_dict is not null) return _dict.TryGetValue(field, out value!);
        int i = PackedFind(field);
        value = i >= 0 ? _pack![2 * i + 1] : null!;
        return i >= 0;
    }

    /// <summary>Removes a field. Returns true when it existed.</summary>
    public bool Remove(ReadOnlySpan<byte> field)
    {
        if (_dict is not null) return _dict.Remove(field);
        int i = PackedFind(field);
        if (i < 0) return false;
        Array.Copy(_pack!, 2 * i + 2, _pack!, 2 * i, 2 * (_pc - i - 1));
        _pc--;
        _pack![2 * _pc] = null!;
        _pack[2 * _pc + 1] = null!;
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
        for (int i = 0; i < _pc; i++) yield return new(_pack![2 * i], _pack[2 * i + 1]);
    }

    /// <summary>Pair at position <paramref name="index"/> of the listpack form (0..Count-1).</summary>
    public KeyValuePair<byte[], byte[]> PackedAt(int index) => new(_pack![2 * index], _pack[2 * index + 1]);

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
            for (int i = 0; i < _pc; i++) visit(_pack![2 * i], _pack[2 * i + 1]);
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
            c._pack = (byte[][])_pack!.Clone();
            c._pc = _pc;
        }
        else
        {
            c._pack = null;
            c._dict = new KvDict<byte[]>(_dict.Count);
            foreach (var kv in _dict.Entries()) c._dict.Set(kv.Key, kv.Value);
        }
        return c;
    }
}
